"""One support action at a time per eSIM (issue 26 case 5), as the service says it: a second action while
another is in progress is refused in words with the first one's start (HH:MM, the agent's local time) and
its desk, and nothing is sent; the first one is never touched by the refused one."""

from __future__ import annotations

import asyncio
import os
import re
import socket

import pytest

from esimdesk.domain import Action, OrderStatus
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.actions import ActionOutcome, ActionService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory

WORDS = re.compile(r"another (\w+) on this eSIM is in progress since (\d\d:\d\d) \(desk (\w+)\): nothing was sent")


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
    return ActionService(store, accounts, short_factory(5), **({"settle_pause": 0.05, "settle_delay": 0} | kw))


def unused(store, n: int = 1):
    return [e for e in store.esims(vendor="roumio") if e.vendor_status == "GOT_RESOURCE/RELEASED"][:n]


def cancels(server) -> list[dict]:
    return [a for a in server.sandbox.vendors["roumio"].stats()["actions"] if a["action"] == "cancel"]


async def test_a_cancel_recorded_by_another_process_between_the_check_and_the_record_wins(desk):
    """The old race, made deterministic: this service has found no earlier action and is reading the status
    when another process records its cancel. The store refuses this one's record: nothing is sent from here."""
    server, store, _ = desk
    [esim] = unused(store)
    other = f"{socket.gethostname()}:{os.getpid()}:other2"  # a live process, not this service
    theirs = []

    def meanwhile(progress) -> None:
        if progress.message.startswith("reading") and not theirs:
            theirs.append(store.action_create(vendor="roumio", iccid=esim.iccid, action=Action.CANCEL,
                                              cause="the agent asked", owner=other, lease_seconds=120))

    with pytest.raises(ActionOutcome) as refused:
        await make(desk, progress=meanwhile).run(esim.iccid, Action.CANCEL)
    m = WORDS.fullmatch(str(refused.value))
    assert m, str(refused.value)
    [first] = theirs
    assert m.groups() == ("cancel", first.created_at.astimezone().strftime("%H:%M"), first.desk_id)
    assert refused.value.entry is None  # nothing was recorded for it
    assert cancels(server) == []  # and nothing sent
    assert {h.entry_id for h in store.esim_history("roumio", esim.iccid)} == {first.id}
    assert store.action_get(first.id).state is OrderStatus.PENDING  # theirs is left to them


async def test_an_action_being_sent_by_another_process_is_left_alone(desk):
    """Another live process holds a PENDING cancel (it is sending it): a second one is refused in words, and
    the first is neither settled nor marked anything by the refused one."""
    server, store, _ = desk
    [esim] = unused(store)
    other = f"{socket.gethostname()}:{os.getpid()}:other1"  # a live process, not this service
    entry = store.action_create(vendor="roumio", iccid=esim.iccid, action=Action.CANCEL, cause="the agent asked",
                                owner=other, lease_seconds=120)
    store.action_claim(entry.id, other, lease_seconds=120, sending=True)
    with pytest.raises(ActionOutcome) as refused:
        await make(desk).run(esim.iccid, Action.REVOKE)
    since = entry.created_at.astimezone().strftime("%H:%M")
    assert str(refused.value) == (f"another cancel on this eSIM is in progress since {since} "
                                  f"(desk {entry.desk_id}): nothing was sent")
    assert store.action_get(entry.id).state is OrderStatus.PENDING
    assert [h.to_state for h in store.esim_history("roumio", esim.iccid)] == ["PENDING"]
    assert server.sandbox.vendors["roumio"].stats()["actions"] == []


async def test_a_lost_sms_left_to_the_agent_does_not_hold_up_the_esim(desk):
    server, store, _ = desk
    active = next(e for e in store.esims(vendor="roumio") if e.vendor_status == "IN_USE/ENABLED")
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/sendSms", when="after"))
    with pytest.raises(ActionOutcome, match="ask the customer whether it arrived"):
        await make(desk).run(active.iccid, Action.SMS, "hi")
    result = await make(desk).run(active.iccid, Action.SUSPEND)
    assert result.entry.state is OrderStatus.COMPLETED
