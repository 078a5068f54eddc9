"""Roamify through the orders engine and sync over the simulator: ALLOCATING until every eSIM has ICCID and
LPA code (surviving a restart like Roumio's), travel start dates, top-ups refused in words before any
order, the incremental catalog sync and the balance."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from esimdesk.domain import OrderStatus, ValidationError
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.services.balance import fetch_balances
from esimdesk.services.orders import OrderOutcome, OrderService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory


@pytest.fixture
def world(tmp_path):
    with SandboxServer(SandboxConfig(seed=13, plans=900, esims=40, allocation_delay=0.3),
                       vendors=("roamify",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        yield server, store, accounts, tmp_path


def service(store, accounts, **kw) -> OrderService:
    kw.setdefault("poll_interval", 0.1)
    return OrderService(store, accounts, short_factory(3), settle_delay=0, resend_pause=0.05, **kw)


def ledger(server) -> list[dict]:
    return server.sandbox.vendors["roamify"].ledger()


async def test_order_is_completed_with_iccids_and_lpa_codes_stored(world):
    server, store, accounts, _ = world
    await sync_all(store, accounts, short_factory(5))
    order = await service(store, accounts).place_order("roamify", SAMPLE_PACKAGE_ID, 2)
    assert order.status is OrderStatus.COMPLETED and len(order.esims) == 2
    for esim in order.esims:
        stored = store.esim(esim.iccid, "roamify")
        assert stored.activation_code == esim.activation_code and stored.activation_code.startswith("LPA:1$")
        assert stored.install_url and stored.order_id == order.order_id
    assert len(ledger(server)) == 1


async def test_allocating_survives_a_restart_and_reconcile_finishes_it(world):
    server, store, accounts, home = world
    sim = server.sandbox.vendors["roamify"]
    await sync_all(store, accounts, short_factory(5))
    sim.config.update({"allocation_delay": 2.0})
    impatient = service(store, accounts, allocation_deadline=0.3)
    with pytest.raises(OrderOutcome, match="not ready") as outcome:
        await impatient.place_order("roamify", SAMPLE_PACKAGE_ID)
    entry = outcome.value.entry
    assert entry.state is OrderStatus.ALLOCATING and entry.order_id
    assert store.order("roamify", entry.order_id).esims == ()  # nothing to hand over yet
    later = service(open_store(home), accounts)  # "restart": a new engine, a new adapter
    [settled] = await later.reconcile()
    assert settled.state is OrderStatus.COMPLETED
    order = store.order("roamify", entry.order_id)
    assert len(order.esims) == 1 and order.esims[0].activation_code.startswith("LPA:1$")
    assert len(ledger(server)) == 1, "never ordered again"


async def test_a_travel_date_package_asks_for_the_start_date_before_any_order(world):
    server, store, accounts, _ = world
    sim = server.sandbox.vendors["roamify"]
    await sync_all(store, accounts, short_factory(5))
    travel = next(p for p in sim.catalog if p.travel_date)
    engine = service(store, accounts)
    with pytest.raises(ValidationError, match="start date: give --start-date"):
        await engine.place_order("roamify", travel.package_id)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with pytest.raises(ValidationError, match="in the past"):
        await engine.place_order("roamify", travel.package_id, start_date=yesterday)
    assert ledger(server) == [] and store.journal_unfinished() == []
    start = datetime.now(UTC).date() + timedelta(days=10)
    order = await engine.place_order("roamify", travel.package_id, start_date=start)
    assert order.status is OrderStatus.COMPLETED
    [esim_id] = [e.id for e in sim.fleet.ordered.values() if e.order_id == order.order_id]
    assert sim.fleet.ordered[esim_id].start_date == start.isoformat()


async def test_a_start_date_for_a_vendor_without_one_is_refused(tmp_path):
    with SandboxServer(SandboxConfig(seed=13, allocation_delay=0.2), vendors=("roumio",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        await sync_all(store, accounts, short_factory(5))
        plan = store.plans(vendor="roumio")[0]
        with pytest.raises(ValidationError, match="take no start date"):
            await service(store, accounts).place_order("roumio", plan.plan_id, start_date=date(2030, 1, 1))


async def test_topups_only_compatible_and_withtopup_false_refused_before_any_order(world):
    server, store, accounts, _ = world
    sim = server.sandbox.vendors["roamify"]
    engine = service(store, accounts)
    iccid = sim.known_iccids[0]
    offered = {p.package_id for p in sim.catalog.compatible_topups(sim.catalog.get(SAMPLE_PACKAGE_ID))}
    other = next(p.package_id for p in sim.catalog if p.package_id not in offered)
    with pytest.raises(ValidationError, match="does not offer top-up"):
        await engine.topup("roamify", iccid, other)
    no_topup = next(sim.known_iccids[i] for i in range(40) if not sim.fleet.seeded_package(i).top_up)
    with pytest.raises(ValidationError, match=r"cannot be topped up \(withTopUp: false\)"):
        await engine.topup("roamify", no_topup, SAMPLE_PACKAGE_ID)
    assert sim.stats()["topup_requests"] == 0 and store.journal_unfinished() == []
    order = await engine.topup("roamify", iccid, SAMPLE_PACKAGE_ID)
    assert order.kind == "topup" and order.status is OrderStatus.COMPLETED
    assert sim.stats()["topups"] == 1


def plan_rows(store) -> list[tuple]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute("SELECT plan_id, price, last_seen FROM plans WHERE vendor='roamify' "
                            "ORDER BY plan_id").fetchall()


async def test_catalog_sync_is_incremental(world):
    server, store, accounts, _ = world
    sim = server.sandbox.vendors["roamify"]
    [first] = await sync_all(store, accounts, short_factory(5))
    assert first.ok and first.plans == len(sim.catalog) == 900
    rows = plan_rows(store)
    assert len(rows) == 900
    [again] = await sync_all(store, accounts, short_factory(5))
    assert again.ok and plan_rows(store) == rows, "nothing changed: nothing written"
    sim.catalog.seed = 14  # Roamify reprices (all but the documented sample package)
    await sync_all(store, accounts, short_factory(5))
    changed = plan_rows(store)
    assert len(changed) == 900 and sum(a != b for a, b in zip(rows, changed, strict=True)) > 800
    assert {r[0]: r[1] for r in changed}[SAMPLE_PACKAGE_ID] == "5"


async def test_balance_comes_from_roamify(world):
    server, store, accounts, _ = world
    [row] = await fetch_balances(store, accounts)
    assert row.vendor == "roamify" and row.error is None
    assert row.balance.amount * 100 == server.sandbox.vendors["roamify"].balance_cents


async def test_a_lost_answer_found_by_reference_is_completed_with_its_profiles(world):
    """Found by referenceId after a lost answer: adopted, then polled for ICCIDs and codes, never ordered again."""
    from esimdesk.sandbox import Fault

    server, store, accounts, _ = world
    await sync_all(store, accounts, short_factory(5))
    server.sandbox.faults["roamify"].add(Fault("drop", endpoint="api/esim/order", when="after"))
    order = await service(store, accounts).place_order("roamify", SAMPLE_PACKAGE_ID, 2)
    assert order.status is OrderStatus.COMPLETED and len(order.esims) == 2
    assert all(e.activation_code.startswith("LPA:1$") for e in order.esims)
    assert len(ledger(server)) == 1
