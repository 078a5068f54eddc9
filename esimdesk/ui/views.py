"""The three tabs. Thin: each asks the Desk service for rows and shows them; no SQL, no vendor JSON."""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import replace
from datetime import datetime

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import (
    Esim,
    EsimdeskError,
    EsimStatus,
    JournalEntry,
    ListingQuery,
    Order,
    Plan,
    PlanDetails,
    ValidationError,
    coverage_text,
    data_amount,
    data_text,
    money_str,
)
from esimdesk.domain.countries import country_name, resolve_country
from esimdesk.services.preferences import Rates
from esimdesk.ui.cards_dialogs import NO_CODE, CardActions
from esimdesk.ui.catalog_parts import (
    DATA_CHOICES,
    DAYS_CHOICES,
    KIND_CHOICES,
    NO_RATES,
    PER_GB_TIP,
    PRICE_TIP,
    TOPUP_TIP,
    CatalogModel,
    CheapestPanel,
    agent_price_text,
    country_completer,
    detail_lines,
    per_gb_text,
    price_text,
    rates_dates,
    topup_text,
    vendor_title,
)
from esimdesk.ui.fleet_table import FleetModel, QuickFilters
from esimdesk.ui.order_detail import (
    CREATED_SAMPLE,
    STATUS_COLORS,
    STATUS_SAMPLE,
    EsimList,
    OrdersModel,
    created_line,
    created_text,
)
from esimdesk.ui.qr import qr_pixmap
from esimdesk.ui.table_model import WINDOW, Column, WindowedModel
from esimdesk.ui.table_view import ListingView
from esimdesk.ui.usage_chart import UsageChart, usage_points

log = logging.getLogger("esimdesk.ui")

# No debounce delay: a keystroke's query cancels (and interrupts) the one before it, so typing fast costs
# nothing, and waiting would only add to every keystroke's time to paint. The zero-delay timer still turns
# the keystrokes that arrive together (a paste, autorepeat) into one query.
SEARCH_DEBOUNCE_MS = 0
FIT_ROWS = 40  # rows measured for the first fit of the columns: a screen and a half


def mb_text(mb: int | None, unlimited: str = "unlimited") -> str:
    return data_amount(mb, unlimited)  # one rule for the command line and the window (domain/units.py)


def when_text(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def esc(value) -> str:
    """A vendor's or agent's string (plan name, reference, ICCID, note, message) made safe for rich text:
    ``<b>`` shows as those three characters, never as bold."""
    return html.escape(str(value))


def rich(text: str) -> str:
    """Plain text as rich text that shows exactly those characters, for the widgets that guess the format
    (QMessageBox, QInputDialog's label): a plan named '<b>…' would otherwise switch the guess to HTML."""
    return "<p>" + esc(text).replace("\n", "<br>") + "</p>"


class ListingTab(QWidget):
    """Search box + filters + table + detail pane over one store listing (the whole result, windowed).

    A keystroke, a filter or a header click asks the store for the result's count and its first pages in
    the shown order (off the GUI thread; a newer request cancels and interrupts the older one); the rest
    is read a page at a time as the agent scrolls."""

    loaded = Signal(int)  # rows in the result (its true count)
    rowsShown = Signal()  # the result's first rows are in the table (its count may still be coming)
    listing = ""  # "plans", "orders", "esims": the store's table, and what a vendor may not offer here
    noun = "rows"
    model_class = WindowedModel  # Orders: one that also colours the status (order_detail.OrdersModel)

    def __init__(self, desk, columns: list[Column], placeholder: str, parent=None):
        super().__init__(parent)
        self.desk = desk
        self._task: asyncio.Task | None = None
        self.live = False  # set by the window's start-up: until then nothing is loaded
        self._fitted = False
        self._fit_when_shown = False  # rows arrived while the tab was behind another: fit when it is shown
        self.kept_widths: dict[int, int] = {}  # column -> the width the agent gave it (kept, never fitted)
        self._sorted_column = 0
        self._stale_rows = False  # the next load must read rows again (they changed in the store)
        self._counts: dict[ListingQuery, tuple[int, int]] = {}  # recent results' counts, until the store changes
        self._totals: dict[ListingQuery, int] = {}  # the same, by filter (any order): a sort keeps its count
        self._query: ListingQuery | None = None  # the result shown
        self._split = 0
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
        self._stale_rows = self._stale_rows or changed
        if not self.live:  # not shown yet (e.g. the header's first sort while the window is built): start-up loads
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        query = self.listing_query()
        # What the agent is looking at, to find again in the new result: the selected row (and where on
        # screen it was), else the top row.
        table = self.table
        top_row = max(table.rowAt(0), 0)
        current = table.currentIndex().row()
        selected = self.model.rowid(current) if current >= 0 else None
        offset = current - top_row if selected is not None else 0
        previous = self._query
        same_query = query == previous
        same_filter = previous is not None and _by_filter(query) == _by_filter(previous)
        if same_query and not self._stale_rows:
            # The same query over the same rows (a space typed, "Japa" spelled out to "Japan"): nothing to read.
            self.rowsShown.emit()
            self._finish_load(self.model.total)
            return
        start = top_row - top_row % WINDOW if same_query else 0
        if self._stale_rows:
            self._counts.clear()  # the store changed: every count is taken again
            self._totals.clear()
        if not same_query and not (selected is not None and same_filter) and query not in self._counts:
            await self._load_rows_then_count(query)
            return
        total, split, first, rows = await self.desk.listing_open(query, start, WINDOW, self._counts.get(query),
                                                                 background=self._behind())
        self._remember(query, total, split)
        stale, self._stale_rows = self._stale_rows, False
        if same_query and total == self.model.total and total and (selected is None or
                                                                  self._still_at(rows, first, current, selected)):
            # The same result (e.g. a sync that changed a few values): no reset; the selection and the
            # scroll position stay, and only the rows on screen that changed are repainted.
            if stale:
                self._split = split
                self._bind(query, split)
                changed = self.model.refresh(first, rows)
                if current in changed:
                    self._selected(current)
            self.rowsShown.emit()
            self._finish_load(total)
            return
        anchor = -1
        if selected is not None and same_filter:  # a sort or a sync: the selected row is still in the result
            anchor = self._find_in(rows, first, selected)
            if anchor < 0:
                anchor = await self.desk.listing_find(query, split, selected, current if same_query else 0,
                                                      background=self._behind())
        top_at = max(anchor - offset, 0) if anchor >= 0 else (top_row if same_query else 0)
        if not first <= top_at < first + len(rows) - WINDOW // 2 and top_at < total:
            _, _, first, rows = await self.desk.listing_open(query, top_at - top_at % WINDOW, 2 * WINDOW,
                                                             background=self._behind())
        self._query, self._split = query, split
        self._bind(query, split)
        self.model.set_result(total, first, rows, self.model.fetch, self.model.fetch_now)
        if anchor >= 0:
            table.selectionModel().blockSignals(True)  # the same item: no new detail, no flicker
            table.setCurrentIndex(self.model.index(anchor, 0))
            table.selectionModel().blockSignals(False)
            table.selectRow(anchor)
        if total and top_at:
            table.scrollTo(self.model.index(min(top_at, total - 1), 0), QAbstractItemView.ScrollHint.PositionAtTop)
        if anchor >= 0 and stale:
            self._selected(anchor)  # its data may have changed: show it again
        self._fit_columns(rows)
        self.rowsShown.emit()
        self._finish_load(total)

    async def _load_rows_then_count(self, query: ListingQuery) -> None:
        """A new filter or order with nothing to keep in view: its first rows are shown as soon as they are
        read (a short walk of the sort index), then the result is counted, as the agent reads them. A
        keystroke that matches every row costs one page before it paints, not a count over every row."""
        rows, total, split, split_is_total = await self.desk.listing_head(query, WINDOW, background=self._behind())
        stale, self._stale_rows = self._stale_rows, False
        known = total if total is not None else self._totals.get(_by_filter(query))
        if split is None and split_is_total:
            split = known  # a header click on a column every row has a value in: no count at all
        self._query = None  # until it is counted: the next load reads it whole again
        self.model.set_result(known if known is not None else len(rows), 0, rows, None, None)
        self._fit_columns(rows)
        if known is None:
            self.count.setText(f"{len(rows):,}+ {self.noun}, counting…")
        self.rowsShown.emit()
        total = known
        if total is None or split is None:
            if self.isVisible():
                # The rows are painted before the count starts: a count running in its thread during the
                # paint made the paint half as fast again (2 cores, shared with the X server). Awaited, not
                # forced here: the paint is a turn of the loop of its own, not added to this one's work.
                await self._next_paint()
            try:
                total, split = await self.desk.listing_count(query, total, background=self._behind())
            except asyncio.CancelledError:
                self._stale_rows = self._stale_rows or stale
                raise
            self.model.set_total(total)
        self._remember(query, total, split)
        self._query, self._split = query, split
        self._bind(query, split)
        self._finish_load(total)

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
        if event.type() == QEvent.Type.Paint and self._paint_waiters:
            # Resolved now, resumed after this paint: the awaiting load goes on in a later turn of the loop.
            for waiter in self._paint_waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._paint_waiters.clear()
        return False

    def _behind(self) -> bool:
        """Not on screen (a tab behind the one shown): its queries wait behind those of the tab shown."""
        return not self.isVisible()

    def _remember(self, query: ListingQuery, total: int, split: int) -> None:
        self._counts[query] = (total, split)
        self._totals[_by_filter(query)] = total
        for cache in (self._counts, self._totals):
            while len(cache) > 64:
                cache.pop(next(iter(cache)))

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

    def _bind(self, query: ListingQuery, split: int) -> None:
        """How the model reads more pages of this result."""
        desk = self.desk
        self.model.bind(lambda offset, limit: desk.listing_page(query, split, offset, limit),
                        lambda offset, limit: desk.listing_page_now(query, split, offset, limit))

    @staticmethod
    def _find_in(rows: list, first: int, rowid: int) -> int:
        for i, (key, _item) in enumerate(rows):
            if key == rowid:
                return first + i
        return -1

    def _still_at(self, rows: list, first: int, row: int, rowid: int) -> bool:
        return 0 <= row - first < len(rows) and rows[row - first][0] == rowid

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


def _by_filter(query: ListingQuery) -> ListingQuery:
    """The query without its order: every order of one filter has one count."""
    return replace(query, sort=None, descending=False)


class CatalogTab(ListingTab):
    orderRequested = Signal(object)  # a Plan
    detailsShown = Signal(object)  # the selected plan's PlanDetails, once read
    cheapestShown = Signal(list)  # [(rowid, Plan)]: the cheapest-per-vendor panel was filled
    listing = "plans"
    noun = "plans"
    model_class = CatalogModel

    def __init__(self, desk, parent=None):
        self.rates = Rates()  # the agent's currency and rates (Settings); read off the GUI thread
        columns = [
            Column("Vendor", lambda p: p.vendor, "vendor"),
            Column("Plan", lambda p: p.name, "name"),
            Column("Coverage", lambda p: coverage_text(p.countries, p.region), "countries",
                   sample="Regional (33 countries)"),
            Column("Data", data_text, "data", align_right=True, sample="Unlimited/day"),
            Column("Days", lambda p: str(p.validity_days), "days", align_right=True),
            # By currency, then price: amounts in different currencies are never ordered as one number.
            Column("Price", price_text, "price", align_right=True, sample="9,999.99 HKD"),
            Column("Per GB", per_gb_text, "per_gb", align_right=True, sample="9,999.99 HKD"),
            Column("Top-up", topup_text, sample="not stated"),
            # Not sortable: a converted price has no index (rates change without the store knowing).
            Column("In your currency", lambda p: agent_price_text(p, self.rates), sample="≈ 9,999.99 EUR · 2026-11-28",
                   align_right=True),
            Column("Plan id", lambda p: p.plan_id, "plan_id"),
        ]
        super().__init__(desk, columns, "Search plans: country, region, name or plan id (e.g. japan 5GB)", parent)
        self.model.tips = {"price": PRICE_TIP, "per_gb": PER_GB_TIP, "Top-up": TOPUP_TIP}
        self.agent_column = next(i for i, c in enumerate(columns) if c.title == "In your currency")
        self.table.setColumnHidden(self.agent_column, True)  # until rates are configured
        self.country = QLineEdit()
        self.country.setPlaceholderText("Country (JP, JPN, Japan)")
        self.country.setToolTip("A country: its ISO 3166 code (JP, JPN) or its name (Japan); completion offers "
                                "every country whose name or code contains what is typed")
        self.country.setMaxLength(60)
        self.country.setFixedWidth(180)
        self.country.setCompleter(country_completer(self.country))
        self.filters.insertWidget(1, self.country)
        self.country.textChanged.connect(self._debounce.start)
        self.min_data = self._combo(DATA_CHOICES, "At least this much data over the whole plan (unlimited plans "
                                                  "always qualify)")
        self.days = self._combo(DAYS_CHOICES, "How many days the plan is valid")
        self.kind = self._combo(KIND_CHOICES, "Unlimited data, a daily allowance, or a fixed total")
        self.topup_only = QCheckBox("Top-up-able")
        self.topup_only.setToolTip("Only plans the vendor says can be topped up later")
        self.topup_only.toggled.connect(lambda _on: self.reload())
        # A row of their own under the search box, cut at the window's edge rather than widening it (the
        # window still fits a 640-pixel screen).
        more = QWidget()
        more.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        row = QHBoxLayout(more)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Show:"))
        for widget in (self.min_data, self.days, self.kind, self.topup_only):
            row.addWidget(widget)
        row.addStretch(1)
        self.layout().insertWidget(1, more)
        # Each vendor's cheapest plan in the chosen country, under the filters (see CheapestPanel for why).
        self.cheapest = CheapestPanel()
        self.cheapest.planChosen.connect(lambda rowid, plan: asyncio.ensure_future(self.select_plan(rowid, plan)))
        self.layout().insertWidget(2, self.cheapest)
        self._cheapest_task: asyncio.Task | None = None
        self._cheapest_for: ListingQuery | None = None
        self._details_task: asyncio.Task | None = None
        self.info = QLabel("Select a plan.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # an APN to copy
        self.order_button = QPushButton("Order…")
        self.order_button.setEnabled(False)
        self.order_button.clicked.connect(self._order_clicked)
        self.detail_layout.addWidget(self.info)
        self.detail_layout.addWidget(self.details)
        self.detail_layout.addWidget(self.order_button)
        self.detail_layout.addStretch(1)
        self.current: Plan | None = None
        self.sort_by(5, Qt.SortOrder.AscendingOrder)  # cheapest first

    def _combo(self, choices, tip: str) -> QComboBox:
        combo = QComboBox()
        for label, value in choices:
            combo.addItem(label, value)
        combo.setToolTip(tip)
        combo.currentIndexChanged.connect(lambda _i: self.reload())
        return combo

    def country_filter(self) -> tuple[str | None, str | None]:
        """The Country box as (alpha-2 code, None), or (None, why not) for text that names no country
        (then no country filter applies and the notice says so, with the closest matches)."""
        text = self.country.text().strip()
        if not text:
            return None, None
        try:
            return resolve_country(text), None
        except ValidationError as exc:
            return None, str(exc)

    def listing_query(self) -> ListingQuery:
        min_days, max_days = self.days.currentData() or (None, None)
        return replace(super().listing_query(), country=self.country_filter()[0],
                       min_data_mb=self.min_data.currentData(), min_days=min_days, max_days=max_days,
                       kind=self.kind.currentData(), topup_only=self.topup_only.isChecked())

    def notice_text(self) -> str | None:
        lines = [self.country_filter()[1], super().notice_text()]
        return "\n".join(line for line in lines if line) or None

    # --- the agent's currency --------------------------------------------------------------------
    def refresh_rates(self) -> asyncio.Task:
        """Read the exchange rates again (start-up, Settings saved) and show or hide the converted column."""
        return asyncio.ensure_future(self._read_rates())

    async def _read_rates(self) -> None:
        try:
            rates = await self.desk.exchange_rates()
        except EsimdeskError as exc:  # a settings file that cannot be read: said, and no conversion
            log.warning("exchange rates not read: %s", exc)
            rates = Rates()
        self.set_rates(rates)

    def set_rates(self, rates: Rates) -> None:
        self.rates = rates
        on = bool(rates.agent_currency and rates.by_currency)
        column = self.model.columns[self.agent_column]
        title = f"In {rates.agent_currency}" if rates.agent_currency else "In your currency"
        self.model.columns[self.agent_column] = replace(column, title=title)
        self.model.tips = {**self.model.tips,
                           title: f"Each price in {rates.agent_currency} at the rate of the date shown "
                                  f"(rates: {rates_dates(rates)}); not sortable: rates are yours, not the store's"
                           if on else ""}
        self.model.tips["price"] = PRICE_TIP + ("" if on else " Without exchange rates, " + NO_RATES + ".")
        self.table.setColumnHidden(self.agent_column, not on)
        self.model.redraw()
        if self.current is not None:
            self.show_detail(self.current)
        if self._query is not None:  # a result is shown (counted): its count line says whether rates apply
            self._count_line(self.model.total)
        if self._cheapest_for is not None:
            self._cheapest_for = None  # its tooltips convert too
            self._show_cheapest()

    def _count_line(self, total: int) -> None:
        rates = bool(self.rates.agent_currency and self.rates.by_currency)
        self.count.setText(f"{total:,} {self.noun}" + ("" if rates else f" · {NO_RATES}"))

    def _finish_load(self, total: int) -> None:
        super()._finish_load(total)
        self._count_line(total)
        self._show_cheapest()

    def reload(self, *, changed: bool = False) -> None:
        if changed:
            self._cheapest_for = None  # the store changed (a sync): each vendor's cheapest is read again
        super().reload(changed=changed)

    # --- cheapest per vendor ---------------------------------------------------------------------
    def _show_cheapest(self) -> None:
        query = _by_filter(self.listing_query())
        if not query.country:
            self._cheapest_for = None
            self.cheapest.clear()
            return
        if query == self._cheapest_for:
            return
        if self._cheapest_task is not None and not self._cheapest_task.done():
            self._cheapest_task.cancel()
        self._cheapest_for = query
        self._cheapest_task = asyncio.ensure_future(self._load_cheapest(query))

    async def _load_cheapest(self, query: ListingQuery) -> list:
        try:
            found = await self.desk.cheapest_per_vendor(query, background=self._behind())
        except asyncio.CancelledError:
            raise
        except Exception:  # the table still works: the panel is left out, the reason logged
            log.exception("cheapest per vendor not read")
            self.cheapest.clear()
            return []
        if query != self._cheapest_for:
            return found
        self.cheapest.show_cheapest(country_name(query.country), found, self.rates)
        self.cheapestShown.emit(found)
        return found

    async def select_plan(self, rowid: int, plan: Plan) -> int:
        """Select a plan the cheapest panel named: its row in the table (found in the result shown), else its
        detail alone. Returns its row, or -1."""
        row = -1
        query = self._query
        if query is not None and query == self.listing_query():
            row = self._find_in([(self.model.rowid(r), None) for r in range(min(self.model.total, WINDOW))], 0, rowid)
            if row < 0:
                row = await self.desk.listing_find(query, self._split, rowid, 0)
        if row >= 0:
            self.table.selectRow(row)
            self.table.scrollTo(self.model.index(row, 0))
            if self.current is None or self.current.plan_id != plan.plan_id or self.current.vendor != plan.vendor:
                self.show_detail(plan)
        else:
            self.table.clearSelection()
            self.show_detail(plan)
        return row

    # --- detail ------------------------------------------------------------------------------------
    def show_detail(self, plan: Plan) -> None:
        self.current = plan
        names = esc(", ".join(country_name(c) for c in plan.countries[:30]))
        more = f" and {len(plan.countries) - 30} more" if len(plan.countries) > 30 else ""
        converted = (f" ({esc(agent_price_text(plan, self.rates))})"
                     if self.rates.agent_currency and self.rates.by_currency else "")
        self.info.setText(  # every vendor string escaped: a plan named "<b>…" must not change the label
            f"<b>{esc(plan.name)}</b><br>{esc(vendor_title(plan.vendor))} · <code>{esc(plan.plan_id)}</code><br><br>"
            f"Data: {esc(data_text(plan))}<br>Valid: {plan.validity_days} days<br>"
            f"Price: <b>{esc(price_text(plan))}</b>{converted}<br>Per GB: {esc(per_gb_text(plan))}<br>"
            f"Top-up later: {topup_text(plan)}<br><br>"
            f"Coverage: {esc(coverage_text(plan.countries, plan.region))}<br>{names}{more}")
        self.details.setText("<i>Reading the vendor's details…</i>")
        self.order_button.setEnabled(True)
        if self._details_task is not None and not self._details_task.done():
            self._details_task.cancel()
        self._details_task = asyncio.ensure_future(self._show_details(plan))

    async def _show_details(self, plan: Plan) -> PlanDetails | None:
        try:
            details = await self.desk.plan_details(plan)
        except EsimdeskError as exc:
            details = None
            log.warning("details of %s not read: %s", plan.plan_id, exc)
        if self.current is not plan:
            return details  # another plan was selected meanwhile
        if details is None:
            self.details.setText("The vendor's details could not be read.")
            return None
        lines = "<br>".join(f"{esc(label)}: {esc(text)}" for label, text in detail_lines(plan, details))
        self.details.setText(lines)
        if plan.topup is not False:
            lines += "<br>" + await self._topup_lines(plan)
            if self.current is not plan:
                return details
            self.details.setText(lines)
        self.detailsShown.emit(details)
        return details

    async def _topup_lines(self, plan: Plan) -> str:
        """The vendor's top-up packages for this plan, where it lists them per plan (asked live)."""
        try:
            offered = await self.desk.plan_topups(plan)
        except EsimdeskError as exc:
            return f"Top-up packages: not read now ({esc(str(exc))})"
        if offered is None:
            return ""
        if not offered:
            return f"Top-up packages: {esc(vendor_title(plan.vendor))} lists none for this plan"
        shown = "; ".join(f"{esc(p.name)} {esc(price_text(p))}" for p in offered[:8])
        more = f"; and {len(offered) - 8} more" if len(offered) > 8 else ""
        return f"Top-up packages: {shown}{more}"

    def _order_clicked(self) -> None:
        if self.current is not None:
            self.orderRequested.emit(self.current)


class OrdersTab(ListingTab):
    listing = "orders"
    noun = "orders"
    model_class = OrdersModel
    # The agent's decisions on an order whose answer was lost (UNCERTAIN, or recorded and never sent).
    adoptRequested = Signal(object)  # JournalEntry
    resendRequested = Signal(object)  # JournalEntry
    abandonRequested = Signal(object)  # JournalEntry
    orderReconciled = Signal(object)  # JournalEntry: "Reconcile now" asked the vendor; what it became
    reconcileFailed = Signal(str)  # why the vendor could not be asked, in words
    codeCopied = Signal(str, str)  # ICCID, activation code: on the clipboard

    def __init__(self, desk, parent=None):
        columns = [
            Column("Created", lambda o: created_text(o.created_at), "created", sample=CREATED_SAMPLE),
            Column("Vendor", lambda o: o.vendor, "vendor"),
            Column("Status", lambda o: o.status.value, "status", sample=STATUS_SAMPLE),
            Column("Order id", lambda o: o.order_id or "—", "order_id"),
            Column("Reference", lambda o: o.reference or "", "reference"),
            Column("Plan", lambda o: ", ".join(f"{ln.quantity}× {ln.name or ln.plan_id}" for ln in o.lines)),
            Column("Total", lambda o: f"{money_str(o.total)} {o.currency}" if o.total is not None else "", "total",
                   align_right=True, sample="99,999.99 HKD"),
            Column("eSIMs", lambda o: str(len(o.esims)), align_right=True),
        ]
        super().__init__(desk, columns, "Search orders: order id, reference, ICCID (or its last digits) or plan",
                         parent)
        self.info = QLabel("Select an order.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.card_actions = CardActions(desk)  # Print…, Save as PDF…, Copy image, Show to customer
        self.detail_layout.addWidget(self.info)
        self.detail_layout.addWidget(self.card_actions)
        self.decision = QWidget()
        rows = QVBoxLayout(self.decision)
        rows.setContentsMargins(0, 0, 0, 0)
        asking = QHBoxLayout()  # first: ask the vendor; then, below, the agent's three decisions
        row = QHBoxLayout()
        rows.addLayout(asking)
        rows.addLayout(row)
        self.reconcile_button = QPushButton("Reconcile now")
        self.reconcile_button.setToolTip("Ask the vendor now what became of this order (where its handle makes "
                                         "it harmless, it may be sent again)")
        self.reconcile_busy = QProgressBar()  # the vendor is being asked: busy, it cannot say how long
        self.reconcile_busy.setRange(0, 0)
        self.reconcile_busy.setMaximumWidth(60)
        self.reconcile_busy.hide()
        self.adopt_button = QPushButton("Adopt vendor order…")
        self.adopt_button.setToolTip("This order's answer was lost: name the vendor's order that is this one")
        self.resend_button = QPushButton("Send again")
        self.resend_button.setToolTip("Send it again (with the same handle where the vendor has one)")
        self.abandon_button = QPushButton("Abandon")
        self.abandon_button.setToolTip("It was not placed or is not wanted: stop settling it")
        asking.addWidget(self.reconcile_button)
        asking.addWidget(self.reconcile_busy)
        asking.addStretch(1)
        for button in (self.adopt_button, self.resend_button, self.abandon_button):
            row.addWidget(button)
        self.reconcile_button.clicked.connect(self._reconcile_clicked)
        self.adopt_button.clicked.connect(lambda: self._decide(self.adoptRequested))
        self.resend_button.clicked.connect(lambda: self._decide(self.resendRequested))
        self.abandon_button.clicked.connect(lambda: self._decide(self.abandonRequested))
        self.decision.hide()
        self.entry = None  # the selected order's journal entry, when it waits for the agent
        self._reconciling: str | None = None  # the reference "Reconcile now" is asking about
        self.reconcile_task: asyncio.Task | None = None  # held: a task nobody holds may be collected mid-way
        self.detail_layout.addWidget(self.decision)
        # The order's eSIMs with their QR codes, scrolled: ten codes are taller than the pane.
        self.esims = EsimList()
        self.esims.codeCopied.connect(self.codeCopied)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the codes scroll, not the pane
        scroll.setWidget(self.esims)
        self.detail_layout.addWidget(scroll, 2)
        self.detail_layout.addWidget(QLabel("History"))
        self.detail_layout.addWidget(self.history, 1)
        self.current: Order | None = None
        self.sort_by(0, Qt.SortOrder.DescendingOrder)  # newest first

    def show_detail(self, order: Order) -> None:
        self.current = order
        color = STATUS_COLORS.get(order.status.value, "")
        total = f"<br>Total: {money_str(order.total)} {esc(order.currency or '')}" if order.total is not None else ""
        self.info.setText(f"<b>{esc(order.vendor)} {esc(order.kind)} {esc(order.order_id or '(not confirmed)')}</b>"
                          f"<br>Status: <b style=\"color:{color}\">{esc(order.status.value)}</b>"
                          f"<br>Reference: {esc(order.reference or '—')}"
                          f"<br>Created: {esc(created_line(order.created_at))}{total}")
        self.esims.show_esims(order.esims)
        target = order.order_id or order.reference
        if not any(e.activation_code for e in order.esims):
            self.card_actions.set_target(None, "No eSIM of this order has an activation code yet: sync again "
                                         "once the vendor has allocated them")
        else:
            self.card_actions.set_target(target, None if target else "The order has no id or reference yet")
        self.decision.hide()
        self.entry = None
        asyncio.ensure_future(self._history(order))

    def _decide(self, signal) -> None:
        if self.entry is not None:
            signal.emit(self.entry)

    def _reconcile_clicked(self) -> None:
        """Busy at once (the click's feedback), then the vendor is asked in a task."""
        entry = self.entry
        if entry is None or self._reconciling is not None:
            return
        self._reconciling = entry.reference
        self._show_reconciling(True)
        self.reconcile_task = asyncio.ensure_future(self._reconcile(entry))

    async def reconcile_now(self) -> JournalEntry | None:
        """"Reconcile now" on the selected order; what it became (None if the vendor could not be asked)."""
        self._reconcile_clicked()
        return await self.reconcile_task if self.reconcile_task is not None else None

    async def _reconcile(self, entry: JournalEntry) -> JournalEntry | None:
        """Ask the vendor now what became of an unfinished order (the orders service's reconciliation, for
        this one order); then the table and the detail show what it became."""
        try:
            settled = await self.desk.reconcile_order(entry.reference)
        except Exception as exc:  # in words in the status bar, never a traceback
            if not isinstance(exc, EsimdeskError):
                log.exception("reconciling %s failed", entry.reference)
            self.reconcileFailed.emit(f"{entry.reference} could not be reconciled: {exc}")
            return None
        finally:
            self._reconciling = None
            self._show_reconciling(False)
        self.orderReconciled.emit(settled)
        self.reload(changed=True)
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        self._selected(self.table.currentIndex().row())  # its new state, history and eSIMs
        return settled

    def _show_reconciling(self, busy: bool) -> None:
        self.reconcile_button.setEnabled(not busy)
        self.reconcile_button.setText("Reconciling…" if busy else "Reconcile now")
        self.reconcile_busy.setVisible(busy)

    async def _history(self, order: Order) -> None:
        entry = await self.desk.journal_entry(order.reference)
        if self.current is not order:
            return  # another order was selected meanwhile
        if entry is not None and entry.state.value in ("PENDING", "UNCERTAIN"):
            self.entry = entry
            self._show_reconciling(self._reconciling == entry.reference)
            self.decision.show()
            if entry.candidates:
                self.info.setText(self.info.text() + "<br>Possible vendor orders: "
                                  + ", ".join(f"<code>{esc(c)}</code>" for c in entry.candidates))
        events = await self.desk.order_history(order.reference)
        if self.current is not order:
            return
        self.history.setPlainText("\n".join(
            f"{created_text(e.at)}  {e.from_state or '—'} → {e.to_state}: {e.cause}" for e in events)
            or "Synced from the vendor (not placed from this desk).")


class FleetTab(ListingTab):
    listing = "esims"
    noun = "eSIMs"
    model_class = FleetModel  # the Used cell's bar (ui/fleet_table.py)
    topupRequested = Signal(object)  # an Esim
    noteRequested = Signal(object)  # an Esim
    linkRequested = Signal(object)  # an Esim: copy the vendor's install link (Roamify's share link)

    def __init__(self, desk, parent=None):
        columns = [
            Column("Vendor", lambda e: e.vendor, "vendor"),
            Column("ICCID", lambda e: e.iccid, "iccid"),
            Column("Status", lambda e: e.status.value, "status"),
            # With a bar under the text: the share of the allowance used (red under 10 % left).
            Column("Used", lambda e: mb_text(e.data_used_mb, "") if e.data_used_mb is not None else "", "used",
                   align_right=True, sample="9,999.9 MB"),
            Column("Of", lambda e: mb_text(e.data_total_mb, "∞") if e.data_total_mb is not None else "", "total",
                   align_right=True),
            Column("Expires (UTC)", lambda e: when_text(e.expires_at), "expires"),
            # Not sortable: an order by plan id alone has no index (esims_plan is by vendor, then plan).
            Column("Plan", lambda e: e.plan_id or ""),
            Column("Order", lambda e: e.order_id or "", "order_id"),
            Column("Vendor status", lambda e: e.vendor_status, "vendor_status"),
            Column("Note", lambda e: e.note or "", "note"),
        ]
        super().__init__(desk, columns, "Search eSIMs: last digits of the ICCID, order id, plan, country or note",
                         parent)
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for s in EsimStatus:
            self.status.addItem(s.value.capitalize(), s.value)
        self.filters.insertWidget(1, self.status)
        self.status.currentIndexChanged.connect(lambda _i: self.reload())
        self.quick = QuickFilters()
        # Cut at the window's edge rather than widening it: the window still fits a 640-pixel screen.
        self.quick.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.layout().insertWidget(1, self.quick)  # under the search box and the combos
        self.quick.changed.connect(lambda: self.reload())
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.info = QLabel("Select an eSIM.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.info.setOpenExternalLinks(True)  # the vendor's iPhone quick-install link
        self.topup_button = QPushButton("Top up…")
        self.note_button = QPushButton("Note…")
        self.link_button = QPushButton("Copy install link")
        self.link_button.setToolTip("The vendor's install page for the customer, with its access code")
        for button in (self.topup_button, self.note_button, self.link_button):
            button.setEnabled(False)
        self.link_button.clicked.connect(lambda: self.current and self.linkRequested.emit(self.current))
        self.topup_button.clicked.connect(lambda: self.current and self.topupRequested.emit(self.current))
        self.note_button.clicked.connect(lambda: self.current and self.noteRequested.emit(self.current))
        buttons = QHBoxLayout()
        buttons.addWidget(self.topup_button)
        buttons.addWidget(self.note_button)
        buttons.addWidget(self.link_button)
        self.card_actions = CardActions(desk)  # Print…, Save as PDF…, Copy image, Show to customer
        # The usage history (each reading the store kept: a sync that saw the usage change, a Refresh
        # usage) and the vendor's events of the eSIM, read from the store when an eSIM is selected.
        self.chart = UsageChart()
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        self.events.setMaximumHeight(80)
        self.events.setPlaceholderText("No vendor event stored for this eSIM.")
        self._history_task: asyncio.Task | None = None
        self._history_of: tuple[str, str] | None = None  # the eSIM the chart and events are of
        self.detail_layout.addWidget(self.qr)
        self.detail_layout.addWidget(self.info)
        self.detail_layout.addWidget(self.chart)
        self.detail_layout.addWidget(QLabel("Vendor events"))
        self.detail_layout.addWidget(self.events)
        self.detail_layout.addLayout(buttons)
        self.detail_layout.addWidget(self.card_actions)
        from esimdesk.ui.fleet_actions import mount  # support actions, usage with its age (issue 21)

        self.support = mount(self)
        self.support.usageRefreshed.connect(lambda: self.current and self.load_history(self.current))
        self.detail_layout.addStretch(1)
        self.current: Esim | None = None
        self.sort_by(5, Qt.SortOrder.AscendingOrder)  # soonest expiry first

    def listing_query(self) -> ListingQuery:
        return replace(super().listing_query(), status=self.status.currentData(), **self.quick.fields())

    def load_history(self, esim: Esim) -> asyncio.Task:
        """The eSIM's usage readings (the chart) and vendor events, read in a worker thread."""
        if self._history_task is not None and not self._history_task.done():
            self._history_task.cancel()
        self._history_task = asyncio.ensure_future(self._history(esim))
        return self._history_task

    async def _history(self, esim: Esim) -> None:
        readings, events = await self.desk.esim_usage_and_events(esim.vendor, esim.iccid)
        if self.current is None or (self.current.vendor, self.current.iccid) != (esim.vendor, esim.iccid):
            return  # another eSIM was selected meanwhile
        self.chart.set_usage(usage_points(readings), self.current.data_total_mb)
        self.events.setPlainText("\n".join(
            f"{when_text(e.occurred_at) or '(no time)'}  {e.kind}" + (f": {e.detail}" if e.detail else "")
            for e in events))

    def show_detail(self, esim: Esim) -> None:
        self.current = esim
        self.topup_button.setEnabled(self.desk.can_top_up(esim.vendor))
        self.note_button.setEnabled(True)
        self.link_button.setEnabled(bool(esim.activation_code) and self.desk.can_share_link(esim.vendor))
        self.card_actions.set_target(esim.iccid, None if esim.activation_code else NO_CODE)
        if esim.activation_code:
            self.qr.setPixmap(qr_pixmap(esim.activation_code))
        else:
            self.qr.clear()
        used = mb_text(esim.data_used_mb, "") if esim.data_used_mb is not None else "unknown"
        self.support.set_esim(esim)
        if self._history_of != (esim.vendor, esim.iccid):  # not the last eSIM's readings while these are read
            self._history_of = (esim.vendor, esim.iccid)
            self.chart.clear()
            self.events.clear()
        self.load_history(esim)
        self.info.setText(
            f"<b>{esc(esim.iccid)}</b><br>{esc(esim.vendor)} · {esc(esim.status.value)} ({esc(esim.vendor_status)})<br>"
            f"Used: {used} of {mb_text(esim.data_total_mb)}"
            + (f" (as of {when_text(esim.usage_as_of)} UTC)" if esim.usage_as_of and esim.data_used_mb is not None
               else "") + f"<br>Expires: {when_text(esim.expires_at) or '—'}<br>"
            f"Plan: {esc(esim.plan_id or '—')} · Order: {esc(esim.order_id or '—')}<br>"
            + (f"<a href=\"{esc(esim.install_url)}\">iPhone quick install</a><br>" if esim.install_url else "")
            + (f"Note: <i>{esc(esim.note)}</i><br>" if esim.note else "") +
            f"<small><code>{esc(esim.activation_code or 'no activation code from the vendor')}</code></small>")
