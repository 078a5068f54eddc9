"""Python's interpreter, set for a sync while one runs: its garbage collector held back, its threads' turns short.

A sync is an event loop decoding vendors' answers beside worker threads writing them to SQLite, all under
Python's GIL. Two of the interpreter's defaults, right for most programs, make the writers wait:

* **Full garbage collections.** At each one the collector walks every object alive, holding the GIL. A sync keeps
  hundreds of thousands of decoded vendor objects alive for seconds at a time (Roamify's 100,000-eSIM listing is
  one 104 MB answer), so with the default thresholds a routine sync at 100,000 eSIMs a vendor ran 21 full
  collections, 4.5 s in all, up to 0.5 s each; the store's writer threads, finishing a SQLite call, waited behind
  every one of them (bench/results/sync_scale.json, docs/sync-scale.md). What a sync allocates holds no reference
  cycles (decoded JSON, dataclasses, rows): reference counting frees it. Young collections still run, a hundred
  times less often, so a cycle made meanwhile (an exception's traceback, a task) is still found; full ones wait
  for the sync's end.
* **The switch interval** (5 ms): a writer thread whose SQLite call has ended waits that long for the GIL while
  the event loop decodes an answer, and it holds the one writer's transaction meanwhile (the other vendors' writes
  wait behind it). A routine sync makes ~1,500 such calls; at 1 ms the time with a thread in SQLite fell from
  11.2 s to 10.0 s at 100,000 eSIMs a vendor (same code, same run order; docs/sync-scale.md). Shorter turns
  cost a little more switching between threads that both compute, which a sync's seldom do for long.

Both are process-wide settings: the window's sync runs in a process of its own (services/sync_process.py), so
the window never runs with them.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import threading
from collections.abc import Iterator

# Young collections every 100,000 allocations (not 700); the middle one after 50 of them; a full one only after
# 1,000 of those (in effect: not within a sync).
DURING_A_SYNC = (100_000, 50, 1_000)
SWITCH_INTERVAL_S = 0.001  # Python's default is 0.005

_lock = threading.Lock()
_held = 0
_before: tuple[tuple[int, int, int], float] | None = None


@contextlib.contextmanager
def set_for_a_sync() -> Iterator[None]:
    """The collector's thresholds raised and the switch interval shortened for the block (nested or in two
    threads: the first in sets them, the last out puts back what they were)."""
    global _held, _before
    with _lock:
        if _held == 0:
            _before = gc.get_threshold(), sys.getswitchinterval()
            gc.set_threshold(*DURING_A_SYNC)
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0 and _before is not None:
                gc.set_threshold(*_before[0])
                sys.setswitchinterval(_before[1])
                _before = None
