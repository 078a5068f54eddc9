"""Issue 13, around the tabs: the toolbar (Sync, each vendor's balance and reachability, the cache's age), the
offline banner while no vendor answers (every order still found from the cache), and failures in words in a
dismissible message bar — over the sandbox on real HTTP, stopped and started again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import Qt

from esimdesk.domain import Plan
from esimdesk.sandbox import Fault, SandboxConfig
from esimdesk.ui.toolbar import clock
from tests.ui.conftest import wait_until, window_over_sandbox

VENDORS = ("roumio", "roamify")


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=31, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=VENDORS) as (win, server, desk):
        yield win, loop, server, desk


def settle(loop, seconds=0.3):
    loop.run_until_complete(asyncio.sleep(seconds))


def rows(tab) -> list:
    return [tab.model.item(r) for r in range(tab.model.rowCount())]


def find_order(win, loop, text: str, order) -> None:
    """Type ``text`` in the Orders search box, select ``order``'s row, see its detail."""
    tab = win.orders
    tab.search.setText(text)
    wait_until(loop, lambda: any(o is not None and o.order_id == order.order_id for o in rows(tab)))
    row = next(r for r, o in enumerate(rows(tab)) if o is not None and o.order_id == order.order_id)
    tab.table.selectRow(row)
    wait_until(loop, lambda: tab.current is not None and tab.current.order_id == order.order_id)
    assert order.order_id in tab.info.text()


def test_the_toolbar_shows_each_vendors_balance_and_reachability_and_sync_with_cancel(window):
    win, loop, server, desk = window
    bar = win.toolbar
    assert win.toolBarArea(bar) == Qt.ToolBarArea.TopToolBarArea and bar.isVisible()
    assert win.sync_action in bar.actions()
    cents = server.sandbox.vendors["roumio"].balance
    assert bar.vendors["roumio"].text() == f"Roumio {cents // 100:,}.{cents % 100:02d} USD · online"
    assert bar.vendors["roamify"].text().startswith("Roamify ") and bar.vendors["roamify"].text().endswith(" · online")
    assert bar.vendors["microesim"].text() == "MicroESIM · not configured"
    assert bar.vendors["flexiroam"].text() == "Flexiroam · not configured"
    assert bar.cache_age.text() == "cache: synced just now"
    assert not win.offline_banner.isVisible() and not win.messages.isVisible()
    # The busy bar and Cancel sit in the toolbar while a sync runs, and go when it ends.
    seen = []
    win.syncStarted.connect(lambda: seen.append((win.progress.isVisible(), win.cancel_button.isVisible())))
    loop.run_until_complete(win.run_sync())
    assert seen == [(True, True)]
    assert not win.progress.isVisible() and not win.cancel_button.isVisible() and win.sync_action.isEnabled()


def test_the_toolbar_balance_follows_an_order_placed_in_the_window(window):
    """Issue 29 (2): after an order paid from the Roumio balance, the toolbar showed the figure of the last sync
    ("Roumio 5,000.00 USD" after paying 2.38) until clicked; it shows what Roumio holds now."""
    win, loop, server, desk = window
    bar, sim = win.toolbar, server.sandbox.vendors["roumio"]

    def shown(cents: int) -> str:
        return f"Roumio {cents // 100:,}.{cents % 100:02d} USD · online"

    before = sim.balance
    assert bar.vendors["roumio"].text() == shown(before)
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0 and not p.daily),
               key=lambda p: (p.price, p.plan_id))
    order = loop.run_until_complete(win.place_order(plan, 1))
    assert order is not None and sim.balance == before - int(plan.price * 100)
    assert bar.vendors["roumio"].text() == shown(sim.balance)  # no click, no sync
    assert f"Balance {sim.balance // 100:,}.{sim.balance % 100:02d} USD" in bar.vendors["roumio"].toolTip()


def test_the_cache_age_changes_after_a_sync(window):
    win, loop, server, desk = window
    hours_ago = (datetime.now(UTC) - timedelta(hours=2, minutes=6)).isoformat()
    with desk.store.transaction() as conn:  # the last sync as if it ended two hours ago
        conn.execute("UPDATE sync_runs SET finished_at = ? WHERE finished_at IS NOT NULL", (hours_ago,))
    loop.run_until_complete(win.show_balances())
    assert win.toolbar.cache_age.text() == "cache: synced 2.1 h ago"
    results = loop.run_until_complete(win.run_sync())
    assert results and all(r.ok for r in results)
    assert win.toolbar.cache_age.text() == "cache: synced just now"


def test_sandbox_stopped_every_order_is_still_found_under_the_offline_banner_then_back_online(window, tmp_path):
    win, loop, server, desk = window
    orders = [o for o in desk.store.orders() if o.order_id]
    assert len(orders) >= 5 and {o.vendor for o in orders} == set(VENDORS)
    server.stop()

    results = loop.run_until_complete(win.run_sync())
    assert [r.vendor for r in results] == list(VENDORS) and all(not r.ok and r.reach == "offline" for r in results)
    since = desk.reachability.all_offline(VENDORS)
    assert since is not None
    banner = win.offline_banner.text()
    assert win.offline_banner.isVisible() and banner.startswith("Offline: Roumio and Roamify cannot be reached since "
                                                                 f"{clock(since)}")
    assert "showing the cache (synced just now)" in banner and "orders and top-ups are unavailable" in banner
    for vendor in VENDORS:
        state = desk.reachability.get(vendor)
        assert win.toolbar.vendors[vendor].text().endswith(f" · offline since {clock(state.since)}")
    # The banner says it all: the message bar does not repeat each vendor's "cannot be reached".
    assert not win.messages.isVisible() and "no vendor can be reached" in win.statusBar().currentMessage()

    # Every order, from the cache: by its id and by the last 6 digits of an eSIM's ICCID, with its detail.
    win.tabs.setCurrentWidget(win.orders)
    with_code = None
    for order in orders:
        find_order(win, loop, order.order_id, order)
        iccids = [e.iccid for e in order.esims if e.iccid]
        if iccids:
            find_order(win, loop, iccids[0][-6:], order)
            assert win.orders.esims.rows[0].iccid.text() in iccids
            if with_code is None and any(e.activation_code for e in order.esims):
                with_code = order
    # The QR code too.
    assert with_code is not None
    find_order(win, loop, with_code.order_id, with_code)
    wait_until(loop, lambda: not win.orders.esims.drawing())
    shown = win.orders.esims.rows[0]
    path = tmp_path / "offline-qr.png"
    shown.qr.pixmap().save(str(path))
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(path).convert("L"))] == [shown.code.text()]
    assert win.offline_banner.isVisible()

    # The sandbox back: a click on Roumio asks it once; one vendor answering ends the banner.
    server.start()
    win.toolbar.vendors["roumio"].click()
    wait_until(loop, lambda: desk.reachability.get("roumio").online)
    wait_until(loop, lambda: win.toolbar.vendors["roumio"].text().endswith(" · online"))
    assert not win.offline_banner.isVisible()
    assert "offline since" in win.toolbar.vendors["roamify"].text()
    results = loop.run_until_complete(win.run_sync())
    assert all(r.ok for r in results)
    assert all(win.toolbar.vendors[v].text().endswith(" · online") for v in VENDORS)
    assert not win.offline_banner.isVisible() and win.toolbar.cache_age.text() == "cache: synced just now"


def test_one_vendor_unreachable_says_so_in_the_toolbar_and_the_message_bar_without_the_banner(window):
    win, loop, server, desk = window
    server.sandbox.faults["roamify"].add(Fault("drop", times=None))  # every connection dropped mid-answer
    results = loop.run_until_complete(win.run_sync())
    assert {r.vendor: r.ok for r in results} == {"roumio": True, "roamify": False}
    assert "offline since" in win.toolbar.vendors["roamify"].text()
    assert win.toolbar.vendors["roumio"].text().endswith(" · online")
    assert not win.offline_banner.isVisible()
    said = win.messages.text()
    assert said.startswith("Sync: Roamify: ") and "Traceback" not in said
    server.sandbox.faults["roamify"].clear()
    results = loop.run_until_complete(win.run_sync())
    assert all(r.ok for r in results)
    assert win.toolbar.vendors["roamify"].text().endswith(" · online")
    assert not win.messages.isVisible()  # the sync's failure is over: its message goes


def test_a_vendors_refusal_is_in_words_in_the_message_bar_and_can_be_dismissed(window):
    win, loop, server, desk = window
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0 and not p.daily),
               key=lambda p: (p.price, p.plan_id))
    sim = server.sandbox.vendors["roumio"]

    def drain(message: str) -> None:
        # The balance check passed; the account runs dry before the order reaches Roumio, which refuses it.
        if "sending to Roumio" in message:
            sim.balance = 0

    win.statusBar().messageChanged.connect(drain)
    failed = []
    win.orderFailed.connect(failed.append)
    assert loop.run_until_complete(win.place_order(plan, 1)) is None
    said = win.messages.text()
    assert said == ("Roumio refused the order: the Roumio account balance is too low; top up the account first "
                    "(code 200007). Nothing was charged.") == failed[0]
    assert win.messages.isVisible() and win.messages.kind == "error"
    assert win.toolbar.vendors["roumio"].text().endswith(" · online")  # it answered: a refusal is no outage
    dismissed = []
    win.messages.dismissed.connect(lambda: dismissed.append(True))
    win.messages.close_button.click()
    assert dismissed == [True] and not win.messages.isVisible() and win.messages.text() == ""


def test_text_in_the_message_bar_is_shown_as_typed_never_as_markup(window):
    win, loop, server, desk = window
    ghost = Plan("roumio", "<b>gone</b>", "<img src=x>", ("JP",), 1024, 7, Decimal("1.00"), "USD")
    assert loop.run_until_complete(win.place_order(ghost, 1)) is None
    label = win.messages.label
    assert label.textFormat() == Qt.TextFormat.PlainText
    assert "Roumio has no plan '<b>gone</b>' in the local catalog" in label.text()


def test_a_support_action_that_cannot_reach_the_vendor_says_so_in_the_message_bar(window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from esimdesk.domain import Action

    win, loop, server, desk = window
    esim = next(e for e in desk.store.esims(vendor="roumio") if e.vendor_status == "IN_USE/ENABLED")
    win.tabs.setCurrentWidget(win.fleet)
    win.fleet.search.setText(esim.iccid)
    wait_until(loop, lambda: any(e is not None and e.iccid == esim.iccid for e in rows(win.fleet)))
    win.fleet.table.selectRow(next(r for r, e in enumerate(rows(win.fleet)) if e.iccid == esim.iccid))
    wait_until(loop, lambda: win.fleet.current is not None and win.fleet.current.iccid == esim.iccid)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/suspend", times=None))
    panel = win.fleet.support
    panel.buttons[Action.SUSPEND].click()
    loop.run_until_complete(panel.task)
    said = win.messages.text()
    assert said.startswith(f"Suspend eSIM {esim.iccid}: ") and "connection dropped" in said and "Traceback" not in said
    assert "offline since" in win.toolbar.vendors["roumio"].text()  # learned from the action's call
    assert not win.offline_banner.isVisible()  # Roamify still answers
