"""Digits typed in Orders (store/listings.py ``_order_digits``): an order id being typed, through indexes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import Esim, EsimStatus, ListingQuery, Order, OrderStatus
from esimdesk.store import SqliteStore
from esimdesk.store import listings as L

BASE = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "desk.sqlite3")
    # 120 MicroESIM orders with numeric ids (2024010100000001000000…119), 30 Roumio ones (B…), one eSIM each
    orders = [Order("microesim", f"2024010100000001{i:08d}", None, OrderStatus.COMPLETED, BASE + timedelta(hours=i))
              for i in range(120)]
    orders += [Order("roumio", f"B2612{i:010d}", f"ref-77{i:03d}", OrderStatus.COMPLETED,
                     BASE + timedelta(hours=i, minutes=30)) for i in range(30)]
    s.upsert_orders(orders)
    s.upsert_esims([Esim("microesim", f"8985{i:015d}", EsimStatus.ACTIVE, "IN_USE",
                         order_id=f"2024010100000001{i:08d}") for i in range(120)])
    yield s
    s.close()


def listed(store, text, **kw) -> list[str]:
    q = ListingQuery("orders", text=text, **{"sort": "created", "descending": True, **kw})
    total, split = store.listing_count(q)
    rows = store.listing_page(q, split, 0, 1000)
    head = store.listing_head(q, 100)
    assert [k for k, _ in head.rows] == [k for k, _ in rows[:100]]  # the head is the first page
    assert total == len(rows)
    return [o.order_id for _, o in rows]


def test_the_start_of_an_order_id_lists_the_orders_whose_id_starts_so_newest_first(store):
    got = listed(store, "20240101000000010000011")  # ids ...0000110 to ...0000119
    assert got == [f"2024010100000001{i:08d}" for i in range(119, 109, -1)]
    assert len(listed(store, "202401")) == 120  # every MicroESIM order, not the Roumio ones


@pytest.mark.parametrize("few", [1, 5, 1000])  # a walk of the shown order's index, or the id's index
@pytest.mark.parametrize("sort", ["created", "status", "order_id", "vendor", "total"])
def test_each_way_of_reading_them_lists_the_same_orders(store, monkeypatch, few, sort):
    monkeypatch.setattr(L, "FEW_BY_ID", few)
    got = listed(store, "2024010100000001000000", sort=sort)
    assert sorted(got) == [f"2024010100000001{i:08d}" for i in range(100)]


def test_a_whole_order_id_and_an_iccids_last_digits_come_first(store):
    assert listed(store, "202401010000000100000042") == ["202401010000000100000042"]
    assert listed(store, "000042") == ["202401010000000100000042"]  # the end of its eSIM's ICCID


def test_digits_inside_ids_or_references_are_found_when_no_id_starts_with_them(store):
    assert listed(store, "26120000000012") == ["B26120000000012"]  # inside a Roumio id, no id starts so
    assert listed(store, "77012") == ["B26120000000012"]  # inside its reference "ref-77012"
    assert listed(store, "77012", sort="status") == ["B26120000000012"]
    assert listed(store, "999999") == []


def test_a_vendor_filter_still_holds(store):
    assert listed(store, "202401", vendor="roumio") == []
    assert len(listed(store, "202401", vendor="microesim")) == 120
