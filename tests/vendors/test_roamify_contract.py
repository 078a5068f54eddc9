"""Roamify adapter against the Roamify simulator over real HTTP, including every fault kind."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import NotFound, OrderStatus, VendorAuthError, VendorConfig, VendorError, VendorRejected
from esimdesk.sandbox import FAULT_KINDS, Fault, SandboxConfig, SandboxServer
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.vendors.roamify import RoamifyAdapter, plans_from_orders
from tests.conftest import vendor_config

SAMPLE_ORDER_ID = "67bbabb7-e893-410a-b0a8-4fa62d347b6c"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as srv:
        yield srv


@pytest.fixture
def sim(server):
    server.sandbox.faults["roamify"].clear()
    return server.sandbox.vendors["roamify"]


def make(server, timeout: float = 2.0) -> RoamifyAdapter:
    a = RoamifyAdapter(vendor_config(server, "roamify"), timeout=timeout)
    a.http.backoff = 0.05  # keep fault tests short; Retry-After still applies
    return a


async def test_order_then_poll_until_completed(server, sim):
    async with make(server) as a:
        order = await a.place_order(SAMPLE_PACKAGE_ID, 2, "ref-1")
        assert order.status is OrderStatus.ALLOCATING and order.reference == "ref-1"
        assert order.lines[0].quantity == 2 and order.total == 2 * order.lines[0].unit_price
        for _ in range(40):
            got = await a.get_order(order.order_id, "ref-1")
            if got.status is OrderStatus.COMPLETED:
                break
            await asyncio.sleep(0.05)
        assert got.status is OrderStatus.COMPLETED and got.reference == "ref-1"


async def test_list_orders_and_plans_from_history(server, sim):
    async with make(server) as a:
        pages = [page async for page in a.iter_orders()]
        orders = pages[0]
        assert any(o.order_id == SAMPLE_ORDER_ID for o in orders)
        plans = plans_from_orders(orders)
        assert any(p.plan_id == SAMPLE_PACKAGE_ID for p in plans)
        assert all(p.countries or p.region for p in plans)


async def test_topup_known_and_unknown(server, sim):
    async with make(server) as a:
        order = await a.topup(sim.known_iccids[0], SAMPLE_PACKAGE_ID, "t-1")
        assert order.kind == "topup" and order.order_id
        with pytest.raises(NotFound):
            await a.topup("8900000000000000001", SAMPLE_PACKAGE_ID, "t-2")


async def test_unknown_package_is_rejected(server, sim):
    async with make(server) as a:
        with pytest.raises(VendorRejected) as info:
            await a.place_order("esim-atlantis-7days-1gb-all", 1, "r")
        assert "not found" in str(info.value)


async def test_bad_token_is_auth_error_and_never_leaks(server, sim, caplog):
    secret = "very-secret-roamify-token-42"
    cfg = VendorConfig("roamify", server.urls["roamify"], {"TOKEN": secret})
    caplog.set_level(logging.DEBUG)
    async with RoamifyAdapter(cfg, timeout=2) as a:
        assert secret not in repr(a) and secret not in str(cfg)
        with pytest.raises(VendorAuthError) as info:
            await a.get_order(SAMPLE_ORDER_ID)
        with pytest.raises(VendorAuthError):
            await a.place_order(SAMPLE_PACKAGE_ID, 1, "r")
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert secret not in caplog.text


@pytest.mark.parametrize("kind", FAULT_KINDS)
async def test_every_fault_on_a_read_recovers_or_fails_typed(server, sim, kind):
    server.sandbox.faults["roamify"].add(
        Fault(kind, endpoint="api/esim/order", seconds=2.5 if kind == "timeout" else 0.3)
    )
    async with make(server, timeout=1.0) as a:
        try:
            order = await a.get_order(SAMPLE_ORDER_ID)
        except VendorError:
            pytest.fail(f"{kind}: a single fault on a read should be retried away")
        assert order.order_id == SAMPLE_ORDER_ID


@pytest.mark.parametrize("kind", ["http_500", "busy", "malformed", "html", "truncated"])
async def test_persistent_faults_on_a_read_fail_typed(server, sim, kind):
    server.sandbox.faults["roamify"].add(Fault(kind, endpoint="api/esim/orders", times=None))
    try:
        async with make(server, timeout=1.0) as a:
            a.http.retries = 1
            with pytest.raises(VendorError):
                await a.list_orders()
    finally:
        server.sandbox.faults["roamify"].clear()


@pytest.mark.parametrize("kind", ["drop", "timeout", "http_500", "malformed", "truncated", "html"])
async def test_lost_order_answer_is_sent_once_and_reconcilable(server, sim, kind):
    server.sandbox.faults["roamify"].add(Fault(kind, endpoint="api/esim/order", when="after", seconds=2.0))
    before = sim.stats()
    since = datetime.now(UTC) - timedelta(seconds=1)
    async with make(server, timeout=1.0) as a:
        with pytest.raises(VendorError) as info:
            await a.place_order(SAMPLE_PACKAGE_ID, 3, f"lost-{kind}")
        assert info.value.maybe_sent is True
        after = sim.stats()
        assert after["order_requests"] == before["order_requests"] + 1  # never retried
        assert after["orders"] == before["orders"] + 1  # the vendor did act
        found = await a.find_orders(SAMPLE_PACKAGE_ID, 3, since, datetime.now(UTC), f"lost-{kind}")
        assert found, "reconciliation must find the order in GET /api/esim/orders"
        by_reference = await a.order_by_reference(f"lost-{kind}")
        assert by_reference is not None and by_reference.order_id == found[0].order_id


@pytest.mark.parametrize("kind", ["http_429", "http_503", "busy"])
async def test_refused_order_before_acting_is_not_retried(server, sim, kind):
    server.sandbox.faults["roamify"].add(Fault(kind, endpoint="api/esim/order"))
    before = sim.stats()
    async with make(server, timeout=1.0) as a:
        with pytest.raises(VendorError):
            await a.place_order(SAMPLE_PACKAGE_ID, 1, "r")
    after = sim.stats()
    assert after["orders"] == before["orders"]
    assert after["order_requests"] == before["order_requests"]  # the fault answered, the vendor never saw it
