"""Issue 27's sale, as the agent makes it on the real window: "a week of data in Japan, the cheapest, in
my currency" from any tab in five interactions — Ctrl+1, type "japan 7 days 5gb", Down, Enter, pay —
and the top row really is the cheapest of every vendor once converted. Keys go to the focused widget,
as typed; nothing is set on a widget behind the agent's back."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import SandboxConfig
from esimdesk.ui.order_dialog import OrderDialog
from tests.ui.conftest import wait_until, window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=13, allocation_delay=0.3)) as (win, server, _):
        yield win, loop, server, tmp_path


class Agent:
    """Keys and clicks to whatever has the focus, each counted as the agent's interaction."""

    def __init__(self, win):
        self.win, self.steps = win, []

    def key(self, key: str) -> None:
        combo = QKeySequence(key)[0]
        self.steps.append(key)  # before: a modal dialog it opens runs (and is answered) inside the key press
        QTest.keyClick(QApplication.focusWidget() or self.win, combo.key(), combo.keyboardModifiers())

    def type(self, text: str) -> None:
        self.steps.append(f"type {text!r}")
        QTest.keyClicks(QApplication.focusWidget(), text)

    def click(self, button) -> None:
        self.steps.append(f"click {button.text()!r}")
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def cheapest_cost(home, rates) -> Decimal:
    """The lowest cost in the agent's currency among Japan's plans of at least 7 days and 5 GB, by SQL."""
    with sqlite3.connect(home / "esimdesk.sqlite3") as conn:
        rows = conn.execute("SELECT price, currency FROM plans WHERE stale = 0 AND validity_days >= 7 AND "
                            "(total_mb >= 5120 OR total_mb IS NULL) AND list_id IN "
                            "(SELECT list_id FROM coverage WHERE country = 'JP')").fetchall()
    costs = [Decimal(p) * (1 if c == rates.agent_currency else rates.get(c).rate) for p, c in rows]
    assert {c for _p, c in rows} >= {"USD", "HKD"}  # the comparison crosses currencies
    return min(costs)


def test_sell_a_week_in_japan_the_cheapest_in_five_interactions_from_any_tab(window, monkeypatch):
    win, loop, _server, home = window
    catalog = win.catalog
    wait_until(loop, lambda: catalog.pricing.currency is not None)
    dialogs: list[OrderDialog] = []
    pay = {"now": False}
    agent = None

    def shown(dialog: OrderDialog) -> QDialog.DialogCode:
        """The agent reads the dialog (one, MicroESIM's options inside) and pays, or, to go on, cancels."""
        dialogs.append(dialog)
        if pay["now"]:
            agent.click(dialog.ok_button)
            return QDialog.DialogCode(dialog.result())
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(OrderDialog, "exec", shown)
    monkeypatch.setattr("esimdesk.ui.main_window.ask_start_date", lambda *a, **k: None)
    placed: list = []
    win.orderPlaced.connect(placed.append)
    for start in (win.fleet, win.orders, win.catalog):
        win.tabs.setCurrentWidget(start)
        start.search.setText("something else")
        agent = Agent(win)
        pay["now"] = start is win.catalog
        agent.key("Ctrl+1")
        assert win.tabs.currentWidget() is catalog and catalog.search.hasFocus()
        agent.type("japan 7 days 5gb")
        wait_until(loop, lambda: catalog._query == catalog.listing_query() and catalog._task is not None
                   and catalog._task.done())
        query = catalog.listing_query()
        assert (query.country, query.min_days, query.min_data_mb, query.text) == ("JP", 7, 5120, "")
        assert "read as: Japan, at least 7 days, at least 5 GB" in catalog.count.text()
        agent.key("Down")
        top = catalog.model.item(0)
        assert catalog.table.currentIndex().row() == 0 and catalog.current == top
        cost = catalog.pricing.cost(top.price, top.currency).amount
        assert cost == cheapest_cost(home, catalog.pricing.rates)  # the top row is the cheapest of all vendors

        async def enter(agent=agent, paying=pay["now"]) -> None:
            """While the loop runs, as in the app (qasync runs Qt's event loop), until the order is placed:
            its connections live in this one run of the loop."""
            agent.key("Return")
            while paying and not placed:
                await asyncio.sleep(0.05)

        loop.run_until_complete(asyncio.wait_for(enter(), 30))
        assert dialogs[-1].offer == top
        assert len(agent.steps) == 4 + pay["now"], agent.steps
    assert agent.steps == ["Ctrl+1", "type 'japan 7 days 5gb'", "Down", "Return", f"click {dialogs[-1].ok_button.text()!r}"]
    order = placed[0]
    assert order.status is OrderStatus.COMPLETED and order.lines[0].plan_id == dialogs[-1].offer.plan_id
    assert order.esims and order.esims[0].activation_code  # the QR code's payload, in the progress window
    wait_until(loop, lambda: not win.order_progress.esims.isHidden())


def test_at_one_price_the_plan_with_more_days_then_more_data_comes_first(window):
    """The sandbox's Roumio catalog holds three Japan plans at one price (4.50 USD): after the price sort
    the one giving more days comes first, then the one giving more data, whatever the catalog's order."""
    win, loop, _server, _home = window
    catalog = win.catalog
    wait_until(loop, lambda: catalog.pricing.currency is not None)
    catalog.search.setText("japan 7 days")
    wait_until(loop, lambda: catalog._query == catalog.listing_query() and catalog._task is not None
               and catalog._task.done())
    rows = [catalog.model.item(r) for r in range(catalog.model.rowCount())]
    tied = [p for p in rows if p.vendor == "roumio" and p.price == Decimal("4.50") and p.countries == ("JP",)]
    assert [p.plan_id for p in tied] == ["JPT0510", "JPT107", "JPT057"]
    first = rows.index(tied[0])
    assert rows[first:first + 3] == tied  # side by side: one price
    for descending in (False, True):  # the other way round, the tie order turns with it
        catalog.sort_by(catalog.price_column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
        wait_until(loop, lambda: catalog._query == catalog.listing_query() and catalog._task.done())
        rows = [catalog.model.item(r) for r in range(catalog.model.rowCount())]
        order = [p.plan_id for p in rows if p.plan_id in ("JPT0510", "JPT107", "JPT057")]
        assert order == (["JPT057", "JPT107", "JPT0510"] if descending else ["JPT0510", "JPT107", "JPT057"])
