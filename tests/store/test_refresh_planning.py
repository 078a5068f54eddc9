"""Issue 28: the refresh's planning at a large fleet. Each sync counts a vendor's due eSIMs and takes the first of
them in order; read through the primary key, each of the vendor's rows was a look-up in the table (1.3 s at
300,000 eSIMs a vendor), so it reads only the esims_due index (migrations._v18). And the figures a listing
without usage keeps (``usage_known``) come back in one answer, whatever the listing's length. A real file."""

from __future__ import annotations

import sqlite3
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
