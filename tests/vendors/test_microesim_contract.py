"""MicroESIM adapter against the MicroESIM simulator over real HTTP, including every fault kind."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from esimdesk.domain import (
    EsimStatus,
    NotFound,
    OrderStatus,
    VendorAuthError,
    VendorConfig,
    VendorError,
)
from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.faults import FAULT_KINDS, Fault
from esimdesk.vendors.microesim import MicroesimAdapter
from esimdesk.vendors.microesim_auth import derive_key

CREDS = SANDBOX_CREDENTIALS["microesim"]


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("microesim",)) as srv:
        yield srv


@pytest.fixture
def fresh():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("microesim",)) as srv:
        yield srv


def make(srv: SandboxServer, timeout: float = 2.0, **secrets) -> MicroesimAdapter:
    adapter = MicroesimAdapter(
        VendorConfig("microesim", srv.urls["microesim"], dict(CREDS) | secrets), timeout=timeout
    )
    adapter.http.backoff = 0.05  # quick retries; the sandbox's Retry-After (1 s) still applies
    return adapter


async def poll(adapter: MicroesimAdapter, order_id: str, reference: str | None = None):
    for _ in range(40):
        order = await adapter.get_order(order_id, reference)
        if order.status is OrderStatus.COMPLETED:
            return order
        await asyncio.sleep(0.1)
    raise AssertionError("order never completed")


async def test_plans_page_to_the_end(server):
    async with make(server) as adapter:
        adapter.page_size = 70
        pages = [page async for page in adapter.iter_plans()]
        plans = [p for page in pages for p in page]
    assert len(pages) == 5 and len(plans) == 300 and len({p.plan_id for p in plans}) == 300
    assert len({c for p in plans for c in p.countries}) >= 100
    assert {p.region for p in plans} >= {None, "regional", "global"}
    assert any(p.daily for p in plans) and any(p.data_mb is None for p in plans)
    assert all(p.currency == "HKD" and isinstance(p.price, Decimal) for p in plans)


async def test_whole_list_matches_paging(server):
    async with make(server) as adapter:
        assert [p.plan_id for p in await adapter.list_all_plans()] == [
            p.plan_id for p in await adapter.list_plans()
        ]


async def test_order_poll_esims_usage_and_events(fresh):
    async with make(fresh) as adapter:
        before = await adapter.get_balance()
        plan = (await adapter.list_plans())[7]
        order = await adapter.place_order(plan.plan_id, 2, "ref-contract-1", plan.price)
        assert (
            order.status is OrderStatus.ALLOCATING and order.order_id and order.reference == "ref-contract-1"
        )
        assert (await adapter.get_order(order.order_id)).status is OrderStatus.ALLOCATING
        done = await poll(adapter, order.order_id, "ref-contract-1")
        assert len(done.esims) == 2 and all(e.activation_code.startswith("LPA:1$") for e in done.esims)
        after = await adapter.get_balance()
        assert after.amount == before.amount - 2 * plan.price
        iccid = done.esims[0].iccid
        esim = await adapter.get_esim(iccid)
        assert esim.status is EsimStatus.NEW and esim.data_used_mb == 0 and esim.order_id == order.order_id
        fresh.config.clock.advance(2 * 3600)
        esim = await adapter.get_esim(iccid)
        assert esim.status in (EsimStatus.ACTIVE, EsimStatus.DEPLETED) and esim.data_used_mb > 0
        assert [e.kind for e in await adapter.esim_events(iccid)] == ["DOWNLOADED", "INSTALLED", "ENABLE"]


async def test_repeated_reference_never_creates_a_second_order(fresh):
    async with make(fresh) as adapter:
        plan_id = (await adapter.list_plans())[8].plan_id
        first = await adapter.place_order(plan_id, 1, "ref-dup")
        again = await adapter.place_order(plan_id, 1, "ref-dup")
    assert again.order_id == first.order_id
    stats = fresh.sandbox.vendors["microesim"].stats()
    assert stats["orders"] == 1 and stats["order_requests"] == 2


async def test_unknown_order_and_device_are_not_found(server):
    async with make(server) as adapter:
        with pytest.raises(NotFound):
            await adapter.get_order("202401010000009999999999")
        with pytest.raises(NotFound):
            await adapter.get_esim("8900000000000000000")


async def test_seeded_fleet_is_readable(server):
    sim = server.sandbox.vendors["microesim"]
    async with make(server) as adapter:
        statuses = {(await adapter.get_esim(iccid)).status for iccid in sim.known_devices[2:18]}
        order = await adapter.get_order(sim.known_orders[1])
    assert {EsimStatus.NEW, EsimStatus.INSTALLED, EsimStatus.EXPIRED, EsimStatus.DELETED} <= statuses
    assert order.status is OrderStatus.COMPLETED and order.esims[0].iccid == sim.known_devices[2]


async def test_bad_credentials_are_an_auth_error(server, caplog):
    caplog.set_level(logging.DEBUG)
    async with make(server, SECRET="not-the-secret") as adapter:
        with pytest.raises(VendorAuthError) as err:
            await adapter.get_balance()
    key = derive_key("not-the-secret", CREDS["SALT"])
    for text in (str(err.value), caplog.text, repr(adapter)):
        assert "not-the-secret" not in text and key not in text and CREDS["SALT"] not in text


READ_FAULTS = list(FAULT_KINDS)


@pytest.mark.parametrize("kind", READ_FAULTS)
async def test_read_faults_recover_or_fail_typed(server, kind):
    seconds = {"latency": 0.3, "late": 0.3, "timeout": 3.0}.get(kind)
    server.sandbox.faults["microesim"].add(Fault(kind, endpoint="allesim/v1/accountBalance", seconds=seconds))
    async with make(server, timeout=1.0) as adapter:
        try:
            balance = await adapter.get_balance()
        except VendorError as err:  # a typed failure is acceptable; anything else is not
            assert err.vendor == "microesim"
        else:
            assert balance.currency == "HKD"
    server.sandbox.faults["microesim"].clear()


@pytest.mark.parametrize("kind", READ_FAULTS)
async def test_order_is_sent_exactly_once_under_every_fault(fresh, kind):
    seconds = {"latency": 0.2, "late": 0.2, "timeout": 3.0}.get(kind)
    async with make(fresh, timeout=1.0) as adapter:
        plan_id = (await adapter.list_plans())[9].plan_id
        # "after": the vendor takes the order and the answer is lost, so order_requests counts every send
        # (a "before" fault would answer in the vendor's place and the simulator would never see it).
        delayed = kind in ("latency", "late")  # delivered a little late: the vendor answers in time
        when = "before" if delayed else "after"
        fault = Fault(kind, endpoint="allesim/v1/esimSubscribe", seconds=seconds, when=when)
        fresh.sandbox.faults["microesim"].add(fault)
        try:
            order = await adapter.place_order(plan_id, 1, f"ref-{kind}")
        except VendorError as err:
            assert err.vendor == "microesim"
            if kind != "http_429":  # a real 429 means "not taken"; here it is faked after the fact
                assert err.maybe_sent
        else:
            assert delayed and order.order_id
    assert fresh.sandbox.vendors["microesim"].stats()["order_requests"] == 1


async def test_order_answer_lost_after_the_vendor_acted_is_recovered_by_reference(fresh):
    async with make(fresh, timeout=1.0) as adapter:
        plan_id = (await adapter.list_plans())[9].plan_id
        fresh.sandbox.faults["microesim"].add(
            Fault("drop", endpoint="allesim/v1/esimSubscribe", when="after")
        )
        with pytest.raises(VendorError) as err:
            await adapter.place_order(plan_id, 1, "ref-lost")
        assert err.value.maybe_sent
        # The orders service settles an uncertain order by re-sending the same reference.
        again = await adapter.place_order(plan_id, 1, "ref-lost")
    stats = fresh.sandbox.vendors["microesim"].stats()
    assert again.order_id and stats["orders"] == 1 and stats["order_requests"] == 2
