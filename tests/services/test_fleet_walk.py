"""Issue 28: Flexiroam's fleet listing is a chain of pages (each needs the last one's page_key), so its time
grows with the fleet whatever the vendor's capacity. A routine sync walks its budget's share and saves where
it stopped; the next goes on from there; the walk that reaches the last page marks stale what its whole
cycle did not list. A vendor's first listing is walked whole. The sandbox over real HTTP, a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from esimdesk.domain import Esim, EsimStatus
from esimdesk.domain.refresh import FleetWalk, RefreshPolicy
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.services.sync_words import refresh_sentence
from esimdesk.store.refresh import save_fleet_walk_in
from esimdesk.vendors import build_adapter
from tests.services.helpers import TWO_PAGES, accounts_for, open_store, sync_cancelled_when
from tests.services.helpers import sync_walking_two_pages as sync

PAGES = 5  # the sandbox's Flexiroam pages hold 100 eSIMs
GONE = "89852000000000999995"  # a row this desk holds that the vendor no longer lists


class Keys(httpx.AsyncHTTPTransport):
    """The page_key each list-inventory request carried (None: the first page)."""

    def __init__(self, keys: list):
        super().__init__()
        self.keys = keys

    async def handle_async_request(self, request):
        if request.url.path.endswith("list-inventory"):
            self.keys.append(request.url.params.get("page_key"))
        return await super().handle_async_request(request)


@pytest.fixture
def flexiroam(tmp_path):
    with SandboxServer(SandboxConfig(seed=4, esims=PAGES * 100 - 50), vendors=("flexiroam",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        keys: list = []

        def factory(cfg):
            adapter = build_adapter(cfg, timeout=10, transport=Keys(keys))
            adapter.requests_per_second = 0.2  # with target_seconds 10 below: a budget of 2 pages a sync
            return adapter

        yield store, accounts, factory, keys, server
        store.close()




def test_the_first_listing_is_walked_whole_then_each_sync_walks_its_share_from_where_the_last_stopped(flexiroam):
    store, accounts, factory, keys, _ = flexiroam
    first = sync(store, accounts, factory)
    assert first.walk.complete and first.walk.pages == PAGES and first.walk.budget == 0  # unbounded: the first
    assert len(store.esims(vendor="flexiroam")) == first.esims > 350  # its eSIMs (it lists SIM cards too)
    assert store.fleet_walk("flexiroam") is None and keys[0] is None and len(set(keys)) == PAGES
    walked_first = list(keys)

    store.upsert_esims([Esim("flexiroam", GONE, EsimStatus.ACTIVE, "ACTIVE")])
    keys.clear()
    second = sync(store, accounts, factory)
    assert second.walk.pages == 2 and not second.walk.complete and not second.walk.resumed
    assert keys == walked_first[:2]
    saved = store.fleet_walk("flexiroam")
    assert saved.key == walked_first[2]  # where the third page starts
    assert "checked this sync (2 pages of its listing); the next sync goes on from there" in refresh_sentence(second)
    assert not _stale(store, GONE)  # a cycle not complete says nothing of what it has not reached

    third = sync(store, accounts, factory)
    assert third.walk.resumed and third.walk.pages == 2 and keys == walked_first[:4]
    assert store.fleet_walk("flexiroam").cycle_started == saved.cycle_started  # the same cycle goes on
    fourth = sync(store, accounts, factory)
    assert fourth.walk.complete and fourth.walk.pages == 1 and keys == walked_first  # no page twice, none left out
    assert refresh_sentence(fourth) is None
    assert store.fleet_walk("flexiroam") is None  # the next sync starts over at the first page
    assert _stale(store, GONE)  # listed by none of the cycle's pages
    assert not any(_stale(store, e.iccid) for e in store.esims(vendor="flexiroam") if e.iccid != GONE)
    keys.clear()
    fifth = sync(store, accounts, factory)
    assert keys == walked_first[:2] and not fifth.walk.resumed


def test_a_page_key_the_vendor_refuses_starts_the_walk_over(flexiroam):
    store, accounts, factory, keys, _ = flexiroam
    sync(store, accounts, factory)
    with store.transaction() as conn:
        save_fleet_walk_in(conn, "flexiroam", FleetWalk("not-a-key-it-gave", datetime(2026, 1, 1, tzinfo=UTC).isoformat()))
    keys.clear()
    again = sync(store, accounts, factory)
    assert keys[:2] == ["not-a-key-it-gave", None] and again.walk.pages == 2 and not again.walk.resumed
    walk = store.fleet_walk("flexiroam")
    assert walk.key is not None and walk.cycle_started > datetime(2026, 1, 1, tzinfo=UTC).isoformat()


def test_a_cancelled_first_listing_goes_on_from_its_last_written_page(flexiroam):
    store, accounts, factory, keys, server = flexiroam
    from esimdesk.sandbox import Fault

    # Pages a fifth of a second apart: each is written on its own before the next comes.
    server.sandbox.faults["flexiroam"].add(Fault("latency", endpoint="*", times=None, seconds=0.2))

    sync_cancelled_when(store, accounts, factory, lambda p: p.stage == "esims" and p.done >= 200, policy=TWO_PAGES)
    saved = store.fleet_walk("flexiroam")
    assert saved is not None and saved.key in keys[1:]  # a key the vendor gave, after a written page
    stored = len(store.esims(vendor="flexiroam"))
    keys_before = list(keys)
    keys.clear()
    resumed = sync(store, accounts, factory)
    # From the page after the last one written (the write under way when the cancel came is finished, with its
    # key): none of those asked again.
    assert stored in (200, 300) and resumed.walk.resumed and keys[0] == saved.key == keys_before[stored // 100]


def _stale(store, iccid: str, vendor: str = "flexiroam") -> bool:
    row = store.conn.execute("SELECT stale FROM esims WHERE vendor = ? AND iccid = ?", (vendor, iccid)).fetchone()
    return bool(row[0])


def test_a_listing_cut_at_the_vendors_cap_marks_nothing_stale(tmp_path, monkeypatch):
    """Roamify's /api/esims has a limit and no paging: an answer that fills it may leave eSIMs out, and those are
    not gone. Only a listing under the cap marks stale what it did not list."""
    import esimdesk.vendors.roamify as roamify

    with SandboxServer(SandboxConfig(seed=4, esims=60), vendors=("roamify",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        unlisted = Esim("roamify", "89852000000000999995", EsimStatus.ACTIVE, "INSTALLED")
        store.upsert_esims([unlisted])

        def factory(cfg):
            return build_adapter(cfg, timeout=10)

        monkeypatch.setattr(roamify, "ESIM_LIMIT", 20)  # the sandbox's Roamify holds more than 20 with an ICCID
        [cut] = asyncio.run(sync_all(store, accounts, factory, policy=RefreshPolicy()))
        assert cut.ok and not _stale(store, unlisted.iccid, "roamify")
        monkeypatch.setattr(roamify, "ESIM_LIMIT", 100_000)
        [whole] = asyncio.run(sync_all(store, accounts, factory, policy=RefreshPolicy()))
        assert whole.ok and _stale(store, unlisted.iccid, "roamify")
        store.close()
