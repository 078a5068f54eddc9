"""Closing the qasync loop leaves no Qt timer registered (a crash of the whole suite, once)."""

from __future__ import annotations

import asyncio

import qasync
from PySide6.QtCore import QAbstractEventDispatcher

from esimdesk.ui.event_loop import close_qt_loop


def test_closing_the_loop_unregisters_the_timers_of_callbacks_still_scheduled(qapp):
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        async def leave_a_timer():
            # A timeout that will never fire in this test: a cancelled wait_for leaves one like it.
            loop.call_later(60, lambda: None)
            await asyncio.sleep(0)

        loop.run_until_complete(leave_a_timer())
        timers = QAbstractEventDispatcher.instance().registeredTimers
        assert len(timers(loop._timer)) == 1
        loop.close()
        assert len(timers(loop._timer)) == 1  # qasync's own close() leaves it registered
        close_qt_loop(loop)
        assert timers(loop._timer) == []  # nothing left for GC to free on another thread
    finally:
        close_qt_loop(loop)
        asyncio.set_event_loop(None)
