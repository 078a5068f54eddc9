"""Issue 26 in the window: an order told failed that a sync finds placed is said loudly (message bar and
status line); adopting an order that is not what was asked is refused in words and changes nothing."""

from __future__ import annotations

import pytest

from esimdesk.domain import OrderStatus
from esimdesk.sandbox import Fault, SandboxConfig
from esimdesk.vendors import build_adapter
from tests.ui.conftest import wait_until, window_over_sandbox

ORDER = "api/esim/order"
LOOKUPS = "api/esim/order*"


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=5, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=("roamify",)) as (win, server, desk):
        yield win, loop, server, desk


def package(server, i=3):
    return server.sandbox.vendors["roamify"].catalog.package(i).package_id


def lost_order(win, loop, server, desk, plan_id):
    faults = server.sandbox.faults["roamify"]
    faults.add(Fault("drop", endpoint=ORDER, when="after"))
    faults.add(Fault("http_503", endpoint=LOOKUPS, times=12))
    plan = desk.store.plan("roamify", plan_id)
    assert loop.run_until_complete(win.place_order(plan, 1)) is None
    faults.clear()
    [entry] = desk.store.journal_unfinished()
    assert entry.state is OrderStatus.UNCERTAIN
    return entry


async def another_desks_order(desk, plan_id):
    """An order another desk placed (its own referenceId), not in this desk's journal."""
    async with build_adapter(desk.ctx.accounts.get("roamify")) as adapter:
        return await adapter.place_order(plan_id, 1, "OTHER-DESK-REF")


def test_a_sync_from_the_window_says_loudly_that_an_order_told_failed_was_placed(window):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk, package(server))
    loop.run_until_complete(desk.abandon(entry.reference))  # the agent: "it was not placed"
    assert desk.store.journal_get(entry.id).state is OrderStatus.FAILED
    [booked] = server.sandbox.ledger("roamify")
    win.messages.dismiss()

    loop.run_until_complete(win.run_sync())
    said = win.messages.text()
    assert "an order you were told had failed was placed" in said and booked["order_id"] in said, said
    assert "told had failed" in win.statusBar().currentMessage()
    filed = desk.store.journal_get(entry.id)
    assert filed.state in (OrderStatus.COMPLETED, OrderStatus.ALLOCATING) and filed.order_id == booked["order_id"]


def test_adopting_an_order_for_another_package_is_refused_in_words(window):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk, package(server, 3))
    other = loop.run_until_complete(another_desks_order(desk, package(server, 4)))
    win.messages.dismiss()
    assert loop.run_until_complete(win.adopt(entry, other.order_id)) is None, win.messages.text()
    wait_until(loop, lambda: "not what reference" in win.messages.text(), timeout=3)
    assert "nothing was changed" in win.messages.text()
    kept = desk.store.journal_get(entry.id)
    assert kept.state is OrderStatus.UNCERTAIN and kept.order_id is None
