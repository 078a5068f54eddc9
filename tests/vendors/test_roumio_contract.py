"""The Roumio adapter against the Roumio simulator over real HTTP, including every fault kind."""

from __future__ import annotations

import asyncio
import itertools
import logging
from decimal import Decimal

import pytest

from esimdesk.domain import (
    EsimStatus,
    MalformedResponse,
    NotFound,
    OrderStatus,
    PriceChanged,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorError,
    VendorTimeout,
)
from esimdesk.sandbox import FAULT_KINDS, SANDBOX_CREDENTIALS, Fault, SandboxConfig, SandboxServer
from esimdesk.vendors.roumio import RoumioAdapter

KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]
_refs = itertools.count()


def ref(prefix: str = "ct") -> str:
    return f"{prefix}-{next(_refs)}"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(
        SandboxConfig(seed=7, allocation_delay=0.3, balance_cents=10_000_000), vendors=("roumio",)
    ) as srv:
        # Each test builds its own adapter (own client-side limiter), so back-to-back tests together could
        # exceed 8/s and draw the sandbox's 429 instead of the fault under test. The limit is checked on its
        # own server in test_burst_of_reads_draws_no_429.
        srv.sandbox.limiters["roumio"].limit = 1_000_000
        yield srv


@pytest.fixture
def fresh():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _no_leftover_faults(request):
    servers = [request.getfixturevalue(n) for n in ("server", "fresh") if n in request.fixturenames]
    yield
    for srv in servers:
        srv.sandbox.faults["roumio"].clear()


def adapter(srv, *, timeout: float = 2.0, key: str = KEY) -> RoumioAdapter:
    return RoumioAdapter(VendorConfig("roumio", srv.urls["roumio"], {"KEY": key}), timeout=timeout)


def stats(srv):
    return srv.sandbox.vendors["roumio"].stats()


async def poll(a: RoumioAdapter, order_id: str, reference: str | None = None, timeout: float = 5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        order = await a.get_order(order_id, reference)
        if order.status is OrderStatus.COMPLETED or loop.time() > deadline:
            return order
        await asyncio.sleep(0.15)


# --- happy paths ------------------------------------------------------------------------------------
async def test_plans_pages_and_balance(server):
    async with adapter(server) as a:
        pages = [p async for p in a.iter_plans()]
        plans = [p for page in pages for p in page]
        assert len(plans) == len(server.sandbox.vendors["roumio"].catalog.base)
        assert all(len(page) <= 500 for page in pages)
        assert len({c for p in plans if len(p.countries) == 1 for c in p.countries}) >= 100
        assert any(p.daily for p in plans) and {"regional", "global"} <= {p.region for p in plans}
        jc = next(p for p in plans if p.plan_id == "JC016")
        assert jc.price == Decimal("15.70") and jc.data_mb == 1024 and jc.topup is True
        bal = await a.get_balance()
        assert bal.amount == Decimal(stats(server)["balance_cents"]) / 100


async def test_order_poll_duplicate_and_charge(fresh):
    async with adapter(fresh) as a:
        before = (await a.get_balance()).amount
        order = await a.place_order("CKH003", 2, "dup-1")  # price looked up first
        assert order.status is OrderStatus.ALLOCATING and order.total == Decimal("19.80")
        again = await a.place_order("CKH003", 2, "dup-1", Decimal("9.90"))
        assert again.order_id == order.order_id
        done = await poll(a, order.order_id, "dup-1")
        assert done.status is OrderStatus.COMPLETED and len(done.esims) == 2
        assert {e.status for e in done.esims} == {EsimStatus.NEW}
        assert all(e.activation_code.startswith("LPA:1$") and e.vendor_ref for e in done.esims)
        assert done.reference == "dup-1" and done.lines[0].plan_id == "CKH003" and done.lines[0].quantity == 2
        assert (await a.get_balance()).amount == before - Decimal("19.80")
    s = stats(fresh)
    assert s["orders"] == 1 and s["order_requests"] == 2


async def test_price_mismatch_is_price_changed(server):
    async with adapter(server) as a:
        with pytest.raises(PriceChanged) as err:
            await a.place_order("CKH003", 1, ref(), Decimal("1.00"))
    assert err.value.code == "200005" and not err.value.maybe_sent
    async with adapter(server) as a:
        with pytest.raises(NotFound):
            await a.place_order("NO-SUCH-PLAN", 1, ref())


async def test_topup_and_lifecycle(fresh):
    async with adapter(fresh) as a:
        order = await a.place_order("CKH003", 1, "life-1", Decimal("9.90"))
        esim = (await poll(a, order.order_id)).esims[0]
        fresh.config.clock.advance(5 * 3600)
        active = await a.get_esim(esim.iccid)
        assert active.status is EsimStatus.ACTIVE and active.data_used_mb > 0 and active.installed_at
        plans = await a.list_topup_plans(esim.iccid)
        assert [p.plan_id for p in plans] == ["SM001"] and plans[0].topup is True
        top = await a.topup(esim.iccid, "SM001", "tu-1", plans[0].price, vendor_ref=esim.vendor_ref)
        assert top.kind == "topup" and top.status is OrderStatus.COMPLETED
        again = await a.topup(esim.iccid, "SM001", "tu-1", plans[0].price)  # by iccid; same transaction
        assert again.order_id == top.order_id
        after = await a.get_esim(esim.iccid)
        assert after.data_total_mb == esim.data_total_mb + 1024
        assert after.expires_at > active.expires_at
    assert stats(fresh)["topups"] == 1


async def test_list_esims_and_orders(server):
    async with adapter(server) as a:
        esims = [e async for page in a.iter_esims() for e in page]
        orders = [o async for page in a.iter_orders() for o in page]
        assert len(esims) >= 40 and len({e.iccid for e in esims}) == len(esims)
        assert sum(len(o.esims) for o in orders) == len(esims)
        assert len({o.order_id for o in orders}) == len(orders)
        assert {
            EsimStatus.NEW,
            EsimStatus.ACTIVE,
            EsimStatus.CANCELLED,
            EsimStatus.SUSPENDED,
            EsimStatus.DELETED,
            EsimStatus.EXPIRED,
            EsimStatus.DEPLETED,
        } <= {e.status for e in esims}
        with pytest.raises(NotFound):
            await a.get_esim("8949999999999999999")


async def test_order_found_by_reference(server):
    async with adapter(server) as a:
        order = await a.place_order("AZ016", 1, "by-ref-1", Decimal("4.50"))
        await poll(a, order.order_id)
        found = await a.get_order(None, "by-ref-1")
        assert found.order_id == order.order_id and found.status is OrderStatus.COMPLETED


async def test_wrong_key_is_auth_error(server):
    async with adapter(server, key="wrong-key-123") as a:
        with pytest.raises(VendorAuthError) as err:
            await a.get_balance()
    assert err.value.code == "101003" and not err.value.retryable


# --- faults on reads: one fault, then the retry recovers -----------------------------------------------
@pytest.mark.parametrize("kind", FAULT_KINDS)
async def test_read_recovers_from_one_fault(server, kind):
    seconds = 0.3 if kind == "latency" else 1.5
    server.sandbox.faults["roumio"].add(Fault(kind, endpoint="balance", times=1, seconds=seconds))
    async with adapter(server, timeout=1.0) as a:
        bal = await a.get_balance()
    assert bal.currency == "USD"
    assert not server.sandbox.faults["roumio"].list()  # the fault was used


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "latency"])
async def test_read_fails_typed_when_fault_persists(server, kind):
    server.sandbox.faults["roumio"].add(Fault(kind, endpoint="balance", times=None, seconds=1.2))
    async with adapter(server, timeout=1.0) as a:
        a.http.retries = 1
        a.http.max_backoff = 0.2
        with pytest.raises(VendorError) as err:
            await a.get_balance()
    assert err.value.retryable


# --- faults on the order: sent exactly once, typed error, maybe_sent where the answer was lost ----------
LOST_ANSWER = {
    "http_500",
    "http_503",
    "timeout",
    "drop",
    "truncated",
    "malformed",
    "html",
    "wrong_content_type",
}


@pytest.mark.parametrize("kind", FAULT_KINDS)
async def test_order_fault_after_vendor_acted_is_sent_once(server, kind):
    # latency (and a late delivery) stays under the client timeout (a late order would land in the next
    # test); timeout exceeds it
    delayed = kind in ("latency", "late")
    seconds = 0.3 if delayed else 1.2
    server.sandbox.faults["roumio"].add(
        Fault(kind, endpoint="esim/order", when="after", times=1, seconds=seconds)
    )
    before = stats(server)
    reference = ref("after")
    async with adapter(server, timeout=1.0) as a:
        if delayed:
            order = await a.place_order("AZ016", 1, reference, Decimal("4.50"))
            assert order.order_id
        else:
            with pytest.raises(VendorError) as err:
                await a.place_order("AZ016", 1, reference, Decimal("4.50"))
            if kind in LOST_ANSWER:
                assert err.value.maybe_sent, kind
            if kind == "timeout":
                assert isinstance(err.value, VendorTimeout)
            if kind == "busy":
                assert isinstance(err.value, VendorBusy)
            if kind in ("truncated", "malformed", "wrong_content_type"):
                assert isinstance(err.value, MalformedResponse)
        after = stats(server)
        assert after["order_requests"] == before["order_requests"] + 1  # never retried
        assert after["orders"] == before["orders"] + 1  # the vendor took it
        # Settling: the same transactionId returns the same order and charges nothing.
        settled = await a.place_order("AZ016", 1, reference, Decimal("4.50"))
        assert settled.order_id
        assert stats(server)["orders"] == after["orders"]
        assert stats(server)["balance_cents"] == after["balance_cents"]


@pytest.mark.parametrize("kind", [k for k in FAULT_KINDS if k != "latency"])
async def test_order_fault_before_vendor_is_sent_once(server, kind):
    injector = server.sandbox.faults["roumio"]
    injector.add(Fault(kind, endpoint="esim/order", times=None, seconds=1.2))
    seen = len([f for f in injector.injected if f["endpoint"] == "esim/order"])
    async with adapter(server, timeout=1.0) as a:
        with pytest.raises(VendorError):
            await a.place_order("AZ016", 1, ref("before"), Decimal("4.50"))
    injector.clear()
    assert len([f for f in injector.injected if f["endpoint"] == "esim/order"]) == seen + 1


# --- rate limit and secrets ------------------------------------------------------------------------
async def test_burst_of_reads_draws_no_429():
    with SandboxServer(SandboxConfig(seed=7), vendors=("roumio",)) as srv:
        limiter = srv.sandbox.limiters["roumio"]
        async with adapter(srv, timeout=5.0) as a:
            results = await asyncio.gather(*(a.get_balance() for _ in range(40)))
        assert len(results) == 40
        assert limiter.refused == 0


async def test_key_never_shows(server, caplog):
    secret = "sekret-roumio-key-0042"
    caplog.set_level(logging.DEBUG)
    a = adapter(server, key=secret)
    assert (
        secret not in repr(a)
        and secret not in str(a)
        and secret not in repr(a.http)
        and secret not in repr(a.config)
    )
    server.sandbox.faults["roumio"].add(Fault("http_500", endpoint="balance", times=1))
    async with a:
        with pytest.raises(VendorAuthError) as err:
            await a.get_balance()
    assert secret not in str(err.value) and secret not in repr(err.value)
    assert secret not in caplog.text
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
