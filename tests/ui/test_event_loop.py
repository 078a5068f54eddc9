"""Closing the qasync loop leaves no Qt timer registered (a crash of the whole suite, once)."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtCore import QAbstractEventDispatcher

from esimdesk.ui.event_loop import DeskEventLoop, close_qt_loop


def test_closing_the_loop_unregisters_the_timers_of_callbacks_still_scheduled(qapp):
    loop = DeskEventLoop(qapp)
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


def test_a_task_resumed_as_run_until_complete_ends_still_has_its_running_loop(qapp):
    """qasync processes the Qt events left after its loop stopped with no running loop set: a task resumed
    there by a worker thread's answer died in ``asyncio.to_thread`` ("no running event loop"). The window
    tests wait by short ``run_until_complete`` calls; a sync's last steps after a Cancel failed so, at random
    on a busy machine, and ``syncFinished`` never came (issue 29, item 12). Plain qasync fails this test."""
    loop = DeskEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        async def answers_from_a_worker_thread():
            for _ in range(200):
                await asyncio.to_thread(time.sleep, 0.001)
            return "all answered"

        tasks = [asyncio.ensure_future(answers_from_a_worker_thread()) for _ in range(8)]
        for _ in range(5000):  # a window test's wait: many short runs of the loop
            if all(t.done() for t in tasks):
                break
            loop.run_until_complete(asyncio.sleep(0.002))
        assert [t.result() for t in tasks] == ["all answered"] * 8
        assert asyncio.events._get_running_loop() is None  # unset once run_until_complete has returned
    finally:
        close_qt_loop(loop)
        asyncio.set_event_loop(None)
