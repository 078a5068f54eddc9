"""The planner's statistics after a sync (``refresh_statistics``, store/statistics.py): a table is analysed when
one of its indexes has none or it grew by a tenth since it last was, and not after a sync that only changed
figures; the planner still reads the right index."""

from __future__ import annotations

import json

from esimdesk.domain import Esim, EsimStatus
from esimdesk.store import SqliteStore


def esims(start: int, n: int, used: int | None = 0) -> list[Esim]:
    return [Esim("roumio", f"89000000000{i:08d}", status=EsimStatus.ACTIVE, vendor_status="IN_USE",
                 order_id=f"O{i // 3}", data_used_mb=used, data_total_mb=1024) for i in range(start, start + n)]


def statistics(store: SqliteStore) -> list[tuple]:
    return sorted(tuple(r) for r in store.conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1"))


def test_the_first_analyses_every_table_with_rows_and_a_sync_that_changed_figures_none(store):
    store.upsert_esims(esims(0, 2000))
    first = store.refresh_statistics()
    assert "esims" in first and "plans" not in first  # no plan yet: nothing to know
    assert {r[1] for r in statistics(store) if r[0] == "esims"} >= {"esims_status", "esims_due", "esims_order_id"}
    before = [r for r in statistics(store) if r[0] == "esims"]
    store.upsert_esims(esims(0, 2000, used=500))  # a routine sync: the same eSIMs, new usage figures
    assert store.refresh_statistics() == ["usage"]  # each new figure is a sample: that table doubled
    assert [r for r in statistics(store) if r[0] == "esims"] == before
    store.upsert_esims(esims(0, 2000, used=500))  # and again, as they were
    assert store.refresh_statistics() == []


def test_a_table_that_grew_by_a_tenth_is_analysed_again_and_only_it(store):
    store.upsert_esims(esims(0, 2000))
    store.refresh_statistics()
    before = [r for r in statistics(store) if r[0] == "esims"]
    store.upsert_esims(esims(2000, 150, used=None))  # 7.5 % (no usage figure: no sample)
    assert store.refresh_statistics() == []
    store.upsert_esims(esims(2150, 60, used=None))  # 10.5 % since it was analysed
    assert store.refresh_statistics() == ["esims"]
    assert [r for r in statistics(store) if r[0] == "esims"] != before  # analysed again (sampled: estimates)
    marks = json.loads(store.conn.execute("SELECT value FROM meta WHERE key = 'statistics_marks'").fetchone()[0])
    assert marks["esims"][0] == 2210
    assert store.refresh_statistics() == []


def test_an_index_without_statistics_gets_its_table_analysed(store):
    store.upsert_esims(esims(0, 2000))
    store.refresh_statistics()
    with store.transaction() as conn:  # as a bulk load's index set aside and built again, or a new version's index
        conn.execute("DROP INDEX esims_status")
        conn.execute("CREATE INDEX esims_status ON esims (status, expires_at)")
    assert store.refresh_statistics() == ["esims"]
    assert any(r[1] == "esims_status" for r in statistics(store))


def test_an_index_over_no_row_yet_is_no_reason_to_analyse_again(store):
    """The eSIMs' notes index is partial: with no note it is empty, and an analysis leaves it without statistics."""
    store.upsert_esims(esims(0, 2000))
    store.refresh_statistics()
    assert not any(r[1] == "esims_sort_note" for r in statistics(store))
    assert store.refresh_statistics() == []


def test_after_the_analysis_the_planner_finds_an_order_s_esims_by_its_id(store):
    store.upsert_esims(esims(0, 3000))
    store.refresh_statistics()
    plan = " ".join(r[3] for r in store.conn.execute(
        "EXPLAIN QUERY PLAN SELECT iccid FROM esims WHERE order_id = 'O7' AND vendor = 'roumio'"))
    assert "SCAN" not in plan and ("esims_order_id (order_id=?)" in plan
                                   or "esims_due (vendor=? AND order_id=?)" in plan), plan
