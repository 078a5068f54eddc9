"""Sync never crashes on a vendor that reuses an order id (issue 19): the row is updated or the
conflict is logged in words, never ``sqlite3.IntegrityError``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def order(order_id, reference=None, *, status=OrderStatus.COMPLETED, total="4.35", plan="esim-a", iccid=None,
          vendor="roamify", minutes=0):
    esims = (Esim(vendor, iccid, order_id=order_id, status=EsimStatus.NEW, vendor_status="NEW"),) if iccid else ()
    return Order(vendor, order_id, reference, status, T0 + timedelta(minutes=minutes), Decimal(total), "USD",
                 lines=(OrderLine(plan, 1, Decimal(total)),), esims=esims)


def journal_order(store, reference, order_id=None):
    """An order placed from this desk: its journal entry (and order row), with the vendor's id once known."""
    entry = store.journal_create(vendor="roamify", kind="order", reference=reference, plan_id="esim-a", quantity=1,
                                 unit_price=Decimal("4.35"), currency="USD")
    if order_id is not None:
        store.journal_transition(entry.id, OrderStatus.COMPLETED, "the vendor answered", order_id=order_id)
    return entry


def rows(store):
    return {(o.order_id, o.reference): o for o in store.orders(vendor="roamify")}


def test_one_order_id_twice_in_one_answer_is_one_row(store, caplog):
    first = order("X-1", total="4.35", plan="esim-a")
    again = order("X-1", total="5.00", plan="esim-b", status=OrderStatus.ALLOCATING)
    with caplog.at_level(logging.WARNING, logger="esimdesk.store"):
        store.upsert_orders([first, again, order("X-2", minutes=1)])
    got = rows(store)
    assert set(got) == {("X-1", None), ("X-2", None)}
    assert got[("X-1", None)].total == Decimal("5.00")  # the later entry of the answer wins
    assert [ln.plan_id for ln in got[("X-1", None)].lines] == ["esim-b"]
    assert "roamify listed order X-1 twice" in caplog.text


def test_twice_in_one_answer_once_with_our_reference(store):
    journal_order(store, "shop-1")
    store.upsert_orders([order("X-1", "shop-1"), order("X-1", None, total="6.00")])
    got = rows(store)
    assert set(got) == {("X-1", "shop-1")}
    assert got[("X-1", "shop-1")].total == Decimal("6.00")


def test_an_id_already_ours_under_another_reference_is_logged_and_kept(store, caplog):
    """The vendor says order X-1 carries reference shop-2, but X-1 is shop-1's order here: both rows stay."""
    journal_order(store, "shop-1", order_id="X-1")
    journal_order(store, "shop-2")
    with caplog.at_level(logging.WARNING, logger="esimdesk.store"):
        store.upsert_orders([order("X-1", "shop-2", total="43.24", status=OrderStatus.ALLOCATING)])
    got = rows(store)
    assert set(got) == {("X-1", "shop-1"), (None, "shop-2")}
    assert got[("X-1", "shop-1")].status == OrderStatus.COMPLETED
    assert got[("X-1", "shop-1")].total == Decimal("4.35")
    assert "X-1" in caplog.text and "shop-1" in caplog.text and "shop-2" in caplog.text


def test_a_second_vendor_order_carrying_our_reference_gets_a_row_of_its_own(store, caplog):
    """Our reference already names X-1; the vendor lists X-2 with it too (Roamify takes a reused referenceId)."""
    journal_order(store, "shop-1", order_id="X-1")
    with caplog.at_level(logging.WARNING, logger="esimdesk.store"):
        store.upsert_orders([order("X-1", "shop-1"), order("X-2", "shop-1", minutes=5, iccid="8988247000000000012")])
    got = rows(store)
    assert set(got) == {("X-1", "shop-1"), ("X-2", None)}
    assert [e.iccid for e in got[("X-2", None)].esims] == ["8988247000000000012"]
    assert "X-2" in caplog.text and "shop-1" in caplog.text
    # The next sync changes nothing: no row moves to another order id, none is added.
    store.upsert_orders([order("X-2", "shop-1", minutes=5), order("X-1", "shop-1")])
    assert set(rows(store)) == {("X-1", "shop-1"), ("X-2", None)}


def test_an_order_imported_before_its_entry_knew_it_is_still_merged(store):
    """The adopt/journal merge path (merge_order_rows) is unchanged: a row sync imported alone is folded in."""
    journal_order(store, "shop-1")
    store.upsert_orders([order("X-1")])  # the listing carried no reference we knew
    store.upsert_orders([order("X-1", "shop-1")])
    assert set(rows(store)) == {("X-1", "shop-1")}


def test_the_same_batch_twice_changes_nothing(store):
    batch = [order("X-1"), order("X-1", total="5.00"), order("X-2", minutes=1), order("X-2", minutes=1)]
    store.upsert_orders(batch)
    before = rows(store)
    store.upsert_orders(batch)
    assert rows(store) == before and len(before) == 2
