"""Issue 28: the refresh's planning at a large fleet. Each sync counts a vendor's due eSIMs and takes the first of
them in order; read through the primary key, each of the vendor's rows was a look-up in the table (1.3 s at
300,000 eSIMs a vendor), so it reads only the esims_due index (migrations._v18). That index is in the order a
listing gives eSIMs, by order (migrations._v19): a page of changed usage figures rewrites few of its pages. And the
figures a listing without usage keeps (``usage_known``) come back in one answer, whatever the listing's length. A
real file."""

from __future__ import annotations

import random
import sqlite3
import struct
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from esimdesk.domain import Esim, EsimStatus
from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.store import SqliteStore

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
STATUSES = (EsimStatus.ACTIVE, EsimStatus.INSTALLED, EsimStatus.NEW, EsimStatus.EXPIRED, EsimStatus.SUSPENDED)


def esim(vendor: str, n: int, **kw) -> Esim:
    status = STATUSES[n % len(STATUSES)]
    kw.setdefault("expires_at", NOW + timedelta(days=n % 9))
    return Esim(vendor, f"89852{n:014d}", status, status.value, **kw)


def test_the_plan_reads_its_index_and_never_the_table(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    store.upsert_esims([esim(v, n, data_used_mb=n % 1000, data_total_mb=1000)
                        for v in ("microesim", "roamify") for n in range(600)], seen=NOW.isoformat())
    store.mark_refreshed("microesim", [esim("microesim", n).iccid for n in range(0, 600, 3)], NOW - timedelta(days=1))
    store.conn.execute("UPDATE esims SET stale = 1 WHERE iccid = ?", (esim("microesim", 1).iccid,))
    store.conn.execute("ANALYZE")
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        plan = store.esims_due("microesim", RefreshPolicy(), NOW, budget=50)
    finally:
        store.conn.set_trace_callback(None)

    # What the index answers is the plan: not the stale one, not the finished ones (the order: test_refresh_budget.py).
    assert esim("microesim", 1).iccid not in plan.iccids and plan.due == 600 - 120 - 1
    assert len(plan.iccids) == 50
    with sqlite3.connect(store.path) as other:
        read = [line for sql in statements if sql.lstrip().upper().startswith("SELECT")
                for *_, line in other.execute("EXPLAIN QUERY PLAN " + sql)]
    assert len(read) >= 2  # the count, then the first in order
    on_esims = [line for line in read if " esims " in f" {line} "]
    assert on_esims and all(line == "SEARCH esims USING COVERING INDEX esims_due (vendor=?)"
                            for line in on_esims), read
    store.close()


def test_the_figures_a_listing_keeps_come_back_in_one_answer(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    known = [esim("roamify", n, data_used_mb=n, data_total_mb=5000) for n in range(1200)]
    unknown = [esim("roamify", n) for n in range(1200, 1300)]  # figures never read
    other_vendor = [esim("flexiroam", n, data_used_mb=1, data_total_mb=2) for n in range(10)]
    store.upsert_esims(known + unknown + other_vendor)
    listed = [e.iccid for e in known + unknown] + ["89852999999999999999"]  # one not stored

    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        got = store.usage_known("roamify", listed)
    finally:
        store.conn.set_trace_callback(None)

    assert got == {e.iccid: (e.data_used_mb, 5000) for e in known}
    assert len([s for s in statements if "FROM esims" in s]) == 1
    store.close()


def _pages_written(store: SqliteStore, write) -> dict[str, int]:
    """How many pages of each table and index ``write`` put in the write-ahead log (its frames, by page number,
    named by SQLite's dbstat)."""
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    write()
    log = store.path.with_name(store.path.name + "-wal").read_bytes()
    size = struct.unpack(">I", log[8:12])[0]
    pages = {struct.unpack(">I", log[at:at + 4])[0] for at in range(32, len(log) - size - 23, size + 24)}
    named: dict[str, int] = {}
    for name, page in store.conn.execute("SELECT name, pageno FROM dbstat"):
        if page in pages:
            named[name] = named.get(name, 0) + 1
    return named


def test_a_listing_page_of_changed_figures_rewrites_few_pages_of_the_planning_index(tmp_path):
    """Roumio lists its eSIMs order after order (its order ids time-stamped), their ICCIDs anywhere in the range.
    A page of that listing with changed usage figures rewrites their entries in the planning index (the tier reads
    the figures): in ICCID order they were on as many pages as entries; in order-id order, on a few."""
    store = SqliteStore(tmp_path / "desk.sqlite3")
    numbers = list(range(30_000))
    random.Random(7).shuffle(numbers)  # an ICCID anywhere in the range, whatever the order
    fleet = [Esim("roumio", f"894400100000{numbers[n]:07d}", EsimStatus.ACTIVE, "IN_USE/ENABLED",
                  order_id=f"B2608{n // 3:010d}", data_used_mb=10, data_total_mb=1000) for n in range(30_000)]
    for at in range(0, len(fleet), 500):  # as a first sync writes them: page after page of the listing
        store.upsert_esims(fleet[at:at + 500], seen=NOW.isoformat())
    page = [replace(e, data_used_mb=e.data_used_mb + 1 + n % 3) for n, e in enumerate(fleet[12_000:12_500])]

    written = _pages_written(store, lambda: store.upsert_esims(page, seen=(NOW + timedelta(hours=1)).isoformat()))
    index_pages = store.conn.execute("SELECT count(*) FROM dbstat WHERE name = 'esims_due'").fetchone()[0]
    assert index_pages > 200  # an index its 500 changed entries could be spread over
    assert 0 < written["esims_due"] <= 20, written
    store.close()
