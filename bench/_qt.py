"""Qt helpers shared by the window benchmarks (bench/views.py, bench/journeys.py); imported after the
QApplication's platform is chosen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication

# A top-level window repaints its dirty widgets (and puts them on screen) inside one of these: an
# UpdateRequest to the widget, or an Expose to its native window (the first show).
WINDOW_PASSES = (QEvent.Type.UpdateRequest, QEvent.Type.Expose)


class Paints(QObject):
    """Resolves a future when the next paint of a widget has ended (armed when the awaited rows are in
    the table): the paint is delivered from inside the filter, so the time taken is after the last
    cell was drawn, not when the paint began.

    ``events``: what counts as a paint (a top-level window's passes: ``WINDOW_PASSES``, watched on the
    widget and, once shown, its native window); ``arm(when)``: the first paint that began with ``when()``
    true, i.e. one that shows what ``when`` checks."""

    def __init__(self, widget, events=(QEvent.Type.Paint,)):
        super().__init__()
        self.events = events
        self.waiting: list[tuple[asyncio.Future, Callable[[], bool] | None]] = []
        self.inside = False
        widget.installEventFilter(self)
        if QEvent.Type.Expose in events and widget.windowHandle() is not None:
            widget.windowHandle().installEventFilter(self)

    def eventFilter(self, obj, event):  # noqa: N802
        if event.type() not in self.events or self.inside or not self.waiting:
            return False
        ready = [fut for fut, when in self.waiting if when is None or when()]  # what this paint will show
        if not ready:
            return False
        self.inside = True
        try:
            QApplication.sendEvent(obj, event)  # the widget paints now, through the other filters
        finally:
            self.inside = False
        now = time.perf_counter()
        for fut in ready:
            if not fut.done():
                fut.set_result(now)
        self.waiting = [(fut, when) for fut, when in self.waiting if fut not in ready and not fut.done()]
        return True  # painted already

    def arm(self, when: Callable[[], bool] | None = None) -> asyncio.Future:
        fut = asyncio.get_event_loop().create_future()
        self.waiting.append((fut, when))
        return fut
