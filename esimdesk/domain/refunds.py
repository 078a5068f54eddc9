"""Refund requests (issue 30; Roamify): one request covers one eSIM, the vendor's support decides it.

Nothing is refunded when a request is sent: the money moves only when the vendor approves it (Roamify
credits an approved balance-paid order back to the partner balance), and sending it does not stop the
eSIM. A request is open while PENDING (waiting for support) or PROCESSING (approved, being paid); then
REFUNDED, REJECTED (with the vendor's reason) or CANCELLED (withdrawn by us).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from esimdesk.domain.errors import VendorRejected
from esimdesk.domain.words import vendor_title


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    REFUNDED = "REFUNDED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"  # a status esimdesk does not know: shown as the vendor wrote it, treated as open


OPEN_REFUND = (RefundStatus.PENDING, RefundStatus.PROCESSING, RefundStatus.UNKNOWN)

# The reasons an agent picks from. esimdesk's own codes and words: the vendor documents a fixed list of reason
# codes, but its values could not be read (vendors/roamify_refunds.py); these are sent as they are.
REFUND_REASONS: dict[str, str] = {
    "NOT_INSTALLED": "the customer could not install it",
    "NOT_WORKING": "no service: installed but no data",
    "DUPLICATE": "ordered twice by mistake",
    "CUSTOMER_REQUEST": "the customer changed plans",
    "OTHER": "another reason (say which in the notes)",
}
REFUND_NOTES_MAX = 500


def refund_consequence(vendor: str) -> str:
    """What sending a request does, in the words every message about it repeats."""
    who = vendor_title(vendor)
    return f"{who} support decides; nothing is refunded until they approve; the eSIM keeps working"


@dataclass(frozen=True, slots=True)
class RefundRequest:
    vendor: str
    refund_id: str
    iccid: str
    status: RefundStatus
    vendor_status: str  # as the vendor wrote it
    esim_id: str | None = None
    reason: str | None = None
    rejection_reason: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    created_at: datetime | None = None  # UTC
    updated_at: datetime | None = None  # UTC
    checked_at: datetime | None = None  # when the vendor last showed it so (UTC)
    desk_id: str | None = None  # the desk that sent it, where it was this one's

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_REFUND

    def words(self) -> str:
        """One line for the agent: "refund request 1f2e… PENDING (NOT_WORKING), 5 USD: Roamify support decides…"."""
        who = vendor_title(self.vendor)
        money = f"{self.amount} {self.currency}" if self.amount is not None and self.currency else "the price paid"
        head = f"refund request {self.refund_id} {self.vendor_status}" + (f" ({self.reason})" if self.reason else "")
        if self.status is RefundStatus.REFUNDED:
            return f"{head}: approved, {money} credited back to the {who} balance"
        if self.status is RefundStatus.REJECTED:
            return f"{head}: rejected by {who} — {self.rejection_reason or 'no reason given'}; nothing refunded"
        if self.status is RefundStatus.CANCELLED:
            return f"{head}: withdrawn; nothing refunded"
        if self.status is RefundStatus.PROCESSING:
            return f"{head}: approved by {who}, being processed; {money} comes back to the {who} balance"
        return f"{head}: waiting for {who} support; {refund_consequence(self.vendor)}"


class RefundAlreadyOpen(VendorRejected):
    """The vendor refused a second request for an eSIM: one is open already (``refund``, when it could be
    read; Roamify's 409 names it by ``refundId``)."""

    def __init__(self, vendor: str, endpoint: str, message: str, refund: RefundRequest | None, *,
                 http_status: int | None = 409, code: str | None = None):
        self.refund = refund
        super().__init__(vendor, endpoint, message, http_status=http_status, code=code)
