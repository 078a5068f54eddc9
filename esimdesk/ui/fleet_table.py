"""Fleet's table parts: the data-used bar in the Used cell, and the quick filters above the table.

The bar is read from the row's eSIM, which the model already holds for a painted row: two integers and a
division per row (no query, nothing made but a small tuple). The quick filters only say which
``ListingQuery`` fields are set; the store turns them into SQL (store/listings.py ``_quick_filters``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget

from esimdesk.domain import Esim
from esimdesk.ui.table_model import RowLook, WindowedModel

LOW_DATA_COLOR = "#d32f2f"  # under 10 % left: the bar turns red, as the "Under 10 % left" filter lists it
_low: list[QBrush] = []  # made once, when the first bar is painted (needs the app)


def used_fraction(esim: Esim) -> float | None:
    """The share of the eSIM's data allowance used (0..1), or None where it has no known, limited one."""
    total, used = esim.data_total_mb, esim.data_used_mb
    if not total or total <= 0 or used is None:
        return None
    return min(max(used / total, 0.0), 1.0)


def low_data(esim: Esim) -> bool:
    """Under 10 % of a known, limited allowance left: the store's test, in integers."""
    total, used = esim.data_total_mb, esim.data_used_mb
    return bool(total and total > 0 and used is not None and used * 10 > total * 9)


def _low_brush() -> QBrush:
    if not _low:
        _low.append(QBrush(QColor(LOW_DATA_COLOR)))
    return _low[0]


class FleetModel(WindowedModel):
    """The windowed model, plus a bar in the Used cell: data used of the allowance."""

    def __init__(self, columns, parent=None):
        super().__init__(columns, parent)
        self.used_column = next(i for i, c in enumerate(self.columns) if c.title == "Used")
        self._plain = tuple((None, None) for _ in self.columns)
        self._no_bars = (None,) * len(self.columns)

    def bar(self, row: int) -> tuple[float, QBrush | None] | None:
        """The Used cell's bar of a loaded row: (share used, brush: red under 10 % left, else None)."""
        pair = self._pair(row)
        if pair is None:
            return None
        fraction = used_fraction(pair[1])
        if fraction is None:
            return None
        return fraction, _low_brush() if low_data(pair[1]) else None

    def row_look(self, row: int) -> RowLook | None:
        bar = self.bar(row)
        if bar is None:
            return None
        col = self.used_column
        bars = self._no_bars[:col] + (bar,) + self._no_bars[col + 1:]
        return RowLook(self._plain, None, bars)


class QuickFilters(QWidget):
    """One-click views of the fleet, one at a time (a second click turns it off), combined with the
    search, vendor and status: Active, expiring within N days, under 10 % left, not installed N days after
    purchase."""

    changed = Signal()  # the quick filter or its number of days changed: the table reloads

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Show:"))
        self.active = QPushButton("Active")
        self.active.setToolTip("On a device and usable: installed or in use, and not past its expiry")
        self.expiring = QPushButton("Expiring within")
        self.expiring.setToolTip("Expires within the next N days (already expired ones are not listed)")
        self.expiring_days = self._days(7)
        self.low = QPushButton("Under 10 % data left")
        self.low.setToolTip("Less than 10 % of a limited data allowance left, used-up ones included. Unlimited "
                            "plans and eSIMs whose vendor reports no allowance (Flexiroam) are never listed")
        self.not_installed = QPushButton("Not installed")
        self.not_installed.setToolTip(
            "Still not installed N days after its order was placed, and not expired. The purchase time is the "
            "order's: Flexiroam's inventory and the eSIMs Roamify lists without their order carry none, so "
            "they are never listed here")
        self.not_installed_days = self._days(7)
        self.buttons = (self.active, self.expiring, self.low, self.not_installed)
        for button in self.buttons:
            button.setCheckable(True)
            button.clicked.connect(lambda checked, b=button: self._clicked(b, checked))
        for widget in (self.active, self.expiring, self.expiring_days, QLabel("days"), self.low,
                       self.not_installed, self.not_installed_days, QLabel("days after purchase")):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.expiring_days.valueChanged.connect(lambda _v: self.expiring.isChecked() and self.changed.emit())
        self.not_installed_days.valueChanged.connect(lambda _v: self.not_installed.isChecked() and self.changed.emit())

    @staticmethod
    def _days(value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(0, 365)
        box.setValue(value)
        box.setSuffix(" ")
        return box

    def _clicked(self, button: QPushButton, checked: bool) -> None:
        if checked:  # one at a time: each walks the sort index on its own (see store/listings.py)
            for other in self.buttons:
                if other is not button:
                    other.setChecked(False)
        self.changed.emit()

    def fields(self, now: datetime | None = None) -> dict:
        """The ListingQuery fields of the filter on; ``as_of`` to the minute, so one minute's reloads are one
        query (its count is kept), and a result's pages are read against one "now"."""
        out: dict = {}
        if self.active.isChecked():
            out["active"] = True
        elif self.expiring.isChecked():
            out["expiring_days"] = self.expiring_days.value()
        elif self.low.isChecked():
            out["low_data"] = True
        elif self.not_installed.isChecked():
            out["not_installed_days"] = self.not_installed_days.value()
        if out and not out.get("low_data"):
            out["as_of"] = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
        return out
