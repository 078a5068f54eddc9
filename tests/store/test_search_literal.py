"""Search takes typed text literally: a NUL counts as nothing (no error), and ``%``, ``_`` and ``\\`` match
only themselves, in plans, orders and eSIMs, whether the LIKE fallback or the trigram index answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan
from esimdesk.store import SqliteStore

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def plan(pid: str, name: str, price: str = "5.00") -> Plan:
    return Plan("roumio", pid, name, ("JP",), 1024, 7, Decimal(price), "USD")


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "desk.sqlite3")  # a real SQLite file
    s.upsert_plans([
        plan("P1", "Japan 1GB 7 Days"),
        plan("P2", "Japan 50% off 3GB", "6.00"),
        plan("P3", "Japan a_b promo", "7.00"),
        plan("P4", "Japan back\\slash", "8.00"),
        plan("P5", "Japan axb plain", "9.00"),
    ])
    orders = []
    for i, (ref, pid) in enumerate((("ref-plain", "P1"), ("ref%pct", "P2"), ("ref_und", "P3"), ("ref\\bs", "P4"),
                                    ("refXund", "P5"))):
        orders.append(Order("roumio", f"B{i}", ref, OrderStatus.COMPLETED, T0 + timedelta(minutes=i),
                            lines=(OrderLine(pid, 1, Decimal("5.00"), "line"),)))
    s.upsert_orders(orders)
    s.upsert_esims([Esim("roumio", f"894310817000077567{i}", EsimStatus.ACTIVE, "IN_USE/ENABLED", order_id=f"B{i}",
                         plan_id="P1") for i in range(5)])
    for i, note in enumerate(("plain note", "50% customer", "a_b customer", "c:\\path customer", "axb customer")):
        s.set_note("roumio", f"894310817000077567{i}", note)
    yield s
    s.close()


def plan_ids(store, text):
    return sorted(p.plan_id for p in store.plans(search=text))


def order_ids(store, text):
    return sorted(o.order_id for o in store.orders(search=text))


def esim_notes(store, text):
    return sorted(e.note for e in store.esims(search=text))


@pytest.mark.parametrize("text, expected", [
    ("%", ["P2"]), ("_", ["P3"]), ("\\", ["P4"]),          # one character: the LIKE fallback
    ("0%", ["P2"]), ("a_", ["P3"]), ("k\\", ["P4"]),       # two characters: LIKE
    ("50%", ["P2"]), ("a_b", ["P3"]), ("k\\s", ["P4"]),    # three and more: the trigram index
    ("% JP", ["P2"]), ("_ japan", ["P3"]),                  # a short word next to a long one
])
def test_plan_search_is_literal(store, text, expected):
    assert plan_ids(store, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("%", ["B1"]), ("_", ["B2"]), ("\\", ["B3"]),
    ("f%", ["B1"]), ("f_", ["B2"]),
    ("f%p", ["B1"]), ("ref_und", ["B2"]), ("ref_", ["B2"]),
])
def test_order_search_is_literal(store, text, expected):
    assert order_ids(store, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("%", ["50% customer"]), ("_", ["a_b customer"]), ("\\", ["c:\\path customer"]),
    ("a_", ["a_b customer"]), ("a_b", ["a_b customer"]), ("50%", ["50% customer"]),
])
def test_esim_search_is_literal(store, text, expected):
    assert esim_notes(store, text) == expected


def test_nul_counts_as_nothing_everywhere(store):
    # Inside a word: the word as if typed without it (trigram index and LIKE alike).
    assert plan_ids(store, "Ja\x00pan 50%") == ["P2"]
    assert plan_ids(store, "\x00%") == ["P2"]
    assert order_ids(store, "ref\x00_und") == ["B2"]
    assert order_ids(store, "f\x00%") == ["B1"]
    assert esim_notes(store, "a\x00_b") == ["a_b customer"]
    assert esim_notes(store, "cus\x00tomer") == ["50% customer", "a_b customer", "axb customer",
                                                  "c:\\path customer"]
    # NUL alone is an empty search (everything), never an error and never a LIKE that matches by accident.
    assert len(store.plans(search="\x00")) == 5
    assert len(store.esims(search="\x00\x00")) == 5
    store.orders(search="\x00")  # no error


def test_ordinary_searches_still_work(store):
    assert plan_ids(store, "japan") == ["P1", "P2", "P3", "P4", "P5"]
    assert plan_ids(store, "JP") == ["P1", "P2", "P3", "P4", "P5"]
    assert order_ids(store, "ref-plain") == ["B0"]
    assert [e.iccid for e in store.esims(search="5672")] == ["8943108170000775672"]


def test_an_orders_customer_note_finds_it_in_the_orders_listing_and_search(store):
    """The note kept on an order's eSIMs (the order dialog's customer note) finds the order."""
    from esimdesk.domain import ListingQuery

    store.set_note("roumio", "8943108170000775674", "Ms Tanaka, room 12")
    assert order_ids(store, "tanaka") == ["B4"]
    head = store.listing_head(ListingQuery("orders", text="Tanaka"), 100)
    assert [o.order_id for _, o in head.rows] == ["B4"] and head.total == 1
    assert order_ids(store, "nobody") == []
