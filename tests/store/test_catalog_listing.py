"""The Catalog's listing in the store (issue 13): filters, price per GB, currency-safe orders, cheapest per
vendor, schema v8 and the vendors' plan details, over a real SQLite file."""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from esimdesk.domain import ListingQuery, Plan, PlanDetails, plan_total_mb, price_per_gb
from esimdesk.store import rows as R
from esimdesk.store.migrations import migrate
from esimdesk.store.sqlite_store import SqliteStore

FIXTURES = Path(__file__).parent.parent / "fixtures"
VENDORS = {"roumio": "USD", "roamify": "USD", "microesim": "HKD"}
COUNTRIES = ["JP", "KR", "TH", "FR", "DE", "US"]


def make_plans(n: int = 1500, seed: int = 7) -> list[Plan]:
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        vendor = rng.choice(sorted(VENDORS))
        currency = VENDORS[vendor] if rng.random() < 0.9 else "EUR"  # a vendor with two currencies
        kind = rng.random()
        daily, data = (True, rng.choice([500, 1024, 2048])) if kind < 0.2 else \
            (False, None) if kind < 0.3 else (False, rng.choice([512, 1024, 3072, 5120, 10240, 20480, 51200]))
        countries = tuple(rng.sample(COUNTRIES, rng.choice([1, 1, 1, 2, 6])))
        plans.append(Plan(vendor, f"{vendor}-{i}", f"Plan {i}", countries, data, rng.choice([1, 3, 5, 7, 15, 30, 90]),
                          Decimal(rng.randint(100, 90000)) / 100, currency, daily=daily,
                          topup=rng.choice([True, False, None]),
                          region="global" if len(countries) == 6 else "regional" if len(countries) > 1 else None))
    return plans


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    path = tmp_path_factory.mktemp("catalog") / "esimdesk.sqlite3"
    store = SqliteStore(path)
    plans = make_plans()
    store.upsert_plans(plans)
    yield store, plans, path
    store.close()


def matches(p: Plan, q: ListingQuery) -> bool:
    """The filters as the agent reads them, computed here without SQL."""
    total = plan_total_mb(p)
    return ((q.country is None or q.country in p.countries) and (q.vendor is None or p.vendor == q.vendor)
            and (q.min_data_mb is None or total is None or total >= q.min_data_mb)
            and (q.min_days is None or p.validity_days >= q.min_days)
            and (q.max_days is None or p.validity_days <= q.max_days)
            and (q.kind is None or (q.kind == "unlimited" and p.data_mb is None) or (q.kind == "daily" and p.daily)
                 or (q.kind == "fixed" and not p.daily and p.data_mb is not None))
            and (not q.topup_only or p.topup is True))


FILTERS = [
    {}, {"country": "JP"}, {"min_data_mb": 5120}, {"min_days": 4, "max_days": 7}, {"min_days": 31},
    {"kind": "unlimited"}, {"kind": "daily"}, {"kind": "fixed"}, {"topup_only": True},
    {"country": "JP", "kind": "daily", "topup_only": True}, {"country": "JP", "min_data_mb": 3072, "max_days": 15},
    {"vendor": "microesim", "country": "KR", "kind": "unlimited"},
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "none")
@pytest.mark.parametrize("sort", ["price", "per_gb", "name", "days"])
def test_each_filter_finds_exactly_the_matching_plans(catalog, filters, sort):
    store, plans, path = catalog
    q = ListingQuery("plans", sort=sort, **filters)
    want = {(p.vendor, p.plan_id) for p in plans if matches(p, q)}
    assert want or filters.get("kind") == "unlimited" and filters.get("vendor")  # the filters select something
    total, _split = store.listing_count(q)
    got = [(p.vendor, p.plan_id) for _k, p in store.listing_page(q, store.listing_count(q)[1], 0, 5000)]
    assert total == len(want) == len(got) and set(got) == want
    # and the count agrees with plain SQL over the file
    sql = {"min_data_mb": "(total_mb >= :min_data_mb OR total_mb IS NULL)", "min_days": "validity_days >= :min_days",
           "max_days": "validity_days <= :max_days", "topup_only": "topup = 1", "vendor": "vendor = :vendor",
           "country": "(',' || countries || ',') LIKE '%,' || :country || ',%'"}
    kinds = {"unlimited": "data_mb IS NULL", "daily": "daily = 1", "fixed": "daily = 0 AND data_mb IS NOT NULL"}
    where = ["stale = 0"] + [sql[k] for k in filters if k in sql] + ([kinds[filters["kind"]]] if "kind" in filters else [])
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"SELECT count(*) FROM plans WHERE {' AND '.join(where)}", filters).fetchone()[0] == total


def test_price_per_gb_is_of_the_whole_data_and_none_for_unlimited():
    fixed = Plan("roumio", "a", "5 GB", ("JP",), 5120, 30, Decimal("10.00"), "USD")
    daily = Plan("roumio", "b", "1 GB/day", ("JP",), 1024, 7, Decimal("14.00"), "USD", daily=True)
    unlimited = Plan("roumio", "c", "Unlimited", ("JP",), None, 7, Decimal("20.00"), "USD")
    small = Plan("microesim", "d", "500 MB", ("JP",), 500, 7, Decimal("3.00"), "HKD")
    assert price_per_gb(fixed) == Decimal("2.00")
    assert price_per_gb(daily) == Decimal("2.00")  # 14.00 for 7 × 1 GB
    assert price_per_gb(unlimited) is None
    assert price_per_gb(small) == Decimal("6.14")  # 3.00 × 1024 / 500, to the cent


def currencies_in_order(store: SqliteStore, q: ListingQuery) -> list[tuple[int, Plan]]:
    _total, split = store.listing_count(q)
    return store.listing_page(q, split, 0, 5000)


@pytest.mark.parametrize("descending", [False, True])
def test_price_and_per_gb_orders_never_interleave_currencies(catalog, descending):
    store, plans, _ = catalog
    for sort in ("price", "per_gb"):
        listed = [p for _k, p in currencies_in_order(store, ListingQuery("plans", sort=sort, descending=descending))]
        valued = [p for p in listed if sort == "price" or price_per_gb(p) is not None]
        runs = [c for i, c in enumerate(p.currency for p in valued) if i == 0 or valued[i - 1].currency != c]
        assert len(runs) == len(set(runs)) == 3, f"{sort}: currencies interleave: {runs}"
        for currency in runs:
            values = [p.price if sort == "price" else price_per_gb(p) for p in valued if p.currency == currency]
            assert values == sorted(values, reverse=descending)
        if sort == "per_gb":  # unlimited plans have no price per GB: after every plan that has one
            assert listed[len(valued):] == [p for p in listed if p.data_mb is None]


def test_cheapest_per_vendor_is_each_vendors_cheapest_matching_plan_per_currency(catalog):
    store, plans, _ = catalog
    for filters in ({"country": "JP"}, {"country": "JP", "kind": "fixed", "min_days": 7},
                    {"country": "KR", "topup_only": True}):
        q = ListingQuery("plans", **filters)
        found = store.cheapest_per_vendor(q, sorted(VENDORS))
        want = {}
        for p in plans:
            if matches(p, q) and ((p.vendor, p.currency) not in want or p.price < want[p.vendor, p.currency].price):
                want[p.vendor, p.currency] = p
        assert {(p.vendor, p.currency): p.price for _k, p in found} == {k: p.price for k, p in want.items()}
        assert [p.vendor for _k, p in found] == sorted(p.vendor for _k, p in found)
    assert store.cheapest_per_vendor(ListingQuery("plans"), sorted(VENDORS)) == []  # only with a country


@pytest.mark.parametrize("filters", [{"min_days": 1, "max_days": 3}, {"kind": "unlimited"}, {"topup_only": True},
                                     {"min_data_mb": 20480}])
@pytest.mark.parametrize("sort", ["price", "per_gb", "name"])
def test_a_filtered_first_page_walks_the_sort_index_alone(catalog, filters, sort):
    """The first page is read by walking the shown order's index, testing the filters in it: no sort of every
    match (a temporary B-tree), no plan row read (a covering index)."""
    store, _plans, _ = catalog
    store.refresh_statistics()
    q = ListingQuery("plans", sort=sort, **filters)
    if sort == "per_gb" and q.kind == "unlimited":  # none has a price per GB: only the rows without one
        head = store.listing_head(q, 100)
        assert head.split == 0 and head.rows and all(p.data_mb is None for _k, p in head.rows)
        return
    parts = store._parts(q)
    plan = " | ".join(r[3] for r in store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT p.rowid {parts.with_value}{parts.order} LIMIT 101", parts.params))
    assert "TEMP B-TREE" not in plan and "COVERING INDEX plans_sort_" in plan, plan


def test_a_country_with_more_filters_reads_that_countrys_plans_by_their_lists(catalog):
    store, _plans, _ = catalog
    parts = store._parts(ListingQuery("plans", country="JP", kind="daily", topup_only=True))
    plan = " | ".join(r[3] for r in store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT p.rowid {parts.with_value}{parts.order} LIMIT 101", parts.params))
    assert "plans_by_list (list_id=?" in plan, plan


def test_schema_v9_fills_total_data_and_price_per_gb_as_a_sync_writes_them(tmp_path):
    """A file of schema 8 with plans: after v9 each plan's new columns are what the upsert writes."""
    plans = make_plans(60, seed=3) + [Plan("roumio", "zero", "0 MB", ("JP",), 0, 7, Decimal("1.00"), "USD")]
    conn = sqlite3.connect(tmp_path / "old.sqlite3")
    migrate(conn, 8)  # the schema before the Catalog's columns (v9)
    conn.execute("INSERT INTO country_lists (id, countries) VALUES (1, 'JP')")
    for p in plans:
        row = R.plan_row(p, "2026-01-01T00:00:00+00:00")
        cols = ("vendor", "plan_id", "name", "countries", "data_mb", "validity_days", "price", "price_sort",
                "currency", "daily", "topup", "region", "first_seen", "last_seen", "search_text")
        conn.execute(f"INSERT INTO plans ({', '.join(cols)}, list_id) VALUES ({', '.join('?' * len(cols))}, 1)",
                     [row[c] for c in cols])
    conn.commit()
    migrate(conn)
    got = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT plan_id, total_mb, price_per_gb_sort FROM plans")}
    for p in plans:
        row = R.plan_row(p, "x")
        assert got[p.plan_id] == (row["total_mb"], row["price_per_gb_sort"])
    assert got["zero"] == (0, 1e308)  # no data at all: dearest per GB, still "has a value"
    conn.close()


def test_a_sync_that_changes_nothing_rewrites_no_plan_after_v9(catalog):
    """The new columns are compared like the others: an unchanged plan is not rewritten (its indexes are not
    touched); only when it was seen and its payload are written."""
    store, plans, _ = catalog
    before = store.conn.total_changes
    store.upsert_plans(plans[:50])
    assert store.conn.total_changes - before == 50


# --- the vendors' details, from their documented payloads -------------------------------------------
def test_roamify_details_from_its_documented_package():
    from esimdesk.vendors.roamify import RoamifyAdapter
    from esimdesk.vendors.roamify_catalog import CountryMap, parse_packages

    data = json.loads((FIXTURES / "roamify" / "packages.json").read_text())["data"]
    plan = parse_packages(data, CountryMap())[0]
    details = RoamifyAdapter.plan_details(json.loads(R.dumps(plan.raw)))  # as stored and read back
    assert details.networks == ("Afghanistan: MTN (3G/4G)",)
    assert details.apn == "drei.at (set automatically)"
    assert details.speed == "reduced to 128 kbps after 2 GB"
    assert details.activation.startswith("on first use")
    assert "Top up" in details.topups


def test_microesim_details_from_its_documented_plan_list():
    from esimdesk.vendors.microesim import MicroesimAdapter

    item = json.loads((FIXTURES / "microesim" / "esimDataplanList.json").read_text())["result"][0]
    details = MicroesimAdapter.plan_details(item)
    assert details.networks == ("Japan: Docomo(IIJ) (4G/LTE)",)
    assert (details.apn, details.speed) == ("vmobile.jp", "unlimited 512kbps")
    assert details.activation == "when the device first connects to a network; use it within 60 days"
    assert details.notes == ("data exits in PL",)


def test_roumio_details_from_its_documented_package_fields():
    from esimdesk.vendors.roumio import RoumioAdapter

    pkg = {"packageCode": "CKH003", "speed": "3G/4G", "activeType": 1, "unusedValidTime": 30, "durationUnit": "DAY",
           "operatorList": [{"operatorName": "T-Mobile", "networkType": "4G/5G"}], "ipExport": "HK",
           "supportTopUpType": 2, "dataType": 1}
    details = RoumioAdapter.plan_details(pkg)
    assert details.networks == ("T-Mobile 4G/5G",) and details.speed == "3G/4G" and details.apn is None
    assert details.activation == "on first installation; install within 30 days"
    assert "top-up packages" in details.topups
    assert RoumioAdapter.plan_details({**pkg, "supportTopUpType": 1}).topups == "Roumio offers no top-up for this plan"


@pytest.mark.parametrize("raw", [None, {}, {"operatorList": "x", "activeType": [1], "dataType": "two"},
                                 {"networks": 5, "group": "x", "signals": None, "throttle": 3, "withThrottle": True}])
def test_a_payload_of_an_unexpected_shape_gives_no_details_not_an_error(raw):
    from esimdesk.vendors import adapter_class

    for vendor in ("roumio", "roamify", "microesim", "flexiroam"):
        details = adapter_class(vendor).plan_details(raw)
        assert isinstance(details, PlanDetails)


def test_plan_details_read_the_stored_payload(tmp_path):
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    plan = replace(make_plans(1)[0], vendor="microesim", plan_id="with-raw",
                   raw=json.loads((FIXTURES / "microesim" / "esimDataplanList.json").read_text())["result"][0])
    store.upsert_plans([plan])
    assert store.plan_raw("microesim", "with-raw")["apn"] == "vmobile.jp"
    assert store.plan_raw("microesim", "nope") is None
    store.close()


def test_pages_of_a_country_with_filters_never_repeat_or_skip_plans_of_one_price(tmp_path):
    """Read through the country's lists, the matches are sorted: plans of one price still come in one order
    whichever page (LIMIT/OFFSET) reads them."""
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    store.upsert_plans([Plan(v, f"{v}-{i}", f"Japan {i}", ("JP",) if i % 3 else ("JP", "KR"), 1024, 7,
                             Decimal("5.00"), "USD", daily=True, topup=True)
                        for v in ("roumio", "roamify") for i in range(60)])
    for sort in ("price", "per_gb", "name", "vendor"):
        q = ListingQuery("plans", country="JP", kind="daily", topup_only=True, sort=sort)
        total, split = store.listing_count(q)
        read = [k for offset in range(0, total, 7) for k, _p in store.listing_page(q, split, offset, 7)]
        assert total == 120 and len(read) == len(set(read)) == 120, sort
        assert read == store.listing_ids(q)
    store.close()
