"""The Roamify adapter's current-API operations against the Roamify simulator over real HTTP: the paged
catalog, profile generation (apply timing out and recovered by esimId), the fleet with usage, compatible
top-ups, balance and share links."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from esimdesk.domain import EsimStatus, OrderStatus, ValidationError
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.sandbox.roamify_packages import MAX_PAGE_SIZE
from esimdesk.vendors.roamify import RoamifyAdapter
from esimdesk.vendors.roamify_esims import NO_USAGE
from tests.conftest import vendor_config


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=9, plans=1234, esims=60, allocation_delay=0.3),
                       vendors=("roamify",)) as srv:
        yield srv


@pytest.fixture
def sim(server):
    s = server.sandbox.vendors["roamify"]
    server.sandbox.faults["roamify"].clear()
    s.config.update({"allocation_delay": 0.3})
    s.apply_hold = 60.0
    return s


class CountingTransport(httpx.AsyncHTTPTransport):
    """Real HTTP, each request's path noted: what a sync costs the vendor, in requests."""

    def __init__(self, paths: list[str]):
        super().__init__()
        self.paths = paths

    async def handle_async_request(self, request):
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


def make(server, **kw) -> RoamifyAdapter:
    kw.setdefault("timeout", 5.0)
    return RoamifyAdapter(vendor_config(server, "roamify"), **kw)


async def until_completed(a: RoamifyAdapter, order_id: str, seconds: float = 10.0):
    seen = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while True:
        got = await a.get_order(order_id)
        seen.append(got)
        if got.status is OrderStatus.COMPLETED or loop.time() > end:
            return seen
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("page_size", [97, MAX_PAGE_SIZE, 5000])  # 5000: above the vendor's silent cap
async def test_the_whole_paged_catalog_arrives(server, sim, page_size):
    async with make(server, page_size=page_size) as a:
        pages = [page async for page in a.iter_plans()]
    plans = [p for page in pages for p in page]
    assert len(plans) == len({p.plan_id for p in plans}) == len(sim.catalog) == 1234
    assert len(pages) >= 2
    by_id = {p.plan_id: p for p in plans}
    sample = by_id[SAMPLE_PACKAGE_ID]
    assert sample.countries == ("KH",) and sample.price == Decimal("5") and sample.data_mb == 1024
    assert sample.validity_days == 7 and sample.currency == "USD"
    for pkg in list(sim.catalog)[:300]:
        plan = by_id[pkg.package_id]
        assert plan.data_mb == pkg.data_mb and plan.daily == pkg.daily and plan.validity_days == pkg.days
        assert plan.price == Decimal(str(pkg.price))
        if len(pkg.countries) == 1:
            assert plan.countries == pkg.countries and plan.region is None
        else:  # a region, listed under a code another country has ("AF", "AS", ...): its signals decide
            assert set(plan.countries) == set(pkg.countries) and plan.region in ("regional", "global")


async def test_balance_is_roamifys_and_an_order_charges_it(server, sim):
    async with make(server) as a:
        before = await a.get_balance()
        assert before.amount == Decimal(sim.balance_cents) / 100 and before.currency == "USD"
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 1, "bal-1")
        assert (await a.get_balance()).amount == before.amount - placed.total


async def test_order_completes_only_with_every_iccid_and_lpa_code(server, sim):
    async with make(server) as a:
        before = sim.stats()
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 3, "ord-3")
        assert placed.status is OrderStatus.ALLOCATING and placed.esims == ()
        seen = await until_completed(a, placed.order_id)
    done = seen[-1]
    assert done.status is OrderStatus.COMPLETED
    assert all(o.status is OrderStatus.ALLOCATING for o in seen[:-1])
    assert len(done.esims) == 3 and len({e.iccid for e in done.esims}) == 3
    for esim in done.esims:
        assert esim.activation_code.startswith("LPA:1$") and esim.order_id == placed.order_id
        assert esim.plan_id == SAMPLE_PACKAGE_ID and esim.install_url.startswith("https://esimsetup.apple.com/")
    after = sim.stats()
    assert after["order_requests"] == before["order_requests"] + 1
    assert after["applies"] == before["applies"] + 1  # one apply, by referenceId, for the whole order


async def test_apply_timing_out_is_recovered_by_esim_id_never_by_ordering_again(server, sim):
    sim.config.update({"allocation_delay": 1.2})
    async with make(server, apply_timeout=0.3) as a:
        before = sim.stats()
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 2, "slow-1")
        first = await a.get_order(placed.order_id)  # apply times out: still allocating
        assert first.status is OrderStatus.ALLOCATING and first.esims == ()
        seen = await until_completed(a, placed.order_id)
    assert seen[-1].status is OrderStatus.COMPLETED and len(seen[-1].esims) == 2
    after = sim.stats()
    assert after["order_requests"] == before["order_requests"] + 1, "never ordered again"
    assert after["applies"] == before["applies"] + 1, "asked by esimId after the timeout, not applied again"


async def test_still_pending_processing_is_polled_and_a_restarted_adapter_recovers(server, sim):
    sim.config.update({"allocation_delay": 1.0})
    sim.apply_hold = 0.1  # Roamify answers "eSIM is still pending processing" before the profile is ready
    async with make(server) as a:
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 1, "pending-1")
        assert (await a.get_order(placed.order_id)).status is OrderStatus.ALLOCATING
    async with make(server) as restarted:  # a new process: it applies once more, gets "pending", then polls
        seen = await until_completed(restarted, placed.order_id)
    assert seen[-1].status is OrderStatus.COMPLETED and seen[-1].esims[0].activation_code


async def test_the_fleet_lists_every_esim_and_usage_reads_the_installed_ones(server, sim):
    """/api/esims lists every eSIM (one request, no usage: issue 28); usage() then reads, one request each,
    the usage of the installed eSIMs whose package reports it, making them ACTIVE or DEPLETED by it."""
    paths: list[str] = []
    async with make(server, transport=CountingTransport(paths)) as a:
        pages = [page async for page in a.iter_esims()]
        esims = [e for page in pages for e in page]
        iccids = {e.iccid for e in esims}
        assert set(sim.known_iccids) <= iccids and len(iccids) == len(esims)
        assert len({e.status for e in esims}) >= 3
        assert all(e.data_used_mb is None for e in esims)  # the listing carries no usage
        installed = [e for e in esims if e.status is EsimStatus.INSTALLED]
        assert len(paths) == 1 and paths[0].endswith("/api/esims")  # the whole fleet in one request
        paths.clear()
        readings = await a.usage(installed)
        asked = len(paths)
        assert all(p.endswith("/api/esim/usage") for p in paths)
    reporting = [e for e in installed if NO_USAGE not in e.vendor_status]
    assert asked == len(reporting)  # one request an installed eSIM that reports usage, none for the others
    by_iccid = {u.iccid: u for u in readings}
    assert [u.iccid for u in readings] == [e.iccid for e in installed]
    used = [by_iccid[e.iccid] for e in reporting if by_iccid[e.iccid].data_used_mb]
    assert used and all(u.data_total_mb for u in used)
    quiet = [by_iccid[e.iccid] for e in installed if NO_USAGE in e.vendor_status]
    assert quiet and all(u.data_used_mb is None and u.note for u in quiet)
    assert all(e.expires_at is not None for e in esims)


async def test_usage_grows_between_two_looks(server, sim):
    def room(i: int) -> bool:  # installed, reports usage, far from its cap
        view = sim.fleet.seeded_view(i, sim.now(), sim.config.usage_mb_per_hour)
        return (view.status == "INSTALLED" and view.package.usage_check and view.package.data_mb is not None
                and view.allowed_mb - view.used_mb > 1000)

    iccid = next(sim.known_iccids[i] for i in range(60) if room(i))
    async with make(server) as a:
        first = await a.get_esim(iccid)
        sim.clock.advance(7200)
        try:
            later = await a.get_esim(iccid)
        finally:
            sim.clock.advance(-7200)
    assert later.data_used_mb > first.data_used_mb and later.data_total_mb == first.data_total_mb


async def test_topups_offered_are_roamifys_compatible_ones(server, sim):
    async with make(server) as a:
        offered = await a.list_topup_plans(sim.known_iccids[0])
        assert offered and all(p.topup is True and p.plan_id.startswith("esim-cambodia-") for p in offered)
        assert {p.plan_id for p in offered} == {p.package_id for p in sim.catalog.compatible_topups(
            sim.catalog.get(SAMPLE_PACKAGE_ID))}
        no_topup = next(sim.known_iccids[i] for i in range(60) if not sim.fleet.seeded_package(i).top_up)
        with pytest.raises(ValidationError, match="withTopUp: false"):
            await a.list_topup_plans(no_topup)


async def test_share_link_with_access_code(server, sim):
    async with make(server) as a:
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 1, "link-1")
        done = (await until_completed(a, placed.order_id))[-1]
        link = await a.share_link(done.esims[0].iccid)
    assert link.url.startswith("https://") and len(link.access_code) == 4 and link.iccid == done.esims[0].iccid


async def test_needs_start_date_is_asked_live(server, sim):
    travel = next(p for p in sim.catalog if p.travel_date)
    async with make(server) as a:
        assert await a.needs_start_date(travel.package_id) is True
        assert await a.needs_start_date(SAMPLE_PACKAGE_ID) is False
        with pytest.raises(ValidationError, match="no longer lists"):
            await a.needs_start_date("esim-nowhere-1days-1gb-all")
