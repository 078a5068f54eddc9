"""Start the GUI: one QApplication driven by qasync so slots can await vendor calls without freezing."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from esimdesk.domain import ConfigError, EsimdeskError
from esimdesk.resources import resource_path
from esimdesk.services.config import data_home_path
from esimdesk.services.desk import Desk
from esimdesk.services.runtime import open_context
from esimdesk.store.backups import DATA_FILE, newest_backup
from esimdesk.ui.data_file_update import update_data_file
from esimdesk.ui.event_loop import DeskEventLoop, close_qt_loop
from esimdesk.ui.main_window import MainWindow

# Smoke tests (.ci/bundle_smoke.sh): close the window by itself this many seconds after its start-up
# work (demo: the first sync) is done, as an agent would, so the whole quit path is checked (exit 0).
QUIT_AFTER_ENV = "ESIMDESK_QUIT_AFTER"


def ui_settings(home: Path) -> QSettings:
    """UI state (geometry, last tab) lives in the data folder, so demo and real desks stay apart."""
    return QSettings(str(home / "ui.ini"), QSettings.Format.IniFormat)


def run_gui(demo: bool = False) -> int:
    quit_after = _quit_after()
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("esimdesk")
    app.setOrganizationName("esimdesk")
    app.setWindowIcon(QIcon(str(resource_path("esimdesk.svg"))))
    ctx = desk = None
    try:
        ctx = open_context(demo)
        update_data_file(app, ctx.home)  # an older file brought forward behind a notice, before the window
        desk = Desk(ctx)
        window = MainWindow(ui_settings(ctx.home), desk, demo=demo)
    except (EsimdeskError, sqlite3.Error, OSError) as exc:
        # Started from a shortcut, stderr is seen by nobody: the failure is said on screen too (then by main).
        show_startup_failure(startup_failure_box(_in_words(exc), demo), quit_after)
        if desk is not None:
            desk.close()
        elif ctx is not None:
            ctx.close()
        raise
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    window.closing.connect(closed.set)
    window.show()
    _say_unseen(app, window, quit_after)
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


OFFSCREEN_NOTE = ("esimdesk: QT_QPA_PLATFORM={platform} is set: the window is drawn where nobody sees it; "
                  "Ctrl+C stops it. To see the window, start it without that variable "
                  "(bash: unset QT_QPA_PLATFORM; cmd: set QT_QPA_PLATFORM=; PowerShell: Remove-Item Env:QT_QPA_PLATFORM)")


def _say_unseen(app: QApplication, window: MainWindow, quit_after: float | None) -> None:
    """On a platform nobody sees (offscreen, minimal: a variable left set in the shell, e.g. by a test
    command) the window would run unseen until killed: it says so on stderr and Ctrl+C closes it (Qt's
    loop lets Python see the signal only when Python code runs: a timer runs some). Not for a scripted
    run that closes by itself (ESIMDESK_QUIT_AFTER)."""
    if app.platformName() not in ("offscreen", "minimal") or quit_after is not None:
        return
    try:  # before it is said: a Ctrl+C right after the note closes the window too
        signal.signal(signal.SIGINT, lambda *_: window.close())
    except ValueError:  # not the main thread: nothing to hook
        pass
    else:
        wake = QTimer(window)  # the window's: it lives as long as the window
        wake.timeout.connect(lambda: None)
        wake.start(250)
    print(OFFSCREEN_NOTE.format(platform=app.platformName()), file=sys.stderr, flush=True)


def _in_words(exc: BaseException) -> str:
    if isinstance(exc, EsimdeskError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return f"the data file could not be used ({exc})"


def startup_failure_box(problem: str, demo: bool = False) -> QMessageBox:
    """The dialog the window shows instead of itself when it cannot start: what is wrong, the data
    folder's path and the newest backup (what an agent needs to act, or to tell whoever helps them)."""
    home = data_home_path(demo)
    try:
        newest = newest_backup(home / DATA_FILE) if home.is_dir() else None
    except OSError:
        newest = None
    box = QMessageBox(QMessageBox.Icon.Critical, "esimdesk could not start",
                      f"esimdesk could not start: {problem}.")
    backup = (f"Newest backup: {newest}\n(restore it with: esimdesk{' --demo' if demo else ''} restore \"{newest}\")"
              if newest is not None else "Newest backup: none found in the data folder's backups folder")
    box.setInformativeText(f"Data folder: {home}\n{backup}")
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return box


def show_startup_failure(box: QMessageBox, close_after: float | None = None) -> None:
    """Show the box until the agent closes it. Not on a platform nobody sees (offscreen: tests, scripts),
    where it would only wait forever; ``close_after`` (ESIMDESK_QUIT_AFTER) closes it by itself."""
    if QApplication.platformName() in ("offscreen", "minimal"):
        return
    if close_after is not None:
        QTimer.singleShot(int(close_after * 1000), box.reject)
    box.exec()


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
