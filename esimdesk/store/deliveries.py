"""The e-mail journal (schema 15), kept the way the order and action journals are: the intent is committed
durably before the SMTP server is reached, every change is a compare-and-set with a history line, and one
unfinished sending per eSIM or order is refused by the file itself (trigger ``deliveries_one_at_a_time``), so
a double click, a second window or the command line beside the window can never send one twice at once.
Also the customer's address and language kept on an eSIM or an order."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from esimdesk.domain import OrderStatus, StoreError
from esimdesk.domain.mail import REACHED_OR_MAYBE, Delivery, DeliveryEvent, DeliveryKind
from esimdesk.store import rows as R

_TRIGGER_WORDS = "another sending of this eSIM or order is in progress"
_REACHED = "state IN (" + ", ".join(f"'{state.value}'" for state in REACHED_OR_MAYBE) + ")"


class AlreadyDelivered(StoreError):
    """A new sending was refused: this eSIM or order went to this address already, or may have (``entry``), and
    the agent did not say to send it again. Checked in the insert's own write, so two sends that both found
    nothing before (two command lines at once) cannot both go."""

    def __init__(self, entry: Delivery):
        self.entry = entry
        super().__init__("this e-mail went to this address already", reason="already-delivered")


class DeliveryInProgress(StoreError):
    """A new sending was refused: another one of the same eSIM or order (``entry``) is not finished."""

    def __init__(self, entry: Delivery | None):
        self.entry = entry
        super().__init__("another e-mail of this eSIM or order is being sent", reason="delivery-in-progress")


def _delivery(row: Any, events: list[DeliveryEvent] | None = None) -> Delivery:
    return Delivery(
        id=row["id"], kind=DeliveryKind(row["kind"]), vendor=row["vendor"], ref=row["ref"],
        iccids=tuple(json.loads(row["iccids"] or "[]")), to_address=row["to_address"], language=row["language"],
        state=OrderStatus(row["state"]), desk_id=row["desk_id"], message_id=row["message_id"],
        created_at=R.from_iso(row["created_at"]), updated_at=R.from_iso(row["updated_at"]), agent=row["agent"],
        subject=row["subject"], server=row["server"], smtp_reply=row["smtp_reply"], last_error=row["last_error"],
        attempts=row["attempts"], sent_at=R.from_iso(row["sent_at"]), lease_owner=row["lease_owner"],
        lease_until=row["lease_until"], events=tuple(events or ()),
    )


class DeliveriesMixin:
    """Mixed into SqliteStore (needs ``conn``, ``transaction`` and ``desk_id``)."""

    def delivery_create(self, *, kind: DeliveryKind, vendor: str, ref: str, iccids: list[str], to_address: str,
                        language: str, message_id: str, subject: str, server: str, agent: str | None,
                        owner: str, lease_seconds: float, again: bool = True) -> Delivery:
        """Record a sending (PENDING), durably, claimed by ``owner`` in the same write; stamped with the agent name
        team mode set (meta 'agent', as the journal's triggers stamp theirs), else ``agent``. Raises
        ``DeliveryInProgress`` (nothing recorded) while another sending of the same eSIM or order is unfinished,
        and, unless ``again``, ``AlreadyDelivered`` when it went to ``to_address`` already (or may have)."""
        now = datetime.now(UTC).isoformat()
        try:
            with self.transaction(durable=True) as conn:
                if not again:
                    row = conn.execute(f"""SELECT id FROM deliveries WHERE vendor = ? AND kind = ? AND ref = ?
                                               AND lower(to_address) = lower(?) AND {_REACHED}
                                           ORDER BY id DESC LIMIT 1""",
                                       (vendor, kind.value, ref, to_address)).fetchone()
                    if row is not None:
                        raise AlreadyDelivered(self.delivery_get(row["id"]))
                did = conn.execute(
                    """INSERT INTO deliveries (kind, vendor, ref, iccids, to_address, language, state, desk_id, agent,
                           message_id, subject, server, created_at, updated_at, lease_owner, lease_until)
                       VALUES (?, ?, ?, ?, ?, ?, 'PENDING', ?, coalesce((SELECT value FROM meta WHERE key = 'agent'), ?),
                               ?, ?, ?, ?, ?, ?, ?)""",
                    (kind.value, vendor, ref, json.dumps(list(iccids)), to_address, language, self.desk_id(), agent,
                     message_id, subject, server, now, now, owner, time.time() + lease_seconds),
                ).lastrowid
                conn.execute("INSERT INTO delivery_events VALUES (?, ?, NULL, 'PENDING', ?)",
                             (did, now, f"recorded before reaching {server}"))
        except sqlite3.IntegrityError as exc:
            if _TRIGGER_WORDS not in str(exc):
                raise
            raise DeliveryInProgress(self._delivery_open(vendor, kind, ref)) from None
        return self.delivery_get(did)

    def _delivery_open(self, vendor: str, kind: DeliveryKind, ref: str) -> Delivery | None:
        row = self.conn.execute("SELECT * FROM deliveries WHERE vendor = ? AND kind = ? AND ref = ? AND state = 'PENDING' "
                                "ORDER BY id LIMIT 1", (vendor, kind.value, ref)).fetchone()
        return _delivery(row) if row else None

    def delivery_get(self, did: int) -> Delivery | None:
        row = self.conn.execute("SELECT * FROM deliveries WHERE id = ?", (did,)).fetchone()
        if row is None:
            return None
        events = [DeliveryEvent(R.from_iso(e["at"]), e["from_state"], e["to_state"], e["cause"]) for e in
                  self.conn.execute("SELECT * FROM delivery_events WHERE delivery_id = ? ORDER BY rowid", (did,))]
        return _delivery(row, events)

    def delivery_handed_over(self, did: int) -> Delivery:
        """The message itself is about to go to the server (DATA): from now on the customer may get it. Counted
        durably before the first byte, so a kill at any later line leaves it UNCERTAIN, never resent by itself."""
        with self.transaction(durable=True) as conn:
            conn.execute("UPDATE deliveries SET attempts = attempts + 1, updated_at = ? WHERE id = ?",
                         (datetime.now(UTC).isoformat(), did))
        return self.delivery_get(did)

    def delivery_transition(self, did: int, to_state: OrderStatus, cause: str, *, error: str | None = None,
                            smtp_reply: str | None = None, release: bool = True) -> Delivery:
        now = datetime.now(UTC).isoformat()
        with self.transaction(durable=True) as conn:
            row = conn.execute("SELECT state FROM deliveries WHERE id = ?", (did,)).fetchone()
            if row is None:
                raise StoreError(f"no e-mail {did} in the journal")
            sent_at = now if to_state is OrderStatus.COMPLETED else None
            conn.execute(
                f"""UPDATE deliveries SET state = ?, last_error = ?, updated_at = ?, sent_at = coalesce(?, sent_at),
                       smtp_reply = coalesce(?, smtp_reply)
                       {', lease_owner = NULL, lease_until = NULL' if release else ''} WHERE id = ?""",
                (to_state.value, error, now, sent_at, smtp_reply, did))
            conn.execute("INSERT INTO delivery_events VALUES (?, ?, ?, ?, ?)", (did, now, row["state"], to_state.value, cause))
        return self.delivery_get(did)

    def deliveries_unfinished(self) -> list[Delivery]:
        return [_delivery(r) for r in self.conn.execute("SELECT * FROM deliveries WHERE state = 'PENDING' ORDER BY id")]

    def delivery_claim(self, did: int, owner: str, *, lease_seconds: float, steal_from: str | None = None) -> Delivery | None:
        """Take a PENDING sending left by a process that stopped (its lease ended or its process is gone)."""
        now = time.time()
        with self.transaction() as conn:
            cur = conn.execute(
                """UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE id = ? AND state = 'PENDING'
                     AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ? OR lease_owner = ?)""",
                (owner, now + lease_seconds, did, owner, now, steal_from))
            if cur.rowcount != 1:
                return None
        return self.delivery_get(did)

    def deliveries_of(self, vendor: str, iccids: list[str] | None = None, order_id: str | None = None) -> list[Delivery]:
        """Every e-mail that carried one of ``iccids`` or was of order ``order_id``, oldest first: an eSIM's
        history lists the e-mails of its order too."""
        rows = self.conn.execute("SELECT * FROM deliveries WHERE vendor = ? ORDER BY id", (vendor,)).fetchall()
        wanted = set(iccids or ())
        out = []
        for r in rows:
            carried = set(json.loads(r["iccids"] or "[]"))
            if (order_id and r["kind"] == DeliveryKind.ORDER.value and r["ref"] == order_id) or carried & wanted:
                out.append(self.delivery_get(r["id"]))
        return out

    def deliveries(self, limit: int = 200) -> list[Delivery]:
        return [_delivery(r) for r in self.conn.execute("SELECT * FROM deliveries ORDER BY id DESC LIMIT ?", (limit,))]

    # --- the customer's address, kept on an eSIM or an order -------------------------------------------
    def save_contact(self, vendor: str, kind: DeliveryKind, ref: str, email: str, language: str) -> None:
        with self.transaction() as conn:
            conn.execute("""INSERT INTO customer_contacts (vendor, kind, ref, email, language, updated_at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            ON CONFLICT (vendor, kind, ref) DO UPDATE SET email = excluded.email,
                                language = excluded.language, updated_at = excluded.updated_at""",
                         (vendor, kind.value, ref, email, language, datetime.now(UTC).isoformat()))

    def contact(self, vendor: str, kind: DeliveryKind, ref: str) -> tuple[str, str] | None:
        row = self.conn.execute("SELECT email, language FROM customer_contacts WHERE vendor = ? AND kind = ? AND ref = ?",
                                (vendor, kind.value, ref)).fetchone()
        return (row["email"], row["language"]) if row else None
