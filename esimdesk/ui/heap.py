"""Keep Python's full garbage collections off the window's event loop.

A full (generation 2) collection walks every object the process holds. After start-up that is the
modules, Qt's wrappers and the country tables: measured here, one full collection of a loaded window
takes 40-50 ms on the GUI thread, at a moment Python picks (a keystroke's, a sync's). Those objects live
as long as the window, so while a window is open they are moved out of the collector's sight
(``gc.freeze``); collections then walk only what was made since (a few ms). Closing the window gives
them back (``gc.unfreeze``), so whatever became garbage meanwhile is still collected (tests open many
windows in one process)."""

from __future__ import annotations

import gc

_open_windows = 0


def window_opened() -> None:
    global _open_windows
    _open_windows += 1
    settle()


def settle() -> None:
    """What exists now lives on: out of the full collections' walk (call after a burst of long-lived objects)."""
    if _open_windows:
        gc.freeze()


def window_closed() -> None:
    global _open_windows
    _open_windows = max(0, _open_windows - 1)
    if not _open_windows:
        gc.unfreeze()
