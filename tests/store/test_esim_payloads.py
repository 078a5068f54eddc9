"""Narrow eSIM rows (issue 28): each eSIM's vendor payload is kept beside its row (``esim_payloads``), on real
SQLite files: a file of the schema before is moved over with nothing lost (rowids, digests, the full-text
index, the indexes a killed first sync had set aside) and its rows packed; a sync writes a payload only when
it is new or changed; a deleted eSIM takes its payload along; a restore carries the current file's payloads.
"""

from __future__ import annotations

import json
import sqlite3

from esimdesk.domain import Esim, EsimStatus
from esimdesk.store import SqliteStore
from esimdesk.store.backups import backup_now, restore_into_place
from esimdesk.store.migrations import migrate

ROWS = 400


def _iccid(i: int) -> str:
    return f"89440010000{i:08d}"


def _payload(i: int) -> str:
    # About a kilobyte, as the vendors' eSIM objects are (Roamify ~1.0 KB, Roumio ~0.9 KB).
    return json.dumps({"iccid": _iccid(i), "orderUsage": i, "packageList": [{"packageName": "x" * 900}]})


def _v16_file(path) -> None:
    """A data file as the esimdesk before this change left it: payloads in the rows, a digest on each row, a
    note (in the full-text index), and a first sync killed while its load had set the ICCID sort index aside."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, target=16)
    conn.executemany(
        "INSERT INTO esims (vendor, iccid, status, vendor_status, raw, last_seen, row_hash, search_text, note) "
        "VALUES ('roumio', ?, 'ACTIVE', 'IN_USE/ENABLED', ?, '2026-12-01T10:00:00+00:00', ?, ?, ?)",
        [(_iccid(i), _payload(i), bytes([i % 256]) * 16, "spare for the CEO" if i == 7 else "",
          "spare for the CEO" if i == 7 else None) for i in range(ROWS)])
    conn.execute("DELETE FROM esims WHERE iccid = ?", (_iccid(3),))  # a gap in the rowids, kept as it is
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'esims_sort_iccid'").fetchone()[0]
    conn.execute("DROP INDEX esims_sort_iccid")
    conn.execute("INSERT INTO meta (key, value) VALUES ('deferred_indexes', ?)", (json.dumps([sql]),))
    conn.close()


def _pages(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute("SELECT count(*) FROM dbstat WHERE name = ?", (table,)).fetchone()[0]


def test_a_file_of_the_schema_before_moves_its_payloads_out_of_the_rows_and_loses_nothing(tmp_path):
    path = tmp_path / "esimdesk.sqlite3"
    _v16_file(path)
    before = sqlite3.connect(path)
    rows_before = before.execute("SELECT rowid, iccid, raw, row_hash, last_seen FROM esims ORDER BY rowid").fetchall()
    indexes_before = {r[0] for r in before.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'esims' "
                                                   "AND type IN ('index', 'trigger')")}
    pages_before = _pages(before, "esims")
    before.close()

    store = SqliteStore(path)  # migrates, then builds the index the killed sync had set aside
    try:
        conn = store.conn
        assert "raw" not in {r[1] for r in conn.execute("PRAGMA table_info(esims)")}
        after = [tuple(r) for r in conn.execute("SELECT e.rowid, e.iccid, p.raw, e.row_hash, e.last_seen FROM esims AS e "
                             "JOIN esim_payloads AS p ON p.esim = e.rowid ORDER BY e.rowid")]
        assert after == rows_before and len(after) == ROWS - 1
        # The rows are packed: a kilobyte less each, a third of the pages or fewer.
        assert _pages(conn, "esims") * 3 <= pages_before
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'esims' "
                                            "AND type IN ('index', 'trigger')")}
        # (esims_due: the next step's, migrations._v18)
        assert names == indexes_before | {"esims_sort_iccid", "esims_payload_gone", "esims_due"}
        assert conn.execute("SELECT value FROM meta WHERE key = 'deferred_indexes'").fetchone() is None
        # The full-text index still points at the right rows (rowids kept), the note still found.
        assert [e.iccid for e in store.esims(search="the CEO")] == [_iccid(7)]
        # The digest's trigger watches what is still in the row (an agent's edit of a digested column).
        conn.execute("UPDATE esims SET qr_url = 'https://example.test/q' WHERE iccid = ?", (_iccid(9),))
        assert conn.execute("SELECT row_hash FROM esims WHERE iccid = ?", (_iccid(9),)).fetchone()[0] is None
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()


def _esim(i: int, used: int, status=EsimStatus.ACTIVE) -> Esim:
    return Esim("roumio", _iccid(i), status, "IN_USE/ENABLED", data_used_mb=used,
                raw={"iccid": _iccid(i), "orderUsage": used, "esimStatus": status.value})


def _payload_of(conn: sqlite3.Connection, i: int):
    got = conn.execute("SELECT p.raw FROM esim_payloads AS p JOIN esims AS e ON e.rowid = p.esim "
                       "WHERE e.iccid = ?", (_iccid(i),)).fetchone()
    return None if got is None else json.loads(got[0])


def test_a_sync_keeps_each_payload_beside_its_row_and_a_deleted_esim_takes_it_along(tmp_path):
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    try:
        store.upsert_esims([_esim(i, 10) for i in range(3)])
        assert [_payload_of(store.conn, i)["orderUsage"] for i in range(3)] == [10, 10, 10]
        store.upsert_esims([_esim(0, 25), _esim(1, 10), Esim("roumio", _iccid(2), EsimStatus.ACTIVE, "IN_USE/ENABLED",
                                                             data_used_mb=40)])
        # Changed: the new payload; unchanged: as it was; an answer without one: the last one kept.
        assert [_payload_of(store.conn, i)["orderUsage"] for i in range(3)] == [25, 10, 10]
        assert store.esim(_iccid(2), "roumio").data_used_mb == 40
        with store.transaction() as conn:
            conn.execute("DELETE FROM esims WHERE iccid = ?", (_iccid(0),))
        assert store.conn.execute("SELECT count(*) FROM esim_payloads").fetchone()[0] == 2
    finally:
        store.close()


def test_a_restore_carries_the_current_files_payloads(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    path.parent.mkdir()
    store = SqliteStore(path)
    store.upsert_esims([_esim(0, 10), _esim(1, 10)], seen="2026-12-01T10:00:00+00:00")
    store.close()
    backup = backup_now(path)
    store = SqliteStore(path)
    store.upsert_esims([_esim(0, 55, EsimStatus.DEPLETED), _esim(2, 5)], seen="2026-12-02T10:00:00+00:00")
    store.close()

    restore_into_place(path, backup)

    store = SqliteStore(path)
    try:
        got = {i: _payload_of(store.conn, i) for i in range(3)}
        assert got[0] == {"iccid": _iccid(0), "orderUsage": 55, "esimStatus": "DEPLETED"}  # moved forward
        assert got[1]["orderUsage"] == 10 and got[2]["orderUsage"] == 5  # kept; made after the backup
        assert store.conn.execute("SELECT count(*) FROM esim_payloads").fetchone()[0] == 3
    finally:
        store.close()
