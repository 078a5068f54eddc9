"""Issue 28: a sync's new eSIMs go in a hundred a statement (as new plans do, test_plan_insert.py), or as many as the
SQLite it runs on binds, and each row holds what the eSIM's row says, value for value and type for type, as the
JSON-array insert wrote it (20 columns, each a json_extract parsing the row again)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime

from esimdesk.domain import Esim, EsimStatus
from esimdesk.store import rows as R
from esimdesk.store import sqlite_store

SEEN = "2026-03-01T10:00:00+00:00"


def esims() -> list[Esim]:
    return [
        Esim("roumio", "89852000000000000013", EsimStatus.ACTIVE, "IN_USE/ENABLED", order_id="B2612000001",
             plan_id="JC016", activation_code="LPA:1$rsp.example$ABC-123", data_used_mb=0, data_total_mb=1024,
             expires_at=datetime(2026, 4, 1, 12, tzinfo=UTC), installed_at=datetime(2026, 3, 1, 9, tzinfo=UTC),
             qr_url="https://qr.example/1.png", vendor_ref="T-1", raw={"note": "ü \u2028 \"quoted\"", "big": 2 ** 53 + 1},
             usage_as_of=datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        Esim("flexiroam", "8901260000000000001", EsimStatus.INSTALLED, "Installed", data_remaining_mb=5120,
             device_name="iPhone 🍏 15", device_imei="356938035643809"),
        Esim("microesim", "89860000000000000007", EsimStatus.NEW, "RELEASED", raw=None),
    ]


def test_each_new_esim_holds_its_row_value_for_value_and_type_for_type(store):
    store.upsert_esims(esims(), seen=SEEN)
    conn = store.conn
    for e in esims():
        want = R.esim_row(e, SEEN)
        got = conn.execute("SELECT rowid, * FROM esims WHERE vendor = ? AND iccid = ?", (e.vendor, e.iccid)).fetchone()
        for column in sqlite_store._ESIM_COLUMNS:
            assert (column, got[column], type(got[column])) == (column, want[column], type(want[column]))
        assert (got["stale"], got["row_hash"]) == (0, R.esim_hash(e))
        payload = conn.execute("SELECT raw FROM esim_payloads WHERE esim = ?", (got["rowid"],)).fetchone()
        assert (payload and json.loads(payload[0])) == (e.raw or None)
    # Read back as eSIMs they are the ones written (figures without a vendor's time are as of the sync).
    assert {e.iccid: e for e in store.esims()} == {
        e.iccid: replace(e, usage_as_of=R.from_iso(R.esim_row(e, SEEN)["usage_as_of"])) for e in esims()}


def test_new_esims_go_in_a_statement_a_chunk_and_each_keeps_its_own_digest(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "ESIM_INSERT_ROWS", 3)
    many = [Esim("roamify", f"8944{i:015d}", EsimStatus.ACTIVE, "active", data_used_mb=i, data_total_mb=1024,
                 raw={"i": i}) for i in range(10)]
    inserts: list[str] = []
    held = type(store.conn)

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT INTO esims "):
            inserts.append(sql)
        return super(held, self).execute(sql, *args)

    monkeypatch.setattr(held, "execute", execute, raising=False)
    store.upsert_esims(many, seen=SEEN)
    monkeypatch.undo()
    assert len(inserts) == 4 and "json_each" not in inserts[0]  # 10 eSIMs, 3 a statement
    got = dict(store.conn.execute("SELECT iccid, row_hash FROM esims").fetchall())
    assert got == {e.iccid: R.esim_hash(e) for e in many}
    assert [e.data_used_mb for e in sorted(store.esims(), key=lambda e: e.iccid)] == list(range(10))


def test_an_sqlite_that_takes_fewer_parameters_takes_fewer_esims_a_statement(store):
    store.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 50)  # two eSIMs (22 parameters each)
    many = [Esim("roamify", f"8944{i:015d}", EsimStatus.ACTIVE, "active") for i in range(7)]
    store.upsert_esims(many, seen=SEEN)
    assert dict(store.conn.execute("SELECT iccid, row_hash FROM esims").fetchall()) == {
        e.iccid: R.esim_hash(e) for e in many}
