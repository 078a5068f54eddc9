"""The window meets the agent halfway (issue 19): a view filtered to a vendor that does not offer what it
lists says so instead of staying silently empty; the Country box takes names and alpha-3 codes; data
amounts read as on the command line; prices sorted within a currency; a Roamify order without ICCID
says where to get it (Roamify's now come with them). Real widgets over a real sandbox and store."""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal

import pytest

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import wait_until, window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=21, allocation_delay=0.3)) as (win, server, _):
        yield win, loop, server


def settle(loop, seconds=0.5):
    loop.run_until_complete(asyncio.sleep(seconds))


def pick_vendor(tab, loop, vendor):
    tab.vendor.setCurrentIndex(tab.vendor.findData(vendor))
    settle(loop)


def shown(tab) -> list:
    return [tab.model.item(r) for r in range(tab.model.rowCount())]


def test_a_view_filtered_to_a_vendor_that_offers_none_says_so(window):
    win, loop, _ = window
    settle(loop)
    assert win.catalog.notice.isHidden()
    pick_vendor(win.catalog, loop, "flexiroam")
    assert win.catalog.model.rowCount() == 0
    assert not win.catalog.notice.isHidden()
    assert win.catalog.notice.text() == "Flexiroam offers no plans through its API"
    pick_vendor(win.catalog, loop, "roumio")
    assert win.catalog.model.rowCount() > 0 and win.catalog.notice.isHidden()

    pick_vendor(win.orders, loop, "flexiroam")
    assert win.orders.model.rowCount() == 0
    assert win.orders.notice.text() == "Flexiroam takes no orders through its API"
    pick_vendor(win.fleet, loop, "microesim")
    assert win.fleet.notice.text().startswith("MicroESIM lists no eSIMs through its API")
    pick_vendor(win.fleet, loop, "roamify")  # Roamify lists its eSIMs (roamify-more.md §8): nothing to say
    assert win.fleet.model.rowCount() > 0 and win.fleet.notice.isHidden()
    pick_vendor(win.fleet, loop, None)
    assert win.fleet.notice.isHidden()


@pytest.mark.parametrize("typed", ["Japan", "JPN", "jp"])
def test_the_country_box_takes_names_and_alpha3(window, typed):
    win, loop, _ = window
    settle(loop)
    win.catalog.country.setText("JP")
    settle(loop)
    expected = shown(win.catalog)
    assert expected and all("JP" in p.countries for p in expected)
    win.catalog.country.setText(typed)
    settle(loop)
    assert shown(win.catalog) == expected
    assert win.catalog.notice.isHidden()


def test_a_country_box_that_names_no_country_says_the_closest(window):
    win, loop, _ = window
    settle(loop)
    win.catalog.country.setText("Jpan")
    settle(loop)
    assert win.catalog.notice.text() == "'Jpan' is not a country; did you mean: Japan (JP)?"
    assert win.catalog.model.rowCount() > 0  # no filter applied: nothing hidden by a typo


def test_data_amounts_and_prices_read_as_on_the_command_line(window):
    win, loop, _ = window
    settle(loop)
    cells = [win.fleet.model.data(win.fleet.model.index(r, c)) for r in range(win.fleet.model.rowCount())
             for c in (3, 4)]
    assert any(re.fullmatch(r"\d+(\.\d)? GB", c or "") for c in cells)
    assert not [c for c in cells if c and re.search(r"\d\.\d{2,}", c)]
    # sorted by price at start-up: by what each costs in the agent's currency, across currencies (issue 27)
    wait_until(loop, lambda: win.catalog.pricing.currency is not None)
    plans, rates = shown(win.catalog), win.catalog.pricing.rates
    assert len({p.currency for p in plans}) >= 2
    costs = [Decimal(p.price) * (1 if p.currency == rates.agent_currency else rates.get(p.currency).rate)
             for p in plans]
    assert costs == sorted(costs)


def test_a_roamify_order_comes_with_its_esim_and_needs_no_portal(window):
    win, loop, server = window
    settle(loop)
    pick_vendor(win.catalog, loop, "roamify")
    plan = shown(win.catalog)[0]
    order = loop.run_until_complete(win.place_order(plan, 1))
    assert order is not None and order.status is OrderStatus.COMPLETED
    assert len(order.esims) == 1 and order.esims[0].activation_code.startswith("LPA:1$")
    message = win.statusBar().currentMessage()
    assert message.endswith("1 eSIM ready") and "Partner Portal" not in message
