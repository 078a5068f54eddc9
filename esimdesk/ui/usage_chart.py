"""A small step chart of an eSIM's data used over time, drawn with QPainter (QtCharts is not in
pyside6-essentials, and a few dozen points need no chart library).

Used data only grows between readings and is known only at them, so the line is a step: flat from one
reading to the next, then up. The allowance, where known, is the dashed top line; the chart's height is
the allowance (or the largest reading on an unlimited plan).
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from esimdesk.domain import Usage, count_of, data_amount

LINE_COLOR = "#1d6fd8"
NO_DATA = "No usage recorded yet"


def usage_points(readings: list[Usage]) -> list[tuple[datetime, int]]:
    """(when it was true, MB used) of each reading that has a figure, oldest first."""
    points = [(u.as_of or u.observed_at, u.data_used_mb) for u in readings if u.data_used_mb is not None]
    return sorted(points, key=lambda p: p[0])


class UsageChart(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.points: list[tuple[datetime, int]] = []
        self.total: int | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(70)
        self.setToolTip(NO_DATA)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(260, 80)

    def set_usage(self, points: list[tuple[datetime, int]], total: int | None) -> None:
        """The readings (oldest first) and the allowance in MB (None: unlimited or unknown)."""
        self.points, self.total = list(points), total if total and total > 0 else None
        if self.points:
            first, last = self.points[0], self.points[-1]
            of = f" of {data_amount(self.total)}" if self.total else ""
            self.setToolTip(f"{count_of(len(self.points), 'reading')} from {first[0]:%Y-%m-%d %H:%M} to "
                            f"{last[0]:%Y-%m-%d %H:%M} UTC; last: {data_amount(last[1], '')}{of} used")
        else:
            self.setToolTip(NO_DATA)
        self.update()

    def clear(self) -> None:
        self.set_usage([], None)

    def plot_area(self) -> QRectF:
        """Where the line is drawn (the rest holds the caption)."""
        caption = self.fontMetrics().height() + 2
        return QRectF(4, caption + 2, max(self.width() - 8, 1), max(self.height() - caption - 6, 1))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        try:
            palette = self.palette()
            text = palette.color(QPalette.ColorRole.WindowText)
            frame = palette.color(QPalette.ColorRole.Mid)
            area = self.plot_area()
            painter.setPen(frame)
            painter.drawRect(area.adjusted(0, 0, -1, -1))
            painter.setPen(text)
            caption = QRectF(4, 0, self.width() - 8, area.top() - 2)
            if not self.points:
                painter.drawText(area, Qt.AlignmentFlag.AlignCenter, NO_DATA)
                painter.drawText(caption, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "Data used")
                return
            last = self.points[-1][1]
            of = f" of {data_amount(self.total)}" if self.total else ""
            painter.drawText(caption, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             f"Data used: {data_amount(last, '')}{of}")
            painter.drawText(caption, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"since {self.points[0][0]:%Y-%m-%d}")
            top = max(self.total or 0, max(p[1] for p in self.points), 1)
            start = self.points[0][0].timestamp()
            span = self.points[-1][0].timestamp() - start

            def at(when: datetime, used: int) -> QPointF:
                x = area.left() + (area.width() * (when.timestamp() - start) / span if span > 0 else area.width())
                return QPointF(x, area.bottom() - area.height() * min(used, top) / top)

            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            if self.total:
                dashed = QPen(frame)
                dashed.setStyle(Qt.PenStyle.DashLine)
                painter.setPen(dashed)
                painter.drawLine(QPointF(area.left(), area.top()), QPointF(area.right(), area.top()))
            path = QPainterPath(QPointF(area.left(), at(*self.points[0]).y()))
            for when, used in self.points[1:]:
                point = at(when, used)
                path.lineTo(QPointF(point.x(), path.currentPosition().y()))  # flat until the reading, then up
                path.lineTo(point)
            path.lineTo(QPointF(area.right(), path.currentPosition().y()))
            fill = QPainterPath(path)
            fill.lineTo(QPointF(area.right(), area.bottom()))
            fill.lineTo(QPointF(area.left(), area.bottom()))
            fill.closeSubpath()
            shade = QColor(LINE_COLOR)
            shade.setAlpha(60)
            painter.fillPath(fill, shade)
            pen = QPen(QColor(LINE_COLOR))
            pen.setWidthF(2)
            painter.setPen(pen)
            painter.drawPath(path)
        finally:
            painter.end()
