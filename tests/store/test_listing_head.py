"""A result's first rows before its count (store/listings.py ``listing_head``): what they tell exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import Esim, EsimStatus, ListingQuery
from esimdesk.store import SqliteStore

BASE = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "desk.sqlite3")
    # 250 eSIMs; the first 30 have no expiry (they sort after every dated one, either way)
    s.upsert_esims([Esim("roumio", f"8999{i:015d}", EsimStatus.ACTIVE, "IN_USE",
                         expires_at=None if i < 30 else BASE + timedelta(hours=i)) for i in range(250)])
    yield s
    s.close()


def test_a_small_result_is_whole_in_its_head_and_needs_no_count(store):
    head = store.listing_head(ListingQuery("esims", text="00007"), 100)  # ICCIDs ending in 00007: i = 7
    assert [e.iccid for _, e in head.rows] == ["8999000000000000007"]
    assert (head.total, head.split) == (1, 0)  # it has no expiry: no row with a value
    assert (head.total, head.split) == store.listing_count(ListingQuery("esims", text="00007"))


def test_a_big_result_leaves_its_count_to_be_taken(store):
    q = ListingQuery("esims", sort="expires")
    head = store.listing_head(q, 100)
    assert len(head.rows) == 100 and head.total is None and head.split is None
    assert not head.split_is_total  # expiry may be empty: the rows without one are counted apart
    assert [k for k, _ in head.rows] == [k for k, _ in store.listing_page(q, 220, 0, 100)]
    assert store.listing_count(q) == (250, 220)
    assert store.listing_count(q, total=250) == (250, 220)  # the filter's count known: only the split taken


def test_a_head_that_reaches_the_rows_without_a_value_knows_the_split(store):
    q = ListingQuery("esims", sort="expires", text="5")  # ICCIDs ending in 5: 25 rows, 3 without expiry
    head = store.listing_head(q, 100)
    assert (head.total, head.split) == (25, 22) == store.listing_count(q)
    assert all(e.expires_at is None for _, e in head.rows[22:]) and head.rows[0][1].iccid.endswith("35")


def test_an_order_every_row_has_a_value_in_says_so(store):
    head = store.listing_head(ListingQuery("esims", sort="iccid"), 100)
    assert head.split_is_total and head.total is None and head.rows[0][1].iccid == "8999000000000000000"


@pytest.mark.parametrize("sort", ["vendor", "status", "expires", "iccid"])
def test_pages_of_a_one_digit_search_list_every_match_once_whatever_the_ties(tmp_path, sort):
    """A last-digit search is read by walking the sort column's index (store/listings.py): the first page
    and every page after it come from one plan, so rows that tie (one vendor, one status) never repeat or
    go missing between pages."""
    s = SqliteStore(tmp_path / "ties.sqlite3")
    s.upsert_esims([Esim("roumio" if i % 3 else "flexiroam", f"8999{i:015d}", EsimStatus.ACTIVE, "IN_USE",
                         expires_at=None if i % 7 == 0 else BASE + timedelta(days=i % 5)) for i in range(600)])
    q = ListingQuery("esims", text="4", sort=sort)
    head = s.listing_head(q, 10)
    total, split = s.listing_count(q)
    rows = [k for k, _ in head.rows]
    for offset in range(10, total, 10):
        rows += [k for k, _ in s.listing_page(q, split, offset, 10)]
    expected = {r[0] for r in s.conn.execute("SELECT rowid FROM esims WHERE iccid LIKE '%4'")}
    assert total == 60 and len(rows) == total and set(rows) == expected
    s.close()


def test_a_one_digit_search_by_soonest_expiry_reads_its_page_from_the_index_alone(store):
    """Fleet's default order (soonest expiry) with one last digit typed: the walk tests each eSIM's ICCID
    digits and order id in the expiry index itself (migration v7), never the table row it passes."""
    parts = store._parts(ListingQuery("esims", text="7", sort="expires"), walk=True)
    plan = " ".join(r[3] for r in store.conn.execute(
        f"EXPLAIN QUERY PLAN SELECT {parts.alias}.rowid {parts.with_value}{parts.order} LIMIT 101", parts.params))
    assert "COVERING INDEX esims_sort_expires_at" in plan, plan
    head = store.listing_head(ListingQuery("esims", text="7", sort="expires"), 100)
    # i = 37, 47, …, 247 by expiry, then 7, 17, 27 (no expiry): the whole result, and its counts
    assert [int(e.iccid) % 1000 for _, e in head.rows] == [*range(37, 250, 10), 7, 17, 27]
    assert (head.total, head.split) == (25, 22)
