"""The order journal: the agent's intent, recorded before any vendor call, and its audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from esimdesk.domain.models import OrderStatus


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    vendor: str
    kind: str  # "order" | "topup"
    reference: str  # the agent's (typed or generated); unique in this journal
    plan_id: str
    quantity: int
    state: OrderStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = 0  # how many times the order request was handed to the network
    iccid: str | None = None  # top-ups
    unit_price: Decimal | None = None
    currency: str | None = None
    order_id: str | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    # What the vendor is sent as its idempotency handle (Roumio transactionId, MicroESIM custom_order_no,
    # Roamify referenceId): the reference made unique to this desk, so two desks never share one.
    handle: str | None = None
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    candidates: tuple[str, ...] = ()  # vendor orders that may be this one, for the agent to pick
    # Until when the last request may still reach the vendor: a complete answer (even a 500) ends it at
    # once; a timeout or a dropped connection leaves it in flight a while. "Not found" counts only after.
    in_flight_until: datetime | None = None
    activation_date: datetime | None = None  # MicroESIM: the plan starts then (issue 21)
    custom_email: str | None = None  # MicroESIM mails the eSIM to this address

    @property
    def vendor_handle(self) -> str:
        return self.handle or self.reference


@dataclass(frozen=True, slots=True)
class JournalEvent:
    at: datetime
    from_state: str | None
    to_state: str
    cause: str
