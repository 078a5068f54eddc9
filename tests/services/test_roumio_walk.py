"""Issue 28: Roumio's orders pass is its eSIM listing (numbered esim/query pages of 500, with usage) at its documented
8 requests/s: 2 + E / 500 requests, past ~120,000 eSIMs more than a sync's minute. A routine sync reads a share of
the pages (the budget's) and the next goes on from there; an order never comes whole out of a share that holds it
only in part (its line would then count fewer eSIMs); the share that reaches the last page marks stale what the
whole cycle did not list. The sandbox over real HTTP, a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx
import pytest

from esimdesk.domain import Esim, EsimStatus, Order
from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.services.sync_words import refresh_sentence
from esimdesk.vendors import build_adapter
from tests.services.helpers import accounts_for, open_store
from tests.services.helpers import sync_walking_two_pages as sync

PAGES = 5  # the adapter asks for pages of 500 eSIMs
GONE = "89852000000000999995"  # a row this desk holds that Roumio no longer lists


class Pages(httpx.AsyncHTTPTransport):
    """Each whole-fleet esim/query page asked for (its number), and the orderNo of every eSIM each one listed."""

    def __init__(self, asked: list[int], listed: dict[int, list[str]]):
        super().__init__()
        self.asked, self.listed = asked, listed

    async def handle_async_request(self, request):
        response = await super().handle_async_request(request)
        if request.url.path.endswith("esim/query"):
            body = json.loads(request.content)
            if not body.get("orderNo") and not body.get("iccid"):
                number = body["pager"]["pageNum"]
                self.asked.append(number)
                await response.aread()
                self.listed[number] = [e["orderNo"] for e in response.json()["obj"]["esimList"]]
        return response


@pytest.fixture
def roumio(tmp_path):
    with SandboxServer(SandboxConfig(seed=25, plans=40, esims=PAGES * 500 - 120), vendors=("roumio",)) as server:
        store = open_store(tmp_path)
        asked: list[int] = []
        listed: dict[int, list[str]] = {}

        def factory(cfg):
            adapter = build_adapter(cfg, timeout=10, transport=Pages(asked, listed))
            adapter.requests_per_second = 0.2  # with target_seconds 10 below: a budget of 2 pages a sync
            return adapter

        yield store, accounts_for(server, tmp_path), factory, asked, listed
        store.close()


def sizes(store) -> dict[str, int]:
    """Each stored order's eSIM count as its lines say."""
    return {o.order_id: sum(line.quantity for line in o.lines) for o in store.orders("roumio")}


def _stale(store, iccid: str) -> bool:
    return bool(store.conn.execute("SELECT stale FROM esims WHERE vendor = 'roumio' AND iccid = ?", (iccid,)).fetchone()[0])


def split_at(listed: dict[int, list[str]], page: int) -> str:
    """An order whose eSIMs are listed on both ``page`` and the next (the test needs one there)."""
    [order] = set(listed[page][-1:]) & set(listed[page + 1][:1])
    return order


def test_a_routine_sync_reads_a_share_of_roumios_pages_and_keeps_every_order_whole(roumio):
    store, accounts, factory, asked, listed = roumio
    first = sync(store, accounts, factory)
    # A first listing is read whole: reported as before there was a walk (`sync --json` keeps its keys).
    assert first.walk is None and sorted(asked) == list(range(1, PAGES + 1)) and store.fleet_walk("roumio") is None
    counts = Counter(o for page in listed.values() for o in page)
    assert sizes(store) == counts and len(store.esims(vendor="roumio")) == sum(counts.values())
    # Sandbox seed 25: an order of 2-3 eSIMs listed across each of the pages 1|2, 2|3 and 3|4.
    across = split_at(listed, 2)
    assert split_at(listed, 1) and split_at(listed, 3)

    store.upsert_esims([Esim("roumio", GONE, EsimStatus.ACTIVE, "ACTIVE")])
    asked.clear()
    before = {e.iccid: e.seen_at for e in store.esims(vendor="roumio")}
    second = sync(store, accounts, factory)
    assert asked == [1, 2] and second.walk.pages == 2 and not second.walk.complete and second.walk.budget == 2
    # The order open at the share's end is not written in part: the next share starts on the page where it began.
    assert store.fleet_walk("roumio").key == "2"
    assert sizes(store) == counts, "an order cut at the share's end was written with fewer eSIMs"
    seen = {e.iccid: e.seen_at for e in store.esims(vendor="roumio")}
    confirmed = {i for i in seen if i != GONE and seen[i] != before[i]}
    assert len(confirmed) == sum(len(listed[p]) for p in (1, 2)) - listed[2].count(across)  # pages 1-2, whole orders
    assert not _stale(store, GONE)  # the cycle is not whole yet
    assert "checked this sync (2 pages of its listing); the next sync goes on from there" in refresh_sentence(second)

    asked.clear()
    third = sync(store, accounts, factory)
    assert asked == [2, 3] and third.walk.resumed
    # Page 2's first order may have begun on page 1: its eSIMs are refreshed, its line left as it is.
    assert sizes(store) == counts, "an order met in part at the share's start was written with fewer eSIMs"
    assert not _stale(store, GONE)

    asked.clear()
    while store.fleet_walk("roumio") is not None:
        sync(store, accounts, factory)
    assert asked[0] == 3 and asked[-1] == PAGES  # page 3 began the order open at the third share's end
    assert sizes(store) == counts
    # The cycle is whole: what it did not list is stale; every listed eSIM is as Roumio gives it.
    assert _stale(store, GONE)
    assert not any(_stale(store, e.iccid) for e in store.esims(vendor="roumio") if e.iccid != GONE)


def test_a_small_fleet_is_read_whole_every_sync(roumio):
    store, accounts, factory, asked, listed = roumio
    sync(store, accounts, factory)
    asked.clear()
    wide = RefreshPolicy(target_seconds=60)  # 12 pages' budget: more than the listing has
    [result] = asyncio.run(sync_all(store, accounts, factory, policy=wide))
    assert sorted(asked) == list(range(1, PAGES + 1)) and result.walk is None  # said as before there was a walk
    assert store.fleet_walk("roumio") is None and "checked this sync" not in (refresh_sentence(result) or "")
    assert set(result.to_json()) == {"vendor", "ok", "plans", "orders", "esims", "error", "seconds"}


def test_walk_orders_gives_the_orders_a_page_completes_and_where_the_next_share_starts(roumio, tmp_path):
    store, accounts, factory, asked, listed = roumio
    [cfg] = accounts

    async def walk(key):
        async with factory(cfg) as adapter:
            out = []
            async for rows, next_key in adapter.walk_orders(key):
                out.append((rows, next_key))
                if len(out) == 2:
                    break
            return out

    [(p2, k2), (p3, k3)] = asyncio.run(walk("2"))
    first_order = listed[2][0]
    loose = [r for r in p2 if isinstance(r, Esim)]
    assert loose and {e.order_id for e in loose} == {first_order}  # it may have begun on page 1
    assert first_order not in {r.order_id for r in p2 + p3 if isinstance(r, Order)}
    across = split_at(listed, 2)
    assert across not in {r.order_id for r in p2 if isinstance(r, Order)}  # still open at page 2's end
    whole = next(r for r in p3 if isinstance(r, Order) and r.order_id == across)
    assert len(whole.esims) == Counter(o for page in listed.values() for o in page)[across]
    # Where the next share starts: where the order open at a page's end began (page 3: an order listed across
    # 3|4), but never the share's own first page (the order open at page 2's end began there): a share moves on.
    assert k2 == "3" and k3 == "3"
