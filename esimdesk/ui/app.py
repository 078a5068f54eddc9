"""Start the GUI: one QApplication driven by qasync so slots can await vendor calls without freezing."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from esimdesk.domain import ConfigError
from esimdesk.resources import resource_path

# Smoke tests (.ci/bundle_smoke.sh): close the window by itself this many seconds after its start-up
# work (demo: the first sync) is done, as an agent would, so the whole quit path is checked (exit 0).
QUIT_AFTER_ENV = "ESIMDESK_QUIT_AFTER"


def ui_settings(home: Path) -> QSettings:
    """UI state (geometry, last tab) lives in the data folder, so demo and real desks stay apart."""
    return QSettings(str(home / "ui.ini"), QSettings.Format.IniFormat)


def run_gui(demo: bool = False) -> int:
    import qasync

    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import open_context
    from esimdesk.ui.event_loop import close_qt_loop
    from esimdesk.ui.main_window import MainWindow

    quit_after = _quit_after()
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("esimdesk")
    app.setOrganizationName("esimdesk")
    app.setWindowIcon(QIcon(str(resource_path("esimdesk.svg"))))
    ctx = open_context(demo)
    desk = Desk(ctx)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    window = MainWindow(ui_settings(ctx.home), desk, demo=demo)
    window.closing.connect(closed.set)
    window.show()
    try:
        with loop:
            # Demo: fill the cache from the sandbox at once; real desks show the cache and reconcile.
            asyncio.ensure_future(_start(window, demo, quit_after))
            loop.run_until_complete(closed.wait())
            _cancel_pending(loop)
    finally:
        close_qt_loop(loop)
        desk.close()
    return 0


async def _start(window, demo: bool, quit_after: float | None) -> None:
    await window.startup(sync=demo)
    if quit_after is not None:
        await asyncio.sleep(quit_after)
        window.close()


def _quit_after() -> float | None:
    raw = os.environ.get(QUIT_AFTER_ENV, "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise ConfigError(f"{QUIT_AFTER_ENV}={raw!r} is not a number of seconds from 0 to 86400")
    return seconds


def _cancel_pending(loop: asyncio.AbstractEventLoop) -> None:
    """Closing the window cancels whatever is still running (syncs, polls) before the process exits."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
