"""A tab's table page: search box, filters, the table over a whole store listing, the detail pane.

Layout and wiring: what to read for a keystroke, a filter, a header click or a sync, and which row to keep
in view, is the tab's ListingSession (services/listing_session.py, without Qt). Each tab adds its own
filters and detail: catalog_tab.py, orders_tab.py, fleet_tab.py."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import ListingQuery
from esimdesk.services.listing_session import Change, ListingSession, Pages, Shown, View
from esimdesk.ui.table_model import Column, WindowedModel
from esimdesk.ui.table_view import ListingView

log = logging.getLogger("esimdesk.ui")

# No debounce delay: a keystroke's query cancels (and interrupts) the one before it, so typing fast costs
# nothing, and waiting would only add to every keystroke's time to paint. The zero-delay timer still turns
# the keystrokes that arrive together (a paste, autorepeat) into one query.
SEARCH_DEBOUNCE_MS = 0
FIT_ROWS = 40  # rows measured for the first fit of the columns: a screen and a half


class ListingTab(QWidget):
    """Search box + filters + table + detail pane over one store listing (the whole result, windowed).

    A keystroke, a filter or a header click asks the store for the result's count and its first pages in
    the shown order (off the GUI thread; a newer request cancels and interrupts the older one); the rest
    is read a page at a time as the agent scrolls. What to read, and which row to keep in view, is the
    tab's ``session`` (services/listing_session.py, without Qt); the tab lays out what it is given."""

    loaded = Signal(int)  # rows in the result (its true count)
    rowsShown = Signal()  # the result's first rows are in the table (its count may still be coming)
    loadFailed = Signal(str)  # the data file refused the read: in words, the table keeps what it showed
    listing = ""  # "plans", "orders", "esims": the store's table, and what a vendor may not offer here
    noun = "rows"
    model_class = WindowedModel  # Orders: one that also colours the status (order_detail.OrdersModel)

    def __init__(self, desk, columns: list[Column], placeholder: str, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.session = ListingSession(desk, behind=self._behind)
        self.live = False  # set by the window's start-up: until then nothing is loaded
        self._fitted = False
        self._fit_when_shown = False  # rows arrived while the tab was behind another: fit when it is shown
        self.kept_widths: dict[int, int] = {}  # column -> the width the agent gave it (kept, never fitted)
        self._sorted_column = 0
        self.model = self.model_class(columns, self)
        self.model.sortRequested.connect(lambda _key, _desc: self.reload())
        self.search = QLineEdit()
        self.search.setPlaceholderText(placeholder)
        self.search.setClearButtonEnabled(True)
        self.vendor = QComboBox()
        self.vendor.addItem("All vendors", None)
        for v in desk.vendors:
            self.vendor.addItem(v.capitalize() if v != "microesim" else "MicroESIM", v)
        self.count = QLabel()
        # Its text changes with every result: its size is no hint to the layout (no new layout per count).
        self.count.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.count.setFixedHeight(self.count.fontMetrics().height() + 4)
        # What the chosen vendor does not offer in this view (e.g. Flexiroam: no plans), or a filter
        # that was not understood: said above the table instead of leaving it silently empty.
        self.notice = QLabel()
        self.notice.setTextFormat(Qt.TextFormat.PlainText)  # it may quote the agent's filter text
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("QLabel { padding: 6px; border: 1px solid palette(mid); }")
        self.notice.hide()
        self.filters = QHBoxLayout()
        self.filters.addWidget(self.search, 1)
        self.filters.addWidget(self.vendor)
        self.table = ListingView()
        self._paint_waiters: list[asyncio.Future] = []  # loads waiting for the table's next paint
        self.table.viewport().installEventFilter(self)
        self.table.installEventFilter(self)  # Enter on a row: activate it (the Catalog: order it)
        self.search.installEventFilter(self)  # Down from the search box: into the rows, the first selected
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        # Fixed row heights: the view never measures 190,000 rows to lay out its scroll bar.
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # Fitting the columns reads the rows on screen only: Qt's default reads 1,000 rows a column (116 ms
        # of cell text on the first load, and ten pages asked for that nobody looks at).
        header.setResizeContentsPrecision(0)
        header.setStretchLastSection(True)
        header.sortIndicatorChanged.connect(self._sort_indicator_changed)
        self.detail = QWidget()
        self.detail_layout = QVBoxLayout(self.detail)
        self.detail_layout.setContentsMargins(8, 0, 0, 0)
        # The count sits under the table, not across the window: a new count and the table's new rows are
        # then repainted as one area beside the detail pane, not with it (a repaint of the whole window).
        listing = QWidget()
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.addWidget(self.table, 1)
        listing_layout.addWidget(self.count)
        splitter = QSplitter()
        splitter.addWidget(listing)
        # The detail scrolls: on a small screen (or a small window) it never sets the window's minimum size.
        self.detail_area = detail_area = QScrollArea()
        detail_area.setWidget(self.detail)
        detail_area.setWidgetResizable(True)
        detail_area.setFrameShape(QFrame.Shape.NoFrame)
        detail_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as wide as its content
        splitter.addWidget(detail_area)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([900, 340])
        layout = QVBoxLayout(self)
        layout.addLayout(self.filters)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.reload())
        self.search.textChanged.connect(self._debounce.start)
        self.vendor.currentIndexChanged.connect(lambda _i: self.reload())
        self.table.selectionModel().currentRowChanged.connect(lambda cur, _prev: self._selected(cur.row()))

    def sort_by(self, column: int, order: Qt.SortOrder) -> None:
        self.table.sortByColumn(column, order)

    def _sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        """A header without a sort key (e.g. an order's plans) keeps the current order and its arrow."""
        if self.model.columns[column].sort is None:
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(self._sorted_column,
                                    Qt.SortOrder.DescendingOrder if self.model.descending else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)
        else:
            self._sorted_column = column

    def listing_query(self) -> ListingQuery:
        return ListingQuery(self.listing, vendor=self.vendor.currentData(), text=self.search.text().strip(),
                            sort=self.model.sort_key, descending=self.model.descending)

    def reload(self, *, changed: bool = False) -> None:
        """Start a fresh query; a newer keystroke cancels (and interrupts) the older one. ``changed``: the
        store's rows changed (a sync, an order), so rows already read are read again."""
        if changed:
            self.session.mark_changed()
        if not self.live:  # not shown yet (e.g. the header's first sort while the window is built): start-up loads
            return
        self.session.start(self._load_or_say())

    async def _load_or_say(self) -> None:
        try:
            await self._load()
        except sqlite3.Error as exc:  # never a traceback from a table's read: the agent reads why, and tries again
            log.warning("%s: the list could not be read: %s", self.noun, exc)
            self.loadFailed.emit(f"The {self.noun} could not be read from the data file ({exc}); the table keeps "
                                 "what it showed — try again, or restart esimdesk if it goes on")

    @property
    def loading(self) -> bool:
        """A load (a query and its paint) is under way."""
        return self.session.loading

    async def settled(self) -> None:
        """Until the last load started has ended (shown, failed or cancelled)."""
        await self.session.settled()

    def after_load(self, callback) -> None:
        """``callback()`` once the last load started has ended (now if none was started)."""
        self.session.after_load(callback)

    @property
    def _task(self) -> asyncio.Task | None:
        """The load running, or the last one (the tests and bench/views.py wait on it)."""
        return self.session.task

    @property
    def _query(self) -> ListingQuery | None:
        """The result shown, once counted."""
        return self.session.query

    async def _load(self) -> None:
        query = self.listing_query()
        # What the agent is looking at, to find again in the new result: the selected row (and where on
        # screen it was), else the top row.
        table = self.table
        top_row = max(table.rowAt(0), 0)
        current = table.currentIndex().row()
        selected = self.model.rowid(current) if current >= 0 else None
        shown = await self.session.load(query, View(top_row, current, selected, self.model.total))
        change = shown.change
        if change is Change.HEAD:
            await self._show_head(shown)
            return
        if change is Change.REFRESHED and shown.stale:
            # The same result (a sync that changed a few values): only the rows on screen that changed.
            self._bind(shown.pages)
            changed = self.model.refresh(shown.first, shown.rows)
            if current in changed:
                self._selected(current)
        elif change is Change.NEW:
            anchor, top_at, total = shown.anchor, shown.top, shown.total
            self._bind(shown.pages)
            self.model.set_result(total, shown.first, shown.rows, self.model.fetch, self.model.fetch_now)
            if anchor >= 0:
                table.selectionModel().blockSignals(True)  # the same item: no new detail, no flicker
                table.setCurrentIndex(self.model.index(anchor, 0))
                table.selectionModel().blockSignals(False)
                table.selectRow(anchor)
            if total and top_at:
                table.scrollTo(self.model.index(min(top_at, total - 1), 0),
                               QAbstractItemView.ScrollHint.PositionAtTop)
            if anchor >= 0 and shown.stale:
                self._selected(anchor)  # its data may have changed: show it again
            self._select_single(total)
            self._fit_columns(shown.rows)
        self.rowsShown.emit()
        self._finish_load(shown.total)

    async def _show_head(self, shown: Shown) -> None:
        """A new result's first rows, shown as soon as they are read; then it is counted, as the agent
        reads them."""
        rows = shown.rows
        self.model.set_result(shown.total, 0, rows, None, None)
        if shown.counted:
            self._select_single(shown.total)
        self._fit_columns(rows)
        if not shown.counted:
            self.count.setText(f"{len(rows):,}+ {self.noun}, counting…")
        self.rowsShown.emit()
        if shown.needs_count and self.isVisible():
            # The rows are painted before the count starts: a count running in its thread during the
            # paint made the paint half as fast again (2 cores, shared with the X server). Awaited, not
            # forced here: the paint is a turn of the loop of its own, not added to this one's work.
            await self._next_paint()
        total, pages = await self.session.count(shown)
        if shown.needs_count:
            self.model.set_total(total)
        self._bind(pages)
        self._finish_load(total)

    def _select_single(self, total: int) -> None:
        """A result of one row (an ICCID's last digits, an order id) is selected at once, its detail shown: the
        agent looked it up to act on it. Several are shown, none selected."""
        if total == 1 and not self.table.currentIndex().isValid() and self.model.loaded(0):
            self.table.selectRow(0)

    async def _next_paint(self, timeout: float = 0.1) -> None:
        """Until the table's next paint has been delivered (or ``timeout``: a window that is not exposed)."""
        painted = asyncio.get_running_loop().create_future()
        self._paint_waiters.append(painted)
        self.table.viewport().update()
        try:
            await asyncio.wait_for(asyncio.shield(painted), timeout)
        except TimeoutError:
            pass
        finally:
            if painted in self._paint_waiters:
                self._paint_waiters.remove(painted)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.KeyPress:
            return self._key(watched, event)
        if event.type() == QEvent.Type.Paint and self._paint_waiters:
            # Resolved now, resumed after this paint: the awaiting load goes on in a later turn of the loop.
            for waiter in self._paint_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._paint_waiters.clear()
        return False

    def _key(self, watched, event) -> bool:
        """Down in the search box moves into the rows (the first one selected when none is); Enter on a
        selected row activates it (``activate``): the agent's hands stay on the keyboard."""
        key = event.key()
        if watched is self.search and key == Qt.Key.Key_Down and self.model.rowCount():
            if not self.table.currentIndex().isValid():
                self.table.selectRow(0)
            self.table.setFocus(Qt.FocusReason.OtherFocusReason)
            return True
        if watched is self.table and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            row = self.table.currentIndex().row()
            item = self.model.item(row) if 0 <= row < self.model.rowCount() else None
            if item is not None:
                return self.activate(item)
        return False

    def activate(self, item) -> bool:
        """Enter on a selected row; True when the tab did something with it (the Catalog orders it)."""
        return False

    def _behind(self) -> bool:
        """Not on screen (a tab behind the one shown): its queries wait behind those of the tab shown."""
        return not self.isVisible()

    def _fit_columns(self, rows: list) -> None:
        """Fit the columns once, to the first real rows on screen. A tab behind the one shown waits until
        it is shown: measuring its rows at start-up (20-55 ms a tab) would hold up the tab in front."""
        if not rows or self._fitted:
            return
        if not self.isVisible():
            self._fit_when_shown = True
            return
        self._fitted, self._fit_when_shown = True, False
        # Measured here, from the text of the first page's cells (a few ms), not by Qt's
        # resizeColumnsToContents, which asks the delegate for each cell's size hint (~20 ms for the rows on
        # screen alone) just before the first paint; a whole page, as the agent will scroll through it.
        table, model = self.table, self.model
        cells, titles = table.fontMetrics(), table.horizontalHeader().fontMetrics()
        # The rows of a screen (or two): measuring a whole page of text at start-up held the loop ~20 ms more.
        first_page = [row for row in range(min(model.rowCount(), FIT_ROWS)) if model.loaded(row)]
        for col, column in enumerate(model.columns):
            if col in self.kept_widths:
                continue
            widest = max([cells.horizontalAdvance(model.cell_text(row, col)) for row in first_page]
                         + [cells.horizontalAdvance(column.sample)])  # the sample: what later rows may show
            # the cell's margins; the title's, with room for the sort arrow
            width = max(widest + 14, titles.horizontalAdvance(column.title) + 30)
            table.setColumnWidth(col, min(width, 320))

    def showEvent(self, event) -> None:  # noqa: N802
        # The detail scrolls down, never sideways: its area is as wide as its widest row of buttons.
        self.detail_area.setMinimumWidth(self.detail.minimumSizeHint().width()
                                         + self.detail_area.verticalScrollBar().sizeHint().width())
        super().showEvent(event)
        if self._fit_when_shown and self.model.rowCount():
            self._fit_columns([True])

    def _bind(self, pages: Pages) -> None:
        """How the model reads more pages of this result."""
        self.model.bind(pages.read, pages.read_now)

    def _finish_load(self, total: int) -> None:
        self.count.setText(f"{total:,} {self.noun}")
        notice = self.notice_text()
        self.notice.setText(notice or "")
        self.notice.setVisible(bool(notice))
        self.loaded.emit(total)

    def notice_text(self) -> str | None:
        """The sentence above the table: what the chosen vendor does not offer in this view."""
        return self.desk.gap(self.vendor.currentData(), self.listing) if self.listing else None

    def _selected(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            item = self.model.item(row)
            if item is not None:
                self.show_detail(item)

    def show_detail(self, item) -> None:
        pass
