"""A first sync fills its tables (the empty ones; every one on a desk that never finished a sync) without their
sort indexes and builds them at its end (store/bulk_load.py), the window's queries doing without them meanwhile;
cancelled, it builds them too; killed, the next open does. A real SQLite file; the sync over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from esimdesk.domain import Esim, EsimStatus, ListingQuery, Order, OrderStatus, Plan
from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.store import SqliteStore, bulk_load
from esimdesk.store.bulk_load import LOOKED_UP_BY_WRITES, NAMED_BY_QUERIES
from esimdesk.vendors import build_adapter
from tests.services.helpers import accounts_for, sync_cancelled_when


def _schema(store: SqliteStore, kind: str, table: str | None) -> set[tuple[str, str]]:
    q = "SELECT name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL"
    rows = store.conn.execute(q + (" AND tbl_name = ?" if table else ""), (kind, table) if table else (kind,))
    return {(r[0], r[1]) for r in rows}


def indexes(store: SqliteStore, table: str | None = None) -> set[tuple[str, str]]:
    return _schema(store, "index", table)


def triggers(store: SqliteStore, table: str | None = None) -> set[tuple[str, str]]:
    return _schema(store, "trigger", table)


def found_by_words(store: SqliteStore, words: str) -> set[str]:
    return {p.plan_id for p in store.plans(search=words)}


def plan(plan_id: str, name: str) -> Plan:
    return Plan("roumio", plan_id, name, ["FR", "DE"], 1024, 7, Decimal("3.50"), "USD")


def finished_a_sync(store: SqliteStore, ok: bool = True) -> None:
    run_id, _ = store.start_sync_run("roumio")
    store.finish_sync_run(run_id, ok=ok, plans=0, orders=0, esims=1, error=None if ok else "timed out")


def test_only_empty_tables_lose_their_sort_indexes_and_get_them_back_whole(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every, every_trigger = indexes(store), triggers(store)
    store.upsert_esims([Esim("roumio", "89852000000000000013", EsimStatus.ACTIVE, "ACTIVE")])
    finished_a_sync(store)  # a desk that has synced: only its empty tables are about to be filled
    plans_before, esims_before = indexes(store, "plans"), indexes(store, "esims")
    assert len(plans_before) > 5 and len(esims_before) > 5
    dropped = store.defer_indexes_for_load(("plans", "esims"))
    # plans was empty: every one of its indexes is set aside (those the window's queries name too, with the
    # queries doing without them meanwhile), and its full-text triggers (one entry); esims holds a row: keeps all.
    assert dropped == len(plans_before) + 1
    assert indexes(store, "plans") == set() and indexes(store, "esims") == esims_before
    assert not {n for n, _ in triggers(store, "plans")} & {"plans_ai", "plans_ad", "plans_au"}
    # Only the full-text ones are set aside: the others (a row's digest, team mode's) never leave.
    assert triggers(store) == {t for t in every_trigger if t[0] not in ("plans_ai", "plans_ad", "plans_au")}
    assert any("UNIQUE" in sql for _, sql in indexes(store, "orders"))  # unique ones are never dropped
    store.upsert_plans([plan("P-TRAVELLER", "Europe Traveller 1 GB")])
    assert found_by_words(store, "traveller") == set()  # not in the word index while the load goes on
    assert store.restore_indexes() == dropped
    assert indexes(store) == every and triggers(store) == every_trigger
    assert found_by_words(store, "traveller") == {"P-TRAVELLER"}  # rebuilt whole, with what was loaded
    # ... from the rows read in rowid order, not through the price index that carries the words (in price order,
    # FTS5 writes a segment out at each lower rowid: 1.9 s at 150,000 plans against 0.6 s).
    refill = bulk_load._full_text_refill("plans")[-1]
    assert [r[3] for r in store.conn.execute("EXPLAIN QUERY PLAN " + refill)] == ["SCAN plans"]
    store.upsert_plans([plan("P-ROAMER", "Europe Roamer 2 GB")])  # and kept up to date again by its triggers
    assert found_by_words(store, "roamer") == {"P-ROAMER"}
    assert store.restore_indexes() == 0  # nothing set aside any more
    store.close()


def test_a_desk_that_never_finished_a_sync_loads_its_tables_without_them_whatever_they_hold(tmp_path):
    """What a desk holds before its first sync is what the agent ordered (MicroESIM's eSIMs, which no listing
    gives): a few rows, and the sync brings every vendor's listing. Once a sync has finished, a table that holds
    rows keeps its indexes (a routine sync writes what changed, through them)."""
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every = indexes(store)
    store.upsert_esims([Esim("microesim", "89852000000000000013", EsimStatus.ACTIVE, "IN_USE")])
    store.upsert_orders([Order("microesim", "2024010100000001", None, OrderStatus.COMPLETED,
                               datetime(2026, 12, 1, tzinfo=UTC))])
    finished_a_sync(store, ok=False)  # one that failed is not one finished
    assert store.defer_indexes_for_load() > 20
    for table in ("esims", "orders"):  # left: the unique ones and those the load's writes look rows up by
        left = indexes(store, table)
        assert left and all(n in LOOKED_UP_BY_WRITES or sql.startswith("CREATE UNIQUE") for n, sql in left), left
    assert "esims_order_id" in {n for n, _ in indexes(store, "esims")}
    store.restore_indexes()
    assert indexes(store) == every
    finished_a_sync(store)
    held = indexes(store, "esims") | indexes(store, "orders")
    plans_indexes = len(indexes(store, "plans"))
    assert store.defer_indexes_for_load() == plans_indexes + 1  # the plans' (still empty) and their full text
    assert indexes(store, "esims") | indexes(store, "orders") == held and len(held) > 10
    store.restore_indexes()
    store.close()


def test_a_load_killed_half_way_gets_its_indexes_at_the_next_open(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every, every_trigger = indexes(store), triggers(store)
    assert store.defer_indexes_for_load() > 20
    store.upsert_esims([Esim("roumio", "89852000000000000013", EsimStatus.ACTIVE, "ACTIVE")])
    store.upsert_plans([plan("P-TRAVELLER", "Europe Traveller 1 GB")])
    store.close()  # as a kill leaves it: the statements in meta, the indexes and full-text triggers gone
    again = SqliteStore(tmp_path / "desk.sqlite3")
    assert indexes(again) == every and triggers(again) == every_trigger and again.restore_indexes() == 0
    assert found_by_words(again, "traveller") == {"P-TRAVELLER"}
    again.close()


@pytest.fixture
def sandbox(tmp_path):
    with SandboxServer(SandboxConfig(seed=5, esims=300, plans=400, allocation_delay=0),
                       vendors=("roumio", "flexiroam")) as server:
        yield server


def test_a_first_sync_loads_without_them_and_ends_with_every_one(tmp_path, sandbox):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every, every_trigger = indexes(store), triggers(store)
    looked_up = {name for name, _ in indexes(store, "esims")} & LOOKED_UP_BY_WRITES
    assert looked_up == {"esims_order_id"}
    seen_during: list[set[str]] = []

    def progress(p):
        if p.stage in ("orders", "esims") and p.done:
            seen_during.append({name for name, _ in indexes(store, "esims")})

    results = asyncio.run(sync_all(store, accounts_for(sandbox, tmp_path), lambda c: build_adapter(c, timeout=10),
                                   progress=progress))
    assert all(r.ok for r in results) and store.counts()["esims"] > 0
    # The eSIMs were written with no sort index to update: only the one each page looks its orders' eSIMs up by.
    assert seen_during and all(names == looked_up for names in seen_during), seen_during
    assert indexes(store) == every and triggers(store) == every_trigger
    some = store.plans(limit=3)
    assert some and all(p.plan_id in found_by_words(store, p.name) for p in some)  # the word index rebuilt
    # The next sync finds the tables filled: it loads through the indexes, which stay.
    seen_during.clear()
    asyncio.run(sync_all(store, accounts_for(sandbox, tmp_path), lambda c: build_adapter(c, timeout=10),
                         progress=progress))
    assert seen_during and all(names == {n for n, _ in indexes(store, "esims")} for names in seen_during)
    assert len(seen_during[0]) > 5
    store.close()


def test_a_cancelled_first_sync_builds_them_before_it_ends(tmp_path, sandbox):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every, every_trigger = indexes(store), triggers(store)

    sync_cancelled_when(store, accounts_for(sandbox, tmp_path), lambda c: build_adapter(c, timeout=10),
                        lambda p: p.stage in ("orders", "esims") and p.done)
    assert indexes(store) == every and triggers(store) == every_trigger
    store.close()


def test_a_query_names_an_index_only_through_the_check_that_it_is_there():
    """A query naming a missing index fails ("no such index"): the window's Catalog read during a first sync
    did, once. Every index the program names goes through ``_indexed_by``, which names it only while it is in
    the file, and is one a bulk load may set aside."""
    import re
    from pathlib import Path

    import esimdesk

    literal, checked = set(), set()
    for source in Path(esimdesk.__file__).parent.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        literal.update(re.findall(r"INDEXED BY (\w+)", text))
        checked.update(re.findall(r"_indexed_by\(['\"](\w+)['\"]\)", text))
    assert not literal
    assert checked == NAMED_BY_QUERIES


def window_reads(store: SqliteStore) -> dict[str, object]:
    """What the window reads through the indexes its queries name: the Catalog in its default order, a country
    with a filter (read by the country's lists, in pages of 7), each vendor's cheapest, a vendor's currencies,
    and order ids typed in Orders (by the id's start, and inside ids, in two orders)."""
    def listed(q: ListingQuery) -> list[int]:
        total, split = store.listing_count(q)
        rows = [k for offset in range(0, total, 7) for k, _ in store.listing_page(q, split, offset, 7)]
        assert len(rows) == total and rows == store.listing_ids(q)
        return rows

    by_list = ListingQuery("plans", country="JP", kind="daily", sort="price")
    reads = {"catalog": listed(ListingQuery("plans")), "by_list": listed(by_list),
             "cheapest": [k for k, _ in store.cheapest_per_vendor(ListingQuery("plans", country="JP"),
                                                                  ["roumio", "roamify", "microesim"])],
             "currencies": store.vendor_currencies("roumio")}
    for text in ("B2612", "0000000012"):
        for sort in ("created", "status"):
            reads[f"orders {text} {sort}"] = listed(ListingQuery("orders", text=text, sort=sort, descending=True))
    assert all(reads.values()), reads
    return reads


def test_the_window_reads_the_same_rows_while_a_load_has_its_indexes_set_aside(tmp_path):
    from tests.store.test_catalog_listing import make_plans

    store = SqliteStore(tmp_path / "desk.sqlite3")
    store.defer_indexes_for_load()
    store.upsert_plans(make_plans(600))
    store.upsert_orders([Order("roumio", f"B2612{i:010d}", f"ref-{i}", OrderStatus.COMPLETED,
                               datetime(2027, 1, 1, i % 24, tzinfo=UTC)) for i in range(60)])
    names = {n for n, _ in indexes(store)}
    assert not names & NAMED_BY_QUERIES  # the load set them aside
    during = window_reads(store)
    store.restore_indexes()
    assert NAMED_BY_QUERIES <= {n for n, _ in indexes(store)}
    assert window_reads(store) == during
    store.close()


class HeldUntilPlanIndexes(httpx.AsyncHTTPTransport):
    """A real transport that holds each of MicroESIM's fleet requests (its orders and eSIMs asked about one by
    one, which go on after its catalog) until the plans' sort indexes are all back in the file, or ``patience``
    seconds: whether the indexes came back while the fleet's requests were still going, whatever the machine's
    speed."""

    def __init__(self, path, every: int, patience: float):
        super().__init__()
        self.path, self.every, self.patience = path, every, patience
        self.released_by: list[str] = []

    def plan_indexes(self) -> int:
        with contextlib.closing(sqlite3.connect(self.path)) as conn:
            return conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'plans' "
                                "AND sql IS NOT NULL").fetchone()[0]

    async def handle_async_request(self, request):
        if not request.url.path.endswith(("esimDataplanListPage", "accountBalance")):
            deadline = time.monotonic() + self.patience
            while self.plan_indexes() < self.every and time.monotonic() < deadline:
                await asyncio.sleep(0.02)  # polled: a thread waiting would take one the index build needs
            self.released_by.append("indexes" if self.plan_indexes() >= self.every else "patience")
        return await super().handle_async_request(request)


def test_the_plans_indexes_are_back_once_the_catalogs_are_written_while_the_fleet_goes_on(tmp_path):
    """Built after the last vendor, they were 2.7-2.9 s at the end of every first sync; built once every catalog
    is written, they cost the sync nothing while its per-eSIM requests go on (bench/sync_scale.py)."""
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0, plans=400, esims=40),
                       vendors=("microesim",)) as server:
        path = tmp_path / "desk.sqlite3"
        store = SqliteStore(path)
        every = len(indexes(store, "plans"))
        # A desk that sold the sandbox's MicroESIM orders: the sync's refresh asks about their eSIMs.
        known = server.sandbox.vendors["microesim"].known_orders
        store.upsert_orders([Order("microesim", o, None, OrderStatus.ALLOCATING, datetime.now(UTC)) for o in known])
        held = HeldUntilPlanIndexes(path, every, patience=10)
        results = asyncio.run(sync_all(store, accounts_for(server, tmp_path),
                                       lambda c: build_adapter(c, timeout=30, transport=held),
                                       policy=RefreshPolicy(target_seconds=1)))
        assert all(r.ok for r in results) and store.counts()["plans"] == 400
        assert held.released_by and set(held.released_by) == {"indexes"}, held.released_by
        assert len(indexes(store, "plans")) == every
        store.close()


def test_a_restore_builds_only_the_tables_asked_for_and_leaves_the_rest_set_aside(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every, plans_before, esims_before = indexes(store), indexes(store, "plans"), indexes(store, "esims")
    plans_triggers, esims_triggers = triggers(store, "plans"), triggers(store, "esims")
    dropped = store.defer_indexes_for_load(("plans", "esims"))
    plans_gone, esims_gone = plans_before - indexes(store, "plans"), esims_before - indexes(store, "esims")
    # The plans' full-text triggers are one entry more; the eSIMs' (notes: short, mostly none) stay.
    assert plans_gone and esims_gone and len(plans_gone) + len(esims_gone) + 1 == dropped
    assert triggers(store, "esims") == esims_triggers
    assert store.restore_indexes(("plans",)) == len(plans_gone) + 1
    assert plans_gone <= indexes(store) and not esims_gone & indexes(store)
    assert triggers(store, "plans") == plans_triggers
    store.close()  # killed here: the next open builds what is still set aside
    again = SqliteStore(tmp_path / "desk.sqlite3")
    assert indexes(again) == every and again.restore_indexes() == 0
    again.close()
