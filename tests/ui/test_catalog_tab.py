"""The Catalog tab over a real sandbox and store (issue 13): find Japan plans through the country box and its
completion, narrow them with each filter to exactly the store's count, compare vendors (cheapest per vendor,
per GB, prices in the agent's currency), read a plan's details, and order the cheapest through the dialog."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from esimdesk.domain import OrderStatus, price_per_gb
from esimdesk.domain.pricing import PriceRule
from esimdesk.sandbox import SandboxConfig
from esimdesk.services.currency import save_price_rules
from esimdesk.services.preferences import Rate, Rates, save_preferences
from esimdesk.ui.order_dialog import OrderDialog
from tests.ui.conftest import wait_until, window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=13, allocation_delay=0.3)) as (win, server, _):
        yield win, loop, server, tmp_path


def settle(loop, seconds=0.3):
    loop.run_until_complete(asyncio.sleep(seconds))


def sql(home, query: str, *params):
    with sqlite3.connect(home / "esimdesk.sqlite3") as conn:
        return conn.execute(query, params).fetchall()


def japan_count(home, where: str = "1", *params) -> int:
    return sql(home, "SELECT count(*) FROM plans WHERE stale = 0 AND list_id IN "
                     f"(SELECT list_id FROM coverage WHERE country = 'JP') AND {where}", *params)[0][0]


def shown(tab) -> list:
    return [tab.model.item(r) for r in range(tab.model.rowCount())]


def loaded(tab, loop):
    """Until the tab's current query is loaded and counted."""
    wait_until(loop, lambda: tab._query == tab.listing_query() and (tab._task is None or tab._task.done()))


def test_typing_jap_or_jpn_offers_japan_and_the_choice_finds_japans_plans(window):
    win, loop, _server, home = window
    tab = win.catalog
    completer = tab.country.completer()
    for typed in ("jap", "JPN", "apan"):
        completer.setCompletionPrefix(typed)
        offered = [completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())]
        assert "Japan (JP, JPN)" in offered, (typed, offered)
    tab.country.setText("Japan (JP, JPN)")  # what picking the completion puts in the box
    loaded(tab, loop)
    plans = shown(tab)
    assert tab.model.total == japan_count(home) > 0 and all("JP" in p.countries for p in plans)
    assert {p.vendor for p in plans} == {"roumio", "roamify", "microesim"}
    for typed in ("JP", "jpn", "Japan"):  # the box still takes a code or a name as typed
        tab.country.setText(typed)
        loaded(tab, loop)
        assert tab.model.total == japan_count(home)
    assert not tab.notice.isVisible()


FILTERS = [  # (widget, index of its choice, the same filter in SQL)
    ("min_data", 3, "(total_mb >= 5120 OR total_mb IS NULL)"),  # ≥ 5 GB
    ("days", 1, "validity_days >= 7"),  # at least a week
    ("days", 5, "validity_days BETWEEN 4 AND 7"),
    ("kind", 1, "data_mb IS NULL"),
    ("kind", 2, "daily = 1"),
    ("kind", 3, "daily = 0 AND data_mb IS NOT NULL"),
    ("topup_only", True, "topup = 1"),
]


@pytest.mark.parametrize("widget,choice,where", FILTERS, ids=[f"{w}-{c}" for w, c, _ in FILTERS])
def test_each_filter_narrows_japans_plans_to_exactly_the_stores_matches(window, widget, choice, where):
    win, loop, _server, home = window
    tab = win.catalog
    tab.country.setText("Japan")
    loaded(tab, loop)
    everything = tab.model.total
    control = getattr(tab, widget)
    if widget == "topup_only":
        control.setChecked(choice)
    else:
        control.setCurrentIndex(choice)
    loaded(tab, loop)
    want = japan_count(home, where)
    assert 0 < want < everything and tab.model.total == want
    ids = {(p.vendor, p.plan_id) for p in shown(tab)}
    assert ids == set(sql(home, "SELECT vendor, plan_id FROM plans WHERE stale = 0 AND list_id IN "
                                f"(SELECT list_id FROM coverage WHERE country = 'JP') AND {where}"))


def test_filters_combine_and_clearing_them_restores_the_result(window):
    win, loop, _server, home = window
    tab = win.catalog
    tab.country.setText("JP")
    loaded(tab, loop)
    everything = tab.model.total
    tab.kind.setCurrentIndex(3)  # fixed total
    tab.min_data.setCurrentIndex(1)  # ≥ 1 GB
    tab.days.setCurrentIndex(7)  # 16–30 days
    loaded(tab, loop)
    assert tab.model.total == japan_count(home, "daily = 0 AND total_mb >= 1024 AND validity_days BETWEEN 16 AND 30")
    for combo in (tab.kind, tab.min_data, tab.days):
        combo.setCurrentIndex(0)
    loaded(tab, loop)
    assert tab.model.total == everything


def test_columns_show_coverage_data_per_gb_and_top_up(window):
    win, loop, _server, _home = window
    tab = win.catalog
    wait_until(loop, lambda: tab.pricing.currency is not None)
    titles = [c.title for c in tab.model.columns]
    agent = tab.pricing.currency
    assert titles[:10] == ["Vendor", "Plan", "Coverage", "Data", "Days", f"Cost ({agent})", f"Sell ({agent})",
                           "Per GB", "Vendor price", "Top-up"]
    tab.country.setText("JP")
    loaded(tab, loop)
    col = {t: i for i, t in enumerate(titles)}
    seen = set()
    for row, plan in enumerate(shown(tab)):
        cells = tab.model.row_cells(row)
        per_gb = price_per_gb(plan)
        assert cells[col["Vendor price"]] == f"{plan.price:.2f} {plan.currency}"
        if per_gb is None:
            assert cells[col["Per GB"]] == "—"
        elif plan.currency == agent:
            assert cells[col["Per GB"]] == f"{per_gb} {agent}"
        else:  # converted: marked ≈, in the agent's currency
            rate = tab.pricing.rates.get(plan.currency).rate
            assert cells[col["Per GB"]] == f"≈ {per_gb * rate:.2f} {agent}"
        assert cells[col["Top-up"]] == {True: "yes", False: "no", None: "not stated"}[plan.topup]
        if plan.data_mb is None:
            assert cells[col["Data"]] in ("Unlimited", "Unlimited/day")
        elif plan.daily:
            assert cells[col["Data"]].endswith("/day")
        if plan.region == "global":  # by the vendor's own name for the bundle where it gives one
            assert cells[col["Coverage"]] == f"{plan.coverage_name or 'Global'} ({len(plan.countries)} countries)"
        elif len(plan.countries) == 1:
            assert cells[col["Coverage"]] == "Japan"
        seen.add((plan.region, plan.data_mb is None, plan.daily))
    assert len(seen) >= 4  # country, regional and global plans; unlimited, daily and fixed ones


def test_price_and_per_gb_sort_every_vendors_plans_as_one_number_in_the_agents_currency(window):
    """HKD and USD plans interleave by what they cost in the agent's currency: the cheapest of all four
    vendors is the top row after one price sort (issue 27), whichever currency its vendor prices in."""
    win, loop, _server, _home = window
    tab = win.catalog
    wait_until(loop, lambda: tab.pricing.currency is not None)
    tab.country.setText("JP")
    headers = [c.sort for c in tab.model.columns]
    rates = tab.pricing.rates

    def cost(value, currency):
        return value if currency == rates.agent_currency else value * rates.get(currency).rate

    for key in ("price", "per_gb"):
        tab.sort_by(headers.index(key), Qt.SortOrder.AscendingOrder)
        loaded(tab, loop)
        plans = shown(tab)
        valued = [p for p in plans if key == "price" or price_per_gb(p) is not None]
        values = [cost(p.price if key == "price" else p.price * 1024 / (p.data_mb * (p.validity_days if p.daily else 1)),
                       p.currency) for p in valued]
        assert all(a <= b * Decimal("1.000001") for a, b in zip(values, values[1:], strict=False)), key
        runs = [p.currency for i, p in enumerate(valued) if i == 0 or valued[i - 1].currency != p.currency]
        assert len(runs) > len(set(runs)) == 2  # the currencies interleave: one order, not a block per currency
        if key == "price":
            assert valued[0].price == min(p.price for p in valued if p.currency == valued[0].currency)
    tip = tab.model.headerData(headers.index("price"), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "Sorted across every vendor and currency" in tip and "HKD→" in tip


def test_cheapest_per_vendor_names_each_vendors_cheapest_japan_plan_and_selects_it(window):
    win, loop, _server, home = window
    tab = win.catalog
    got: list = []
    tab.cheapestShown.connect(got.append)
    tab.country.setText("Japan")
    loaded(tab, loop)
    wait_until(loop, lambda: got)
    found = got[-1]
    want = {(v, c): Decimal(p) for v, c, p in sql(
        home, "SELECT vendor, currency, price FROM plans p WHERE stale = 0 AND list_id IN "
              "(SELECT list_id FROM coverage WHERE country = 'JP') AND price_sort = (SELECT min(price_sort) FROM plans "
              "q WHERE q.vendor = p.vendor AND q.currency = p.currency AND q.stale = 0 AND q.list_id IN "
              "(SELECT list_id FROM coverage WHERE country = 'JP'))")}
    assert {(p.vendor, p.currency): p.price for _k, p in found} == want and len(want) == 3
    buttons = tab.cheapest.buttons
    rates = tab.pricing.rates
    agent = rates.agent_currency

    def shown_cost(p):
        return (f"{p.price:.2f} {agent}" if p.currency == agent
                else f"≈ {p.price * rates.get(p.currency).rate:.2f} {agent}")

    titles = {'roumio': 'Roumio', 'roamify': 'Roamify', 'microesim': 'MicroESIM'}
    by_cost = sorted(found, key=lambda kp: kp[1].price * (1 if kp[1].currency == agent else rates.get(kp[1].currency).rate))
    # in the agent's currency, cheapest first; the vendor's own price in the tooltip
    assert [b.text().split(" · ")[0] for b in buttons] == [f"{titles[p.vendor]} {shown_cost(p)}" for _k, p in by_cost]
    assert all(f"the vendor's price {p.price:.2f} {p.currency}" in b.toolTip() for b, (_k, p) in zip(buttons, by_cost,
                                                                                                     strict=True))
    found = by_cost
    assert "Japan" in tab.cheapest.title.text()
    roamify = next(i for i, (_k, p) in enumerate(found) if p.vendor == "roamify")
    buttons[roamify].click()
    wait_until(loop, lambda: tab.current is not None and tab.current.plan_id == found[roamify][1].plan_id)
    row = tab.table.currentIndex().row()
    assert row >= 0 and tab.model.item(row).plan_id == found[roamify][1].plan_id
    assert tab.order_button.isEnabled()
    # another filter: the panel follows it
    tab.kind.setCurrentIndex(1)  # unlimited only
    loaded(tab, loop)
    wait_until(loop, lambda: got[-1] is not found)
    assert all(p.data_mb is None for _k, p in got[-1])
    tab.country.setText("")
    loaded(tab, loop)
    assert not tab.cheapest.buttons and "choose a country" in tab.cheapest.title.text()


def test_the_detail_pane_shows_the_vendors_details_or_says_they_are_not_stated(window):
    win, loop, _server, _home = window
    tab = win.catalog
    got: list = []
    tab.detailsShown.connect(got.append)
    tab.country.setText("JP")
    loaded(tab, loop)
    by_vendor = {}
    for plan in shown(tab):
        if plan.countries == ("JP",):
            by_vendor.setdefault(plan.vendor, plan)
    assert len(by_vendor) == 3
    for vendor, plan in sorted(by_vendor.items()):
        before = len(got)
        tab.show_detail(plan)
        wait_until(loop, lambda: len(got) > before)  # noqa: B023 (read at once, in this iteration)
        text = tab.details.text()
        assert "Networks:" in text and "Activation:" in text and "Top-ups:" in text
        if vendor == "roumio":  # its package list names operators and speed, but no APN
            assert "not stated by Roumio" in text and "APN: not stated by Roumio" in text
            assert got[-1].networks and got[-1].speed.startswith("3G/4G/5G")
        if vendor == "microesim":
            assert got[-1].apn and "APN: " + got[-1].apn in text and "Japan:" in text
        if vendor == "roamify":
            assert got[-1].networks and "SandboxTel" in text
        assert "Per GB:" in tab.info.text()


def test_the_agents_own_rates_override_the_fetched_ones_and_every_price_follows(window):
    """Settings → Exchange rates: the agent's currency and own rates win over the ECB's; the Cost column's
    title, its cells, the sort and the Sell column follow; removing them falls back to the fetched rates."""
    win, loop, _server, home = window
    tab = win.catalog
    wait_until(loop, lambda: tab.pricing.currency is not None)
    save_preferences(home, rates=Rates("EUR", {"USD": Rate("USD", Decimal("0.9"), date(2026, 11, 28)),
                                               "HKD": Rate("HKD", Decimal("0.12"), date(2026, 11, 27))}))
    loop.run_until_complete(tab.refresh_rates())
    headers = [c.title for c in tab.model.columns]
    assert headers[tab.price_column] == "Cost (EUR)" and "Sell (EUR)" in headers
    tip = tab.model.headerData(tab.price_column, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "USD→EUR 0.9000 (your own rate 2026-11-28" in tip
    tab.country.setText("JP")
    loaded(tab, loop)
    converted = []
    for row, plan in enumerate(shown(tab)[:50]):
        rate = Decimal("0.9") if plan.currency == "USD" else Decimal("0.12")
        cell = tab.model.row_cells(row)[tab.price_column]
        assert cell.startswith(f"≈ {plan.price * rate:.2f} EUR"), cell
        assert "rate" in cell and "days old" in cell  # a rate of 2026-11 is weeks old on the test's day: said
        converted.append(plan.price * rate)
    assert converted == sorted(converted)  # the store re-sorted at the agent's rates
    assert "old exchange rate" in tab.count.text()
    save_preferences(home, rates=Rates())
    loop.run_until_complete(tab.refresh_rates())
    assert [c.title for c in tab.model.columns][tab.price_column] != "Cost (EUR)" or tab.pricing.currency == "EUR"


def test_find_japan_plans_select_the_cheapest_and_order_it_through_the_dialog(window, monkeypatch):
    """Issue 13's first Done-when item: Japan plans found through the country box, the cheapest selected from
    the cheapest-per-vendor panel, Order… pressed, the dialog answered, the order placed and completed."""
    win, loop, server, home = window
    tab = win.catalog
    save_price_rules(home, [PriceRule(markup_pct=Decimal(30), rounding="99")])  # the reseller's price rule
    loop.run_until_complete(tab.refresh_rates())
    got: list = []
    tab.cheapestShown.connect(got.append)
    tab.country.setText("jap")  # typed, then the completion picked
    tab.country.setText("Japan (JP, JPN)")
    loaded(tab, loop)
    wait_until(loop, lambda: got)
    # The cheapest plan among the vendors that sell in US dollars, one click from the panel.
    dollars = [p for _k, p in got[-1] if p.currency == "USD"]
    cheapest = min(dollars, key=lambda p: p.price)
    [button] = [b for b in tab.cheapest.buttons if f"the vendor's price {cheapest.price:.2f} USD" in b.toolTip()
                and b.text().lower().startswith(cheapest.vendor)]
    button.click()
    wait_until(loop, lambda: tab.current == cheapest)
    seen: dict = {}

    def fill(dialog: OrderDialog) -> QDialog.DialogCode:
        """The agent reads what will be charged, keeps one eSIM, types a reference and confirms."""
        dialog.reference.setText("TCK-JAPAN-1")
        seen.update(charge=dialog.charge.text(), ok=dialog.ok_button.text(), enabled=dialog.ok_button.isEnabled(),
                    sell=dialog.sell.text())
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(OrderDialog, "exec", fill)
    monkeypatch.setattr("esimdesk.ui.main_window.ask_start_date", lambda *a, **k: date.today())
    placed: list = []
    failed: list = []
    win.orderPlaced.connect(placed.append)
    win.orderFailed.connect(failed.append)

    async def press_order() -> None:
        """The click arrives while the loop runs, as in the app (qasync runs Qt's event loop)."""
        tab.order_button.click()
        while not (placed or failed):
            await asyncio.sleep(0.05)

    loop.run_until_complete(asyncio.wait_for(press_order(), 30))
    assert not failed, failed
    order = placed[0]
    assert order.status is OrderStatus.COMPLETED and order.vendor == cheapest.vendor
    assert [ln.plan_id for ln in order.lines] == [cheapest.plan_id] and order.esims[0].activation_code
    assert seen["charge"].startswith(f"Charges {cheapest.price:.2f} USD") and seen["enabled"]
    assert seen["ok"] == f"Order and pay {cheapest.price:.2f} USD"  # the dialog named what will be charged
    assert server.sandbox.vendors[cheapest.vendor].stats()["orders"] >= 1
    # the customer's price as quoted in the dialog is kept with the order: cost × 1.3, up to .99
    quoted = tab.pricing.quote(cheapest)
    assert str(quoted.sell).endswith(".99") and quoted.sell >= quoted.cost * Decimal("1.3")
    assert seen["sell"].startswith(f"{quoted.sell:.2f} {quoted.currency} (margin ")
    assert order.sale is not None and order.sale.total == quoted.sell and order.sale.currency == quoted.currency
    # Orders shows what the customer paid and the margin, as sold, whatever the rules say later
    save_price_rules(home, [])
    loop.run_until_complete(tab.refresh_rates())
    orders = win.orders
    orders.search.setText(order.order_id)
    loaded(orders, loop)
    titles = [c.title for c in orders.model.columns]
    cells = orders.model.row_cells(0)
    assert cells[titles.index("Sold for")] == f"{quoted.sell:.2f} {quoted.currency}"
    assert cells[titles.index("Margin")] == f"{order.sale.total - order.sale.cost:.2f} {quoted.currency}"
    assert cells[titles.index(f"Cost ({quoted.currency})")].endswith(quoted.currency)


def test_a_roumio_plans_detail_lists_the_top_up_packages_roumio_offers_for_it(window):
    """Roumio lists top-ups per base package: the detail asks for them live and names each with its price."""
    from esimdesk.services.adapters import make_adapter

    win, loop, _server, _home = window
    tab = win.catalog
    got: list = []
    tab.detailsShown.connect(got.append)
    tab.vendor.setCurrentIndex(tab.vendor.findData("roumio"))
    tab.topup_only.setChecked(True)
    loaded(tab, loop)
    plan = shown(tab)[0]
    assert plan.vendor == "roumio" and plan.topup
    tab.show_detail(plan)
    wait_until(loop, lambda: got)

    async def ask():
        async with make_adapter(win.desk.ctx.accounts.get("roumio")) as adapter:
            return await adapter.list_plan_topups(plan.plan_id)

    offered = loop.run_until_complete(ask())
    assert offered, "the sandbox offers top-ups for a top-up-able plan"
    text = tab.details.text()
    assert "Top-up packages: " in text
    for topup in offered[:8]:
        assert f"{topup.name} {topup.price:.2f} {topup.currency}" in text
