"""The Orders tab's parts: status colours and icons in the table, local time beside UTC, and the detail's
list of an order's eSIMs with their QR codes and a Copy button for each activation code."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QGuiApplication, QIcon, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from esimdesk.domain import Esim, JournalEntry, OrderStatus, vendor_title
from esimdesk.ui.qr import qr_pixmap
from esimdesk.ui.table_model import RowLook, WindowedModel

# --- status: colour and icon ---------------------------------------------------------------------
STATUS_COLORS = {
    OrderStatus.PENDING.value: "#6b7280",  # grey: recorded, nothing back yet
    OrderStatus.ALLOCATING.value: "#1d6fd8",  # blue: accepted, profiles coming
    OrderStatus.COMPLETED.value: "#2e7d32",  # green
    OrderStatus.FAILED.value: "#9e9e9e",  # muted: settled, nothing charged, nothing to do
    OrderStatus.UNCERTAIN.value: "#d32f2f",  # red, with a warning sign and the whole row bold: act on it
}
STATUS_SAMPLE = "ALLOCATING\u2003\u2003"  # the longest status and room for its icon (the first column fit)

_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_FONT = int(Qt.ItemDataRole.FontRole)
_UNCERTAIN = OrderStatus.UNCERTAIN.value
_looks: dict[str, tuple[QIcon, QBrush]] = {}  # made once, when the first cell is painted (needs the app)
_bold: list[QFont] = []


def _icon(status: str, color: str) -> QIcon:
    """A small painted sign: a dot per status, a warning triangle for UNCERTAIN (no theme icon needed)."""
    size = 32  # drawn large, shown at the view's icon size
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    if status == _UNCERTAIN:
        painter.drawPolygon(QPolygonF([QPointF(16, 2), QPointF(31, 29), QPointF(1, 29)]))
        painter.setBrush(QColor("white"))
        painter.drawRect(14, 10, 4, 11)
        painter.drawRect(14, 23, 4, 4)
    elif status == OrderStatus.ALLOCATING.value:  # a ring: under way
        painter.setPen(QColor(color))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        pen = painter.pen()
        pen.setWidth(6)
        painter.setPen(pen)
        painter.drawEllipse(6, 6, 20, 20)
    else:
        painter.drawEllipse(5, 5, 22, 22)
    painter.end()
    return QIcon(pixmap)


def status_look(status: str) -> tuple[QIcon, QBrush] | None:
    """The status's icon and text colour (made once per status), or None for text that is no status."""
    look = _looks.get(status)
    if look is None and status in STATUS_COLORS:
        color = STATUS_COLORS[status]
        look = _looks[status] = (_icon(status, color), QBrush(QColor(color)))
    return look


def _bold_font() -> QFont:
    if not _bold:
        font = QFont(QGuiApplication.font())
        font.setBold(True)
        _bold.append(font)
    return _bold[0]


class OrdersModel(WindowedModel):
    """The windowed model, plus the status column's icon and colour, and UNCERTAIN rows in bold red.

    Read from the status cell's text, which the model already holds for a painted row: a dict look-up a
    cell, no item read, no object made (the icons and brushes are made once)."""

    def __init__(self, columns, parent=None):
        super().__init__(columns, parent)
        self.status_column = next(i for i, c in enumerate(self.columns) if c.title == "Status")
        self._row_looks: dict[str, RowLook | None] = {}  # status -> how ListingView draws its rows

    def row_look(self, row: int) -> RowLook | None:
        """For ListingView's one-pass paint: the status cell's icon and colour; an UNCERTAIN row all in bold
        red. One look per status, made once."""
        cells = self.row_cells(row)
        if cells is None:
            return None
        status = cells[self.status_column]
        look = self._row_looks.get(status, False)
        if look is False:
            look = self._row_looks[status] = self._make_row_look(status)
        return look

    def _make_row_look(self, status: str) -> RowLook | None:
        found = status_look(status)
        if found is None:
            return None
        icon, brush = found
        uncertain = status == _UNCERTAIN
        cells = tuple((icon, brush) if col == self.status_column else (None, brush if uncertain else None)
                      for col in range(len(self.columns)))
        return RowLook(cells, _bold_font() if uncertain else None)

    def _look(self, row: int, column: int, role: int):
        status = self.cell_text(row, self.status_column)
        if column != self.status_column and status != _UNCERTAIN:
            return None
        if role == _FONT:
            return _bold_font() if status == _UNCERTAIN else None
        look = status_look(status)
        if look is None:
            return None
        if role == _DECORATION:
            return look[0] if column == self.status_column else None
        if role == _FOREGROUND:
            return look[1]
        return None

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        role = int(role)
        if index.isValid() and role in (_DECORATION, _FOREGROUND, _FONT):
            return self._look(index.row(), index.column(), role)
        return super().data(index, role)

    def multiData(self, index, span) -> None:  # noqa: N802
        super().multiData(index, span)
        row, column = index.row(), index.column()
        status = self.cell_text(row, self.status_column)
        if column != self.status_column and status != _UNCERTAIN:
            return  # most cells: nothing more than the display text
        for k in range(len(span)):
            wanted = span[k]
            role = wanted.role()
            if role in (_DECORATION, _FOREGROUND, _FONT):
                value = self._look(row, column, role)
                if value is not None:
                    wanted.setData(value)


# --- time: local beside UTC -------------------------------------------------------------------------
# The local zone's offset by quarter hour of UTC (every zone's changes fall on one): the column's text
# is made for each row as it is first painted, and a cached offset is cheaper than asking the C library.
_offsets: dict[int, tuple[timedelta, str]] = {}
UTC_OFFSET = timedelta(0)
CREATED_SAMPLE = "2026-11-29 01:05 (11-28 23:05 UTC)"


def forget_local_zone() -> None:
    """After the machine's time zone changed (tests set TZ): offsets are asked again."""
    _offsets.clear()


def _local(dt: datetime) -> tuple[datetime, str]:
    """``dt`` (aware) as local wall time (no zone attached), and the zone's short name."""
    key = int(dt.timestamp()) // 900
    known = _offsets.get(key)
    if known is None:
        local = dt.astimezone()
        if len(_offsets) > 4096:
            _offsets.clear()
        known = _offsets[key] = (local.utcoffset() or UTC_OFFSET, local.tzname() or "")
    return _utc_naive(dt) + known[0], known[1]


def _utc_naive(dt: datetime) -> datetime:
    """UTC wall time without a zone: compared and formatted with the local wall time beside it."""
    return dt.replace(tzinfo=None) - (dt.utcoffset() or UTC_OFFSET)


def created_text(dt: datetime | None) -> str:
    """The table's cell: local time, and UTC beside it ("2026-11-29 13:05 (12:05 UTC)"); the UTC date is
    added where it is another day; a desk on UTC shows it once ("2026-11-29 12:05 UTC")."""
    if dt is None:
        return ""
    local, _zone = _local(dt)
    utc = _utc_naive(dt)
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"
    if local == utc:
        return text + " UTC"
    day = f"{utc.month:02d}-{utc.day:02d} " if utc.date() != local.date() else ""
    return f"{text} ({day}{utc.hour:02d}:{utc.minute:02d} UTC)"


def created_line(dt: datetime | None) -> str:
    """The detail's line: "2026-11-29 13:05 CET · 12:05 UTC" (plain text)."""
    if dt is None:
        return "unknown"
    local, zone = _local(dt)
    utc = _utc_naive(dt)
    text = f"{local:%Y-%m-%d %H:%M} {zone}".rstrip()
    if local == utc:
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    day = f"{utc:%Y-%m-%d} " if utc.date() != local.date() else ""
    return f"{text} · {day}{utc:%H:%M} UTC"


def reconciled_text(entry: JournalEntry) -> str:
    """What "Reconcile now" found, for the status bar."""
    state = entry.state
    if state is OrderStatus.COMPLETED:
        return f"{entry.reference}: found at {vendor_title(entry.vendor)}, order {entry.order_id or '?'} completed"
    if state is OrderStatus.ALLOCATING:
        return f"{entry.reference}: {vendor_title(entry.vendor)} has it, its eSIMs are still being allocated"
    if state is OrderStatus.FAILED:
        return f"{entry.reference}: not placed at {vendor_title(entry.vendor)}, nothing was charged"
    return (f"{entry.reference} is still {state.value}: {vendor_title(entry.vendor)} could not settle it; "
            "see its history, then adopt, send again or abandon it")


# --- the detail's eSIMs ---------------------------------------------------------------------------
SHOWN_ESIMS = 10  # drawn with their QR codes; the rest are counted ("and 40 more"), as cards print them all
QR_SCALE = 3  # pixels a module: ~125 px for an activation code, readable on screen and by a phone
COPIED_FOR_MS = 1500


class _EsimRow(QWidget):
    copied = Signal(str, str)  # ICCID, activation code

    def __init__(self, parent=None):
        super().__init__(parent)
        self.esim: Esim | None = None
        self.qr = QLabel()
        self.qr.setFixedSize(132, 132)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.iccid = QLabel()
        self.iccid.setTextFormat(Qt.TextFormat.PlainText)  # vendor text: never read as markup
        self.iccid.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.iccid.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self.iccid.font()
        font.setBold(True)
        self.iccid.setFont(font)
        # One line that scrolls, selectable as it is: a label would wrap a code only at its dashes and spill
        # past the pane; breaks put into it would be copied with it.
        self.code = QLineEdit()
        self.code.setReadOnly(True)
        self.code.setMinimumWidth(60)
        self.code.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the activation code (to paste into a message or the phone's settings)")
        self.copy_button.clicked.connect(self._copy)
        self._restore = QTimer(self)  # "Copied" shows a moment, then the button says Copy again
        self._restore.setSingleShot(True)
        self._restore.setInterval(COPIED_FOR_MS)
        self._restore.timeout.connect(lambda: self.copy_button.setText("Copy"))
        text = QVBoxLayout()
        text.addWidget(self.iccid)
        text.addWidget(self.code)
        text.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignLeft)
        text.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 6, 2)
        layout.addWidget(self.qr)
        layout.addLayout(text, 1)

    def show_esim(self, esim: Esim) -> None:
        self.esim = esim
        self.iccid.setText(esim.iccid)
        self.code.setText(esim.activation_code or "")
        self.code.setPlaceholderText("No activation code from the vendor yet")
        self.code.setCursorPosition(0)  # its start (LPA:1$ and the server) in view
        self.code.setToolTip(esim.activation_code or "")
        self.copy_button.setEnabled(bool(esim.activation_code))
        self._restore.stop()
        self.copy_button.setText("Copy")
        self.qr.clear()

    def _copy(self) -> None:
        if self.esim is None or not self.esim.activation_code:
            return
        QGuiApplication.clipboard().setText(self.esim.activation_code)
        self.copy_button.setText("Copied")
        self._restore.start()
        self.copied.emit(self.esim.iccid, self.esim.activation_code)


class EsimList(QWidget):
    """An order's eSIMs: QR code, ICCID, activation code and Copy, for the first ``SHOWN_ESIMS``.

    Shown at once with their text; the QR codes are drawn one per turn of the event loop (segno takes
    ~7 ms a code), so a 50-eSIM order neither freezes the window nor delays the detail's first paint.
    Codes drawn are kept, so going back to an order shows them at once."""

    codeCopied = Signal(str, str)  # ICCID, activation code: it is on the clipboard

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[_EsimRow] = []  # made once and reused: a new selection makes no widget
        self.more = QLabel()
        self.more.hide()
        self.empty = QLabel("No eSIM in this order yet.")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(self.empty)
        self._layout.addWidget(self.more)
        self._layout.addStretch(1)
        self._queue: list[tuple[_EsimRow, str]] = []
        self._drawn: OrderedDict[str, QPixmap] = OrderedDict()
        self._draw = QTimer(self)
        self._draw.setSingleShot(True)
        self._draw.setInterval(0)
        self._draw.timeout.connect(self._draw_next)

    def _row(self, i: int) -> _EsimRow:
        while len(self.rows) <= i:
            row = _EsimRow(self)
            row.copied.connect(self.codeCopied)
            self._layout.insertWidget(len(self.rows), row)
            self.rows.append(row)
        return self.rows[i]

    def show_esims(self, esims) -> None:
        self._queue = []
        shown = list(esims[:SHOWN_ESIMS])
        for i, esim in enumerate(shown):
            row = self._row(i)
            row.show_esim(esim)
            row.show()
            code = esim.activation_code
            if code:
                pixmap = self._drawn.get(code)
                if pixmap is not None:
                    row.qr.setPixmap(pixmap)
                else:
                    self._queue.append((row, code))
        for row in self.rows[len(shown):]:
            row.hide()
            row.esim = None
        self.empty.setVisible(not shown)
        extra = len(esims) - len(shown)
        self.more.setText(f"and {extra} more eSIM{'s' if extra != 1 else ''} (all of them on the printed cards)")
        self.more.setVisible(extra > 0)
        if self._queue:
            self._draw.start()
        else:
            self._draw.stop()

    def drawing(self) -> bool:
        """QR codes still to draw for the eSIMs shown."""
        return bool(self._queue)

    def _draw_next(self) -> None:
        if not self._queue:
            return
        row, code = self._queue.pop(0)
        pixmap = self._drawn.get(code)
        if pixmap is None:
            pixmap = self._drawn[code] = qr_pixmap(code, QR_SCALE)
            while len(self._drawn) > 4 * SHOWN_ESIMS:
                self._drawn.popitem(last=False)
        if row.esim is not None and row.esim.activation_code == code:
            row.qr.setPixmap(pixmap)
        if self._queue:
            self._draw.start()
