"""The window's qasync event loop: current through all of its event processing, closed without leaving
Qt timers behind it."""

from __future__ import annotations

import asyncio

import qasync


class DeskEventLoop(qasync.QEventLoop):
    """qasync's loop, the running loop for every Qt event it processes.

    qasync's ``run_until_complete`` ends with one more pass over the Qt events left (``processEvents``)
    after it has unset the running loop: a task resumed in that pass (a worker thread's answer, a pipe's
    end) dies in ``asyncio.get_running_loop()`` ("no running event loop"). A window test that waits by
    short ``run_until_complete`` calls met it at random on a busy machine: after a Cancel the sync's last
    steps (``asyncio.to_thread``) failed there and ``syncFinished`` never came. Here the loop stays the
    running one for that pass too, and is unset when ``run_until_complete`` returns."""

    _finishing = False

    def run_forever(self):
        try:
            return super().run_forever()
        finally:
            if self._finishing:  # run_until_complete's last pass over the events is still to come
                asyncio.events._set_running_loop(self)

    def run_until_complete(self, future):
        if self._finishing:
            raise RuntimeError("Event loop already running")  # called from a task resumed in the last pass
        self._finishing = True
        try:
            return super().run_until_complete(future)
        finally:
            self._finishing = False
            asyncio.events._set_running_loop(None)


def close_qt_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Close a qasync loop (if open) and unregister the Qt timers it leaves, on this (the GUI) thread.

    qasync's ``close()`` only marks its timer object stopped: the timers of callbacks still scheduled (a
    cancelled ``wait_for``'s timeout, a pending sleep) stay registered until they fire. When that object is
    later garbage-collected on another thread (Python's GC runs on whichever thread triggers it), Qt cannot
    unregister them there, and the next timer event goes to freed memory: the test suite crashed so in
    Qt's event processing, tests after a window test that had cancelled a sync."""
    if not loop.is_closed():
        loop.close()
    timer = getattr(loop, "_timer", None)
    pending = getattr(timer, "_SimpleTimer__callbacks", None)  # qasync's own bookkeeping: id -> handle
    if timer is None or not isinstance(pending, dict):
        return
    for timer_id in list(pending):
        timer.killTimer(timer_id)
    pending.clear()
