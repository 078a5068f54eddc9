"""Support-action journal storage, the same way as the order journal (store/journal.py): the intent is
committed durably before any vendor call, every change is a compare-and-set on the row (two windows or
the CLI beside the GUI never send one action twice), and each change leaves a history line. One action
at a time per eSIM: a new one is refused while another on the same eSIM is unfinished (``ActionInProgress``),
checked in the insert's own write transaction and enforced by the file itself (trigger of schema v10), so
two processes on one data file cannot both record one. Also the usage readings the support panel
refreshes, with their age.

Support actions live only in this desk's SQLite file (team mode shares the order journal's audit lines,
notes and eSIM events, not the action journal), so the rule holds for every process on this desk's file."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from esimdesk.domain import Action, ActionEntry, ActionEvent, OrderStatus, StoreError, Usage
from esimdesk.domain.states import ACTION_UNFINISHED, AWAITING_AGENT
from esimdesk.store import rows as R

# The states of domain/states.py as SQL: an unfinished action.
_UNFINISHED = "state IN (" + ", ".join(f"'{state.value}'" for state in ACTION_UNFINISHED) + ")"

# What blocks a new action on the same eSIM: every unfinished one except a lost SMS left to the agent
# (domain.states.AWAITING_AGENT: it leaves no trace in the status, nothing would ever settle it). The
# same condition as the trigger of schema v10, which refuses the insert whatever code writes it.
_BLOCKING = f"{_UNFINISHED} AND last_error IS NOT '{AWAITING_AGENT}'"
_TRIGGER_WORDS = "another action on this eSIM is in progress"


class ActionInProgress(StoreError):
    """A new action was refused: another action on the same eSIM (``entry``) is unfinished. Nothing was
    recorded."""

    def __init__(self, entry: ActionEntry | None):
        self.entry = entry
        what = f"another {entry.action.value}" if entry else "another action"
        super().__init__(f"{what} on this eSIM is in progress", reason="action-in-progress")


def _action(row: Any) -> ActionEntry:
    return ActionEntry(
        id=row["id"], vendor=row["vendor"], iccid=row["iccid"], action=Action(row["action"]),
        state=OrderStatus(row["state"]), desk_id=row["desk_id"], created_at=R.from_iso(row["created_at"]),
        updated_at=R.from_iso(row["updated_at"]), attempts=row["attempts"], message=row["message"],
        amount=R.dec(row["amount"]), currency=row["currency"], last_error=row["last_error"],
        lease_owner=row["lease_owner"], lease_until=row["lease_until"],
        first_sent_at=R.from_iso(row["first_sent_at"]), last_sent_at=R.from_iso(row["last_sent_at"]),
        in_flight_until=R.from_iso(row["in_flight_until"]),
    )


class ActionsMixin:
    """Mixed into SqliteStore (needs ``conn``, ``transaction`` and ``desk_id``)."""

    def action_create(self, *, vendor: str, iccid: str, action: Action, message: str | None = None,
                      amount: Decimal | None = None, currency: str | None = None, cause: str,
                      owner: str | None = None, lease_seconds: float = 0.0) -> ActionEntry:
        """Record a new action (PENDING), durably; with ``owner`` it is claimed by it for ``lease_seconds`` in
        the same write, so no other process can take it for an abandoned one before it is sent.

        Raises ``ActionInProgress`` (nothing recorded) while another action on this eSIM is unfinished."""
        now = datetime.now(UTC).isoformat()
        desk = self.desk_id()
        lease_until = time.time() + lease_seconds if owner else None
        try:
            with self.transaction(durable=True) as conn:  # BEGIN IMMEDIATE: the check and the insert are one write
                other = self.action_blocking(vendor, iccid, conn)  # inside the transaction, on its connection
                if other is not None:
                    raise ActionInProgress(other)
                aid = conn.execute(
                    """INSERT INTO esim_actions (vendor, iccid, action, state, desk_id, message, amount, currency,
                           created_at, updated_at, lease_owner, lease_until)
                       VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (vendor, iccid, action.value, desk, message, str(amount) if amount is not None else None,
                     currency, now, now, owner, lease_until),
                ).lastrowid
                conn.execute("INSERT INTO esim_action_events VALUES (?, ?, NULL, 'PENDING', ?)", (aid, now, cause))
        except sqlite3.IntegrityError as exc:  # the file's own rule (schema v10), whoever got there first
            if _TRIGGER_WORDS not in str(exc):
                raise
            raise ActionInProgress(self.action_blocking(vendor, iccid)) from None
        return self.action_get(aid)

    def action_blocking(self, vendor: str, iccid: str, conn: Any = None) -> ActionEntry | None:
        """The unfinished action that keeps a new one on this eSIM from being recorded, if any."""
        row = (conn or self.conn).execute(f"SELECT * FROM esim_actions WHERE vendor = ? AND iccid = ? AND {_BLOCKING} "
                                "ORDER BY id LIMIT 1", (vendor, iccid)).fetchone()
        return _action(row) if row else None

    def action_get(self, aid: int) -> ActionEntry | None:
        row = self.conn.execute("SELECT * FROM esim_actions WHERE id = ?", (aid,)).fetchone()
        return _action(row) if row else None

    def actions_unfinished(self, vendor: str | None = None, iccid: str | None = None) -> list[ActionEntry]:
        q = f"SELECT * FROM esim_actions WHERE {_UNFINISHED}"
        params: list[Any] = []
        for col, val in (("vendor", vendor), ("iccid", iccid)):
            if val:
                q += f" AND {col} = ?"
                params.append(val)
        return [_action(r) for r in self.conn.execute(q + " ORDER BY id", params)]

    def action_claim(self, aid: int, owner: str, *, lease_seconds: float, sending: bool = False,
                     steal_from: str | None = None) -> ActionEntry | None:
        """Take an unfinished entry for ``lease_seconds`` unless someone else holds it; with ``sending`` the
        attempt counter goes up in the same durable write (from then on the request may have reached the vendor)."""
        now = time.time()
        iso = datetime.now(UTC).isoformat()
        sent = iso if sending else None
        with self.transaction(durable=sending) as conn:
            cur = conn.execute(
                f"""UPDATE esim_actions SET lease_owner = ?, lease_until = ?, attempts = attempts + ?, updated_at = ?,
                       first_sent_at = coalesce(first_sent_at, ?), last_sent_at = coalesce(?, last_sent_at)
                   WHERE id = ? AND {_UNFINISHED}
                     AND (lease_owner IS NULL OR lease_owner = ? OR lease_until < ? OR lease_owner = ?)""",
                (owner, now + lease_seconds, 1 if sending else 0, iso, sent, sent, aid, owner, now, steal_from),
            )
            if cur.rowcount != 1:
                return None
        return self.action_get(aid)

    def action_release(self, aid: int, owner: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE esim_actions SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
                         (aid, owner))

    def action_transition(self, aid: int, to_state: OrderStatus, cause: str, *, error: str | None = None,
                          in_flight_until: datetime | None = None) -> ActionEntry:
        now = datetime.now(UTC).isoformat()
        with self.transaction(durable=True) as conn:
            row = conn.execute("SELECT state FROM esim_actions WHERE id = ?", (aid,)).fetchone()
            conn.execute(
                """UPDATE esim_actions SET state = ?, last_error = ?, updated_at = ?,
                       in_flight_until = coalesce(?, in_flight_until) WHERE id = ?""",
                (to_state.value, error, now, in_flight_until.isoformat() if in_flight_until else None, aid),
            )
            conn.execute("INSERT INTO esim_action_events VALUES (?, ?, ?, ?, ?)",
                         (aid, now, row["state"], to_state.value, cause))
        return self.action_get(aid)

    def esim_history(self, vendor: str, iccid: str) -> list[ActionEvent]:
        """Every action line of one eSIM, oldest first: what, when, which desk."""
        rows = self.conn.execute(
            """SELECT ev.*, a.action, a.desk_id FROM esim_action_events ev JOIN esim_actions a ON a.id = ev.action_id
               WHERE a.vendor = ? AND a.iccid = ? ORDER BY ev.rowid""", (vendor, iccid)).fetchall()
        return [ActionEvent(R.from_iso(r["at"]), Action(r["action"]), r["from_state"], r["to_state"], r["cause"],
                            r["desk_id"], r["action_id"]) for r in rows]

    def record_usage(self, readings: list[Usage]) -> None:
        """Fresh usage for some eSIMs: the Fleet row follows unless it holds a newer reading (a vendor's usage
        check can answer figures older than a sync's: Roumio's are of its last refresh), and a sample with its
        age is kept either way (the chart orders samples by that age)."""
        with self.transaction() as conn:
            for u in readings:
                conn.execute(
                    """UPDATE esims SET data_used_mb = coalesce(?, data_used_mb),
                           data_total_mb = coalesce(?, data_total_mb),
                           data_remaining_mb = coalesce(?, data_remaining_mb), usage_as_of = ?
                       WHERE vendor = ? AND iccid = ?
                         AND (usage_as_of IS NULL OR julianday(usage_as_of) <= julianday(?))""",
                    (u.data_used_mb, u.data_total_mb, u.data_remaining_mb, R.iso(u.when), u.vendor, u.iccid,
                     R.iso(u.when)))
                conn.execute(
                    """INSERT OR REPLACE INTO usage (vendor, iccid, observed_at, data_used_mb, data_total_mb, as_of,
                           data_remaining_mb) VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    (u.vendor, u.iccid, R.iso(u.observed_at), u.data_used_mb, u.data_total_mb, R.iso(u.as_of),
                     u.data_remaining_mb))
