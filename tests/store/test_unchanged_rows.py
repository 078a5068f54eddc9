"""Issue 28: a row a sync gets back as it was is not written again (``row_hash``), only confirmed — and every
truth the full write kept still holds: when it was last seen, stale marking, usage never replaced by an older
reading, a partial answer never erasing known values, search text and converted prices of changed plans."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan, Usage
from esimdesk.store import SqliteStore, integrity
from esimdesk.store import rows as R
from esimdesk.store.migrations import migrate

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ICCID = "8943108170000775671"


def at(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


def plan(pid="JC016", name="Japan 1GB 7 Days", price="5.70", raw=None):
    return Plan("roumio", pid, name, ("JP",), 1024, 7, Decimal(price), "USD", raw=raw or {"packageCode": pid, "p": price})


def esim(iccid=ICCID, **kw):
    kw.setdefault("status", EsimStatus.ACTIVE)
    kw.setdefault("vendor_status", "IN_USE/ENABLED")
    kw.setdefault("raw", {"iccid": iccid, "orderUsage": kw.get("data_used_mb")})
    return Esim("roumio", iccid, **kw)


# Everything a full write sets; a confirmation sets none of it (only last_seen, stale, a fetch-time as-of).
CONTENT = {
    "plans": "name, countries, list_id, data_mb, validity_days, price, price_sort, currency, search_text, "
             "total_mb, price_per_gb_sort, coverage_name, price_conv, per_gb_conv, row_hash",
    "plan_payloads": "raw",
    "esims": "order_id, plan_id, status, vendor_status, activation_code, data_used_mb, data_total_mb, expires_at, "
             "installed_at, qr_url, install_url, vendor_ref, data_remaining_mb, device_name, device_imei, row_hash",
    "esim_payloads": "raw",
    "orders": "order_id, reference, status, total, currency, created_at, raw, search_text, row_hash",
}


@pytest.fixture
def rewrites(store):
    """How many times a sync set a content column of a row, per table (and order lines deleted or written):
    TEMP triggers on the store's own connection, which fire for a column set even to the value it had."""
    conn = store.conn
    conn.execute("CREATE TEMP TABLE rewrites (what TEXT)")
    for table, cols in CONTENT.items():
        conn.execute(f"CREATE TEMP TRIGGER count_{table} AFTER UPDATE OF {cols} ON main.{table} "
                     f"BEGIN INSERT INTO rewrites VALUES ('{table}'); END")
    conn.execute("CREATE TEMP TRIGGER count_payloads_in AFTER INSERT ON main.esim_payloads "
                 "BEGIN INSERT INTO rewrites VALUES ('esim_payloads'); END")
    conn.execute("CREATE TEMP TRIGGER count_lines_in AFTER INSERT ON main.order_lines "
                 "BEGIN INSERT INTO rewrites VALUES ('order_lines'); END")
    conn.execute("CREATE TEMP TRIGGER count_lines_out AFTER DELETE ON main.order_lines "
                 "BEGIN INSERT INTO rewrites VALUES ('order_lines'); END")

    def counts() -> dict[str, int]:
        got = dict(conn.execute("SELECT what, count(*) FROM rewrites GROUP BY what").fetchall())
        conn.execute("DELETE FROM rewrites")
        return got

    return counts


def payload(store, iccid):
    """The vendor's payload kept for an eSIM (beside its row: migrations._v17)."""
    got = store.conn.execute("SELECT p.raw FROM esim_payloads AS p JOIN esims ON esims.rowid = p.esim "
                             "WHERE esims.iccid = ?", (iccid,)).fetchone()
    return None if got is None else json.loads(got[0])


def row(store, table, where="1"):
    return store.conn.execute(f"SELECT * FROM {table} WHERE {where}").fetchone()


def test_an_unchanged_plan_is_only_confirmed(store, rewrites):
    plans = [plan("A"), plan("B", "Japan 3GB 30 Days", "9.00"), plan("C", "Japan 5GB 30 Days", "12.00")]
    store.upsert_plans(plans, seen=at(0))
    rewrites()
    before = store.conn.total_changes
    store.upsert_plans(plans, seen=at(1))
    assert rewrites() == {}
    assert store.conn.total_changes - before == 3  # one last_seen each: no index, no full-text entry written
    assert {r["last_seen"] for r in store.conn.execute("SELECT last_seen FROM plans")} == {at(1)}
    assert row(store, "plans", "plan_id = 'A'")["first_seen"] == at(0)


def test_a_changed_plan_is_written_with_its_search_text_and_converted_price(store, rewrites):
    store.apply_sort_rates("EUR", {"USD": Decimal("0.5")})
    store.upsert_plans([plan("A"), plan("B", "Sakura 3GB 30 Days", "9.00")], seen=at(0))
    rewrites()
    store.upsert_plans([plan("A"), plan("B", "Fuji 3GB 30 Days", "10.00")], seen=at(1))
    assert rewrites() == {"plans": 1, "plan_payloads": 1}  # its row, and its payload (its price in it)
    b = row(store, "plans", "plan_id = 'B'")
    assert (b["name"], b["price"], b["price_conv"], b["last_seen"]) == ("Fuji 3GB 30 Days", "10.00", 5.0, at(1))
    assert [p.plan_id for p in store.plans(search="fuji")] == ["B"]
    assert store.plans(search="sakura") == []  # the old words left the full-text index
    store.upsert_plans([plan("C", "Japan 5GB 30 Days", "12.00")], seen=at(2))  # a new plan: converted at once
    assert row(store, "plans", "plan_id = 'C'")["price_conv"] == 6.0
    # The payload alone changed: written too (it is what plan details are read from).
    store.upsert_plans([plan("A", raw={"packageCode": "A", "new": 1})], seen=at(3))
    assert rewrites() == {"plans": 1, "plan_payloads": 1} and store.plan_raw("roumio", "A")["new"] == 1


def test_stale_marking_after_an_unchanged_listing_and_a_plan_listed_again(store, rewrites):
    store.upsert_plans([plan("A"), plan("B")], seen=at(0))
    store.upsert_plans([plan("A")], seen=at(1))  # unchanged, B no longer listed
    assert store.mark_stale("plans", "roumio", at(1)) == 1
    assert [p.plan_id for p in store.plans()] == ["A"]
    store.upsert_plans([plan("A"), plan("B")], seen=at(2))  # B back as it was: confirmed, no longer stale
    assert store.mark_stale("plans", "roumio", at(2)) == 0
    assert sorted(p.plan_id for p in store.plans()) == ["A", "B"]

    store.upsert_esims([esim(), esim("8944001000000000026")], seen=at(0))
    store.upsert_esims([esim()], seen=at(1))
    assert store.mark_stale("esims", "roumio", at(1)) == 1
    assert row(store, "esims", "iccid = '8944001000000000026'")["stale"] == 1
    rewrites()
    store.upsert_esims([esim("8944001000000000026")], seen=at(2))
    assert rewrites() == {}
    assert row(store, "esims", "iccid = '8944001000000000026'")["stale"] == 0


def test_an_unchanged_esim_is_only_confirmed_and_its_fetched_usage_is_as_of_now(store, rewrites):
    store.upsert_esims([esim(data_used_mb=10, data_total_mb=1024, activation_code="LPA:1$x$y")], seen=at(0))
    rewrites()
    before = store.conn.total_changes
    store.upsert_esims([esim(data_used_mb=10, data_total_mb=1024, activation_code="LPA:1$x$y")], seen=at(1))
    assert rewrites() == {}
    assert store.conn.total_changes - before == 1  # the confirmation; no usage sample (the figure is the same)
    got = store.esim(ICCID)
    # Figures the vendor gave no time for are as of the fetch: the same figures, confirmed an hour later.
    assert (got.data_used_mb, got.usage_as_of) == (10, T0 + timedelta(hours=1))
    assert row(store, "esims")["last_seen"] == at(1)
    assert [u.data_used_mb for u in store.usage("roumio", ICCID)] == [10]


def test_a_vendor_time_for_the_figures_stays_when_they_are_confirmed(store, rewrites):
    vendor_time = T0 - timedelta(minutes=30)
    store.upsert_esims([esim(data_used_mb=10, usage_as_of=vendor_time)], seen=at(0))
    rewrites()
    store.upsert_esims([esim(data_used_mb=10, usage_as_of=vendor_time)], seen=at(1))
    assert rewrites() == {}
    got = store.esim(ICCID)
    assert got.usage_as_of == vendor_time and row(store, "esims")["last_seen"] == at(1)


def test_a_changed_esim_is_written_and_a_partial_answer_erases_nothing(store, rewrites):
    store.upsert_esims([esim(data_used_mb=10, activation_code="LPA:1$x$y")], seen=at(0))
    rewrites()
    store.upsert_esims([esim(data_used_mb=25)], seen=at(1))  # no activation code in this answer
    assert rewrites() == {"esims": 1, "esim_payloads": 1}  # the vendor's payload (its orderUsage) beside the row
    assert payload(store, ICCID) == {"iccid": ICCID, "orderUsage": 25}
    got = store.esim(ICCID)
    assert (got.data_used_mb, got.activation_code) == (25, "LPA:1$x$y")
    assert [u.data_used_mb for u in store.usage("roumio", ICCID)] == [10, 25]
    store.upsert_esims([esim(data_used_mb=25)], seen=at(2))  # the same partial answer: confirmed
    assert rewrites() == {}
    assert store.esim(ICCID).activation_code == "LPA:1$x$y"
    store.upsert_esims([esim(data_used_mb=25, status=EsimStatus.DEPLETED, vendor_status="USED_UP/ENABLED")],
                       seen=at(3))
    # Its payload as stored: not written again.
    assert rewrites() == {"esims": 1} and store.esims(status="DEPLETED")[0].iccid == ICCID


def test_only_an_esim_listed_again_after_being_marked_stale_has_its_stale_flag_set(store):
    """A column set, even to the value it had, rewrites each index holding it; the refresh's planning index holds
    ``stale`` (migrations._v18), so a confirmation or a changed row must not set it unless the row was stale."""
    store.conn.execute("CREATE TEMP TABLE stale_set (iccid TEXT)")
    store.conn.execute("CREATE TEMP TRIGGER count_stale AFTER UPDATE OF stale ON main.esims "
                       "BEGIN INSERT INTO stale_set VALUES (new.iccid); END")
    back_as_was, back_changed, kept = ICCID, "8944001000000000026", "8944001000000000034"
    store.upsert_esims([esim(back_as_was, data_used_mb=1), esim(back_changed, data_used_mb=1),
                        esim(kept, data_used_mb=1)], seen=at(0))
    store.upsert_esims([esim(kept, data_used_mb=1)], seen=at(1))
    assert store.mark_stale("esims", "roumio", at(1)) == 2
    store.conn.execute("DELETE FROM stale_set")

    store.upsert_esims([esim(back_as_was, data_used_mb=1), esim(back_changed, data_used_mb=2),
                        esim(kept, data_used_mb=1)], seen=at(2))
    assert sorted(r[0] for r in store.conn.execute("SELECT iccid FROM stale_set")) == sorted([back_as_was, back_changed])
    assert [r["stale"] for r in store.conn.execute("SELECT stale FROM esims")] == [0, 0, 0]
    assert store.esim(back_changed).data_used_mb == 2
    assert all(row(store, "esims", f"iccid = '{i}'")["last_seen"] == at(2) for i in (back_as_was, back_changed, kept))
    store.conn.execute("DELETE FROM stale_set")
    store.upsert_esims([esim(back_as_was, data_used_mb=1), esim(back_changed, data_used_mb=3)], seen=at(3))
    assert store.conn.execute("SELECT count(*) FROM stale_set").fetchone()[0] == 0  # confirmed and changed: not set


def test_usage_is_never_replaced_by_an_older_reading(store):
    """A usage check's newer reading (record_usage) is kept against a sync's older answer — whether the sync's
    answer is one it gave before (the stored digest no longer stands for the row) or not."""
    vendor_time = T0
    store.upsert_esims([esim(data_used_mb=10, usage_as_of=vendor_time)], seen=at(0))
    newer = T0 + timedelta(hours=2)
    store.record_usage([Usage("roumio", ICCID, newer, 40, 1024, as_of=newer)])
    assert row(store, "esims")["row_hash"] is None  # another writer changed the figures
    store.upsert_esims([esim(data_used_mb=10, usage_as_of=vendor_time)], seen=at(3))
    got = store.esim(ICCID)
    assert (got.data_used_mb, got.usage_as_of) == (40, newer)
    assert row(store, "esims")["last_seen"] == at(3)
    # The older answer was not applied: not taken as the row's digest, so it is never trusted as stored.
    assert row(store, "esims")["row_hash"] is None
    later = T0 + timedelta(hours=5)
    store.upsert_esims([esim(data_used_mb=55, usage_as_of=later)], seen=at(6))
    got = store.esim(ICCID)
    assert (got.data_used_mb, got.usage_as_of) == (55, later) and row(store, "esims")["row_hash"] is not None


def test_a_sync_answer_seen_before_replaces_an_older_usage_check(store):
    """The same listing again after a usage check whose reading is older than this fetch: the sync's reading
    (as of now) replaces it, as it would have without the digest."""
    store.upsert_esims([esim(data_used_mb=10)], seen=at(0))
    store.record_usage([Usage("roumio", ICCID, T0 + timedelta(minutes=30), 12, 1024)])
    store.upsert_esims([esim(data_used_mb=10)], seen=at(1))
    got = store.esim(ICCID)
    assert (got.data_used_mb, got.usage_as_of) == (10, T0 + timedelta(hours=1))


def test_an_unchanged_order_keeps_its_lines_and_confirms_its_esims(store, rewrites):
    def order():
        return Order("roumio", "B1", "txn-1", OrderStatus.COMPLETED, T0, Decimal("11.40"), "USD",
                     lines=[OrderLine("JC016", 2, Decimal("5.70"), "Japan 1GB")],
                     esims=[esim(order_id="B1", data_used_mb=3), esim("8944001000000000026", order_id="B1")])

    store.upsert_orders([order()], seen=at(0))
    rewrites()
    before = store.conn.total_changes
    store.upsert_orders([order()], seen=at(1))
    assert rewrites() == {}
    assert store.conn.total_changes - before == 3  # the order and its two eSIMs confirmed
    assert row(store, "orders")["last_seen"] == at(1)
    assert {r["last_seen"] for r in store.conn.execute("SELECT last_seen FROM esims")} == {at(1)}
    got = store.order("roumio", "B1")
    assert got.lines == (OrderLine("JC016", 2, Decimal("5.70"), "Japan 1GB"),) and len(got.esims) == 2
    assert [o.order_id for o in store.orders(search="txn-1")] == ["B1"]
    changed = Order("roumio", "B1", "txn-1", OrderStatus.FAILED, T0, Decimal("11.40"), "USD",
                    lines=[OrderLine("JC016", 2)])
    store.upsert_orders([changed], seen=at(2))
    assert rewrites() == {"orders": 1, "order_lines": 2}  # the line deleted and written again
    got = store.order("roumio", "B1")
    assert got.status is OrderStatus.FAILED and got.lines[0].unit_price == Decimal("5.70")


def test_an_entry_listed_twice_in_one_answer_ends_as_the_later(store):
    store.upsert_plans([plan("A", price="5.00"), plan("A", price="6.00")], seen=at(0))
    assert [p.price for p in store.plans()] == [Decimal("6.00")]
    store.upsert_esims([esim(data_used_mb=5, activation_code="LPA:1$a$b"), esim(data_used_mb=8)], seen=at(0))
    got = store.esim(ICCID)
    assert (got.data_used_mb, got.activation_code) == (8, "LPA:1$a$b")


def test_rows_from_before_the_digest_are_written_once_then_confirmed(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    migrate(conn, target=13)
    conn.execute("INSERT INTO plans (vendor, plan_id, name, countries, validity_days, price, currency, first_seen, "
                 "last_seen, search_text) VALUES ('roumio', 'A', 'Japan 1GB 7 Days', 'JP', 7, '5.70', 'USD', "
                 f"'{at(-5)}', '{at(-5)}', 'Japan 1GB 7 Days JP Japan')")
    conn.close()
    store = SqliteStore(path)
    assert row(store, "plans")["row_hash"] is None
    store.upsert_plans([plan("A")], seen=at(0))
    assert row(store, "plans")["row_hash"] is not None and row(store, "plans")["first_seen"] == at(-5)
    before = store.conn.total_changes
    store.upsert_plans([plan("A")], seen=at(1))
    assert store.conn.total_changes - before == 1
    store.close()


def _other(value):
    """A different value of the same kind."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | Decimal):
        return value + 1
    if isinstance(value, datetime):
        return value + timedelta(seconds=1)
    if isinstance(value, tuple):
        return (*value, "KR")
    if isinstance(value, EsimStatus):
        return EsimStatus.DEPLETED if value is not EsimStatus.DEPLETED else EsimStatus.ACTIVE
    return value + "x"


@pytest.mark.parametrize("obj, digested, left_out, digest", [
    (Plan("roumio", "A", "Japan", ("JP",), 1024, 7, Decimal("5.70"), "USD", True, True, "Asia", {"a": 1}, "Asia 8"),
     R.PLAN_DIGESTED, {"raw"}, R.plan_hash),
    (Esim("roumio", ICCID, EsimStatus.ACTIVE, "IN_USE/ENABLED", "B1", "JC016", "LPA:1$a$b", 10, 1024, T0, T0, "q", "i",
          "ref", "note", {"a": 1}, T0, 1014, "iPhone", "35"),
     R.ESIM_DIGESTED, {"raw", "note", "seen_at"}, R.esim_hash),
])
def test_every_field_a_sync_writes_from_changes_the_digest(obj, digested, left_out, digest):
    """A field added to the domain and written by the sync must be digested too, or a change of it alone
    would never be written."""
    assert set(digested) == {f.name for f in fields(obj)} - left_out
    for name in digested:
        assert digest(replace(obj, **{name: _other(getattr(obj, name))})) != digest(obj), name
    assert digest(replace(obj, raw={"a": 2})) != digest(obj)
    assert digest(replace(obj, raw={"a": 1})) == digest(obj)  # equal values, other objects: the same digest


def test_a_catalog_listing_is_compared_by_digest(store):
    store.upsert_plans([plan("A"), plan("B"), plan("C")], seen=at(0))
    listing = [plan("A"), plan("B"), plan("C")]
    assert store.plans_to_write("roumio", listing) == ([], False)
    changed = [plan("A", price="6.00"), plan("B", raw={"packageCode": "B", "apn": "new"}), plan("C"), plan("D")]
    assert [p.plan_id for p in store.plans_to_write("roumio", changed)[0]] == ["A", "B", "D"]
    assert store.plans_to_write("roumio", listing[:2]) == ([], True)  # C is gone
    store.upsert_plans(listing[:2], seen=at(1))
    store.mark_stale("plans", "roumio", at(1))
    assert store.plans_to_write("roumio", listing[:2]) == ([], False)  # a stale plan is no longer expected
    assert [p.plan_id for p in store.plans_to_write("roumio", listing)[0]] == ["C"]  # ... and written when back


class CountedRows(integrity.HeldConnection):
    """The store's connection (integrity.connect's factory), counting the rows its statements hand to Python:
    each one is a step of SQLite and a hand-over of Python's GIL and back."""

    fetched = 0

    def execute(self, *args):
        return _Counted(super().execute(*args))


class _Counted:
    def __init__(self, cursor):
        self._cursor = cursor

    def __iter__(self):
        return self

    def __next__(self):
        row = next(self._cursor)
        CountedRows.fetched += 1
        return row

    def fetchone(self):
        row = self._cursor.fetchone()
        CountedRows.fetched += row is not None
        return row

    def fetchall(self):
        rows = self._cursor.fetchall()
        CountedRows.fetched += len(rows)
        return rows

    def __getattr__(self, name):
        return getattr(self._cursor, name)


def test_an_unchanged_batch_is_compared_in_sqlite_and_none_of_its_rows_comes_back(tmp_path, monkeypatch):
    """A routine sync at 100,000 eSIMs a vendor gets ~190,000 eSIMs and 150,000 plans back as they were: read back
    a row each to compare digests, each row waited for Python's GIL beside the event loop's decoding. The digests
    go to SQLite instead; only what differs comes back (bench/sync_scale.py: in_sqlite_s)."""
    monkeypatch.setattr(integrity, "connect",
                        lambda database, **kw: sqlite3.connect(database, factory=CountedRows, **kw))
    store = SqliteStore(tmp_path / "desk.sqlite3")
    esims = [esim(f"89430000000000{i:05d}", data_used_mb=i % 50, data_total_mb=1024) for i in range(600)]
    plans = [plan(f"P{i}", f"Plan {i}", price=f"{1 + i % 9}.50") for i in range(800)]
    store.upsert_esims(esims, seen=at(0))
    store.upsert_plans(plans)

    CountedRows.fetched = 0
    store.upsert_esims(esims, seen=at(1))
    assert store.plans_to_write("roumio", plans) == ([], False)
    assert CountedRows.fetched <= 2  # one row of each answer (the eSIMs', the catalog's): none of the rows
    assert store.conn.execute("SELECT count(*) FROM esims WHERE last_seen = ?", (at(1),)).fetchone()[0] == 600

    # What differs still comes back, and only it: two eSIMs used more data, one plan costs more.
    CountedRows.fetched = 0
    esims[7] = replace(esims[7], data_used_mb=900)
    esims[300] = replace(esims[300], data_used_mb=901)
    plans[5] = replace(plans[5], price=Decimal("99.00"))
    store.upsert_esims(esims, seen=at(2))
    assert [p.plan_id for p in store.plans_to_write("roumio", plans)[0]] == ["P5"]
    assert CountedRows.fetched <= 2  # the two eSIMs changed come in one row too
    used = dict(store.conn.execute("SELECT iccid, data_used_mb FROM esims WHERE last_seen = ? AND data_used_mb > 800",
                                   (at(2),)).fetchall())
    assert used == {esims[7].iccid: 900, esims[300].iccid: 901}
    store.close()
