"""Roamify refund requests and SMS to an eSIM, for the simulator (issue 30).

What Roamify documents (its support pages): one refund request covers one eSIM; Roamify support decides
each one, nothing is refunded until it is approved, and submitting does not stop the eSIM. An approved
request of a balance-paid order is credited back to the partner balance (``GET /api/balance``).
Installed and used eSIMs are accepted for review. An eSIM already refunded: 422. A second request while
one is PENDING or PROCESSING: 409, the error carrying the open request's ``refundId``. Statuses: PENDING
(open, waiting for support), PROCESSING (open, approved, being paid), REFUNDED, REJECTED (with
``rejectionReason``), CANCELLED (withdrawn by the partner). Errors: ``{"message", "status": "failed",
"code"}``.

The paths, body keys and object shape are not readable in the documents: these are esimdesk's
assumption, the same as the adapter's (vendors/roamify_refunds.py): ``POST /api/refund`` ``{iccid,
esimId?, reason, notes?}``; ``GET /api/refund?refundId=``; ``GET /api/refunds?iccid=&status=``;
``POST /api/refund/cancel`` ``{refundId}``; objects in camelCase with epoch-second times. SMS: ``POST
/api/esim/sms`` ``{iccid, message}`` (documented), answered in the common success envelope (the answer
is not documented); only an installed eSIM takes one here.

Decisions: by the control API (``POST /_sandbox/refunds {"vendor": "roamify", "refund_id": R,
"decision": "approve" | "process" | "reject", "reason": "..."}``), or, with
``SandboxConfig.refund_decision_s`` = D > 0 (the demo), by themselves: PROCESSING D seconds after the
request, then at 2·D REFUNDED (the price credited to the balance) — or REJECTED ("test requests are not
refunded") when the request's notes contain the word "test", so the demo can show both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OPEN = ("PENDING", "PROCESSING")
FINAL = ("REFUNDED", "REJECTED", "CANCELLED")
STATUSES = OPEN + FINAL
# esimdesk's own reason codes until Roamify's list can be read (vendors/roamify_refunds.py says the same).
REASONS = ("NOT_INSTALLED", "NOT_WORKING", "DUPLICATE", "CUSTOMER_REQUEST", "OTHER")
NOTES_MAX = 1000
TEST_REJECTION = "test requests are not refunded"
DEFAULT_REJECTION = "not approved by Roamify support"


@dataclass
class Refund:
    id: str
    iccid: str
    esim_id: str
    order_id: str | None
    reason: str
    notes: str | None
    amount_cents: int
    created: float
    updated: float
    status: str = "PENDING"
    rejection_reason: str | None = None


def _num(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else cents / 100


def refund_json(r: Refund) -> dict[str, Any]:
    return {
        "refundId": r.id, "status": r.status, "esimId": r.esim_id, "iccid": r.iccid, "orderId": r.order_id,
        "reason": r.reason, "notes": r.notes, "amount": _num(r.amount_cents), "currency": "USD",
        "rejectionReason": r.rejection_reason, "createdAt": int(r.created), "updatedAt": int(r.updated),
    }


class RoamifyRefunds:
    """The refund requests and the SMS outbox of one simulated Roamify account."""

    def __init__(self) -> None:
        self.requests: dict[str, Refund] = {}
        self.sms: list[dict[str, Any]] = []  # every SMS sent to an eSIM (visible in /_sandbox/state)
        self.created = 0  # requests accepted
        self.create_requests = 0  # POST /api/refund received (accepted or not)

    def dump(self) -> dict[str, Any]:
        return {"requests": [asdict(r) for r in self.requests.values()], "sms": self.sms,
                "created": self.created, "create_requests": self.create_requests}

    def load(self, state: dict[str, Any]) -> None:
        self.requests = {row["id"]: Refund(**row) for row in state.get("requests", [])}
        self.sms = list(state.get("sms", []))
        self.created = int(state.get("created", 0))
        self.create_requests = int(state.get("create_requests", 0))

    def of_esim(self, esim_id: str, iccid: str) -> list[Refund]:
        return [r for r in self.requests.values() if r.esim_id == esim_id or (iccid and r.iccid == iccid)]

    def listed(self, iccid: str | None, status: str | None) -> list[Refund]:
        out = [r for r in self.requests.values() if (not iccid or r.iccid == iccid) and (not status or r.status == status)]
        return sorted(out, key=lambda r: r.created, reverse=True)

    def create_refund(self, refund_id: str, iccid: str, esim_id: str, order_id: str | None, reason: str,
                      notes: str | None, cents: int, now: float) -> Refund:
        refund = Refund(refund_id, iccid, esim_id, order_id, reason, notes, cents, now, now)
        self.requests[refund_id] = refund
        self.created += 1
        return refund

    def advance(self, now: float, delay: float) -> int:
        """The demo's decisions (``delay`` > 0): each open request moves on with time; the cents to credit."""
        if delay <= 0:
            return 0
        credit = 0
        for r in self.requests.values():
            if r.status not in OPEN:
                continue
            age = now - r.created
            if r.status == "PENDING" and age >= delay:
                r.status, r.updated = "PROCESSING", r.created + delay
            if age >= 2 * delay:
                if "test" in (r.notes or "").lower():
                    r.status, r.rejection_reason = "REJECTED", TEST_REJECTION
                else:
                    r.status = "REFUNDED"
                    credit += r.amount_cents
                r.updated = r.created + 2 * delay
        return credit

    def decide(self, refund_id: str, decision: str, reason: str | None, now: float) -> tuple[Refund, int]:
        """Roamify support's decision (the control API): the request and the cents to credit. ValueError in words."""
        r = self.requests.get(refund_id)
        if r is None:
            raise ValueError(f"no refund request {refund_id!r}")
        if r.status not in OPEN:
            raise ValueError(f"refund request {refund_id} is already {r.status}")
        credit = 0
        if decision == "approve":
            r.status = "REFUNDED"
            credit = r.amount_cents
        elif decision == "process":
            r.status = "PROCESSING"
        elif decision == "reject":
            r.status, r.rejection_reason = "REJECTED", reason or DEFAULT_REJECTION
        else:
            raise ValueError("decision must be approve, process or reject")
        r.updated = now
        return r, credit
