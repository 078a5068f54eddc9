"""Issue 28: a catalog's new plans go in a hundred a statement (not a step of SQLite a plan), or as many as the
SQLite it runs on binds, and each row holds what the plan's row says, value for value and type for type, as the
row-by-row insert wrote it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

from esimdesk.domain import Order, OrderLine, OrderStatus, Plan
from esimdesk.store import rows as R
from esimdesk.store import sqlite_store

SEEN = "2026-03-01T10:00:00+00:00"


def plans() -> list[Plan]:
    return [
        Plan("roumio", "JC016", "Japan 1GB 7 Days", ("JP",), 1024, 7, Decimal("5.70"), "USD",
             raw={"packageCode": "JC016", "price": 57000, "note": "ü \u2028 \"quoted\""}),
        Plan("microesim", "M-9", "Europe 🇪🇺 33 countries, Ünlimited", ("AT", "DE", "FR"), None, 30,
             Decimal("128.00"), "HKD", daily=True, topup=False, region="regional", coverage_name="Europe 33",
             raw={"channel_dataplan_id": "M-9"}),
        Plan("roamify", "R-0", "Zero data", ("US",), 0, 1, Decimal("0.99"), "EUR", topup=True, raw=None),
        Plan("flexiroam", "F-1", "Global 10GB", ("US", "JP"), 10240, 365, Decimal("49.5"), "USD",
             raw={"planId": 1, "big": 2 ** 53 + 1}),
    ]


def test_each_new_plan_holds_its_row_value_for_value_and_type_for_type(store):
    store.apply_sort_rates("EUR", {"USD": Decimal("0.5"), "EUR": Decimal("1")})  # HKD has none: NULL
    store.upsert_plans(plans(), seen=SEEN)
    conn = store.conn
    for p in plans():
        want = R.plan_row(p, SEEN)
        got = conn.execute("SELECT rowid, * FROM plans WHERE vendor = ? AND plan_id = ?", (p.vendor, p.plan_id)).fetchone()
        raw = want.pop("raw")  # the payload beside the row (migrations._v20)
        for column, value in want.items():
            assert (column, got[column], type(got[column])) == (column, value, type(value))
        payload = conn.execute("SELECT raw FROM plan_payloads WHERE plan = ?", (got["rowid"],)).fetchone()
        assert (payload[0] if payload else None) == raw
        assert store.plan_raw(p.vendor, p.plan_id) == p.raw
        assert got["row_hash"] == R.plan_hash(p)
        assert got["list_id"] == conn.execute("SELECT id FROM country_lists WHERE countries = ?",
                                              (want["countries"],)).fetchone()[0]
        factor = {"USD": 0.5, "EUR": 1.0}.get(p.currency)
        conv = (None if factor is None else want["price_sort"] * factor,
                None if factor is None or want["price_per_gb_sort"] is None else want["price_per_gb_sort"] * factor)
        assert (got["price_conv"], got["per_gb_conv"]) == conv
    # The zero-data plan's price a GB sorts last (1e308, as migration v9 set it), a REAL still.
    assert conn.execute("SELECT typeof(price_per_gb_sort), price_per_gb_sort FROM plans WHERE plan_id = 'R-0'"
                        ).fetchone()[:] == ("real", 1e308)
    # Read back as plans, they are the ones written; and searchable at once.
    assert sorted(store.plans(), key=lambda p: p.plan_id) == sorted(plans(), key=lambda p: p.plan_id)
    assert [p.plan_id for p in store.plans(search="europe")] == ["M-9"]
    # An unchanged listing is then only confirmed: the stored digests are the plans' own.
    assert store.plans_to_write("microesim", [p for p in plans() if p.vendor == "microesim"]) == ([], False)


def test_new_plans_go_in_a_statement_a_chunk_not_a_step_a_plan(store, monkeypatch):
    monkeypatch.setattr(sqlite_store, "PLAN_INSERT_ROWS", 3)
    many = [Plan("roumio", f"P{i:02}", f"Plan {i}", ("JP",), 1024 * (i + 1), 7, Decimal(i) + Decimal("0.5"), "USD",
                 raw={"i": i}) for i in range(10)]
    statements: list[tuple[str, int]] = []  # (how, rows) of each statement that inserts plans
    held = type(store.conn)  # the store's connection class (integrity.HeldConnection), a Python subclass

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT INTO plans "):
            statements.append(("execute", 1))
        return super(held, self).execute(sql, *args)

    def executemany(self, sql, rows, *args):
        rows = list(rows)
        if sql.lstrip().startswith("INSERT INTO plans "):
            statements.append(("executemany", len(rows)))
        return super(held, self).executemany(sql, rows, *args)

    monkeypatch.setattr(held, "execute", execute, raising=False)
    monkeypatch.setattr(held, "executemany", executemany, raising=False)
    store.upsert_plans(many, seen=SEEN)
    monkeypatch.undo()
    assert statements == [("execute", 1)] * 4  # 10 plans, 3 a chunk: 4 statements, none a row at a time
    # Across statements each row got its own values and digest.
    got = dict(store.conn.execute("SELECT plan_id, row_hash FROM plans").fetchall())
    assert got == {p.plan_id: R.plan_hash(p) for p in many}
    assert [p.price for p in store.plans(vendor="roumio")] == sorted(p.price for p in many)


def test_an_sqlite_that_takes_fewer_parameters_takes_fewer_rows_a_statement(store):
    """SQLite before 3.32 (Ubuntu 20.04's, under a Python 3.11) binds at most 999 parameters a statement, not 32,766:
    a hundred plans (2,300) or orders (1,400) would be refused there. Here the limit is set lower still."""
    store.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 60)  # two plans (23 each), four orders (14 each)
    many = [Plan("roamify", f"P{i:02}", f"Plan {i}", ("JP",), 1024, 7, Decimal(i), "USD") for i in range(7)]
    store.upsert_plans(many, seen=SEEN)
    assert dict(store.conn.execute("SELECT plan_id, row_hash FROM plans").fetchall()) == {
        p.plan_id: R.plan_hash(p) for p in many}
    orders = [Order("roamify", f"X-{i}", None, OrderStatus.COMPLETED, datetime(2026, 11, 1, tzinfo=UTC),
                    Decimal(i), "USD", lines=(OrderLine(f"P{i:02}", 1, Decimal(i)),)) for i in range(9)]
    store.upsert_orders(orders)
    assert {o.order_id: [ln.plan_id for ln in o.lines] for o in store.orders(vendor="roamify")} == {
        f"X-{i}": [f"P{i:02}"] for i in range(9)}
