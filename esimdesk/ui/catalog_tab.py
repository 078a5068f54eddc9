"""The Catalog tab: every vendor's plans, searched and filtered, each vendor's cheapest in a country, and
the selected plan's detail (its vendor's details and top-ups, asked live) with Order…."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from esimdesk.domain import (
    EsimdeskError,
    ListingQuery,
    Plan,
    PlanDetails,
    ValidationError,
    coverage_text,
    data_text,
    money_str,
    price_per_gb,
)
from esimdesk.domain.countries import country_name, resolve_country
from esimdesk.services.currency import Pricing, rates_summary
from esimdesk.services.listing_session import WINDOW, by_filter
from esimdesk.services.plan_search import PlanAsk, read_plan_search
from esimdesk.services.preferences import Rates
from esimdesk.ui.catalog_parts import (
    DATA_CHOICES,
    DAYS_CHOICES,
    KIND_CHOICES,
    PER_GB_TIP,
    PRICE_TIP,
    SELL_TIP,
    TOPUP_TIP,
    VENDOR_PRICE_TIP,
    CatalogModel,
    CheapestPanel,
    cost_text,
    country_completer,
    detail_lines,
    per_gb_cost_text,
    per_gb_text,
    price_text,
    rule_words,
    sell_text,
    topup_text,
    vendor_title,
)
from esimdesk.ui.listing_page import ListingTab
from esimdesk.ui.table_model import Column
from esimdesk.ui.text import esc

log = logging.getLogger("esimdesk.ui")


class CatalogTab(ListingTab):
    orderRequested = Signal(object)  # a Plan
    detailsShown = Signal(object)  # the selected plan's PlanDetails, once read
    cheapestShown = Signal(list)  # [(rowid, Plan)]: the cheapest-per-vendor panel was filled
    pricingChanged = Signal(object)  # the agent's currency, rates or price rules were read anew (a Pricing)
    listing = "plans"
    noun = "plans"
    model_class = CatalogModel

    def __init__(self, desk, parent=None):
        # The agent's currency, the rates into it and the price rules; read off the GUI thread at start-up.
        self.pricing = Pricing(Rates())
        self.ask = PlanAsk()  # what the search box was read as (country, days, data): read_plan_search
        columns = [
            Column("Vendor", lambda p: vendor_title(p.vendor), "vendor"),
            Column("Plan", lambda p: p.name, "name"),
            Column("Coverage", lambda p: coverage_text(p.countries, p.region, p.coverage_name), "countries",
                   sample="Africa Adventure (33 countries)"),
            Column("Data", data_text, "data", align_right=True, sample="Unlimited/day"),
            Column("Days", lambda p: str(p.validity_days), "days", align_right=True),
            # In the agent's currency, sorted across every vendor (the store's converted price, migration v11).
            Column("Cost", lambda p: cost_text(p, self.pricing), "price", align_right=True, sample="≈ 9,999.99 EUR"),
            Column("Sell", lambda p: sell_text(p, self.pricing), align_right=True, sample="9,999.99 EUR"),
            Column("Per GB", lambda p: per_gb_cost_text(p, self.pricing), "per_gb", align_right=True,
                   sample="≈ 9,999.99 EUR"),
            Column("Vendor price", price_text, align_right=True, sample="9,999.99 HKD"),
            Column("Top-up", topup_text, sample="not stated"),
            Column("Plan id", lambda p: p.plan_id, "plan_id"),
        ]
        super().__init__(desk, columns, "Find a plan: japan 7 days 5gb, a week in south korea, africa, a plan id",
                         parent)
        self.model.tips = {"price": PRICE_TIP, "per_gb": PER_GB_TIP, "Top-up": TOPUP_TIP, "Sell": SELL_TIP,
                           "Vendor price": VENDOR_PRICE_TIP}
        self.price_column = next(i for i, c in enumerate(columns) if c.sort == "price")
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
        self._pricing_tasks: set[asyncio.Task] = set()
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
        self.sort_by(self.price_column, Qt.SortOrder.AscendingOrder)  # cheapest first, across every vendor

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
        """The filters as set, with what the search box was read as ("japan 7 days 5gb") where a filter is
        left at "any": the box's country, days and data fill the filters, the rest is searched as text."""
        ask = self.ask = read_plan_search(self.search.text())
        min_days, max_days = self.days.currentData() or (None, None)
        min_data = self.min_data.currentData()
        kind = self.kind.currentData()
        country = self.country_filter()[0]
        return replace(super().listing_query(), text=ask.text, country=country or ask.country,
                       min_data_mb=min_data if min_data is not None else ask.min_data_mb,
                       min_days=min_days if (min_days, max_days) != (None, None) else ask.min_days,
                       max_days=max_days, kind=kind or ("unlimited" if ask.unlimited else None),
                       topup_only=self.topup_only.isChecked())

    def notice_text(self) -> str | None:
        lines = [self.country_filter()[1], super().notice_text()]
        return "\n".join(line for line in lines if line) or None

    # --- the agent's currency ----------------------------------------------------------------------
    def refresh_rates(self) -> asyncio.Task:
        """Read the agent's currency, rates and price rules again (start-up, Settings saved, a sync that
        fetched new rates); where the plans' converted prices were rewritten, the price order is read anew."""
        task = asyncio.ensure_future(self._read_pricing())
        self._pricing_tasks.add(task)
        task.add_done_callback(self._pricing_tasks.discard)
        return task

    def stop_work(self) -> None:
        """The window closes: what this tab still awaits is cancelled, not resumed over widgets that are gone (a
        price-order rewrite can outlast the window: it waits up to 10 s for a sync's writes)."""
        for task in (*self._pricing_tasks, self._cheapest_task, self._details_task):
            if task is not None and not task.done():
                task.cancel()

    async def _read_pricing(self) -> None:
        try:
            pricing, rewritten = await self.desk.pricing()
        except EsimdeskError as exc:  # a settings file that cannot be read: said, and prices as the vendors give them
            log.warning("exchange rates not read: %s", exc)
            pricing, rewritten = Pricing(Rates()), 0
        self.set_pricing(pricing)
        if rewritten:
            self.reload(changed=True)

    def set_pricing(self, pricing: Pricing) -> None:
        self.pricing = pricing
        currency = pricing.currency
        for i, column in enumerate(self.model.columns):
            if column.sort == "price" or column.title.startswith("Sell"):
                base = "Cost" if column.sort == "price" else "Sell"
                self.model.columns[i] = replace(column, title=f"{base} ({currency})" if currency else base)
        self.model.tips["price"] = PRICE_TIP + (f" Rates: {rates_summary(pricing.rates, pricing.today)}."
                                                if pricing.rates.by_currency else "")
        self.model.redraw()
        if self.current is not None:
            self.show_detail(self.current)
        if self.session.query is not None:
            self._count_line(self.model.total)
        if self._cheapest_for is not None:
            self._cheapest_for = None  # its buttons convert too
            self._show_cheapest()
        self.pricingChanged.emit(pricing)

    def _count_line(self, total: int) -> None:
        understood = f" · read as: {', '.join(self.ask.understood)}" if self.ask.understood else ""
        stale = sorted({c for c in self.pricing.rates.by_currency if self.pricing.note(c)})
        old = f" · ⚠ old exchange rate for {', '.join(stale)} (see the Cost header)" if stale else ""
        self.count.setText(f"{total:,} {self.noun}{understood}{old}")

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
        query = by_filter(self.listing_query())
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
        self.cheapest.show_cheapest(country_name(query.country), found, self.pricing)
        self.cheapestShown.emit(found)
        return found

    async def select_plan(self, rowid: int, plan: Plan) -> int:
        """Select a plan the cheapest panel named: its row in the table (found in the result shown), else its
        detail alone. Returns its row, or -1."""
        row = -1
        query = self.listing_query()
        if query == self.session.query:
            first_rows = [self.model.rowid(r) for r in range(min(self.model.total, WINDOW))]
            row = await self.session.row_of(query, rowid, first_rows)
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
        quoted = self.pricing.quote(plan)
        sell = "" if quoted is None else (
            f"<br>Sell: <b>{esc(sell_text(plan, self.pricing))}</b> (margin {esc(money_str(quoted.margin))} "
            f"{esc(quoted.currency)}{esc(rule_words(quoted))})" if quoted.rule is not None else
            f"<br>Sell: <b>{esc(sell_text(plan, self.pricing))}</b> (no price rule applies: sold at cost)")
        self.info.setText(  # every vendor string escaped: a plan named "<b>…" must not change the label
            f"<b>{esc(plan.name)}</b><br>{esc(vendor_title(plan.vendor))} · <code>{esc(plan.plan_id)}</code><br><br>"
            f"Data: {esc(data_text(plan))}<br>Valid: {plan.validity_days} days<br>"
            f"Cost: <b>{esc(cost_text(plan, self.pricing))}</b> (the vendor's price {esc(price_text(plan))}){sell}<br>"
            f"Per GB: {esc(per_gb_cost_text(plan, self.pricing))}"
            f"{f' ({esc(per_gb_text(plan))})' if price_per_gb(plan) is not None and plan.currency != self.pricing.currency else ''}<br>"
            f"Top-up later: {topup_text(plan)}<br><br>"
            f"Coverage: {esc(coverage_text(plan.countries, plan.region, plan.coverage_name))}<br>{names}{more}")
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

    def activate(self, item) -> bool:
        """Enter on a selected plan: its order, as Order… does."""
        self.orderRequested.emit(item)
        return True

    def _order_clicked(self) -> None:
        if self.current is not None:
            self.orderRequested.emit(self.current)
