"""Issue 28: a page's new orders go in a hundred a statement (not a step of SQLite an order); an entry of the same
page that finds one of them decides on it as stored, so a page written whole ends as its orders written one by one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, StoreError
from esimdesk.store import SqliteStore, sqlite_store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def order(order_id, reference=None, *, total="4.35", plan="esim-a", iccid=None, minutes=0):
    esims = (Esim("roamify", iccid, order_id=order_id, status=EsimStatus.NEW, vendor_status="NEW"),) if iccid else ()
    return Order("roamify", order_id, reference, OrderStatus.COMPLETED, T0 + timedelta(minutes=minutes),
                 Decimal(total), "USD", lines=(OrderLine(plan, 1, Decimal(total)),), esims=esims)


def iccid(n: int) -> str:
    return f"89882470000{n:08d}"


def as_stored(store) -> dict:
    """Each order row as the Orders view reads it: ids, reference, total, lines and eSIMs."""
    return {(o.order_id, o.reference): (o.total, [(ln.plan_id, ln.unit_price) for ln in o.lines],
                                        sorted(e.iccid for e in o.esims))
            for o in store.orders(vendor="roamify", limit=10_000)}


def test_new_orders_go_in_a_statement_a_hundred_each_with_its_own_lines_and_esims(store, monkeypatch):
    statements: list[str] = []
    held = type(store.conn)  # the store's connection class (integrity.HeldConnection), a Python subclass

    def execute(self, sql, *args):
        if sql.lstrip().startswith("INSERT INTO orders "):
            statements.append("execute")
        return super(held, self).execute(sql, *args)

    def executemany(self, sql, *args):
        if sql.lstrip().startswith("INSERT INTO orders "):
            statements.append("executemany")
        return super(held, self).executemany(sql, *args)

    monkeypatch.setattr(held, "execute", execute, raising=False)
    monkeypatch.setattr(held, "executemany", executemany, raising=False)
    batch = [order(f"X-{n}", f"shop-{n}" if n % 3 else None, total=f"{n}.50", plan=f"plan-{n}", iccid=iccid(n),
                   minutes=n) for n in range(250)]
    store.upsert_orders(batch)
    monkeypatch.undo()
    assert statements == ["execute"] * 3  # 250 orders: 100, 100 and 50 a statement
    got = as_stored(store)
    assert len(got) == 250
    for n in range(250):
        assert got[(f"X-{n}", f"shop-{n}" if n % 3 else None)] == (
            Decimal(f"{n}.50"), [(f"plan-{n}", Decimal(f"{n}.50"))], [iccid(n)])
    # The same page again is only confirmed: nothing new inserted, nothing changed.
    before = store.conn.execute("SELECT max(id), count(*) FROM orders").fetchone()[:]
    store.upsert_orders(batch)
    assert store.conn.execute("SELECT max(id), count(*) FROM orders").fetchone()[:] == before
    assert as_stored(store) == got


PAGES = {
    # The reference first without the vendor's id, then with it: one row, with both.
    "reference then id": [order(None, "shop-9", total="1.00"), order("X-1", "shop-9", total="2.00", iccid=iccid(1))],
    # Two new vendor orders carrying one new reference: the second is kept apart, without it.
    "a reference twice": [order("X-1", "shop-9", iccid=iccid(1)), order("X-2", "shop-9", minutes=5, iccid=iccid(2))],
    # The vendor's id twice around another order: the later entry wins (written one by one, it is the later sync).
    "an id twice": [order("X-1", plan="a"), order("X-3", "shop-3"), order("X-1", "shop-1", plan="b", total="9.00")],
}


@pytest.mark.parametrize("page", PAGES, ids=list(PAGES))
def test_a_page_ends_as_its_orders_written_one_by_one(tmp_path, monkeypatch, page):
    monkeypatch.setattr(sqlite_store, "ORDER_INSERT_ROWS", 2)  # a page's rows over more than one statement
    whole, one_by_one = (SqliteStore(tmp_path / f"{name}.sqlite3") for name in ("whole", "one"))
    try:
        whole.upsert_orders([*(order(f"Z-{n}") for n in range(3)), *PAGES[page]])
        for o in [*(order(f"Z-{n}") for n in range(3)), *PAGES[page]]:
            one_by_one.upsert_orders([o])
        assert as_stored(whole) == as_stored(one_by_one)
        assert len(as_stored(whole)) == 3 + {"reference then id": 1, "a reference twice": 2, "an id twice": 2}[page]
    finally:
        whole.close()
        one_by_one.close()


def test_ids_out_of_sequence_stop_the_page_in_words_and_save_none_of_it(store):
    """A table at the largest rowid: SQLite gives new rows ids at random, and the rows' ids are not those of a run
    ending at the last one inserted; the page stops, nothing of it saved, rather than lines and eSIMs misplaced."""
    store.conn.execute("INSERT INTO orders (id, vendor, status, created_at) VALUES (?, 'roamify', 'completed', ?)",
                       (2 ** 63 - 1, T0.isoformat()))
    store.conn.commit()
    with pytest.raises(StoreError, match="out of sequence"):
        store.upsert_orders([order(f"X-{n}", iccid=iccid(n), minutes=n) for n in range(5)])
    assert store.conn.execute("SELECT count(*) FROM orders").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM esims").fetchone()[0] == 0
