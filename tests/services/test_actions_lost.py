"""Support actions as safe as orders: journaled before they are sent, a lost answer settled by reading
the eSIM's status (never by sending again), a vendor refusal in words, a refund in the balance."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from esimdesk.domain import Action, OrderStatus
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.actions import ActionOutcome, ActionService
from esimdesk.services.orders import OrderService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory


@pytest.fixture
def desk(tmp_path):
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        asyncio.run(sync_all(store, accounts, short_factory(10)))
        yield server, store, accounts
        store.close()


def make(desk, **kw) -> ActionService:
    _, store, accounts = desk
    opts = {"settle_pause": 0.05, "settle_delay": 0} | kw
    return ActionService(store, accounts, short_factory(1.5), **opts)


def new_esim(store):
    return next(e for e in store.esims(vendor="roumio") if e.vendor_status == "GOT_RESOURCE/RELEASED")


def roumio(server):
    return server.sandbox.vendors["roumio"]


def cancels(server) -> list[dict]:
    return [a for a in roumio(server).stats()["actions"] if a["action"] == "cancel"]


async def test_cancel_refunds_the_price_to_the_balance_once(desk):
    server, store, _ = desk
    esim = new_esim(store)
    price = store.plan("roumio", esim.plan_id).price
    before = roumio(server).stats()["balance_cents"]
    result = await make(desk).run(esim.iccid, Action.CANCEL)
    assert result.entry.amount == price
    assert roumio(server).stats()["balance_cents"] == before + int(price * 100)
    assert result.balance.amount == Decimal(before + int(price * 100)) / 100
    assert store.balances("roumio")[0].amount == result.balance.amount  # what 'balance' shows offline
    assert f"{price:.2f} USD refunded to the Roumio balance" in result.message


async def test_cancel_whose_answer_is_lost_is_settled_by_status_not_resent(desk):
    server, store, _ = desk
    esim = new_esim(store)
    before = roumio(server).stats()["balance_cents"]
    roumio_faults = server.sandbox.faults["roumio"]
    roumio_faults.add(Fault("drop", endpoint="esim/cancel", when="after"))  # the vendor acts, the answer is lost
    result = await make(desk).run(esim.iccid, Action.CANCEL)
    assert result.entry.state is OrderStatus.COMPLETED
    assert "its answer was lost; the eSIM's status confirms it" in result.message
    assert len(cancels(server)) == 1  # exactly one request reached the vendor
    price = store.plan("roumio", esim.plan_id).price
    assert roumio(server).stats()["balance_cents"] == before + int(price * 100)  # refunded once
    lines = store.esim_history("roumio", esim.iccid)
    assert [ln.to_state for ln in lines] == ["PENDING", "UNCERTAIN", "COMPLETED"]
    assert lines[1].cause.startswith("answer lost")
    assert "shows it done (CANCEL/RELEASED)" in lines[2].cause


async def test_cancel_that_never_reached_the_vendor_is_settled_as_not_done(desk):
    server, store, _ = desk
    esim = new_esim(store)
    server.sandbox.faults["roumio"].add(Fault("http_500", endpoint="esim/cancel", when="before"))
    with pytest.raises(ActionOutcome) as lost:
        await make(desk).run(esim.iccid, Action.CANCEL)
    assert "the cancel was not done and nothing changed" in str(lost.value)
    assert lost.value.entry.state is OrderStatus.FAILED
    assert cancels(server) == []  # and nothing was sent again
    assert store.esim(esim.iccid).vendor_status == "GOT_RESOURCE/RELEASED"


async def test_an_unsettled_cancel_blocks_a_second_one_until_the_status_tells(desk):
    server, store, _ = desk
    esim = new_esim(store)
    # No answer at all (the request may still be on its way): the status cannot tell yet.
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/cancel", when="before"))
    slow = make(desk, settle_delay=0.6)
    with pytest.raises(ActionOutcome) as lost:
        await slow.run(esim.iccid, Action.CANCEL)
    assert "may or may not have been done; do NOT send it again" in str(lost.value)
    assert lost.value.entry.state is OrderStatus.UNCERTAIN
    with pytest.raises(ActionOutcome, match="is not confirmed yet; nothing was sent"):
        await slow.run(esim.iccid, Action.CANCEL)
    assert cancels(server) == []
    await asyncio.sleep(0.7)  # past the time the lost request could still arrive
    result = await slow.run(esim.iccid, Action.CANCEL)  # settles the first as not done, then sends once
    assert result.entry.state is OrderStatus.COMPLETED
    assert len(cancels(server)) == 1
    states = [(ln.entry_id, ln.to_state) for ln in store.esim_history("roumio", esim.iccid)]
    first, second = lost.value.entry.id, result.entry.id
    assert states == [(first, "PENDING"), (first, "UNCERTAIN"), (first, "FAILED"), (second, "PENDING"),
                      (second, "COMPLETED")]


async def test_settle_reads_status_and_never_sends(desk):
    server, store, _ = desk
    esim = new_esim(store)
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/cancel", when="after"))

    def on_send(progress) -> None:
        # The settling read right after the loss fails too: the entry stays UNCERTAIN for later.
        if progress.message.startswith("sending"):
            server.sandbox.faults["roumio"].add(Fault("http_503", endpoint="esim/query", when="before", times=10))

    svc = make(desk, settle_delay=30, settle_pause=0, progress=on_send)
    with pytest.raises(ActionOutcome, match="may or may not have been done"):
        await svc.run(esim.iccid, Action.CANCEL)
    server.sandbox.faults["roumio"].clear()
    assert store.actions_unfinished("roumio")[0].state is OrderStatus.UNCERTAIN
    [settled] = await svc.settle()
    assert settled.state is OrderStatus.COMPLETED
    assert len(cancels(server)) == 1


async def test_vendor_refusal_200002_is_said_in_words(desk):
    """A daily plan does not take SMS in the sandbox: the status allows the SMS, Roumio refuses it."""
    server, store, accounts = desk
    daily = min((p for p in store.plans(vendor="roumio") if p.daily), key=lambda p: p.price)
    orders = OrderService(store, accounts, short_factory(3), poll_interval=0.1, allocation_deadline=15)
    order = await orders.place_order("roumio", daily.plan_id)
    iccid = order.esims[0].iccid
    server.config.clock.advance(3 * 3600)  # the customer installs it and starts using it
    with pytest.raises(ActionOutcome) as refused:
        await make(desk).run(iccid, Action.SMS, "hello")
    text = str(refused.value)
    assert "Roumio refused to sms eSIM" in text
    assert "does not allow this in the order's or eSIM's current status" in text
    assert "an SMS needs an installed profile and a plan that takes SMS" in text
    assert refused.value.entry.state is OrderStatus.FAILED
    assert roumio(server).stats()["sms_outbox"] == []
    assert store.esim_history("roumio", iccid)[-1].cause.startswith("Roumio refused")


async def test_lost_sms_waits_for_the_agent_and_is_never_resent(desk):
    server, store, _ = desk
    active = next(e for e in store.esims(vendor="roumio") if e.vendor_status == "IN_USE/ENABLED")
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/sendSms", when="after"))
    svc = make(desk)
    with pytest.raises(ActionOutcome, match="ask the customer whether it arrived"):
        await svc.run(active.iccid, Action.SMS, "hi")
    await svc.settle()
    assert len(roumio(server).stats()["sms_outbox"]) == 1
    [entry] = store.actions_unfinished("roumio", active.iccid)
    assert entry.state is OrderStatus.UNCERTAIN


async def test_an_action_whose_process_died_mid_send_is_settled_by_status(desk):
    """Killed after the journal counted the send, before the answer: the next action on the eSIM reads
    its status first (here the vendor did cancel it) instead of sending again."""
    import socket

    from esimdesk.vendors import build_adapter

    server, store, accounts = desk
    esim = new_esim(store)
    entry = store.action_create(vendor="roumio", iccid=esim.iccid, action=Action.CANCEL, cause="the agent asked")
    dead = f"{socket.gethostname()}:999999999:gone"  # no such process on this machine
    assert store.action_claim(entry.id, dead, lease_seconds=600, sending=True).attempts == 1
    async with build_adapter(accounts[0], timeout=3) as adapter:
        await adapter.esim_action(esim, Action.CANCEL)  # what the dead process had sent
    with pytest.raises(ActionOutcome, match="cancel refused: this eSIM is cancelled"):
        await make(desk).run(esim.iccid, Action.CANCEL)
    assert len(cancels(server)) == 1
    states = [(ln.to_state, ln.cause) for ln in store.esim_history("roumio", esim.iccid)]
    assert states[1] == ("UNCERTAIN", "the sending process stopped before the answer")
    assert states[2][0] == "COMPLETED" and "shows it done" in states[2][1]


async def test_an_action_recorded_but_never_sent_is_closed_as_not_sent(desk):
    server, store, _ = desk
    esim = new_esim(store)
    entry = store.action_create(vendor="roumio", iccid=esim.iccid, action=Action.CANCEL, cause="the agent asked")
    [closed] = await make(desk).settle("roumio")
    assert closed.id == entry.id and closed.state is OrderStatus.FAILED and closed.last_error == "never sent"
    assert cancels(server) == []


async def test_asked_to_slow_down_the_action_is_sent_once_more_after_the_status_shows_it_undone(desk):
    """HTTP 429 (e.g. the window's sync, in its own process, used Roumio's 8 a second): the status shows the
    eSIM unchanged, so the cancel goes out once more after a pause, journaled anew, and is done once."""
    server, store, _ = desk
    esim = new_esim(store)
    server.sandbox.faults["roumio"].add(Fault("http_429", endpoint="esim/cancel", when="before", times=1))
    result = await make(desk).run(esim.iccid, Action.CANCEL)
    assert result.entry.state is OrderStatus.COMPLETED
    assert len(cancels(server)) == 1
    states = [ln.to_state for ln in store.esim_history("roumio", esim.iccid)]
    assert "FAILED" in states and states[-1] == "COMPLETED"  # the refused try, then the one that was done


async def test_asked_to_slow_down_twice_the_action_is_not_sent_a_third_time(desk):
    server, store, _ = desk
    esim = new_esim(store)
    server.sandbox.faults["roumio"].add(Fault("http_429", endpoint="esim/cancel", when="before", times=2))
    with pytest.raises(ActionOutcome, match="the cancel was not done and nothing changed"):
        await make(desk).run(esim.iccid, Action.CANCEL)
    assert cancels(server) == []
    assert server.sandbox.faults["roumio"].list() == []  # both 429s were used: two sends, no third
