"""Closing the qasync event loop without leaving Qt timers behind it."""

from __future__ import annotations

import asyncio


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
