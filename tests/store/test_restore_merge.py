"""Restore loses nothing and a desk stays one desk (issue 26, cases 2 and 10), on real SQLite files.

A restore keeps the current desk's identity (desk id, team token), verifies the whole schema of the file it
is given, migrates an older one up, and merges into it what the current file holds that the backup lacks:
journal entries with their audit lines, orders, eSIMs, support actions; an entry the backup has in an older
state moves forward, never back. What cannot be merged is refused, nothing changed.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from esimdesk.domain import Esim, EsimStatus, OrderStatus, StoreError
from esimdesk.domain.actions import Action
from esimdesk.services.orders import vendor_handle
from esimdesk.store import SqliteStore
from esimdesk.store.backups import backup_now, restore_into_place
from esimdesk.store.migrations import LATEST, migrate


def meta(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, value FROM meta"))
    finally:
        conn.close()


def rows(path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def order(store: SqliteStore, reference: str, vendor: str = "microesim", *, typed: bool = True,
          complete_as: str | None = None) -> None:
    """An order as the order service records it: the journal entry (handle with the desk id), and, when
    the vendor answered, COMPLETED with its vendor order id."""
    entry = store.journal_create(vendor=vendor, kind="order", reference=reference, plan_id="P-1", quantity=1,
                                 unit_price=Decimal("8.00"), currency="HKD",
                                 handle=vendor_handle(reference, store.desk_id(), typed))
    if complete_as:
        store.journal_transition(entry.id, OrderStatus.COMPLETED, "vendor answered", order_id=complete_as)


def desk(path: Path) -> SqliteStore:
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteStore(path)


def test_a_restored_backup_of_another_desk_keeps_this_desks_identity(tmp_path):
    a_path, c_path = tmp_path / "a" / "esimdesk.sqlite3", tmp_path / "c" / "esimdesk.sqlite3"
    a = desk(a_path)
    order(a, "shop-1", complete_as="A-1")
    a_id = a.desk_id()
    a.close()
    a_backup = backup_now(a_path)
    c = desk(c_path)
    c_id = c.desk_id()
    with c.transaction() as conn:
        conn.execute("INSERT INTO meta VALUES ('team_token', 'c-token')")
    c.close()
    assert a_id != c_id

    result = restore_into_place(c_path, a_backup)

    assert meta(c_path)["desk_id"] == c_id and meta(c_path)["team_token"] == "c-token"
    assert result.merged.desk_id == c_id and result.merged.desk_id_from == "previous"
    # The backup's orders keep their handles; a reference typed now gets this desk's: no collision.
    c = SqliteStore(c_path)
    try:
        assert c.journal_get(reference="shop-1").handle == f"shop-1-{a_id}"
        order(c, "shop-2")
        assert c.journal_get(reference="shop-2").handle == f"shop-2-{c_id}"
        assert vendor_handle("shop-1", c.desk_id(), True) != c.journal_get(reference="shop-1").handle
    finally:
        c.close()


def test_a_restore_into_a_folder_with_no_data_file_makes_a_new_desk(tmp_path):
    a_path = tmp_path / "a" / "esimdesk.sqlite3"
    a = desk(a_path)
    with a.transaction() as conn:
        conn.execute("INSERT INTO meta VALUES ('team_token', 'a-token')")
    order(a, "shop-1")
    a_id = a.desk_id()
    a.close()
    backup = backup_now(a_path)
    fresh = tmp_path / "fresh" / "esimdesk.sqlite3"
    fresh.parent.mkdir()

    result = restore_into_place(fresh, backup)

    m = meta(fresh)
    assert m["desk_id"] != a_id and "team_token" not in m  # desk A may still be working: never two desks A
    assert result.merged.desk_id_from == "new" and result.merged.desk_id == m["desk_id"]
    assert rows(fresh, "SELECT reference, handle FROM journal") == [("shop-1", f"shop-1-{a_id}")]
    assert rows(fresh, "SELECT count(*) FROM team_outbox") == [(0,)]  # desk A's lines are not pushed as ours


def test_what_was_made_after_the_backup_survives_the_restore(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    store = desk(path)
    order(store, "before", complete_as="M-0")
    store.close()
    backup = backup_now(path)

    store = SqliteStore(path)
    order(store, "paid-later", complete_as="M-1")  # MicroESIM lists no orders: only this file knows it
    order(store, "waiting")  # PENDING: recorded, not yet answered
    store.upsert_esims([Esim("microesim", "8985200000000000001", EsimStatus.ACTIVE, "active", order_id="M-1",
                             plan_id="P-1", activation_code="LPA:1$x$y")])
    store.action_create(vendor="microesim", iccid="8985200000000000001", action=Action.SUSPEND, cause="agent")
    store.close()

    result = restore_into_place(path, backup)

    assert result.merged.kept == {"orders": 2, "eSIMs": 1, "journal entries": 2, "support actions": 1, "e-mails": 0}
    store = SqliteStore(path)
    try:
        paid = store.journal_get(reference="paid-later")
        assert paid.state is OrderStatus.COMPLETED and paid.order_id == "M-1"
        assert [e.to_state for e in store.journal_audit(paid.id)] == ["PENDING", "COMPLETED"]
        assert store.journal_get(reference="waiting").state is OrderStatus.PENDING
        by_ref = {o.reference: o for o in store.orders()}
        assert by_ref["paid-later"].order_id == "M-1" and by_ref["paid-later"].status is OrderStatus.COMPLETED
        assert rows(path, "SELECT count(*) FROM order_lines l JOIN orders o ON o.id = l.order_key "
                          "WHERE o.reference = 'paid-later'") == [(1,)]
        assert store.esim("8985200000000000001", "microesim").activation_code == "LPA:1$x$y"
        assert [a.action for a in store.actions_unfinished()] == [Action.SUSPEND]
    finally:
        store.close()
    # The full-text index follows the merged rows (the search box finds them).
    assert rows(path, "SELECT count(*) FROM orders_fts WHERE orders_fts MATCH '\"paid-later\"'") == [(1,)]
    assert "2 orders, 1 eSIM, 2 journal entries and 1 support action made after the backup" in \
        " ".join(result.merged.sentences())


def test_an_entry_moves_forward_never_back(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    store = desk(path)
    order(store, "settled-later")
    order(store, "settled-before", complete_as="M-9")
    store.close()
    backup = backup_now(path)
    store = SqliteStore(path)
    jid = store.journal_get(reference="settled-later").id
    store.journal_transition(jid, OrderStatus.COMPLETED, "vendor answered", order_id="M-5")
    store.close()

    result = restore_into_place(path, backup)

    assert result.merged.forward["journal entries"] == 1 and result.merged.kept["journal entries"] == 0
    store = SqliteStore(path)
    try:
        entry = store.journal_get(reference="settled-later")
        assert entry.state is OrderStatus.COMPLETED and entry.order_id == "M-5"
        assert [e.to_state for e in store.journal_audit(entry.id)] == ["PENDING", "COMPLETED"]
        assert [(o.order_id, o.status) for o in store.orders() if o.reference == "settled-later"] == \
            [("M-5", OrderStatus.COMPLETED)]
    finally:
        store.close()

    # And the other way: a backup further along than the current file is not moved back.
    newer = backup_now(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE journal SET state = 'PENDING', order_id = NULL WHERE reference = 'settled-later'")
    conn.commit()
    conn.close()
    restore_into_place(path, newer)
    assert rows(path, "SELECT state, order_id FROM journal WHERE reference = 'settled-later'") == [("COMPLETED", "M-5")]


def test_a_table_only_fake_backup_is_refused_naming_what_is_missing(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    desk(path).close()
    before = path.read_bytes()
    fake = tmp_path / "fake.sqlite3"
    conn = sqlite3.connect(fake)
    conn.execute("CREATE TABLE journal (id INTEGER PRIMARY KEY, reference TEXT)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA user_version = 3")
    conn.close()

    with pytest.raises(StoreError) as info:
        restore_into_place(path, fake)

    text = str(info.value)
    assert str(fake) in text and "nothing was changed" in text and "lacks what schema 3 has" in text
    assert "table plans" in text and "table meta" in text and "table esims" in text and "more" in text
    assert info.value.reason == "incomplete-schema"
    assert path.read_bytes() == before


def test_an_older_schema_backup_is_migrated_then_merged(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    old = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(old, isolation_level=None)
    migrate(conn, 3)
    conn.execute("""INSERT INTO journal (vendor, kind, reference, handle, plan_id, quantity, state, created_at,
                        updated_at) VALUES ('roumio', 'order', 'v3-order', 'v3-order', 'P', 1, 'COMPLETED', '2026-01-01',
                        '2026-01-01')""")
    conn.close()
    store = desk(path)
    order(store, "now")
    store.close()

    result = restore_into_place(path, old)

    assert result.restored.schema == 3
    assert rows(path, "PRAGMA user_version") == [(LATEST,)]
    assert sorted(r[0] for r in rows(path, "SELECT reference FROM journal")) == ["now", "v3-order"]
    store = SqliteStore(path)  # opens: the whole schema is there
    store.close()


def test_the_same_typed_reference_at_two_desks_keeps_both_orders(tmp_path):
    """Desk A's backup restored on desk C, where both agents typed 'shop-1' (each sent with its own desk id):
    both orders stay — C's under 'shop-1', A's under the handle A sent it with — none refused, none dropped."""
    a_path, c_path = tmp_path / "a" / "esimdesk.sqlite3", tmp_path / "c" / "esimdesk.sqlite3"
    a = desk(a_path)
    order(a, "shop-1", complete_as="A-1")
    a_handle = vendor_handle("shop-1", a.desk_id(), True)
    a.close()
    backup = backup_now(a_path)
    c = desk(c_path)
    order(c, "shop-1", complete_as="C-1")
    c_handle = vendor_handle("shop-1", c.desk_id(), True)
    c.close()

    restore_into_place(c_path, backup)

    assert sorted(rows(c_path, "SELECT reference, handle, order_id FROM journal")) == sorted(
        [("shop-1", c_handle, "C-1"), (a_handle, a_handle, "A-1")])
    assert sorted(rows(c_path, "SELECT reference, order_id FROM orders WHERE order_id IS NOT NULL")) == sorted(
        [("shop-1", "C-1"), (a_handle, "A-1")])


def test_two_different_orders_under_one_reference_are_refused_when_they_cannot_be_kept_apart(tmp_path):
    a_path, c_path = tmp_path / "a" / "esimdesk.sqlite3", tmp_path / "c" / "esimdesk.sqlite3"
    a = desk(a_path)
    order(a, "shop-1")
    a_handle = vendor_handle("shop-1", a.desk_id(), True)
    a.close()
    backup = backup_now(a_path)
    c = desk(c_path)
    order(c, "shop-1")  # the same typed reference at another desk: another order (its own handle)
    order(c, a_handle)  # and, typed here too, the very name A's order would be kept under
    c.close()
    before = rows(c_path, "SELECT reference, handle FROM journal")

    with pytest.raises(StoreError) as info:
        restore_into_place(c_path, backup)

    assert "shop-1" in str(info.value) and "nothing was changed" in str(info.value)
    assert rows(c_path, "SELECT reference, handle FROM journal") == before


def test_a_restore_keeps_the_emails_sent_since_the_backup(tmp_path):
    """Issue 30: a backup put back must not forget an e-mail sent (or maybe sent) after it was taken: the desk
    would otherwise offer to send it as new, without the agent's word."""
    from esimdesk.domain.mail import DeliveryKind

    path = tmp_path / "esimdesk.sqlite3"
    store = SqliteStore(path)
    early = store.delivery_create(kind=DeliveryKind.ORDER, vendor="roumio", ref="B1", iccids=["8985200000000000001"],
                                  to_address="anna@example.com", language="es", message_id="<1@acme.example>",
                                  subject="s", server="smtp:587", agent="ann", owner="me", lease_seconds=0)
    store.close()
    backup = backup_now(path)
    store = SqliteStore(path)
    store.delivery_handed_over(early.id)
    store.delivery_transition(early.id, OrderStatus.UNCERTAIN, "the line dropped after DATA")
    late = store.delivery_create(kind=DeliveryKind.ESIM, vendor="roumio", ref="8985200000000000002",
                                 iccids=["8985200000000000002"], to_address="bob@example.com", language="en",
                                 message_id="<2@acme.example>", subject="s", server="smtp:587", agent="ann",
                                 owner="me", lease_seconds=0)
    store.delivery_transition(late.id, OrderStatus.COMPLETED, "accepted", smtp_reply="250 ok")
    store.save_contact("roumio", DeliveryKind.ESIM, "8985200000000000002", "bob@example.com", "en")
    store.close()

    result = restore_into_place(path, backup)

    assert result.merged.kept["e-mails"] == 1 and result.merged.forward["e-mails"] == 1
    store = SqliteStore(path)
    try:
        by_id = {d.message_id: d for d in store.deliveries()}
        assert by_id["<1@acme.example>"].state is OrderStatus.UNCERTAIN and by_id["<1@acme.example>"].attempts == 1
        assert by_id["<2@acme.example>"].state is OrderStatus.COMPLETED
        assert [e.to_state for e in store.delivery_get(by_id["<1@acme.example>"].id).events] == ["PENDING", "UNCERTAIN"]
        assert store.contact("roumio", DeliveryKind.ESIM, "8985200000000000002") == ("bob@example.com", "en")
    finally:
        store.close()
