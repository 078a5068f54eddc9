"""The tabs over a real sandbox and store: sync, search as you type, order from the Catalog, QR in Fleet."""

from __future__ import annotations

import asyncio

import pytest
import zxingcpp
from PIL import Image

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import settle_tab, wait_until, window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=21, allocation_delay=0.3)) as (win, server, _):
        yield win, loop, server


def settle(loop, seconds=0.5):
    loop.run_until_complete(asyncio.sleep(seconds))


def test_sync_fills_every_tab_and_search_filters_as_you_type(window):
    win, loop, server = window
    settle(loop)
    assert win.catalog.model.rowCount() > 500
    assert win.fleet.model.rowCount() > 50
    assert win.orders.model.rowCount() > 10
    win.catalog.country.setText("JP")
    settle(loop)
    assert 0 < win.catalog.model.rowCount() < 200
    assert all("JP" in win.catalog.model.item(r).countries for r in range(win.catalog.model.rowCount()))
    iccid = win.fleet.model.item(0).iccid
    win.fleet.search.setText(iccid[-6:])
    settle(loop)
    assert iccid in [win.fleet.model.item(r).iccid for r in range(win.fleet.model.rowCount())]


def test_order_from_the_catalog_lands_in_orders_and_fleet_with_a_readable_qr(window, tmp_path):
    win, loop, server = window
    settle(loop)
    win.catalog.vendor.setCurrentIndex(win.catalog.vendor.findData("roumio"))
    win.catalog.search.setText("Japan")
    settle(loop)
    plan = next(win.catalog.model.item(r) for r in range(win.catalog.model.rowCount())
                if not win.catalog.model.item(r).daily)
    placed = []
    win.orderPlaced.connect(placed.append)
    order = loop.run_until_complete(win.place_order(plan, 1))
    assert order is not None and order.status is OrderStatus.COMPLETED and placed == [order]
    assert server.sandbox.vendors["roumio"].stats()["orders"] == 1
    settle(loop)
    win.orders.search.setText(order.reference)
    settle(loop)
    assert win.orders.model.rowCount() == 1
    win.orders.table.selectRow(0)
    settle(loop, 0.3)
    history = win.orders.history.toPlainText()
    assert "PENDING" in history and "COMPLETED" in history
    esim = order.esims[0]
    win.fleet.search.setText(esim.iccid[-8:])
    settle(loop)
    win.fleet.table.selectRow(0)
    pixmap = win.fleet.qr.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    path = tmp_path / "qr.png"
    pixmap.save(str(path))
    decoded = zxingcpp.read_barcodes(Image.open(path))
    assert [d.text for d in decoded] == [esim.activation_code]


def test_a_failing_order_is_reported_in_the_message_bar_not_a_traceback(window):
    win, loop, server = window
    settle(loop)
    plan = next(win.catalog.model.item(r) for r in range(win.catalog.model.rowCount())
                if win.catalog.model.item(r).vendor == "roumio")
    server.sandbox.vendors["roumio"].balance = 0  # the account ran dry since the last sync
    failed = []
    win.orderFailed.connect(failed.append)
    result = loop.run_until_complete(win.place_order(plan, 1))
    assert result is None and failed and "balance" in failed[0]
    assert win.messages.text() == failed[0] and "top up the account" in failed[0]


def test_top_up_and_a_searchable_note_from_the_fleet(window):
    win, loop, server = window
    settle(loop)
    from esimdesk.domain import is_valid_iccid

    win.fleet.vendor.setCurrentIndex(win.fleet.vendor.findData("roumio"))
    settle(loop)
    row = next(r for r in range(win.fleet.model.rowCount())
               if is_valid_iccid(win.fleet.model.item(r).iccid) and win.fleet.model.item(r).status.value == "ACTIVE")
    win.fleet.table.selectRow(row)
    esim = win.fleet.current
    assert esim is not None and win.fleet.topup_button.isEnabled()
    offered = loop.run_until_complete(win.desk.topup_plans("roumio", esim.iccid))
    assert offered and all(p.topup for p in offered)
    order = loop.run_until_complete(win.top_up(esim, offered[0].plan_id))
    assert order is not None and order.kind == "topup"
    assert server.sandbox.vendors["roumio"].stats()["topups"] == 1
    loop.run_until_complete(win._save_note(esim, "Maria Lopez, Hotel Sol"))
    win.fleet.vendor.setCurrentIndex(0)
    win.fleet.search.setText("lopez")
    settle(loop)
    assert [win.fleet.model.item(r).iccid for r in range(win.fleet.model.rowCount())] == [esim.iccid]
    assert win.fleet.model.item(0).note == "Maria Lopez, Hotel Sol"


def test_a_running_sync_shows_progress_and_can_be_cancelled(window):
    win, loop, server = window
    from esimdesk.sandbox import Fault

    server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=1.0))
    finished = []
    win.syncFinished.connect(finished.append)
    win.start_sync()
    # Each wait is on the event; its deadline is a safety net only. The sync child runs below the window's
    # priority: on a busy machine its first progress report and its end after Cancel come late (it is killed
    # if it does not end soon after the interrupt: tests/services/test_sync.py::
    # test_cancel_stops_the_windows_sync_child_even_when_it_gets_no_cpu). This test once failed 2 runs in 4
    # on a loaded machine: the sync's last steps, resumed in qasync's final event pass with no running loop,
    # died there and syncFinished never came (tests/ui/test_event_loop.py; the window's loop is DeskEventLoop).
    wait_until(loop, lambda: win.statusBar().currentMessage().startswith("Syncing"), timeout=120)
    assert win.cancel_button.isVisible() and win.progress.isVisible()
    win.cancel_button.click()
    wait_until(loop, lambda: finished, timeout=120)
    assert finished == [[]]
    assert "cancelled" in win.statusBar().currentMessage()
    assert not win.cancel_button.isVisible() and win.sync_action.isEnabled()
    assert win.desk.store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    server.sandbox.faults["roumio"].clear()


def test_the_sync_says_it_ended_even_when_reading_the_balances_after_it_fails(window, monkeypatch):
    """The sync has ended whatever fails after it: the toolbar is free again and syncFinished comes."""
    win, loop, server = window

    async def balances_fail():
        raise RuntimeError("the balances could not be read")

    monkeypatch.setattr(win, "show_balances", balances_fail)
    finished = []
    win.syncFinished.connect(finished.append)
    results = loop.run_until_complete(win.run_sync())
    assert finished == [results] and results and all(r.ok for r in results)
    assert win.sync_action.isEnabled() and win.statusBar().currentMessage().startswith("Sync finished")


def test_a_table_the_data_file_cannot_read_says_so_in_words_and_reads_again_later(window):
    """A read the data file refuses (here the plans' table is not there: renamed away, then back) is a sentence in
    the message bar, not a traceback; the table keeps its rows, and the next read works. (A missing index a query
    names was the case once, a first sync's bulk load having set it aside; queries now do without it.)"""
    win, loop, server = window
    settle_tab(loop, win.catalog)
    rows = win.catalog.model.rowCount()
    with win.desk.store.transaction() as c:
        c.execute("ALTER TABLE plans RENAME TO plans_away")
    failed = []
    win.catalog.loadFailed.connect(failed.append)
    win.catalog.reload(changed=True)
    settle_tab(loop, win.catalog)
    assert failed and failed[0].startswith("The plans could not be read from the data file (no such table: plans")
    assert win.messages.text() == failed[0] and win.catalog.model.rowCount() == rows
    assert not [e for e in loop.errors if "exception" in e]  # nothing unhandled
    with win.desk.store.transaction() as c:
        c.execute("ALTER TABLE plans_away RENAME TO plans")
    win.catalog.reload(changed=True)
    settle_tab(loop, win.catalog)
    assert len(failed) == 1 and win.catalog.model.rowCount() == rows


def test_a_tab_behind_fits_its_columns_when_first_shown(window):
    """Measuring a hidden tab's rows at start-up held up the tab in front: it waits until it is shown."""
    win, loop, server = window
    behind = [p for p in win.pages.values() if p is not win.tabs.currentWidget() and p.model.rowCount()]
    assert behind and not any(p._fitted for p in behind)
    tab = behind[0]
    header = tab.table.horizontalHeader()
    before = [header.sectionSize(c) for c in range(header.count())]
    win.tabs.setCurrentWidget(tab)
    assert tab._fitted and [header.sectionSize(c) for c in range(header.count())] != before


def test_the_first_fit_leaves_room_for_a_price_in_any_currency(window):
    """Columns are fitted to the first page's text, and never narrower than their sample: a later row's
    "1,234.50 HKD" is not cut to "1,234.5…" because the first page held only "2.98 USD"."""
    win, loop, server = window
    tab = win.catalog
    assert tab._fitted
    price = next(i for i, c in enumerate(tab.model.columns) if c.title == "Vendor price")
    needed = tab.table.fontMetrics().horizontalAdvance("9,999.99 HKD")
    assert tab.table.columnWidth(price) >= needed
    cost = next(i for i, c in enumerate(tab.model.columns) if c.sort == "price")  # "≈ 1,234.50 EUR" likewise
    assert tab.table.columnWidth(cost) >= tab.table.fontMetrics().horizontalAdvance("≈ 9,999.99 EUR")
