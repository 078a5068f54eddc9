"""The SQLite store: migrations, upserts that keep what they should, search, stale marking."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from esimdesk.domain import Balance, ConfigError, Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan
from esimdesk.store import SqliteStore
from esimdesk.store.migrations import LATEST, MIGRATIONS, migrate


def plan(pid="JC016", countries=("JP",), name="Japan 1GB 7 Days", price="5.70", vendor="roumio", **kw):
    return Plan(vendor, pid, name, countries, kw.pop("data_mb", 1024), kw.pop("validity_days", 7), Decimal(price),
                "USD", **kw)


def esim(iccid="8943108170000775671", vendor="roumio", **kw):
    kw.setdefault("status", EsimStatus.ACTIVE)
    kw.setdefault("vendor_status", "IN_USE/ENABLED")
    return Esim(vendor, iccid, **kw)


def test_new_file_is_at_latest_version_with_wal_and_foreign_keys(store):
    assert store.schema_version == LATEST
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


@pytest.mark.parametrize("start", range(0, LATEST))
def test_migrates_from_every_earlier_version(tmp_path, start):
    """A file left at version ``start`` (with data) opens, migrates, keeps its rows and is searchable."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=start)
    if start == 0:
        conn.execute("PRAGMA journal_mode=WAL")  # a header on disk, as every esimdesk file (an empty one is refused)
    if start >= 1:
        conn.execute("INSERT INTO esims (vendor, iccid, order_id, plan_id, status, vendor_status, last_seen) "
                     "VALUES ('roumio', '8943108170000775671', 'B1', 'JC016', 'ACTIVE', 'IN_USE/ENABLED', '2024-01-01')")
        if start >= 2:  # from version 2 on the app writes the reversed ICCID with the row
            conn.execute("UPDATE esims SET iccid_rev = '1765770000718013498'")
        conn.execute("INSERT INTO plans (vendor, plan_id, name, countries, validity_days, price, currency, "
                     "first_seen, last_seen) VALUES ('roumio', 'JC016', 'Japan 1GB', 'JP', 7, '5.70', 'USD', 'x', 'x')")
    if start >= 2:  # ... and the plan's search text (its trigger indexes it)
        conn.execute("UPDATE plans SET search_text = plan_id || ' ' || name || ' ' || countries")
        conn.execute("INSERT INTO journal (vendor, kind, reference, plan_id, quantity, state, created_at, updated_at) "
                     "VALUES ('roumio', 'order', 'R-1', 'JC016', 1, 'UNCERTAIN', '2026-11-01T00:00:00+00:00', "
                     "'2026-11-01T00:00:00+00:00')")
    conn.close()
    store = SqliteStore(path)
    assert store.schema_version == LATEST
    if start >= 1:
        assert [e.iccid for e in store.esims(search="775671")] == ["8943108170000775671"]
        assert [p.plan_id for p in store.plans(search="Japan")] == ["JC016"]
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert len(store.desk_id()) == 6
    if start >= 2:  # journal entries from before desk-unique handles keep their reference as the handle
        assert store.journal_get(reference="R-1").vendor_handle == "R-1"


def test_failed_migration_leaves_the_file_at_its_version(tmp_path, monkeypatch):
    path = tmp_path / "x.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=1)
    broken = [MIGRATIONS[0], lambda: "CREATE TABLE half (x); SELECT * FROM no_such_table;"]
    monkeypatch.setattr("esimdesk.store.migrations.MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0


def test_newer_file_is_refused_in_words(tmp_path):
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 5}")
    conn.close()
    with pytest.raises(ConfigError, match="newer esimdesk"):
        SqliteStore(path)


def test_plan_upsert_round_trip_and_country_filter(store):
    store.upsert_plans([plan(), plan("AS11", ("CN", "HK", "JP", "KR"), "Asia 11 countries", "15.70", data_mb=None,
                                     daily=True, topup=True, region="Asia")])
    got = store.plans(country="KR")
    assert [p.plan_id for p in got] == ["AS11"]
    assert got[0].price == Decimal("15.70") and got[0].data_mb is None and got[0].daily and got[0].topup
    assert {p.plan_id for p in store.plans(country="JP")} == {"JC016", "AS11"}
    assert [p.plan_id for p in store.plans(search="korea")] == ["AS11"]  # country name, not just code
    assert [p.plan_id for p in store.plans(search="HK")] == ["AS11"]


def test_second_upsert_changes_only_what_changed(store):
    store.upsert_plans([plan()])
    first = store.conn.execute("SELECT first_seen, last_seen FROM plans").fetchone()
    store.upsert_plans([plan(price="6.10")])
    row = store.conn.execute("SELECT first_seen, last_seen, price FROM plans").fetchone()
    assert row["first_seen"] == first["first_seen"] and row["price"] == "6.10"
    assert store.counts()["plans"] == 1


def test_missing_rows_are_marked_stale_not_deleted(store):
    store.upsert_plans([plan("A"), plan("B")], seen="2024-01-01T00:00:00+00:00")
    store.upsert_plans([plan("A")], seen="2024-02-01T00:00:00+00:00")
    assert store.mark_stale("plans", "roumio", "2024-02-01T00:00:00+00:00") == 1
    assert [p.plan_id for p in store.plans()] == ["A"]
    assert {p.plan_id for p in store.plans(include_stale=True)} == {"A", "B"}


def test_esim_search_by_suffix_full_iccid_order_plan_and_note(store):
    store.upsert_plans([plan()])
    store.upsert_esims([esim(order_id="B23120118131854", plan_id="JC016"), esim("89852245280000942210", plan_id="X")])
    assert [e.iccid for e in store.esims(search="0775671")] == ["8943108170000775671"]
    assert [e.iccid for e in store.esims(search="8943108170000775671")] == ["8943108170000775671"]
    assert [e.iccid for e in store.esims(search="B23120118131854")] == ["8943108170000775671"]
    assert [e.iccid for e in store.esims(search="japan")] == ["8943108170000775671"]
    store.set_note("roumio", "89852245280000942210", "Maria Lopez, room 12")
    assert [e.iccid for e in store.esims(search="lopez")] == ["89852245280000942210"]
    store.upsert_esims([esim("89852245280000942210", plan_id="X", data_used_mb=10)])  # a sync keeps the note
    assert [e.iccid for e in store.esims(search="lopez")] == ["89852245280000942210"]
    assert store.esims(search='"; DROP TABLE esims; --') == []


def test_usage_sample_recorded_only_when_usage_changes(store):
    store.upsert_esims([esim(data_used_mb=10, data_total_mb=1024)], seen="2024-01-01T00:00:00+00:00")
    store.upsert_esims([esim(data_used_mb=10, data_total_mb=1024)], seen="2024-01-02T00:00:00+00:00")
    store.upsert_esims([esim(data_used_mb=25, data_total_mb=1024)], seen="2024-01-03T00:00:00+00:00")
    assert [u.data_used_mb for u in store.usage("roumio", "8943108170000775671")] == [10, 25]


def test_a_usage_reading_never_replaces_a_newer_one(store):
    """Issue 29 (3): a reading as of 02:00 (a vendor's usage check) after one as of 03:48 (a sync) leaves the
    newer on the eSIM, by either path; it is kept as a sample at its own time; a newer reading replaces it."""
    from esimdesk.domain import Usage

    iccid = "8943108170000775671"
    at = datetime(2024, 1, 1, 3, 48, tzinfo=UTC)
    store.upsert_esims([esim(data_used_mb=2, data_total_mb=1024)], seen=at.isoformat())
    older = at.replace(hour=2, minute=0)
    store.record_usage([Usage("roumio", iccid, at + timedelta(minutes=1), 0, 1024, as_of=older)])
    kept = store.esim(iccid, "roumio")
    assert (kept.data_used_mb, kept.usage_as_of) == (2, at)
    store.upsert_esims([esim(data_used_mb=0, data_remaining_mb=1024, usage_as_of=older)],
                       seen=(at + timedelta(minutes=2)).isoformat())
    kept = store.esim(iccid, "roumio")
    assert (kept.data_used_mb, kept.data_remaining_mb, kept.usage_as_of) == (2, None, at)
    # Each kept at its own time (twice seen as of 02:00): the chart never shows 0 MB after 2 MB.
    assert sorted((u.when, u.data_used_mb) for u in store.usage("roumio", iccid)) == [(older, 0), (older, 0), (at, 2)]
    newer = at.replace(hour=4, minute=0)
    store.record_usage([Usage("roumio", iccid, newer + timedelta(minutes=1), 3, 1024, as_of=newer)])
    kept = store.esim(iccid, "roumio")
    assert (kept.data_used_mb, kept.usage_as_of) == (3, newer)
    store.upsert_esims([esim(data_used_mb=5, data_total_mb=1024)], seen=(newer + timedelta(hours=1)).isoformat())
    assert store.esim(iccid, "roumio").data_used_mb == 5  # a sync's later reading replaces it


def test_partial_esim_answer_never_erases_known_values(store):
    store.upsert_esims([esim(activation_code="LPA:1$x$y", data_used_mb=10)])
    store.upsert_esims([esim(status=EsimStatus.DEPLETED, vendor_status="USED_UP/ENABLED")])
    got = store.esim("8943108170000775671")
    assert got.activation_code == "LPA:1$x$y" and got.data_used_mb == 10 and got.status is EsimStatus.DEPLETED


def test_orders_with_lines_and_esims(store):
    now = datetime.now(UTC)
    order = Order("roumio", "B1", "txn-1", OrderStatus.COMPLETED, now, Decimal("11.40"), "USD",
                  lines=[OrderLine("JC016", 1, Decimal("5.70")), OrderLine("JC016", 1, Decimal("5.70"))],
                  esims=[esim(order_id="B1", activation_code="LPA:1$a$b")])
    store.upsert_orders([order, Order("roumio", "B0", "txn-0", OrderStatus.COMPLETED, now - timedelta(days=1))])
    got = store.orders(search="txn-1")
    assert len(got) == 1 and got[0].total == Decimal("11.40") and len(got[0].lines) == 2
    assert got[0].esims[0].activation_code == "LPA:1$a$b"
    assert [o.order_id for o in store.orders()] == ["B1", "B0"]  # newest first
    store.upsert_orders([Order("roumio", "B1", "txn-1", OrderStatus.COMPLETED, now)])  # re-seen without lines
    assert len(store.order("roumio", "B1").lines) == 2


def test_balance_round_trip(store):
    store.save_balance(Balance("roumio", Decimal("5000.00"), "USD", datetime(2024, 1, 1, tzinfo=UTC)))
    store.save_balance(Balance("roumio", Decimal("4994.30"), "USD", datetime(2024, 1, 2, tzinfo=UTC)))
    [bal] = store.balances()
    assert bal.amount == Decimal("4994.30") and bal.observed_at == datetime(2024, 1, 2, tzinfo=UTC)


def test_concurrent_reader_sees_committed_data_only(store, tmp_path):
    other = SqliteStore(tmp_path / "desk.sqlite3")
    with pytest.raises(RuntimeError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO balances VALUES ('roumio', '1', 'USD', 'x')")
            assert other.balances() == []  # not committed yet
            raise RuntimeError("cancelled mid-way")
    assert other.balances() == [] and store.balances() == []


def test_a_later_vendor_answer_keeps_our_prices_names_and_the_earliest_time(store):
    early = datetime(2024, 5, 1, tzinfo=UTC)
    store.upsert_orders([Order("microesim", "T1", "REF-1", OrderStatus.ALLOCATING, early, Decimal("10.00"), "HKD",
                               lines=[OrderLine("MX1", 2, Decimal("5.00"), "Japan 1GB")])])
    later = Order("microesim", "T1", None, OrderStatus.COMPLETED, datetime.now(UTC), lines=[OrderLine("MX1", 2)])
    store.upsert_orders([later])
    got = store.order("microesim", "T1")
    assert got.status is OrderStatus.COMPLETED and got.created_at == early and got.reference == "REF-1"
    assert got.lines[0].unit_price == Decimal("5.00") and got.lines[0].name == "Japan 1GB"
    assert got.total == Decimal("10.00")


def test_order_search_by_id_reference_iccid_digits_and_plan_words(store):
    now = datetime.now(UTC)
    store.upsert_plans([plan("JC016", name="Japan 1GB 7 Days")])
    store.upsert_orders([
        Order("roumio", "B1001", "TXN-ABC-1", OrderStatus.COMPLETED, now, lines=[OrderLine("JC016", 1, None, "Japan 1GB")],
              esims=[esim("8943108170000775671", order_id="B1001")]),
        Order("roumio", "B1002", "TXN-ABC-2", OrderStatus.COMPLETED, now - timedelta(hours=1),
              lines=[OrderLine("XX1", 1, None, "Spain 5GB")], esims=[esim("8944001000000000026", order_id="B1002")]),
    ])
    assert [o.order_id for o in store.orders(search="B1002")] == ["B1002"]
    assert [o.order_id for o in store.orders(search="TXN-ABC-1")] == ["B1001"]
    assert [o.order_id for o in store.orders(search="0775671")] == ["B1001"]  # an eSIM's last digits
    assert [o.order_id for o in store.orders(search="TXN-ABC")] == ["B1001", "B1002"]  # free text, newest first
    assert [o.order_id for o in store.orders(search="spain")] == ["B1002"]


@pytest.mark.parametrize("few_hits", [0, 10_000])
def test_plan_search_gives_the_same_cheapest_first_answer_either_way(store, monkeypatch, few_hits):
    """Both query shapes (start from the text matches, or walk the price index) agree."""
    monkeypatch.setattr("esimdesk.store.sqlite_store.FEW_HITS", few_hits)
    store.upsert_plans([plan(f"P{i}", ("JP",) if i % 2 else ("KR",), f"{'Japan' if i % 2 else 'Korea'} {i % 5}GB",
                             f"{10 + (i * 7) % 13}.00") for i in range(40)])
    got = store.plans(search="japan 3GB", limit=5)
    assert len(got) == 4 and all("Japan 3GB" in p.name for p in got)
    assert [p.price for p in got] == sorted(p.price for p in got)
    assert [p.plan_id for p in store.plans(search="japan JP", limit=100)] == \
        [p.plan_id for p in store.plans(country="JP", limit=100)]


def test_a_pasted_plan_id_finds_that_plan(store):
    store.upsert_plans([plan("JC016"), plan("MX00002602068B92F4AAE", ("JP", "KR"), "Asia 2 5GB")])
    assert [p.plan_id for p in store.plans(search="MX00002602068B92F4AAE")] == ["MX00002602068B92F4AAE"]
    assert [p.plan_id for p in store.plans(search="JC016", country="JP")] == ["JC016"]
    assert store.plans(search="JC016", country="KR") == []
