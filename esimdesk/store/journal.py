"""Order-journal storage. Every change is a compare-and-set on the row, so two processes on one data
folder (two windows, or the CLI beside the GUI) can never both send the same entry. Journal writes are
durable (checkpointed into the main file): the journal is the only record of some vendors' orders."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from esimdesk.domain import JournalEntry, JournalEvent, OrderStatus, Sale, StoreError, ValidationError
from esimdesk.domain.states import MAY_BE_FILED, UNFINISHED
from esimdesk.store import integrity
from esimdesk.store import rows as R

# SQL literals of the states a listed vendor order may be filed under (domain/states.py).
_FILEABLE = ", ".join(f"'{state.value}'" for state in MAY_BE_FILED)


def _entry(row: Any) -> JournalEntry:
    return JournalEntry(
        id=row["id"], vendor=row["vendor"], kind=row["kind"], reference=row["reference"], plan_id=row["plan_id"],
        quantity=row["quantity"], state=OrderStatus(row["state"]), created_at=R.from_iso(row["created_at"]),
        updated_at=R.from_iso(row["updated_at"]), attempts=row["attempts"], iccid=row["iccid"],
        unit_price=R.dec(row["unit_price"]), currency=row["currency"], order_id=row["order_id"],
        last_error=row["last_error"], lease_owner=row["lease_owner"], lease_until=row["lease_until"],
        handle=row["handle"], first_sent_at=R.from_iso(row["first_sent_at"]),
        last_sent_at=R.from_iso(row["last_sent_at"]),
        candidates=tuple(c for c in (row["candidates"] or "").split(",") if c),
        in_flight_until=R.from_iso(row["in_flight_until"]),
        activation_date=R.from_iso(row["activation_date"]), custom_email=row["custom_email"],
    )


class JournalMixin:
    """Mixed into SqliteStore (needs ``conn`` and ``transaction``)."""

    def journal_create(self, *, vendor: str, kind: str, reference: str, plan_id: str, quantity: int,
                       unit_price: Decimal | None, currency: str | None, iccid: str | None = None,
                       handle: str | None = None, activation_date: datetime | None = None,
                       custom_email: str | None = None, sale: Sale | None = None) -> JournalEntry:
        """Record the intent (state PENDING) and its order row, committed before any vendor call. ``sale``:
        the customer's price as quoted, kept with the order row as it was when sold.

        All or nothing: when this raises ``StoreError`` the journal holds no entry for ``reference``, so
        "could not be recorded, nothing was sent" is true. The durable write commits into the write-ahead
        log, then copies the log into the main file; when that copy fails (e.g. a full disk: the main file
        needs new pages, the log had room) the committed entry is taken back before the error is raised.
        """
        now = datetime.now(UTC).isoformat()
        handle = handle or reference
        made: list[int] = []  # the entry's id once its transaction's block ran (committed, or COMMIT failed)
        try:
            self._journal_insert(made, now, vendor=vendor, kind=kind, reference=reference, plan_id=plan_id,
                                 quantity=quantity, unit_price=unit_price, currency=currency, iccid=iccid,
                                 handle=handle, activation_date=activation_date, custom_email=custom_email,
                                 sale=sale)
            return self.journal_get(made[0])
        except StoreError as exc:
            if made:
                self._journal_take_back(made[0], exc)
            raise

    def _journal_take_back(self, jid: int, exc: StoreError) -> None:
        """Undo a committed ``journal_create`` that then failed (nothing was sent for it).

        The undo is one more transaction in the write-ahead log, right after the entry's: replayed with
        it or lost with it, never one without the other. If even that cannot be written, ``exc`` is
        reworded: the entry is there, never sent, and the reconcile settles it as FAILED after 15 minutes."""
        try:
            with self.transaction() as conn:
                row = conn.execute("SELECT vendor, reference, kind FROM journal WHERE id = ?", (jid,)).fetchone()
                if row is None:  # COMMIT itself failed: nothing to take back
                    return
                for (key,) in conn.execute("SELECT id FROM orders WHERE vendor = ? AND reference = ? AND kind = ? "
                                           "AND order_id IS NULL",
                                           (row["vendor"], row["reference"], row["kind"])).fetchall():
                    conn.execute("DELETE FROM order_lines WHERE order_key = ?", (key,))
                    conn.execute("DELETE FROM orders WHERE id = ?", (key,))
                conn.execute("DELETE FROM journal_events WHERE journal_id = ?", (jid,))
                conn.execute("DELETE FROM team_outbox WHERE kind = 'journal' "
                             "AND json_extract(body, '$.journal_id') = ?", (jid,))
                conn.execute("DELETE FROM journal WHERE id = ?", (jid,))
        except StoreError as again:
            exc.args = (f"{exc.args[0]}; its journal entry could not be taken back ({again}): it stays PENDING, "
                        "was never sent, and becomes FAILED (nothing charged) after 15 minutes",)
            exc.reason = "recorded-not-sent"
            return
        # Taken back: "saved in the write-ahead log" (the durable write's own words) is no longer true.
        cause = exc.__cause__
        mapped = integrity.as_store_error(cause, self.path) if isinstance(cause, sqlite3.Error) else None
        if exc.reason == "not-durable" and mapped is not None:
            exc.args, exc.reason = mapped.args, mapped.reason

    def _journal_insert(self, made: list[int], now: str, *, vendor: str, kind: str, reference: str, plan_id: str,
                        quantity: int, unit_price: Decimal | None, currency: str | None, iccid: str | None,
                        handle: str, activation_date: datetime | None, custom_email: str | None,
                        sale: Sale | None = None) -> None:
        with self.transaction(durable=True) as conn:
            if conn.execute("SELECT 1 FROM journal WHERE reference = ? OR (vendor = ? AND handle = ?)",
                            (reference, vendor, handle)).fetchone():
                raise ValidationError(f"reference '{reference}' was already used for an order; choose another")
            jid = conn.execute(
                """INSERT INTO journal (vendor, kind, reference, handle, plan_id, quantity, iccid, unit_price, currency,
                       state, created_at, updated_at, activation_date, custom_email)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?, ?, ?)""",
                (vendor, kind, reference, handle, plan_id, quantity, iccid,
                 str(unit_price) if unit_price is not None else None, currency, now, now,
                 R.iso(activation_date), custom_email),
            ).lastrowid
            conn.execute("INSERT INTO journal_events VALUES (?, ?, NULL, 'PENDING', ?)",
                         (jid, now, f"agent asked for {quantity} × {plan_id}" + (f" on {iccid}" if iccid else "")))
            total = str(unit_price * quantity) if unit_price is not None else None
            key = conn.execute(
                """INSERT INTO orders (vendor, order_id, reference, kind, status, created_at, total, currency, last_seen,
                       search_text, sell_total, sell_currency, cost_converted, sell_rule)
                   VALUES (?, NULL, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (vendor, reference, kind, now, total, currency, now, f"{reference} {plan_id} {iccid or ''}",
                 *((str(sale.total), sale.currency, None if sale.cost is None else str(sale.cost), sale.rule)
                   if sale is not None else (None, None, None, None))),
            ).lastrowid
            conn.execute("INSERT INTO order_lines VALUES (?, 0, ?, ?, ?, NULL)",
                         (key, plan_id, quantity, str(unit_price) if unit_price is not None else None))
            made.append(jid)

    def journal_get(self, jid: int | None = None, reference: str | None = None) -> JournalEntry | None:
        if jid is not None:
            row = self.conn.execute("SELECT * FROM journal WHERE id = ?", (jid,)).fetchone()
        else:
            # The agent may give the reference they typed or the handle the vendor shows.
            row = self.conn.execute("SELECT * FROM journal WHERE reference = ? OR handle = ? ORDER BY reference = ? DESC",
                                    (reference, reference, reference)).fetchone()
        return _entry(row) if row else None

    def journal_by_order_id(self, vendor: str, order_id: str) -> JournalEntry | None:
        row = self.conn.execute("SELECT * FROM journal WHERE vendor = ? AND order_id = ?", (vendor, order_id)).fetchone()
        return _entry(row) if row else None

    def desk_id(self) -> str:
        return self.conn.execute("SELECT value FROM meta WHERE key = 'desk_id'").fetchone()[0]

    def journal_unfinished(self, vendor: str | None = None) -> list[JournalEntry]:
        states = [s.value for s in UNFINISHED]
        q = f"SELECT * FROM journal WHERE state IN ({','.join('?' * len(states))})"
        params: list[Any] = list(states)
        if vendor:
            q += " AND vendor = ?"
            params.append(vendor)
        return [_entry(r) for r in self.conn.execute(q + " ORDER BY id", params)]

    def journal_claim(self, jid: int, owner: str, *, states: tuple[OrderStatus, ...], lease_seconds: float,
                      sending: bool = False, steal_from: str | None = None) -> JournalEntry | None:
        """Take the entry for ``lease_seconds`` if it is in one of ``states`` and nobody else holds it
        (``steal_from``: the owner of a lease known to be dead, e.g. a killed process on this machine).

        With ``sending``, the attempt counter goes up in the same write: once it is above zero the
        request may have reached the vendor, whatever happens to this process next.
        """
        now = time.time()
        iso = datetime.now(UTC).isoformat()
        sent = iso if sending else None
        st = [s.value for s in states]
        with self.transaction(durable=sending) as conn:
            cur = conn.execute(
                f"""UPDATE journal SET lease_owner = ?, lease_until = ?, attempts = attempts + ?, updated_at = ?,
                        first_sent_at = coalesce(first_sent_at, ?), last_sent_at = coalesce(?, last_sent_at),
                        in_flight_until = CASE WHEN ? IS NULL THEN in_flight_until END
                    WHERE id = ? AND state IN ({','.join('?' * len(st))})
                      AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ? OR lease_owner = ?)""",
                (owner, now + lease_seconds, 1 if sending else 0, iso, sent, sent, sent, jid, *st, owner, now,
                 steal_from),
            )
            if cur.rowcount != 1:
                return None
        return self.journal_get(jid)

    def journal_release(self, jid: int, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE journal SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                         (jid, owner))

    def journal_transition(self, jid: int, to_state: OrderStatus, cause: str, *, owner: str | None = None,
                           order_id: str | None = None, error: str | None = None,
                           unit_price: Decimal | None = None,
                           candidates: tuple[str, ...] | None = None,
                           in_flight_until: datetime | None = None) -> JournalEntry:
        """Move the entry and record why, in one transaction; the order row follows the entry.

        Giving the entry a vendor order id that a row of its own already carries (sync imported the
        order before the entry learnt its id) merges that row into the entry's: one row per vendor order.
        """
        now = datetime.now(UTC).isoformat()
        with self.transaction(durable=True) as conn:
            row = conn.execute("SELECT state, reference, vendor, kind, lease_owner FROM journal WHERE id = ?",
                               (jid,)).fetchone()
            if owner is not None and row["lease_owner"] not in (None, owner):
                raise RuntimeError(f"journal entry {jid} is held by another process")
            if order_id is not None:
                merge_order_rows(conn, row["vendor"], order_id, row["reference"], row["kind"])
            conn.execute(
                """UPDATE journal SET state = ?, order_id = coalesce(?, order_id), last_error = ?,
                       unit_price = coalesce(?, unit_price), updated_at = ?,
                       candidates = coalesce(?, candidates), in_flight_until = coalesce(?, in_flight_until)
                   WHERE id = ?""",
                (to_state.value, order_id, error, str(unit_price) if unit_price is not None else None, now,
                 ",".join(candidates) if candidates is not None else None,
                 in_flight_until.isoformat() if in_flight_until is not None else None, jid),
            )
            conn.execute("INSERT INTO journal_events VALUES (?, ?, ?, ?, ?)", (jid, now, row["state"], to_state.value, cause))
            conn.execute(
                """UPDATE orders SET status = ?, order_id = coalesce(?, order_id), last_seen = ?,
                       search_text = search_text || CASE WHEN ? IS NULL THEN '' ELSE ' ' || ? END
                   WHERE vendor = ? AND reference = ? AND kind = ?""",
                (to_state.value, order_id, now, order_id, order_id, row["vendor"], row["reference"], row["kind"]),
            )
        return self.journal_get(jid)

    def journal_audit(self, jid: int | None = None, reference: str | None = None) -> list[JournalEvent]:
        if jid is None:
            entry = self.journal_get(reference=reference)
            if entry is None:
                return []
            jid = entry.id
        rows = self.conn.execute("SELECT * FROM journal_events WHERE journal_id = ? ORDER BY rowid", (jid,)).fetchall()
        return [JournalEvent(R.from_iso(r["at"]), r["from_state"], r["to_state"], r["cause"]) for r in rows]

    def journal_handles(self, vendor: str, handles: list[str]) -> dict[str, str]:
        """handle -> the journal's reference, for vendor listings that carry our handle."""
        out: dict[str, str] = {}
        for i in range(0, len(handles), 500):
            chunk = handles[i:i + 500]
            q = f"SELECT handle, reference FROM journal WHERE vendor = ? AND handle IN ({','.join('?' * len(chunk))})"
            out.update(dict(self.conn.execute(q, (vendor, *chunk)).fetchall()))
        return out

    def journal_placed_unsettled(self, vendor: str | None = None) -> list[tuple[JournalEntry, str]]:
        """Entries not COMPLETED or ALLOCATING whose order a vendor listing has shown (the sync gave the
        entry's order row a vendor order id under the handle we sent): (entry, that order id)."""
        q = f"""SELECT j.*, o.order_id AS listed_id FROM journal j
                 JOIN orders o ON o.vendor = j.vendor AND o.reference = j.reference AND o.kind = j.kind
                WHERE j.state IN ({_FILEABLE}) AND o.order_id IS NOT NULL
                  AND (j.order_id IS NULL OR j.order_id = o.order_id)
                  -- another desk's order pulled from the team store is never this desk's to file
                  AND (o.desk_id IS NULL OR o.desk_id = (SELECT value FROM meta WHERE key = 'desk_id'))"""
        params: tuple = ()
        if vendor:
            q += " AND j.vendor = ?"
            params = (vendor,)
        return [(_entry(r), r["listed_id"]) for r in self.conn.execute(q + " ORDER BY j.id", params)]

    def journal_claimed_order_ids(self, vendor: str) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT order_id FROM journal WHERE vendor = ? AND order_id IS NOT NULL",
                                                (vendor,))}


def merge_order_rows(conn: Any, vendor: str, order_id: str, reference: str, kind: str) -> None:
    """Make the journal's order row (vendor, reference, kind) the only row of vendor order ``order_id``.

    A row sync imported on its own (the vendor's listing carried no reference we knew) is folded in:
    its agent note and first-seen time are kept, it is deleted, and its eSIMs already point at the
    order id. Runs inside the caller's transaction.
    """
    mine = conn.execute("SELECT id FROM orders WHERE vendor = ? AND reference = ? AND kind = ?",
                        (vendor, reference, kind)).fetchone()
    other = conn.execute("SELECT id, note, created_at, raw, total, currency FROM orders WHERE vendor = ? AND order_id = ?",
                         (vendor, order_id)).fetchone()
    if mine is None or other is None or other["id"] == mine["id"]:
        return
    conn.execute("DELETE FROM orders WHERE id = ?", (other["id"],))
    conn.execute(
        """UPDATE orders SET note = coalesce(note, ?), created_at = min(created_at, ?), raw = coalesce(raw, ?),
               total = coalesce(total, ?), currency = coalesce(currency, ?) WHERE id = ?""",
        (other["note"], other["created_at"], other["raw"], other["total"], other["currency"], mine["id"]),
    )
