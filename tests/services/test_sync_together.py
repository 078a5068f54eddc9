"""A vendor's catalog and its fleet are read together, a listing's write and its usage requests too, and a
catalog seen before is only compared (issue 28)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

import esimdesk.services.sync as sync_module
from esimdesk.domain import Order, OrderStatus
from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.domain.states import UNFINISHED
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.store.sqlite_store import SqliteStore
from esimdesk.vendors import build_adapter
from tests.services.helpers import accounts_for, open_store, short_factory


@pytest.fixture
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3, plans=1500, esims=300)) as srv:
        yield srv


def only(accounts, vendor: str):
    return [a for a in accounts if a.vendor == vendor]


async def test_a_vendors_fleet_is_read_while_its_catalog_is_still_coming(server, tmp_path):
    store = open_store(tmp_path)
    roamify = only(accounts_for(server, tmp_path), "roamify")
    [first] = await sync_all(store, roamify, short_factory(10))
    assert first.ok and first.refresh is not None and first.refresh.planned > 0
    # Every catalog page now takes 1.5 s: the catalog alone takes longer than the eSIM listing and usage.
    server.sandbox.faults["roamify"].add(Fault("latency", endpoint="api/esim/packages", seconds=1.5, times=None))
    seen: dict[str, float] = {}
    t0 = time.monotonic()

    def progress(p) -> None:
        seen[p.stage] = time.monotonic() - t0  # when each stage last reported

    every_esim_due = RefreshPolicy(refresh_hours=0.0001)
    [again] = await sync_all(store, roamify, short_factory(10), progress=progress, policy=every_esim_due)
    assert again.ok, again.error
    assert again.refresh.refreshed > 0
    # Read one after the other, the usage refresh began only after the last catalog page.
    assert seen["refresh"] < seen["plans"] - 1.0, seen
    assert seen["esims"] < seen["plans"] - 1.0, seen


@pytest.mark.parametrize("failing", ["api/esim/packages", "api/esims"])
async def test_the_catalog_or_the_fleet_failing_stops_the_other_and_says_why(server, tmp_path, failing):
    store = open_store(tmp_path)
    roamify = only(accounts_for(server, tmp_path), "roamify")
    [first] = await sync_all(store, roamify, short_factory(10))
    assert first.ok
    counts = store.counts()
    # The other half is slow, so it is still running when this one fails.
    other = "api/esims" if failing == "api/esim/packages" else "api/esim/packages"
    server.sandbox.faults["roamify"].add(Fault("latency", endpoint=other, seconds=3.0, times=None))
    server.sandbox.faults["roamify"].add(Fault("http_500", endpoint=failing, times=None))
    t0 = time.monotonic()
    [failed] = await sync_all(store, roamify, short_factory(10))
    assert not failed.ok
    assert "Roamify" in failed.problem and "server is failing" in failed.problem, failed.problem
    assert time.monotonic() - t0 < 20  # the slow half was stopped, not waited for page after page
    assert store.counts() == counts  # the cached rows are kept
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("SELECT count(*) FROM sync_runs WHERE finished_at IS NULL").fetchone()[0] == 0


def plan_rows(store, vendor: str) -> list[tuple]:
    with sqlite3.connect(store.path) as conn:
        return conn.execute("SELECT plan_id, price, last_seen, stale FROM plans WHERE vendor = ? ORDER BY plan_id",
                            (vendor,)).fetchall()


@pytest.mark.parametrize("vendor", ["roumio", "microesim"])
async def test_a_catalog_found_as_it_was_writes_nothing(server, tmp_path, vendor):
    store = open_store(tmp_path)
    accounts = only(accounts_for(server, tmp_path), vendor)
    [first] = await sync_all(store, accounts, short_factory(10))
    assert first.ok and first.plans > 500
    rows = plan_rows(store, vendor)
    assert len(rows) == first.plans
    [again] = await sync_all(store, accounts, short_factory(10))
    assert again.ok and again.plans == first.plans
    assert plan_rows(store, vendor) == rows, "nothing changed: no plan row written (not even its last_seen)"


class TimedRequests(httpx.AsyncHTTPTransport):
    """A real transport that notes when each request went out (monotonic seconds, last path segment)."""

    def __init__(self, sent: list[tuple[float, str]]):
        super().__init__()
        self.sent = sent

    async def handle_async_request(self, request):
        self.sent.append((time.monotonic(), request.url.path.rsplit("/", 1)[-1]))
        return await super().handle_async_request(request)


class SlowDiskStore(SqliteStore):
    """A real store on a slow disk: each write of a listing's eSIMs takes a second longer. Notes when each
    write of listed eSIMs ended and when each refreshed batch was recorded."""

    def __init__(self, path):
        super().__init__(path)
        self.slow = False
        self.listing_written: list[float] = []
        self.answers_written: list[float] = []

    def upsert_esims(self, esims, seen=None, **kw):
        started = time.monotonic()
        written = super().upsert_esims(esims, seen, **kw)
        if self.slow and all(e.data_used_mb is None for e in esims):  # Roamify lists no usage
            time.sleep(1.0)
            self.listing_written.append(time.monotonic())
        elif self.slow:
            self.answers_written.append(started)
        return written


async def test_usage_is_asked_while_the_listing_is_written_and_written_after_it(server, tmp_path):
    store = SlowDiskStore(tmp_path / "esimdesk.sqlite3")
    sent: list[tuple[float, str]] = []
    roamify = only(accounts_for(server, tmp_path), "roamify")

    def factory(cfg):
        return build_adapter(cfg, timeout=10, transport=TimedRequests(sent))

    [first] = await sync_all(store, roamify, factory)
    assert first.ok and first.refresh.refreshed > 0  # a first listing: written, then planned and read
    store.slow, sent[:] = True, []
    # Every eSIM due, 20 read (a second's budget): all answered well before the listing's slow write ends.
    [again] = await sync_all(store, roamify, factory, policy=RefreshPolicy(refresh_hours=0.0001, target_seconds=1))
    assert again.ok and again.refresh.refreshed > 0
    assert store.listing_written and store.answers_written
    usage_asked = [t for t, path in sent if path == "usage"]
    assert usage_asked and min(usage_asked) < store.listing_written[-1] - 0.5  # asked during the slow write
    assert min(store.answers_written) >= store.listing_written[-1]  # written only after the listing
    store.close()


async def test_a_first_listing_is_planned_as_listed_and_its_usage_asked_while_it_is_written(server, tmp_path):
    """A vendor's first listing (nothing of it stored to rank) is ranked as listed (domain/refresh.py plan_unstored):
    its usage requests need not wait for the listing's write either, which a first sync's four catalogs hold up."""
    store = SlowDiskStore(tmp_path / "esimdesk.sqlite3")
    store.slow = True
    sent: list[tuple[float, str]] = []
    roamify = only(accounts_for(server, tmp_path), "roamify")

    def factory(cfg):
        return build_adapter(cfg, timeout=10, transport=TimedRequests(sent))

    [first] = await sync_all(store, roamify, factory, policy=RefreshPolicy(target_seconds=1))
    assert first.ok and first.refresh.refreshed == first.refresh.planned > 0
    usage_asked = [t for t, path in sent if path == "usage"]
    assert usage_asked and min(usage_asked) < store.listing_written[-1] - 0.5  # asked during the slow write
    assert min(store.answers_written) >= store.listing_written[-1]  # written only after the listing
    # Recorded as asked (after the listing's rows were there to record it on): the next plan leaves them for later.
    asked = store.conn.execute("SELECT count(*) FROM esims WHERE vendor = 'roamify' AND refreshed_at IS NOT NULL")
    assert asked.fetchone()[0] == first.refresh.planned
    store.close()


class SlowAnswersStore(SqliteStore):
    """A real store whose first record of answered eSIMs, once armed, takes a second longer (the one writer
    busy elsewhere). ``write_began`` is set when that write starts."""

    def __init__(self, path):
        super().__init__(path)
        self.armed = False
        self.slow_write: list[float] = []
        self.write_began = threading.Event()

    def mark_refreshed(self, vendor, iccids, at):
        if self.armed and not self.slow_write:
            self.slow_write.append(time.monotonic())
            self.write_began.set()
            time.sleep(1.0)
            self.slow_write.append(time.monotonic())
        return super().mark_refreshed(vendor, iccids, at)


class HeldAfterFirstBatch(httpx.AsyncHTTPTransport):
    """A real transport that notes when each eSIM detail request went out, answers the first ``first`` of them
    at once and holds every later one until the slow write has begun: whatever the machine's speed, requests
    remain to be sent while that write runs."""

    def __init__(self, sent: list[float], began: threading.Event, first: int):
        super().__init__()
        self.sent, self.began, self.first = sent, began, first

    async def handle_async_request(self, request):
        if request.url.path.endswith("deviceDetail"):
            self.sent.append(time.monotonic())
            deadline = time.monotonic() + 20
            while len(self.sent) > self.first and not self.began.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # polled: a thread waiting would take one the store's write needs
            await asyncio.sleep(0.05)  # a vendor's answer time (the sandbox answers at once)
        return await super().handle_async_request(request)


async def test_requests_go_on_while_a_batch_of_answers_is_written(server, tmp_path, monkeypatch):
    monkeypatch.setattr(sync_module, "REFRESH_BATCH", 5)
    store = SlowAnswersStore(tmp_path / "esimdesk.sqlite3")
    sent: list[float] = []
    # MicroESIM keeps no eSIM list: its refresh waits for no listing's write, only for its own answers.
    microesim = only(accounts_for(server, tmp_path), "microesim")

    def factory(cfg):
        return build_adapter(cfg, timeout=30, transport=HeldAfterFirstBatch(sent, store.write_began, 5))

    # A desk that placed the sandbox's MicroESIM orders: its first sync brings them and their eSIMs.
    known = server.sandbox.vendors["microesim"].known_orders
    store.upsert_orders([Order("microesim", o, None, OrderStatus.ALLOCATING, datetime.now(UTC)) for o in known])
    [first] = await sync_all(store, microesim, short_factory(10))
    assert first.ok, first.error
    # No order left to settle: the first record of answers the next sync makes is its refresh's first batch.
    assert not store.orders("microesim", statuses=UNFINISHED)
    with store.transaction() as conn:  # as a desk that has not asked about them on their own yet
        conn.execute("UPDATE esims SET refreshed_at = NULL")
    store.armed = True
    before = datetime.now(UTC).isoformat()
    thirty = RefreshPolicy(target_seconds=3)  # 30 eSIMs: 20 requests a second, two an eSIM
    [again] = await sync_all(store, microesim, factory, policy=thirty)
    assert again.ok, again.error
    assert again.refresh.refreshed == again.refresh.planned > 3 * sync_module.REFRESH_CONCURRENCY
    began, ended = store.slow_write
    # Before, the loop awaited each batch's write: no request went out until the write had ended.
    assert [t for t in sent if began < t < ended], "the requests waited for the write of the answers before them"
    asked = store.conn.execute("SELECT count(*) FROM esims WHERE vendor = 'microesim' AND refreshed_at >= ?",
                               (before,)).fetchone()[0]
    assert asked == again.refresh.planned  # every batch recorded, the slow one too
    store.close()
