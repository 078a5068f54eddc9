"""The listing tables' view: Qt's QTableView, with the visible cells drawn in one pass.

Qt's item delegate draws each cell on its own: it asks the model for the cell's roles (a call into
Python per cell), builds a style option, lays the text out for eliding and asks the style to draw the
item's panel, then the text. Measured on this machine over a Fleet screen (31 rows × 9 columns): ~20 ms
a paint, and ~40 ms when a count runs in a worker thread meanwhile — the largest part of a keystroke's
time. Here one Python call draws the rows on screen from the model's cached cell text (~5 ms): row
backgrounds (alternating, selected), the grid, and each cell's text in its alignment, elided to its
column, with the icon, colour, font and share bar a model gives a row (``WindowedModel.row_look``: the
Orders tab's status, Fleet's data used). Everything else (scrolling, selection, keyboard, headers,
accessibility through ``data()``) is QTableView's. A model other than ``WindowedModel`` is drawn by Qt as usual.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem, QTableView

from esimdesk.ui.table_model import WindowedModel

_LEFT = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_BAR = 3  # px: a cell's share bar (RowLook.bars), along its foot under the text
_WIDTHS_KEPT = 20_000  # text → width, for eliding: cell texts repeat (vendors, statuses, dates)


class ListingView(QTableView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._widths: dict[str, int] = {}

    def keyboardSearch(self, search: str) -> None:  # noqa: N802 (Qt's name)
        """Off: Qt's type-ahead reads every row's text to find a match (pages of 390,000 eSIMs, the window
        frozen up to 0.6 s); typed text goes to the search boxes (Ctrl+F, Ctrl+K) instead."""

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        model = self.model()
        if not isinstance(model, WindowedModel):
            super().paintEvent(event)
            return
        area = event.rect()
        rows = model.rowCount()
        first = self.rowAt(area.top())
        if rows == 0 or first < 0:
            return  # the viewport's own background (Base) is all there is
        last = self.rowAt(area.bottom())
        last = rows - 1 if last < 0 else last
        header = self.horizontalHeader()
        columns = []  # (x, width, logical column) of the columns in the painted area, left to right
        for visual in range(header.count()):
            col = header.logicalIndex(visual)
            if header.isSectionHidden(col):
                continue
            x, width = header.sectionViewportPosition(col), header.sectionSize(col)
            if x + width > area.left() and x <= area.right():
                columns.append((x, width, col))
        if not columns:
            return
        height = self.verticalHeader().defaultSectionSize()
        palette = self.palette()
        group = QPalette.ColorGroup.Active if self.isActiveWindow() else QPalette.ColorGroup.Inactive
        text_color = palette.color(group, QPalette.ColorRole.Text)
        selected_text = palette.color(group, QPalette.ColorRole.HighlightedText)
        highlight = palette.brush(group, QPalette.ColorRole.Highlight)
        alternate = palette.brush(group, QPalette.ColorRole.AlternateBase) if self.alternatingRowColors() else None
        track = palette.color(group, QPalette.ColorRole.Mid)
        track.setAlpha(70)
        selection = self.selectionModel()
        root = QModelIndex()
        style = self.style()
        margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1
        metrics = self.fontMetrics()
        font = self.font()
        icon_size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize, None, self)
        widths = self._widths
        if len(widths) > _WIDTHS_KEPT:
            widths.clear()
        right = model.right_aligned()
        left_x, right_x = columns[0][0], columns[-1][0] + columns[-1][1]
        painter = QPainter(self.viewport())
        try:
            y = self.rowViewportPosition(first)
            for row in range(first, last + 1):
                is_selected = selection is not None and selection.isRowSelected(row, root)
                if is_selected:
                    painter.fillRect(QRect(left_x, y, right_x - left_x, height), highlight)
                elif alternate is not None and row % 2:
                    painter.fillRect(QRect(left_x, y, right_x - left_x, height), alternate)
                painter.setPen(selected_text if is_selected else text_color)
                cells = model.row_cells(row)
                look = model.row_look(row) if cells is not None else None
                if look is not None:
                    painter.setFont(look.font or font)
                    metrics_now = painter.fontMetrics()
                else:
                    metrics_now = metrics
                for x, width, col in columns:
                    text = cells[col] if cells is not None else ("…" if col == 0 else "")
                    if not text:
                        continue
                    room = width - 2 * margin
                    if look is not None:
                        bar = look.bars[col] if look.bars is not None else None
                        if bar is not None:  # under the text: a track, and the share filled
                            foot = QRect(x + margin, y + height - _BAR - 1, room, _BAR)
                            painter.fillRect(foot, track)
                            share = round(room * min(max(bar[0], 0.0), 1.0))
                            painter.fillRect(QRect(foot.x(), foot.y(), share, _BAR),
                                             selected_text if is_selected else (bar[1] or highlight))
                        icon, brush = look.cells[col]
                        if icon is not None:
                            side = min(icon_size, height - 4)
                            icon.paint(painter, QRect(x + margin, y + (height - side) // 2, side, side))
                            x, width, room = x + side + margin, width - side - margin, room - side - margin
                        if brush is not None and not is_selected:
                            painter.setPen(brush.color())
                        elif not is_selected:
                            painter.setPen(text_color)
                        if look.font is not None:  # another font: measured as drawn, not from the width cache
                            if metrics_now.horizontalAdvance(text) > room:
                                text = metrics_now.elidedText(text, Qt.TextElideMode.ElideRight, room)
                            painter.drawText(QRect(x + margin, y, room, height), _RIGHT if right[col] else _LEFT,
                                             text)
                            continue
                    wide = widths.get(text)
                    if wide is None:
                        wide = widths[text] = metrics.horizontalAdvance(text)
                    if wide > room:
                        text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
                    painter.drawText(QRect(x + margin, y, room, height), _RIGHT if right[col] else _LEFT, text)
                if look is not None:
                    painter.setFont(font)
                y += height
            if self.showGrid():
                option = QStyleOptionViewItem()
                self.initViewItemOption(option)
                grid = QColor.fromRgba(style.styleHint(QStyle.StyleHint.SH_Table_GridLineColor, option, self) & 0xFFFFFFFF)
                painter.setPen(grid)
                top, bottom = self.rowViewportPosition(first), y - 1
                for x, width, _col in columns:
                    painter.drawLine(x + width - 1, top, x + width - 1, bottom)
                for line in range(top + height - 1, y, height):
                    painter.drawLine(left_x, line, right_x - 1, line)
        finally:
            painter.end()
