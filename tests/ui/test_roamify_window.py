"""Roamify in the window (issue 20): its balance in the status bar, a travel start date asked for the
packages that need one, and the customer's install link copied from the Fleet. Real widgets, real sandbox."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QInputDialog

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=23, allocation_delay=0.2),
                             vendors=("roamify",)) as (win, server, _):
        yield win, loop, server


def test_the_toolbar_shows_roamifys_balance(window):
    win, loop, server = window
    text = loop.run_until_complete(win.show_balances())
    cents = server.sandbox.vendors["roamify"].balance_cents
    assert text == f"Balance: Roamify {cents // 100}.{cents % 100:02d} USD"
    assert win.toolbar.vendors["roamify"].text() == f"Roamify {cents // 100:,}.{cents % 100:02d} USD · online"


def test_a_travel_date_package_asks_for_the_start_date(window, monkeypatch):
    win, loop, server = window
    sim = server.sandbox.vendors["roamify"]
    travel = next(p for p in sim.catalog if p.travel_date)
    plan = next(p for p in win.desk.store.plans(vendor="roamify") if p.plan_id == travel.package_id)
    start = (datetime.now(UTC).date() + timedelta(days=3)).isoformat()
    answers = iter([("not a date", True), (start, True)])
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: asked.append(a[2]) or next(answers)))
    order = loop.run_until_complete(win.order_with_start_date(plan, 1))
    assert order is not None and order.status is OrderStatus.COMPLETED
    assert len(asked) == 2 and "is not a date" in asked[1]
    [esim] = [e for e in sim.fleet.ordered.values() if e.order_id == order.order_id]
    assert esim.start_date == start
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("", False)))
    before = sim.stats()["orders"]
    assert loop.run_until_complete(win.order_with_start_date(plan, 1)) is None  # cancelled: nothing ordered
    assert sim.stats()["orders"] == before and "Not ordered" in win.statusBar().currentMessage()


def test_copy_install_link_puts_the_share_link_and_access_code_on_the_clipboard(window):
    win, loop, server = window
    plan = next(p for p in win.desk.store.plans(vendor="roamify") if p.plan_id == "esim-cambodia-7days-1gb-all")
    order = loop.run_until_complete(win.place_order(plan, 1))
    loop.run_until_complete(asyncio.sleep(0.5))
    [esim] = order.esims
    win.fleet.show_detail(esim)
    assert win.fleet.link_button.isEnabled()
    assert "iPhone quick install" in win.fleet.info.text()
    text = loop.run_until_complete(win.copy_install_link(esim))
    assert text and text.startswith("https://") and "access code" in text
    assert QGuiApplication.clipboard().text() == text


def test_fleet_says_why_a_roamify_esim_not_installed_shows_no_usage(window):
    """Issue 29, point 4: blank usage is said in words, in the Used cell and in the detail panel."""
    win, loop, _server = window
    esim = next(e for e in win.desk.store.esims(vendor="roamify") if e.vendor_status == "READY")
    assert esim.data_used_mb is None
    used = next(c for c in win.fleet.model.columns if c.title == "Used")
    assert used.text(esim) == "not installed yet"
    win.fleet.show_detail(esim)
    assert win.fleet.support.usage.text() == \
        "Usage: not installed yet: Roamify reports usage once the eSIM is installed"
    installed = next(e for e in win.desk.store.esims(vendor="roamify") if e.data_used_mb is not None)
    assert used.text(installed).endswith("MB") or used.text(installed).endswith("GB")
