"""MicroESIM (issue 21): an order's activation_date and custom_email reach the vendor, are kept with the
intent (a resend after a lost answer sends the same order), and are refused in words elsewhere; its
terminate call is never guessed."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import Action, ValidationError
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.actions import ActionOutcome, ActionService
from esimdesk.services.orders import OrderService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, cli, cli_env, open_store, short_factory

SUBSCRIBE = "allesim/v1/esimSubscribe"


@pytest.fixture
def desk(tmp_path):
    with SandboxServer(SandboxConfig(seed=11, allocation_delay=0.3), vendors=("microesim", "roumio")) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        asyncio.run(sync_all(store, accounts, short_factory(10)))
        service = OrderService(store, accounts, short_factory(2), poll_interval=0.1, allocation_deadline=15,
                               settle_delay=0, resend_pause=0.05)
        yield server, store, service, accounts
        store.close()


def plan(store, vendor="microesim"):
    return min((p for p in store.plans(vendor=vendor) if p.price > 0 and not p.daily),
               key=lambda p: (p.price, p.plan_id))


def options_seen(server) -> list[dict]:
    return server.sandbox.vendors["microesim"].stats()["order_options"]


async def test_activation_date_and_email_reach_the_vendor_and_the_journal(desk):
    server, store, service, _ = desk
    when = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    order = await service.place_order("microesim", plan(store).plan_id, activation_date=when,
                                      custom_email="traveller@example.com")
    assert order.status.value == "COMPLETED"
    [seen] = options_seen(server)
    assert seen == {"topup_id": order.order_id, "activation_date": when.strftime("%Y-%m-%d %H:%M:%S"),
                    "custom_email": "traveller@example.com"}
    entry = store.journal_get(reference=order.reference)
    assert entry.activation_date == when and entry.custom_email == "traveller@example.com"


async def test_a_resend_after_a_lost_answer_carries_the_same_options(desk):
    server, store, service, _ = desk
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    server.sandbox.faults["microesim"].add(Fault("drop", endpoint=SUBSCRIBE, when="before"))
    order = await service.place_order("microesim", plan(store).plan_id, activation_date=when)
    assert server.sandbox.vendors["microesim"].stats()["order_requests"] == 1  # the lost one never arrived
    [seen] = options_seen(server)
    assert seen["topup_id"] == order.order_id and seen["activation_date"] == when.strftime("%Y-%m-%d %H:%M:%S")


async def test_options_are_refused_in_words_where_they_do_not_apply(desk):
    server, store, service, _ = desk
    with pytest.raises(ValidationError, match="Roumio takes no activation date with an order"):
        await service.place_order("roumio", plan(store, "roumio").plan_id,
                                  activation_date=datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ValidationError, match="in the past"):
        await service.place_order("microesim", plan(store).plan_id, activation_date=datetime.now(UTC) - timedelta(1))
    with pytest.raises(ValidationError, match="more than 30 days ahead"):
        await service.place_order("microesim", plan(store).plan_id, activation_date=datetime.now(UTC) + timedelta(31))
    with pytest.raises(ValidationError, match="is not an e-mail address"):
        await service.place_order("microesim", plan(store).plan_id, custom_email="nobody")
    assert store.journal_unfinished() == [] and store.counts()["journal"] == 0  # nothing recorded, nothing sent
    assert server.sandbox.vendors["microesim"].stats()["order_requests"] == 0


async def test_terminate_is_never_guessed(desk):
    server, store, service, accounts = desk
    order = await service.place_order("microesim", plan(store).plan_id)
    esim = order.esims[0]
    actions = ActionService(store, accounts, short_factory(2))
    for action in (Action.CANCEL, Action.REVOKE):
        with pytest.raises(ActionOutcome) as refused:
            await actions.run(esim.iccid, action)
        assert str(refused.value) == (
            "MicroESIM does not publish its terminate call's parameters: terminate it in MicroESIM's portal "
            f"(topup_id {order.order_id}, device_id {esim.iccid}); nothing was sent")
    assert server.sandbox.vendors["microesim"].stats()["order_requests"] == 1
    report = await actions.usage([esim.iccid])  # deviceDetail: its usage, as of when it was fetched
    assert not report.problems and report.readings[0].as_of is None and report.readings[0].when


def test_order_command_takes_activation_date_and_email(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=11, allocation_delay=0.3), vendors=("microesim",)) as server:
        env = cli_env(server, home)
        assert subprocess.run(cli("sync"), env=env, capture_output=True, timeout=120).returncode == 0
        plans = json.loads(subprocess.run(cli("plans", "--vendor", "microesim", "--json"), env=env,
                                          capture_output=True, text=True, timeout=60).stdout)
        plan_id = min((p for p in plans if float(p["price"]) > 0), key=lambda p: float(p["price"]))["plan_id"]
        day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
        res = subprocess.run(cli("order", "--vendor", "microesim", "--plan", plan_id, "--activation-date", day,
                                 "--email", "a@example.com", "--json"), env=env, capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        [seen] = options_seen(server)
        assert seen["activation_date"] == f"{day} 00:00:00" and seen["custom_email"] == "a@example.com"
        bad = subprocess.run(cli("order", "--vendor", "microesim", "--plan", plan_id, "--activation-date",
                                 "next week"), env=env, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "is not a date: use YYYY-MM-DD" in bad.stderr
