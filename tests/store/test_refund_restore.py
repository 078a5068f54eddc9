"""Refund requests survive a restore (issue 30): a request recorded after the backup, and a newer status of
one both files hold, are kept; the backup's older view never wins."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from esimdesk.domain.refunds import RefundRequest, RefundStatus
from esimdesk.store import SqliteStore
from esimdesk.store.backups import backup_now, restore_into_place


def request(refund_id: str, status: RefundStatus, checked: datetime) -> RefundRequest:
    return RefundRequest("roamify", refund_id, "8988247000000000018", status, status.value, reason="OTHER",
                         amount=Decimal("4.99"), currency="USD", created_at=checked, checked_at=checked)


def test_refund_requests_made_or_decided_after_the_backup_survive(tmp_path):
    path = tmp_path / "home" / "esimdesk.sqlite3"
    path.parent.mkdir(parents=True)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    store = SqliteStore(path)
    store.save_refunds([request("r-old", RefundStatus.PENDING, t0)], ours=True)
    store.close()
    backup = backup_now(path)
    store = SqliteStore(path)
    store.save_refunds([replace(request("r-old", RefundStatus.REFUNDED, t0 + timedelta(hours=1)), created_at=t0),
                        request("r-new", RefundStatus.PENDING, t0 + timedelta(hours=2))], ours=True)
    store.close()

    restore_into_place(path, backup)

    store = SqliteStore(path)
    try:
        kept = {r.refund_id: r for r in store.refunds("roamify")}
        assert kept["r-old"].status is RefundStatus.REFUNDED and kept["r-old"].desk_id == store.desk_id()
        assert kept["r-new"].status is RefundStatus.PENDING and kept["r-new"].amount == Decimal("4.99")
    finally:
        store.close()
