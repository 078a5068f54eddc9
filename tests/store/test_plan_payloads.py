"""Narrow plan rows (issue 28), as eSIM rows (test_esim_payloads.py): each plan's vendor payload is kept beside its
row (``plan_payloads``), on real SQLite files: a file of the schema before is moved over with nothing lost (rowids,
digests, the full-text index, an index a killed first sync had set aside) and its rows packed; a sync writes a
payload when it is new or changed and removes one the vendor no longer gives; a plan's details read it."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import pytest

from esimdesk.domain import Plan, StoreError
from esimdesk.store import SqliteStore
from esimdesk.store.migrations import migrate

ROWS = 300


def _payload(i: int) -> str:
    # About 600 bytes, as the vendors' plan objects are (590 on average over the sandbox's 150,000).
    return json.dumps({"packageCode": f"P{i}", "price": 57000 + i, "description": "x" * 560})


def _v19_file(path) -> None:
    """A data file as the esimdesk before this change left it: payloads in the rows, a digest on each row, words
    in the full-text index, and a first sync killed while its load had set the name's sort index aside."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, target=19)
    conn.executemany(
        "INSERT INTO plans (vendor, plan_id, name, countries, validity_days, price, currency, raw, first_seen, "
        "last_seen, search_text, row_hash) VALUES ('roumio', ?, ?, 'JP', 7, '5.70', 'USD', ?, "
        "'2026-12-01T10:00:00+00:00', '2026-12-01T10:00:00+00:00', ?, ?)",
        [(f"P{i}", f"Japan {i} Sakura" if i == 7 else f"Japan {i}", _payload(i),
          f"Japan {i} Sakura JP Japan" if i == 7 else f"Japan {i} JP Japan", bytes([i % 256]) * 16)
         for i in range(ROWS)])
    conn.execute("DELETE FROM plans WHERE plan_id = 'P3'")  # a gap in the rowids, kept as it is
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'plans_sort_name'").fetchone()[0]
    conn.execute("DROP INDEX plans_sort_name")
    conn.execute("INSERT INTO meta (key, value) VALUES ('deferred_indexes', ?)", (json.dumps([sql]),))
    conn.execute("ANALYZE")  # the planner's statistics, as a desk's syncs leave them
    conn.close()


def _pages(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute("SELECT count(*) FROM dbstat WHERE name = ?", (table,)).fetchone()[0]


def _objects(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'plans' "
                                       "AND type IN ('index', 'trigger')")}


def test_a_file_of_the_schema_before_moves_its_payloads_out_of_the_rows_and_loses_nothing(tmp_path):
    path = tmp_path / "esimdesk.sqlite3"
    _v19_file(path)
    before = sqlite3.connect(path)
    rows_before = before.execute("SELECT rowid, plan_id, raw, row_hash, last_seen FROM plans ORDER BY rowid").fetchall()
    stats_before = set(before.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'plans'").fetchall())
    objects_before, pages_before = _objects(before), _pages(before, "plans")
    before.close()

    store = SqliteStore(path)  # migrates, then builds the index the killed sync had set aside
    try:
        conn = store.conn
        assert "raw" not in {r[1] for r in conn.execute("PRAGMA table_info(plans)")}
        after = [tuple(r) for r in conn.execute("SELECT p.rowid, p.plan_id, x.raw, p.row_hash, p.last_seen FROM plans "
                                                "AS p JOIN plan_payloads AS x ON x.plan = p.rowid ORDER BY p.rowid")]
        assert after == rows_before and len(after) == ROWS - 1
        assert _pages(conn, "plans") * 2 <= pages_before  # packed: 600 bytes less a row
        assert _objects(conn) == objects_before | {"plans_sort_name", "plans_payload_gone"}
        assert conn.execute("SELECT value FROM meta WHERE key = 'deferred_indexes'").fetchone() is None
        # The planner's statistics of the table and its indexes are kept (dropping the table drops them).
        assert len(stats_before) > 10
        assert stats_before <= {tuple(r) for r in conn.execute("SELECT idx, stat FROM sqlite_stat1 WHERE tbl = 'plans'")}
        # The full-text index still points at the right rows (rowids kept).
        assert [p.plan_id for p in store.plans(search="sakura")] == ["P7"]
        assert store.plan_raw("roumio", "P9") == json.loads(_payload(9))
        # The digest's trigger watches what is still in the row (a writer that left the digest as it was).
        conn.execute("UPDATE plans SET name = 'Japan nine' WHERE plan_id = 'P9'")
        assert conn.execute("SELECT row_hash FROM plans WHERE plan_id = 'P9'").fetchone()[0] is None
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def _plan(pid: str, raw, price: str = "5.70") -> Plan:
    return Plan("roamify", pid, f"Plan {pid}", ("JP",), 1024, 7, Decimal(price), "USD", raw=raw)


def test_a_sync_keeps_each_payload_beside_its_row_and_removes_one_no_longer_given(tmp_path):
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    try:
        store.upsert_plans([_plan("A", {"v": 1}), _plan("B", {"v": 1}), _plan("C", {"v": 1}), _plan("D", None)])
        assert [store.plan_raw("roamify", p) for p in "ABCD"] == [{"v": 1}, {"v": 1}, {"v": 1}, None]
        # A: a new payload; B: unchanged; C: its price changed, no payload given any more; D: one given now.
        store.upsert_plans([_plan("A", {"v": 2}), _plan("B", {"v": 1}), _plan("C", None, "6.00"), _plan("D", {"v": 9})])
        assert [store.plan_raw("roamify", p) for p in "ABCD"] == [{"v": 2}, {"v": 1}, None, {"v": 9}]
        assert store.conn.execute("SELECT count(*) FROM plan_payloads").fetchone()[0] == 3
        assert store.plans_to_write("roamify", [_plan("A", {"v": 2}), _plan("B", {"v": 1}), _plan("C", None, "6.00"),
                                                _plan("D", {"v": 9})]) == ([], False)
        with store.transaction() as conn:
            conn.execute("DELETE FROM plans WHERE plan_id = 'A'")
        assert store.conn.execute("SELECT count(*) FROM plan_payloads").fetchone()[0] == 2
    finally:
        store.close()


def test_ids_out_of_sequence_stop_the_page_in_words_and_save_none_of_it(tmp_path):
    """A table at the largest rowid: SQLite gives new rows ids at random, not a run ending at the last one inserted;
    the page stops, nothing of it saved, rather than a payload put beside another plan's row."""
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    try:
        store.upsert_plans([_plan("A", {"v": 1})])
        with store.transaction() as conn:
            conn.execute("UPDATE plans SET rowid = ? WHERE plan_id = 'A'", (2 ** 63 - 1,))
            conn.execute("UPDATE plan_payloads SET plan = ?", (2 ** 63 - 1,))
        with pytest.raises(StoreError, match="new plans were given row ids out of sequence"):
            store.upsert_plans([_plan(f"N{i}", {"v": i}) for i in range(5)])
        assert store.conn.execute("SELECT count(*) FROM plans").fetchone()[0] == 1
        assert store.conn.execute("SELECT count(*) FROM plan_payloads").fetchone()[0] == 1
        assert store.plan_raw("roamify", "A") == {"v": 1}
    finally:
        store.close()
