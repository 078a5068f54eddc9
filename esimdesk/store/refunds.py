"""Refund requests as the vendor last showed them (schema v16, ``refund_requests``), so the window and
``esimdesk refunds`` list them offline. Sending one is a journaled support action (store/actions.py,
action 'refund'); this table only keeps what the vendor said of each request, and which desk sent it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from esimdesk.domain.refunds import OPEN_REFUND, RefundRequest, RefundStatus
from esimdesk.store import rows as R

_OPEN = "status IN (" + ", ".join(f"'{s.value}'" for s in OPEN_REFUND) + ")"


def _refund(row: Any) -> RefundRequest:
    word = row["status"]
    return RefundRequest(
        vendor=row["vendor"], refund_id=row["refund_id"], iccid=row["iccid"],
        status=RefundStatus(word) if word in RefundStatus.__members__ else RefundStatus.UNKNOWN, vendor_status=word,
        esim_id=row["esim_id"], reason=row["reason"], rejection_reason=row["rejection_reason"],
        amount=R.dec(row["amount"]), currency=row["currency"], created_at=R.from_iso(row["created_at"]),
        updated_at=R.from_iso(row["updated_at"]), checked_at=R.from_iso(row["checked_at"]), desk_id=row["desk_id"],
    )


class RefundsMixin:
    """Mixed into SqliteStore (needs ``conn``, ``transaction`` and ``desk_id``)."""

    def save_refunds(self, refunds: list[RefundRequest], *, ours: bool = False) -> None:
        """Keep each request as the vendor shows it now; ``ours``: this desk sent them (its id is kept with them).
        A value the vendor left out keeps the one stored (a listing may carry less than the request's answer)."""
        now = datetime.now(UTC).isoformat()
        desk = self.desk_id() if ours else None
        with self.transaction() as conn:
            for r in refunds:
                conn.execute(
                    """INSERT INTO refund_requests (vendor, refund_id, iccid, esim_id, status, reason, rejection_reason,
                           amount, currency, created_at, updated_at, checked_at, desk_id)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                       ON CONFLICT (vendor, refund_id) DO UPDATE SET
                           iccid = coalesce(nullif(excluded.iccid, ''), iccid),
                           esim_id = coalesce(excluded.esim_id, esim_id), status = excluded.status,
                           reason = coalesce(excluded.reason, reason),
                           rejection_reason = coalesce(excluded.rejection_reason, rejection_reason),
                           amount = coalesce(excluded.amount, amount), currency = coalesce(excluded.currency, currency),
                           created_at = coalesce(excluded.created_at, created_at),
                           updated_at = coalesce(excluded.updated_at, updated_at), checked_at = excluded.checked_at,
                           desk_id = coalesce(desk_id, excluded.desk_id)""",
                    (r.vendor, r.refund_id, r.iccid, r.esim_id, r.vendor_status, r.reason, r.rejection_reason,
                     str(r.amount) if r.amount is not None else None, r.currency, R.iso(r.created_at),
                     R.iso(r.updated_at), R.iso(r.checked_at) or now, desk))

    def refunds(self, vendor: str | None = None, iccid: str | None = None, *,
                open_only: bool = False) -> list[RefundRequest]:
        """Stored requests, newest first (by when the vendor made them, else when last checked)."""
        q, params = "SELECT * FROM refund_requests WHERE true", []
        for col, val in (("vendor", vendor), ("iccid", iccid)):
            if val:
                q += f" AND {col} = ?"
                params.append(val)
        if open_only:
            q += f" AND {_OPEN}"
        q += " ORDER BY coalesce(created_at, checked_at) DESC, rowid DESC"  # same second: the later kept first
        return [_refund(r) for r in self.conn.execute(q, params)]

    def refund(self, vendor: str, refund_id: str) -> RefundRequest | None:
        row = self.conn.execute("SELECT * FROM refund_requests WHERE vendor = ? AND refund_id = ?",
                                (vendor, refund_id)).fetchone()
        return _refund(row) if row else None
