"""Window tests leave no Qt or qasync state behind, so the whole suite runs in one process.

The suite once segfaulted in a vendor test run after the window tests: a window fixture closed its
qasync loop before qtbot closed the window, so the window's pending tasks and the loop's Qt timers and
socket notifiers outlived the loop, and pytest-qt's ``processEvents()`` after a later (non-Qt) test
dispatched them into freed state. Each test's own ``loop`` fixture now cancels its tasks and closes the
window while the loop is open; this fixture, torn down after every other fixture of a window test,
checks that it did and cleans up the rest: top-level widgets closed and deleted, deferred deletes
processed, no qasync loop left as the current event loop.

It crashed again the same way after a window test that cancelled a sync: qasync's close() leaves the
Qt timers of callbacks still scheduled registered, and when Python's GC later freed the loop's timer
object on another thread (a sandbox server's), Qt could not unregister them: ``close_qt_loop`` does.
"""

from __future__ import annotations

import asyncio
import gc
from contextlib import contextmanager

import pytest
import qasync

from esimdesk.ui.event_loop import DeskEventLoop, close_qt_loop


def _current_loop():
    policy = asyncio.get_event_loop_policy()
    local = getattr(policy, "_local", None)
    return getattr(local, "_loop", None)


@pytest.fixture(autouse=True)
def _no_qt_state_outlives_the_test():
    yield
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    leftover = _current_loop()
    loop_left_open = leftover is not None and isinstance(leftover, qasync.QEventLoop) and not leftover.is_closed()
    if loop_left_open:
        for task in asyncio.all_tasks(leftover):
            task.cancel()
        close_qt_loop(leftover)
    asyncio.set_event_loop(None)

    app = QApplication.instance()
    if app is not None:
        for widget in app.topLevelWidgets():
            widget.close()
            widget.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        app.processEvents()
    gc.collect()
    assert not loop_left_open, "a qasync event loop outlived its test (close it in the test's fixture)"


@pytest.fixture
def loop(qapp):
    """A qasync loop on the test's QApplication; unhandled task errors are kept in ``loop.errors``.

    Request it before ``qtbot`` in a window fixture: qtbot closes the window at its teardown, which then
    runs while this loop is still open (Qt objects must not outlive the loop they call into).
    """
    loop = DeskEventLoop(qapp)
    asyncio.set_event_loop(loop)
    errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    loop.errors = errors
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    close_qt_loop(loop)  # also its Qt timers still registered: never left for GC on another thread
    asyncio.set_event_loop(None)


@contextmanager
def window_over_sandbox(loop, qtbot, home, config, vendors=None):
    """The main window over a fresh sandbox, synced once; yields (window, server, desk).

    Take ``loop`` before ``qtbot`` in the fixture that calls this: qtbot closes the window at its teardown,
    which then runs while the qasync loop is still open (Qt objects must not outlive the loop they call into).
    """
    from esimdesk.sandbox import SandboxServer
    from esimdesk.services.config import load_accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    with SandboxServer(config, vendors=vendors) as server:
        desk = Desk(AppContext(home=home, accounts=load_accounts(home, env=server.env())))
        win = MainWindow(ui_settings(home), desk)
        qtbot.addWidget(win)
        win.show()
        loop.run_until_complete(win.startup(sync=True))
        try:
            yield win, server, desk
        finally:
            desk.close()


def wait_until(loop, condition, timeout: float = 15.0) -> None:
    """Run the loop until ``condition()`` holds; fail after ``timeout`` seconds."""
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        loop.run_until_complete(asyncio.sleep(0.05))
    assert condition(), "condition not met in time"


def settle_tab(loop, tab, timeout: float = 30.0) -> None:
    """Until the tab's current load has finished (its task done, no keystroke waiting), the loop running
    meanwhile (at least once: what the load posted is processed)."""
    loop.run_until_complete(asyncio.sleep(0.02))
    wait_until(loop, lambda: tab._task is not None and tab._task.done() and not tab._debounce.isActive(), timeout)
