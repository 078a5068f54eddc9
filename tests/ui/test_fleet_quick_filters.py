"""Fleet (issue 13): the quick filters list exactly the store's matching eSIMs, the Used cell's bar is each
row's share of its allowance, the detail's usage chart draws the stored readings, and Top up… offers only
that eSIM's compatible top-ups and places the one picked through the orders service (journaled).

Real parts: the sandbox over HTTP, the main window, a real SQLite file. The expected rows are computed by
SQL written here, apart from the store's (store/listings.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLineEdit

from esimdesk.domain import ListingQuery, Usage
from esimdesk.sandbox import SandboxConfig
from esimdesk.sandbox.faults import Fault
from esimdesk.ui.fleet_table import LOW_DATA_COLOR, used_fraction
from esimdesk.ui.usage_chart import LINE_COLOR, NO_DATA, UsageChart
from tests.ui.conftest import window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=13, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=("roumio", "roamify", "microesim")) as (
            win, server, desk):
        win.tabs.setCurrentWidget(win.fleet)
        yield win, loop, server, desk


def settle(loop, seconds=0.3):
    loop.run_until_complete(asyncio.sleep(seconds))


def wait_until(loop, check, seconds=15.0):
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        settle(loop, 0.1)
    raise AssertionError("timed out")


def shown(win, loop) -> list[tuple[str, str]]:
    """Every row of the Fleet's result, once loaded and counted: (vendor, ICCID), in the order shown."""
    fleet = win.fleet
    settle(loop, 0.05)  # the reload starts on the next turn of the loop
    if fleet._task is not None:
        loop.run_until_complete(asyncio.gather(fleet._task, return_exceptions=True))
    wait_until(loop, lambda: fleet.count.text().endswith(" eSIMs") and "counting" not in fleet.count.text())
    model = fleet.model
    return [(model.item(r).vendor, model.item(r).iccid) for r in range(model.rowCount())]


def expected(desk, where: str, params=()) -> set[tuple[str, str]]:
    return {(v, i) for v, i in desk.store.conn.execute(f"SELECT vendor, iccid FROM esims WHERE {where}", params)}


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def shape_the_fleet(desk) -> datetime:
    """Make each filter's cases, and the cases just outside it, among the synced eSIMs: expiring in 3 days
    and in 9 days, an expired one, used 95 %, 90 % and 50 %, an unlimited one, NEW eSIMs whose orders are
    old and new, one installed. Returns "now"."""
    now = datetime.now(UTC)
    conn = desk.store.conn
    rows = conn.execute("SELECT rowid, vendor FROM esims WHERE order_id IS NOT NULL ORDER BY rowid").fetchall()
    assert len(rows) >= 24, "the sandbox fleet is too small for this test"
    ids = [r[0] for r in rows]
    with desk.store.transaction() as c:
        def put(rowid, **cols):
            c.execute(f"UPDATE esims SET {', '.join(f'{k} = ?' for k in cols)} WHERE rowid = ?", [*cols.values(), rowid])

        put(ids[0], status="ACTIVE", expires_at=iso(now + timedelta(days=3)), data_used_mb=950, data_total_mb=1000)
        put(ids[1], status="INSTALLED", expires_at=iso(now + timedelta(days=9)), data_used_mb=900, data_total_mb=1000)
        put(ids[2], status="ACTIVE", expires_at=iso(now - timedelta(days=1)), data_used_mb=10, data_total_mb=1000)
        put(ids[3], status="ACTIVE", expires_at=None, data_used_mb=500, data_total_mb=None)
        put(ids[4], status="DEPLETED", expires_at=iso(now + timedelta(days=2)), data_used_mb=1000, data_total_mb=1000)
        put(ids[5], status="EXPIRED", expires_at=iso(now - timedelta(days=40)), data_used_mb=1, data_total_mb=1000)
        for k, days_ago in ((6, 30), (7, 10), (8, 2), (9, 30)):
            put(ids[k], status="NEW", installed_at=None, expires_at=iso(now + timedelta(days=60)),
                data_used_mb=None)
            order_id = conn.execute("SELECT order_id FROM esims WHERE rowid = ?", (ids[k],)).fetchone()[0]
            c.execute("UPDATE orders SET created_at = ? WHERE order_id = ?",
                      (iso(now - timedelta(days=days_ago)), order_id))
        put(ids[9], expires_at=iso(now - timedelta(days=1)))  # old order, but past its end: no one to call
        put(ids[10], status="NEW", installed_at=iso(now - timedelta(days=1)))  # installed per the vendor
    return now


def test_each_quick_filter_lists_exactly_the_matching_esims(window):
    win, loop, _server, desk = window
    fleet = win.fleet
    shape_the_fleet(desk)
    fleet.reload(changed=True)
    everything = shown(win, loop)
    assert len(everything) == desk.store.conn.execute("SELECT count(*) FROM esims").fetchone()[0]

    def check(button, where, params=(), days=None, box=None):
        if box is not None:
            box.setValue(days)
        button.click()
        settle(loop, 0.05)
        now = fleet.listing_query().as_of or datetime.now(UTC)
        rows = shown(win, loop)
        want = expected(desk, where, [p(now) if callable(p) else p for p in params])
        assert want, f"{button.text()}: the test data should give it rows"
        assert set(rows) == want and len(rows) == len(want), button.text()
        button.click()  # off again
        settle(loop, 0.05)
        return rows

    q = fleet.quick
    check(q.active, "status IN ('INSTALLED', 'ACTIVE') AND (expires_at IS NULL OR expires_at >= ?)",
          [lambda now: iso(now)])
    soon = check(q.expiring, "expires_at >= ? AND expires_at < ?",
                 [lambda now: iso(now), lambda now: iso(now + timedelta(days=7))], 7, q.expiring_days)
    assert soon == sorted(soon, key=lambda k: desk.store.esim(k[1]).expires_at)  # soonest first, as the table
    check(q.expiring, "expires_at >= ? AND expires_at < ?",
          [lambda now: iso(now), lambda now: iso(now + timedelta(days=10))], 10, q.expiring_days)
    low = check(q.low, "data_total_mb > 0 AND data_used_mb * 100 > data_total_mb * 90")
    assert all(desk.store.esim(i).data_used_mb * 10 > desk.store.esim(i).data_total_mb * 9 for _v, i in low)
    not_installed = ("status = 'NEW' AND installed_at IS NULL AND (expires_at IS NULL OR expires_at >= ?) AND "
                     "(SELECT created_at FROM orders o WHERE o.vendor = esims.vendor AND o.order_id = esims.order_id)"
                     " <= ?")
    week = check(q.not_installed, not_installed, [lambda now: iso(now), lambda now: iso(now - timedelta(days=7))],
                 7, q.not_installed_days)
    month = check(q.not_installed, not_installed, [lambda now: iso(now), lambda now: iso(now - timedelta(days=20))],
                  20, q.not_installed_days)
    assert set(month) < set(week)  # the 10-day-old order drops out at 20 days
    # Quick filters combine with the vendor and status filters, and turning one on turns the others off.
    q.low.click()
    q.active.click()
    assert q.active.isChecked() and not q.low.isChecked()
    fleet.vendor.setCurrentIndex(fleet.vendor.findData("roumio"))
    rows = shown(win, loop)
    assert set(rows) == expected(desk, "vendor = 'roumio' AND status IN ('INSTALLED', 'ACTIVE') AND "
                                 "(expires_at IS NULL OR expires_at >= ?)", [iso(fleet.listing_query().as_of)])
    q.active.click()
    fleet.vendor.setCurrentIndex(0)
    assert len(shown(win, loop)) == len(everything)


def test_a_quick_filter_reads_its_first_page_by_walking_the_sort_index(tmp_path):
    """At scale each filter's first page must stop after a page of matches: the plan walks the sort index
    (or a range of it), never reads every match to sort them (a temporary b-tree)."""
    from esimdesk.store import open_store

    store = open_store(tmp_path)
    now = datetime.now(UTC)
    for sort in ("expires", "vendor", "used", "iccid", "order_id"):
        for fields in ({"active": True}, {"expiring_days": 7}, {"low_data": True}, {"not_installed_days": 7}):
            q = ListingQuery("esims", sort=sort, as_of=now, **fields)
            parts = store._parts(q)
            plan = " ".join(r[3] for r in store.conn.execute(
                f"EXPLAIN QUERY PLAN SELECT e.rowid {parts.with_value}{parts.order} LIMIT 101",
                parts.with_params))
            assert "TEMP B-TREE" not in plan, (sort, fields, plan)
    store.close()


def test_the_used_bar_is_each_rows_share_and_red_under_ten_percent(window):
    win, loop, _server, desk = window
    fleet = win.fleet
    shape_the_fleet(desk)
    fleet.reload(changed=True)
    rows = shown(win, loop)
    model = fleet.model
    seen_low = seen_plain = seen_none = 0
    for r in range(len(rows)):
        esim = model.item(r)
        bar = model.bar(r)
        if not esim.data_total_mb or esim.data_used_mb is None:
            assert bar is None and model.row_look(r) is None
            seen_none += 1
            continue
        assert bar[0] == pytest.approx(min(esim.data_used_mb / esim.data_total_mb, 1.0))
        assert bar[0] == used_fraction(esim)
        is_low = esim.data_used_mb * 10 > esim.data_total_mb * 9
        assert (bar[1] is not None and bar[1].color() == QColor(LOW_DATA_COLOR)) == is_low
        look = model.row_look(r)
        assert look.bars[model.used_column] == bar
        assert all(b is None for c, b in enumerate(look.bars) if c != model.used_column)
        seen_low += is_low
        seen_plain += not is_low
    assert seen_low and seen_plain and seen_none
    # Painted: the 95 % row's Used cell has a red bar along its foot, 95 % of the cell's width.
    (iccid,) = desk.store.conn.execute("SELECT iccid FROM esims WHERE data_used_mb = 950 AND data_total_mb = 1000"
                                       ).fetchone()
    fleet.search.setText(iccid)
    wait_until(loop, lambda: model.rowCount() == 1 and model.item(0) is not None and model.item(0).iccid == iccid)
    esim = model.item(0)
    fleet.table.clearSelection()
    fleet.table.viewport().repaint()
    image = fleet.table.viewport().grab().toImage()
    cell = fleet.table.visualRect(model.index(0, model.used_column))
    height = fleet.table.verticalHeader().defaultSectionSize()
    red = QColor(LOW_DATA_COLOR)
    y = fleet.table.rowViewportPosition(0) + height - 3
    reds = [x for x in range(cell.left(), cell.right()) if image.pixelColor(QPoint(x, y)) == red]
    assert esim.data_used_mb * 10 > esim.data_total_mb * 9
    assert reds and (reds[-1] - reds[0] + 1) == pytest.approx(cell.width() * used_fraction(esim), abs=8)


def test_the_usage_chart_draws_the_readings_and_says_when_there_are_none(qtbot):
    chart = UsageChart()
    qtbot.addWidget(chart)
    chart.resize(300, 100)
    chart.show()
    image = chart.grab().toImage()
    line = QColor(LINE_COLOR)

    def blue_rows(img) -> list[int]:
        return sorted({y for x in range(img.width()) for y in range(img.height())
                       if img.pixelColor(x, y) == line})

    assert blue_rows(image) == [] and chart.toolTip() == NO_DATA
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    chart.set_usage([(t0, 100), (t0 + timedelta(days=1), 500), (t0 + timedelta(days=2), 900)], 1000)
    image = chart.grab().toImage()
    area = chart.plot_area()
    ys = blue_rows(image)
    assert ys, "the line is drawn"
    # A rising step: the left of the line low (100 of 1000), the right high (900 of 1000).
    def line_at(x: float) -> list[int]:
        return [y for y in range(image.height()) if image.pixelColor(int(x), y) == line]

    left, middle = line_at(area.left() + 5), line_at(area.left() + area.width() * 0.75)
    assert left and middle and max(ys) > area.bottom() - area.height() * 0.15
    assert min(left) > area.bottom() - area.height() * 0.15  # 100 of 1000: near the foot
    assert area.bottom() - area.height() * 0.6 < min(middle) < area.bottom() - area.height() * 0.4  # 500
    assert min(ys) < area.top() + area.height() * 0.15  # the last reading, 900, near the top (the allowance)
    assert "3 readings" in chart.toolTip()
    chart.clear()
    assert blue_rows(chart.grab().toImage()) == []


def test_the_detail_charts_the_stored_readings_and_lists_the_vendor_events(window):
    win, loop, _server, desk = window
    fleet = win.fleet
    esim = next(e for e in desk.store.esims(vendor="roumio") if e.data_total_mb)
    t0 = datetime.now(UTC) - timedelta(days=3)
    desk.store.record_usage([Usage("roumio", esim.iccid, t0 + timedelta(days=d), 100 * (d + 1), esim.data_total_mb)
                             for d in range(3)])
    from esimdesk.domain import Event

    desk.store.add_events([Event("roumio", esim.iccid, "ESIM_INSTALLED", t0, "on <b>iPhone</b>")])
    fleet.search.setText(esim.iccid)
    wait_until(loop, lambda: fleet.model.rowCount() == 1)
    fleet.table.selectRow(0)
    loop.run_until_complete(fleet._history_task)
    stored = [(u.as_of or u.observed_at, u.data_used_mb) for u in desk.store.usage("roumio", esim.iccid)
              if u.data_used_mb is not None]
    assert fleet.chart.points == sorted(stored) and len(stored) >= 3
    assert fleet.chart.total == esim.data_total_mb
    assert "ESIM_INSTALLED: on <b>iPhone</b>" in fleet.events.toPlainText()  # plain text: the tags as typed


def topups(desk) -> list:
    return [desk.store.journal_get(jid) for (jid,) in desk.store.conn.execute(
        "SELECT id FROM journal WHERE kind = 'topup' ORDER BY id")]


def select_in_fleet(win, loop, iccid: str):
    fleet = win.fleet
    fleet.search.setText(iccid)
    wait_until(loop, lambda: fleet.model.rowCount() >= 1 and fleet.model.item(0) is not None)
    row = next(r for r in range(fleet.model.rowCount()) if fleet.model.item(r).iccid == iccid)
    fleet.table.selectRow(row)
    settle(loop, 0.05)
    assert fleet.current.iccid == iccid


def test_top_up_from_fleet_offers_only_the_compatible_plans_and_journals_the_order(window):
    win, loop, server, desk = window
    roumio = server.sandbox.vendors["roumio"]
    esim = next(e for e in desk.store.esims(vendor="roumio") if e.status.value == "ACTIVE"
                and roumio.index.get(e.iccid) and not roumio.index[e.iccid].get("doc"))
    # What the vendor itself holds compatible: top-ups of the eSIM's plan's location (the sandbox's truth).
    base = roumio.catalog.find(roumio.index[esim.iccid]["plan"])
    compatible = [p["packageCode"] for p in roumio.catalog.topups_for(base["location"])]
    assert compatible and len(compatible) < len(roumio.catalog.topups)  # a real choice among all top-ups
    select_in_fleet(win, loop, esim.iccid)
    assert win.fleet.topup_button.isEnabled()
    # The vendor takes a second to answer: the dialog is seen busy meanwhile, whatever the machine's load (a
    # quick answer on a busy machine could come before the first look).
    # In one run of the loop, as in the app: a vendor call's connection is never left half made between runs.
    seen: dict = {}

    async def ask():
        server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=1.0))
        win.fleet.topup_button.click()
        await asyncio.sleep(0.01)
        dialog = win.topup_dialog
        seen.update(shown=dialog is not None and dialog.isVisible(), busy=dialog.busy.isVisible(),
                    top_up=dialog.top_up_button.isEnabled())
        server.sandbox.faults["roumio"].clear()
        await dialog.task
        return dialog

    dialog = loop.run_until_complete(ask())
    assert seen == {"shown": True, "busy": True, "top_up": False}  # busy while the vendor is asked
    offered = [dialog.plans[i].plan_id for i in range(dialog.list.count())]
    assert offered == compatible  # exactly the vendor's compatible plans, in its order
    assert not dialog.findChildren(QLineEdit)  # no free-text plan id to fall back on
    pick = dialog.plans[-1]
    dialog.list.setCurrentRow(len(offered) - 1)
    assert dialog.top_up_button.text().endswith(f"{pick.price:.2f} {pick.currency}")
    dialog.top_up_button.click()
    order = loop.run_until_complete(win.topup_task)
    assert order is not None and order.kind == "topup"
    assert roumio.stats()["topups"] == 1
    entries = topups(desk)
    assert [(e.iccid, e.plan_id, e.state.value) for e in entries] == [(esim.iccid, pick.plan_id, "COMPLETED")]
    assert entries[0].unit_price == pick.price and entries[0].currency == pick.currency
    assert desk.store.journal_audit(reference=entries[0].reference)  # its history, as an order's
    assert "Top-up" in win.statusBar().currentMessage()


def test_top_up_says_so_when_the_esim_cannot_be_topped_up(window):
    win, loop, server, desk = window
    roamify = server.sandbox.vendors["roamify"]
    # One whose state allows a top-up (an expired one's button is off, with its reason: issue 29), whose
    # package Roamify says cannot be topped up: the vendor's own word is what this test is about.
    refused = next((e for e in desk.store.esims(vendor="roamify") if desk.topup_refusal(e) is None
                    and (v := roamify._view(iccid=e.iccid)) is not None and not v.package.top_up), None)
    if refused is None:
        pytest.skip("no Roamify eSIM without top-up in this sandbox world")
    select_in_fleet(win, loop, refused.iccid)

    async def ask():  # in one run of the loop, as in the app (see above)
        win.fleet.topup_button.click()
        await asyncio.sleep(0.01)
        await win.topup_dialog.task
        return win.topup_dialog

    dialog = loop.run_until_complete(ask())
    assert dialog.list.count() == 0 and not dialog.top_up_button.isEnabled() and not dialog.busy.isVisible()
    assert "cannot be topped up" in dialog.message.text()
    dialog.reject()
    assert loop.run_until_complete(win.topup_task) is None
    assert roamify.stats()["topups"] == 0
    assert not topups(desk)


def test_top_up_dialog_for_a_vendor_without_top_ups_asks_nobody(window):
    win, loop, server, desk = window
    from esimdesk.domain import Esim, EsimStatus
    from esimdesk.ui.topup_dialog import TopUpDialog

    esim = Esim("microesim", "8986000000000000017", EsimStatus.NEW, "allocated")
    assert not win.desk.can_top_up("microesim")
    dialog = TopUpDialog(desk, esim, win)
    plans = loop.run_until_complete(dialog.start())
    assert plans == [] and "cannot top up" in dialog.message.text() and not dialog.top_up_button.isEnabled()
    dialog.close()
