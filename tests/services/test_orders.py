"""Orders that are placed exactly once and never lost, over the sandbox with fault injection."""

from __future__ import annotations

from decimal import Decimal

import pytest

from esimdesk.domain import OrderStatus, ValidationError
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.orders import OrderOutcome, OrderService
from esimdesk.services.sync import sync_all
from tests.services.helpers import ORDERING_VENDORS, accounts_for, open_store, short_factory

ORDER_ENDPOINT = {"roumio": "esim/order", "roamify": "api/esim/order", "microesim": "allesim/v1/esimSubscribe"}


@pytest.fixture
def desk(tmp_path):
    """A fresh sandbox (ordering vendors only), a synced store and an order service with short timeouts."""
    with SandboxServer(SandboxConfig(seed=11, allocation_delay=0.3), vendors=ORDERING_VENDORS) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        service = OrderService(store, accounts, short_factory(1.5), poll_interval=0.1, allocation_deadline=15,
                               settle_delay=0, resend_pause=0.05)
        yield server, store, service, accounts


async def synced(desk):
    server, store, service, accounts = desk
    await sync_all(store, accounts, short_factory(5))
    return server, store, service


def a_plan(store, vendor: str):
    """A cheap, fixed-volume plan the vendor sells."""
    plans = [p for p in store.plans(vendor=vendor) if not p.daily and p.price > 0]
    return min(plans, key=lambda p: (p.price, p.plan_id))


async def roamify_plan_id(server) -> str:
    return server.sandbox.vendors["roamify"].catalog.package(3).package_id


def vendor_orders(server, vendor: str) -> int:
    return server.sandbox.vendors[vendor].stats()["orders"]


def order_requests(server, vendor: str) -> int:
    return server.sandbox.vendors[vendor].stats()["order_requests"]


async def plan_for(server, store, vendor):
    if vendor == "roamify":  # no plan list: a package id as the agent would paste it
        return await roamify_plan_id(server)
    return a_plan(store, vendor).plan_id


@pytest.mark.parametrize("vendor", ORDERING_VENDORS)
async def test_order_is_placed_once_and_allocated(desk, vendor):
    server, store, service = await synced(desk)
    plan_id = await plan_for(server, store, vendor)
    before = vendor_orders(server, vendor)
    order = await service.place_order(vendor, plan_id, quantity=2)
    assert order.status is OrderStatus.COMPLETED
    assert vendor_orders(server, vendor) == before + 1
    entry = store.journal_get(reference=order.reference)
    assert entry.state is OrderStatus.COMPLETED and entry.order_id == order.order_id
    states = [e.to_state for e in store.journal_audit(entry.id)]
    assert states[0] == "PENDING" and states[-1] == "COMPLETED"
    if vendor != "roamify":  # Roamify's documented answers carry no ICCIDs
        assert len(order.esims) == 2 and all(e.activation_code for e in order.esims)
    listed = store.orders(search=order.reference)
    assert [o.status for o in listed] == [OrderStatus.COMPLETED]


FAULTS = [
    pytest.param(Fault("timeout", when="before", seconds=4), id="timeout-before-vendor-recorded"),
    pytest.param(Fault("timeout", when="after", seconds=4), id="timeout-after-vendor-recorded"),
    pytest.param(Fault("http_500", when="before"), id="500-before"),
    pytest.param(Fault("http_500", when="after"), id="500-after"),
    pytest.param(Fault("http_503", when="after"), id="503-after"),
    pytest.param(Fault("malformed", when="after"), id="malformed-body"),
    pytest.param(Fault("truncated", when="after"), id="truncated-body"),
    pytest.param(Fault("drop", when="after"), id="dropped-connection"),
    pytest.param(Fault("drop", when="before"), id="dropped-before"),
]


@pytest.mark.parametrize("vendor", ORDERING_VENDORS)
@pytest.mark.parametrize("fault", FAULTS)
async def test_fault_matrix_ends_with_exactly_one_order(desk, vendor, fault):
    server, store, service = await synced(desk)
    plan_id = await plan_for(server, store, vendor)
    before = vendor_orders(server, vendor)
    fault.endpoint = ORDER_ENDPOINT[vendor]
    server.sandbox.faults[vendor].add(fault)
    try:
        order = await service.place_order(vendor, plan_id)
        reference = order.reference
    except OrderOutcome as outcome:
        assert outcome.entry.state in (OrderStatus.UNCERTAIN, OrderStatus.FAILED), outcome
        assert "Traceback" not in str(outcome)
        reference = outcome.entry.reference
        if outcome.entry.state is OrderStatus.UNCERTAIN:
            assert "money may have been spent" in str(outcome) and "reconcile" in str(outcome)
        await service.reconcile(vendor, may_send=True)
    entry = store.journal_get(reference=reference)
    if vendor == "roamify" and fault.when == "before":
        # Roamify finds orders by our referenceId: "none under it" settles the entry as not placed.
        assert entry.state is OrderStatus.FAILED, (entry.state, entry.last_error)
        assert vendor_orders(server, vendor) == before, "FAILED must mean the vendor has no order"
        return
    # Everything else ends with the one order: the same handle resent (Roumio, MicroESIM), or the order
    # Roamify holds under our referenceId adopted.
    assert vendor_orders(server, vendor) == before + 1, "the vendor must end with exactly one order"
    assert entry.state is OrderStatus.COMPLETED, (entry.state, entry.last_error)
    assert [o.status for o in store.orders(search=reference)] == [OrderStatus.COMPLETED]


async def test_invalid_iccid_is_refused_before_any_vendor_call(desk):
    server, store, service = await synced(desk)
    before = order_requests(server, "roumio")
    with pytest.raises(ValidationError, match="check digit"):
        await service.topup("roumio", "89852246280001113119", "ANY")
    assert order_requests(server, "roumio") == before
    assert store.journal_unfinished() == []


async def test_unknown_plan_is_refused_in_one_sentence(desk):
    server, store, service = await synced(desk)
    before = order_requests(server, "roumio")
    with pytest.raises(ValidationError, match="no plan 'NOPE-1'"):
        await service.place_order("roumio", "NOPE-1")
    assert order_requests(server, "roumio") == before


async def test_insufficient_balance_names_both_amounts_and_sends_nothing(tmp_path):
    with SandboxServer(SandboxConfig(seed=11, allocation_delay=0.2, balance_cents=100), vendors=("roumio",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        await sync_all(store, accounts, short_factory(5))
        service = OrderService(store, accounts, short_factory(2))
        plan = a_plan(store, "roumio")
        with pytest.raises(ValidationError) as err:
            await service.place_order("roumio", plan.plan_id, quantity=3)
        text = str(err.value)
        assert "1.00 USD" in text and f"{plan.price * 3:.2f}" in text
        assert server.sandbox.vendors["roumio"].stats()["order_requests"] == 0


async def test_changed_price_is_reported_with_the_new_price_and_nothing_charged(desk):
    server, store, service = await synced(desk)
    plan = a_plan(store, "roumio")
    from dataclasses import replace

    store.upsert_plans([replace(plan, price=plan.price - Decimal("1.00"))])  # the cache is out of date
    with pytest.raises(OrderOutcome) as outcome:
        await service.place_order("roumio", plan.plan_id)
    assert outcome.value.entry.state is OrderStatus.FAILED
    assert f"now {plan.price:.2f} USD" in str(outcome.value) and "Nothing was charged" in str(outcome.value)
    assert vendor_orders(server, "roumio") == 0
    assert store.plan("roumio", plan.plan_id).price == plan.price  # refreshed


async def test_same_reference_twice_is_refused_locally(desk):
    server, store, service = await synced(desk)
    plan = a_plan(store, "microesim")
    await service.place_order("microesim", plan.plan_id, reference="CUST-42")
    with pytest.raises(ValidationError, match="already used"):
        await service.place_order("microesim", plan.plan_id, reference="CUST-42")
    assert vendor_orders(server, "microesim") == 1


async def test_allocating_survives_a_restart_and_reconcile_finishes_it(tmp_path):
    with SandboxServer(SandboxConfig(seed=11, allocation_delay=3.0), vendors=("roumio",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        await sync_all(store, accounts, short_factory(5))
        impatient = OrderService(store, accounts, short_factory(2), poll_interval=0.2, allocation_deadline=0.5)
        with pytest.raises(OrderOutcome, match="not ready") as outcome:
            await impatient.place_order("roumio", a_plan(store, "roumio").plan_id)
        assert outcome.value.entry.state is OrderStatus.ALLOCATING
        later = OrderService(open_store(tmp_path), accounts, short_factory(2), poll_interval=0.2)  # "restart"
        [entry] = await later.reconcile()
        assert entry.state is OrderStatus.COMPLETED
        assert server.sandbox.vendors["roumio"].stats()["orders"] == 1


async def test_microesim_duplicate_without_the_order_id_stays_uncertain_with_the_reason(desk):
    """If MicroESIM only says "custom_order_no already exists", the order was taken: never FAILED, never resent."""
    server, store, service = await synced(desk)
    plan = a_plan(store, "microesim")
    # times=2: the send and the command's one resend with the same handle both lose their answers.
    server.sandbox.faults["microesim"].add(Fault("drop", endpoint=ORDER_ENDPOINT["microesim"], when="after", times=2))
    with pytest.raises(OrderOutcome) as lost:
        await service.place_order("microesim", plan.plan_id)
    assert lost.value.entry.state is OrderStatus.UNCERTAIN
    server.sandbox.vendors["microesim"].name_duplicates = False
    [entry] = await service.reconcile("microesim", may_send=True)
    assert entry.state is OrderStatus.UNCERTAIN
    assert "already holds this reference" in store.journal_audit(entry.id)[-1].cause
    assert vendor_orders(server, "microesim") == 1


async def test_roumio_topup_offers_only_the_vendors_topup_plans_and_goes_through_the_journal(desk):
    server, store, service = await synced(desk)
    from esimdesk.domain import is_valid_iccid

    esim = next(e for e in store.esims(vendor="roumio") if is_valid_iccid(e.iccid) and e.status.value in
                ("NEW", "INSTALLED", "ACTIVE"))
    stats = server.sandbox.vendors["roumio"].stats
    with pytest.raises(ValidationError, match="does not offer top-up") as refused:
        await service.topup("roumio", esim.iccid, "NOT-A-TOPUP")
    assert "it offers:" in str(refused.value) and stats()["topups"] == 0
    from esimdesk.vendors import build_adapter

    async with build_adapter(service.accounts["roumio"], timeout=5) as adapter:
        offered = await adapter.list_topup_plans(esim.iccid)
    order = await service.topup("roumio", esim.iccid, offered[0].plan_id)
    assert order.kind == "topup" and order.status is OrderStatus.COMPLETED
    assert stats()["topups"] == 1
    entry = store.journal_get(reference=order.reference)
    assert entry.kind == "topup" and entry.iccid == esim.iccid and entry.state is OrderStatus.COMPLETED


async def test_roumio_topup_with_a_lost_answer_is_settled_by_its_transaction_id(desk):
    server, store, service = await synced(desk)
    from esimdesk.domain import is_valid_iccid
    from esimdesk.vendors import build_adapter

    esim = next(e for e in store.esims(vendor="roumio") if is_valid_iccid(e.iccid) and e.status.value in
                ("NEW", "INSTALLED", "ACTIVE"))
    async with build_adapter(service.accounts["roumio"], timeout=5) as adapter:
        plan_id = (await adapter.list_topup_plans(esim.iccid))[0].plan_id
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/topup", when="after", times=2))
    with pytest.raises(OrderOutcome, match="money may have been spent"):
        await service.topup("roumio", esim.iccid, plan_id)
    [still] = await service.reconcile("roumio")  # as after a sync: never sends
    assert still.state is OrderStatus.UNCERTAIN and server.sandbox.vendors["roumio"].stats()["topups"] == 1
    [entry] = await service.reconcile("roumio", may_send=True)
    assert entry.state is OrderStatus.COMPLETED, store.journal_audit(entry.id)
    assert server.sandbox.vendors["roumio"].stats()["topups"] == 1


async def test_a_resend_that_cannot_reach_the_vendor_leaves_a_lost_order_uncertain_never_failed(desk):
    """The first send was placed and paid but its answer was lost; "Reconcile now" then resends while the
    vendor cannot be reached. That resend says nothing of the first: the order stays UNCERTAIN (it was
    recorded FAILED, "nothing was charged"), and settles once the vendor answers again."""
    from dataclasses import replace

    server, store, service = await synced(desk)
    accounts = desk[3]
    plan = a_plan(store, "microesim")
    server.sandbox.faults["microesim"].add(Fault("drop", endpoint=ORDER_ENDPOINT["microesim"], when="after", times=2))
    with pytest.raises(OrderOutcome) as lost:
        await service.place_order("microesim", plan.plan_id)
    assert lost.value.entry.state is OrderStatus.UNCERTAIN and vendor_orders(server, "microesim") == 1
    unreachable = [replace(a, base_url="http://127.0.0.1:9") if a.vendor == "microesim" else a for a in accounts]
    offline = OrderService(store, unreachable, short_factory(1.5), poll_interval=0.1, settle_delay=0, resend_pause=0.05)
    after = await offline.reconcile_one(lost.value.entry.reference, may_send=True)
    assert after.state is OrderStatus.UNCERTAIN
    assert store.journal_audit(after.id)[-1].cause.startswith("resend not taken")
    with pytest.raises(OrderOutcome, match="may have been placed and paid"):  # what the CLI's resend says
        await offline.resend(after.reference)
    assert store.journal_get(after.id).state is OrderStatus.UNCERTAIN
    [entry] = await service.reconcile("microesim", may_send=True)  # the vendor reachable again
    assert entry.state is OrderStatus.COMPLETED and vendor_orders(server, "microesim") == 1
