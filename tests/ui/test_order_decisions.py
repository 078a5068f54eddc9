"""The agent's decisions in the Orders tab (adopt, send again, abandon) and a failed background job."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import Fault, SandboxConfig
from tests.ui.conftest import window_over_sandbox

ORDER = "allesim/v1/esimSubscribe"


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=5, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=("microesim",)) as (win, server, desk):
        yield win, loop, server, desk


def settle(loop, seconds=0.4):
    loop.run_until_complete(asyncio.sleep(seconds))


def lost_order(win, loop, server, desk):
    """An order whose answer is lost twice (the send and the one resend): UNCERTAIN, shown in Orders."""
    plan = min((p for p in desk.store.plans(vendor="microesim") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    server.sandbox.faults["microesim"].add(Fault("drop", endpoint=ORDER, when="after", times=2))
    assert loop.run_until_complete(win.place_order(plan, 1)) is None
    assert "may have been placed" in win.messages.text()  # the message bar, until the agent closes it
    [entry] = desk.store.journal_unfinished()
    assert entry.state is OrderStatus.UNCERTAIN
    win.tabs.setCurrentWidget(win.orders)
    win.orders.search.setText(entry.reference)
    settle(loop)
    win.orders.table.selectRow(0)
    settle(loop)
    return entry


def test_lost_order_offers_the_three_decisions_and_adopt_settles_it(window, monkeypatch):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk)
    assert win.orders.decision.isVisible()
    assert win.orders.entry is not None and win.orders.entry.reference == entry.reference
    [booked] = server.sandbox.ledger("microesim")
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (booked["order_id"], True)))
    win.orders.adopt_button.click()
    for _ in range(20):
        settle(loop, 0.25)
        if desk.store.journal_get(entry.id).state is OrderStatus.COMPLETED:
            break
    done = desk.store.journal_get(entry.id)
    assert done.state is OrderStatus.COMPLETED and done.order_id == booked["order_id"]
    assert len(server.sandbox.ledger("microesim")) == 1
    win.orders.table.selectRow(0)
    settle(loop)
    assert not win.orders.decision.isVisible()  # nothing left to decide


def test_abandon_from_the_orders_tab(window, monkeypatch):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    win.orders.abandon_button.click()
    settle(loop, 0.6)
    assert desk.store.journal_get(entry.id).state is OrderStatus.FAILED
    assert "abandoned" in win.statusBar().currentMessage()


def test_a_sync_that_fails_unexpectedly_says_so_and_frees_the_window(window, monkeypatch):
    win, loop, server, desk = window

    async def broken(progress=None, finished=None, notice=None):
        progress and progress(type("P", (), {"vendor": "microesim", "stage": "orders", "done": 32, "total": None})())
        raise RuntimeError("UNIQUE constraint failed: orders.vendor, orders.order_id")

    monkeypatch.setattr(desk, "sync", broken)  # a bug in a background job, as issue 18 saw
    loop.run_until_complete(win.run_sync())
    assert "Sync failed" in win.statusBar().currentMessage()
    said = win.messages.text()  # in words, not a traceback
    assert "failed unexpectedly (RuntimeError)" in said and "Traceback" not in said and "UNIQUE" not in said
    assert win.sync_action.isEnabled() and not win.progress.isVisible() and not win.cancel_button.isVisible()
