"""A sync writes a vendor's listing page by page; each page looks up the rows it already holds (an order's eSIMs,
our references, the stored digests). Looked up by reading every row of the vendor stored so far, a sync grows
with the square of the fleet: Roumio's pages did, through a first sync's bulk load (its order-id index set aside)
and whenever the planner chose the vendor's index (114 s of CPU at 300,000 eSIMs a vendor). Every statement a
page's write runs is explained here as SQLite plans it at that moment, on the real file, in a real sync."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading

import pytest

from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.store import SqliteStore, integrity
from esimdesk.vendors import build_adapter
from tests.services.helpers import accounts_for

# The store's writes a sync makes once a page of a listing (a catalog's, a fleet's, an answer's).
PAGE_WRITES = ("upsert_walked_orders", "upsert_walked_esims", "upsert_esims", "upsert_orders", "upsert_plans")
# Tables a fleet fills: a statement reading all of a vendor's rows of these, once a page, is the square.
FLEET_TABLES = ("esims", "orders", "order_lines", "usage")
# Once a cycle, not once a page: what the cycle did not list is marked stale (the whole vendor, by design).
ONCE_A_CYCLE = re.compile(r"^\s*UPDATE (esims|orders|plans) SET stale = \d WHERE vendor = ", re.I)


def _shape(sql: str) -> str:
    """The statement without its values: one EXPLAIN a kind of statement. (Split at the quotes: every other part is
    inside a string literal, an escaped quote an empty part. A regular expression took seconds on a page's JSON.)"""
    return re.sub(r"\b\d+\b", "0", "''".join(sql.split("'")[0::2]))


def _reads_every_row(plan_line: str) -> bool:
    """A plan step that visits all the table's rows, or all of one vendor's (its index led by the vendor only)."""
    tables = "|".join(FLEET_TABLES)
    return bool(re.match(rf"SCAN ({tables})\b", plan_line)
                or re.match(rf"SEARCH ({tables}) USING (COVERING )?INDEX \w+ \(vendor=\?\)$", plan_line))


class ExplainedWrites:
    """Each statement the store runs inside a page's write, explained by a second connection to the file as the
    writer's connection saw the schema (a first sync's bulk load sets indexes aside, committed before it writes)."""

    def __init__(self, path):
        self.path = path
        self.inside = threading.local()
        self.lock = threading.Lock()
        self.explained: dict[str, list[str]] = {}
        self.examples: dict[str, str] = {}

    def connect(self, real):
        def connect(*args, **kwargs):
            conn = real(*args, **kwargs)
            conn.set_trace_callback(self.statement)
            return conn
        return connect

    def statement(self, sql: str) -> None:
        if not getattr(self.inside, "write", None) or not re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT|WITH)", sql, re.I):
            return
        shape = _shape(sql)
        with self.lock:
            if shape in self.explained:
                return
            with contextlib.closing(sqlite3.connect(self.path)) as conn:
                plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            self.explained[shape] = plan
            self.examples[shape] = f"{self.inside.write}: {sql[:160]}"

    def wrap(self, store: SqliteStore) -> None:
        for name in PAGE_WRITES:
            method = getattr(store, name)

            def write(*args, _method=method, _name=name, **kwargs):
                self.inside.write = _name
                try:
                    return _method(*args, **kwargs)
                finally:
                    self.inside.write = None
            setattr(store, name, write)

    def whole_reads(self) -> list[str]:
        return [f"{self.examples[shape]} -> {[p for p in plan if _reads_every_row(p)]}"
                for shape, plan in self.explained.items()
                if any(_reads_every_row(p) for p in plan) and not ONCE_A_CYCLE.match(shape)]


@pytest.fixture
def server():
    # Two pages of Roumio's listing (500 eSIMs a page), Flexiroam's pages of 100, MicroESIM's answers one by one.
    with SandboxServer(SandboxConfig(seed=11, esims=700, plans=300, allocation_delay=0),
                       vendors=("roumio", "flexiroam", "microesim", "roamify")) as server:
        yield server


def test_no_page_of_a_sync_reads_every_row_the_vendor_has_first_sync_or_routine(tmp_path, server, monkeypatch):
    explained = ExplainedWrites(tmp_path / "desk.sqlite3")
    monkeypatch.setattr(integrity, "connect", explained.connect(integrity.connect))  # every connection traced
    store = SqliteStore(tmp_path / "desk.sqlite3")
    explained.wrap(store)
    accounts = accounts_for(server, tmp_path)
    for sync in ("first", "routine"):
        explained.explained.clear()  # each sync's statements explained as its own schema and statistics plan them
        explained.examples.clear()
        if sync == "routine":
            # The planner's statistics (ANALYZE, after each sync) are what a desk upgraded mid-way may lack.
            with store.transaction() as conn:
                conn.execute("DROP TABLE IF EXISTS sqlite_stat1")
        results = asyncio.run(sync_all(store, accounts, lambda c: build_adapter(c, timeout=10)))
        assert all(r.ok for r in results), [(r.vendor, r.error) for r in results]
        assert store.counts()["esims"] > 1000
        # The writes of each kind ran, and were explained: the check below is about real statements.
        assert any("upsert_walked_orders" in e for e in explained.examples.values())
        assert any("upsert_walked_esims" in e for e in explained.examples.values())
        assert explained.whole_reads() == [], sync
    store.close()
