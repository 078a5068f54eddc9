"""A NUL, `%` or `_` typed or pasted into a view's search box is taken literally: no exception, the table
stays usable and shows what matches."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan
from esimdesk.services.config import Accounts
from esimdesk.services.desk import Desk
from esimdesk.services.runtime import AppContext
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow


@pytest.fixture
def window(loop, qtbot, tmp_path):
    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    desk.store.upsert_plans([
        Plan("roumio", "P1", "Japan 1GB 7 Days", ("JP",), 1024, 7, Decimal("5"), "USD"),
        Plan("roumio", "P2", "Japan 50% off", ("JP",), 1024, 7, Decimal("6"), "USD"),
        Plan("roumio", "P3", "Japan a_b promo", ("JP",), 1024, 7, Decimal("7"), "USD"),
    ])
    desk.store.upsert_orders([
        Order("roumio", "B1", "shop-1", OrderStatus.COMPLETED, t0, lines=(OrderLine("P1", 1, Decimal("5")),)),
        Order("roumio", "B2", "shop_2", OrderStatus.COMPLETED, t0, lines=(OrderLine("P2", 1, Decimal("6")),)),
    ])
    desk.store.upsert_esims([Esim("roumio", f"894310817000077567{i}", EsimStatus.ACTIVE, "IN_USE/ENABLED",
                                  order_id="B1", plan_id="P1") for i in range(3)])
    win = MainWindow(ui_settings(tmp_path), desk)
    qtbot.addWidget(win)
    win.show()
    win.reload_all()
    settle(loop)
    yield win
    desk.close()


def settle(loop, seconds=0.5):
    loop.run_until_complete(asyncio.sleep(seconds))


def shown(tab) -> list:
    return [tab.model.item(r) for r in range(tab.model.rowCount())]


def test_a_nul_typed_into_each_search_box_keeps_the_table_usable(window, loop, qtbot):
    win = window
    for tab in (win.catalog, win.orders, win.fleet):
        tab.search.clear()
        qtbot.keyClicks(tab.search, "Ja")
        tab.search.insert("\x00")  # pasted with the text, or typed with Ctrl+@
        qtbot.keyClicks(tab.search, "pan")
        settle(loop)
        loop.run_until_complete(tab._load())  # what the debounce ran, once more: it must not raise
    assert "\x00" in win.catalog.search.text()
    assert sorted(p.plan_id for p in shown(win.catalog)) == ["P1", "P2", "P3"]  # "Ja\0pan" searched as "Japan"
    win.catalog.search.setText("\x00")
    settle(loop)
    assert win.catalog.model.rowCount() == 3
    win.catalog.table.selectRow(0)
    settle(loop, 0.2)
    assert win.catalog.table.selectionModel().hasSelection()
    win.catalog.sort_by(1, Qt.SortOrder.DescendingOrder)
    assert loop.errors == []


def test_percent_and_underscore_in_the_search_box_match_only_themselves(window, loop):
    win = window
    win.catalog.search.setText("%")
    settle(loop)
    assert [p.plan_id for p in shown(win.catalog)] == ["P2"]
    win.catalog.search.setText("_")
    settle(loop)
    assert [p.plan_id for p in shown(win.catalog)] == ["P3"]
    win.orders.search.setText("_")
    settle(loop)
    assert [o.order_id for o in shown(win.orders)] == ["B2"]
    assert loop.errors == []
