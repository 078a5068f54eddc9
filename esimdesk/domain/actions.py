"""Support actions on one eSIM (cancel, suspend, resume, revoke, SMS) and their journal entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from esimdesk.domain.models import OrderStatus


class Action(StrEnum):
    CANCEL = "cancel"  # refund; only while the profile is unused
    SUSPEND = "suspend"
    RESUME = "resume"
    REVOKE = "revoke"  # for good, no refund
    SMS = "sms"
    # A refund request (Roamify, issue 30): the vendor's support decides it later; nothing moves on sending.
    REFUND = "refund"
    CANCEL_REFUND = "cancel_refund"  # withdraw an open refund request


# The actions on the eSIM itself (the Fleet panel's buttons, the commands cancel…sms); the refund requests
# have a section of their own (domain/refunds.py).
ESIM_ACTIONS: tuple[Action, ...] = (Action.CANCEL, Action.SUSPEND, Action.RESUME, Action.REVOKE, Action.SMS)
REFUND_ACTIONS: tuple[Action, ...] = (Action.REFUND, Action.CANCEL_REFUND)


# Past tense for history lines and results ("cancelled", "sent an SMS to").
DONE_WORDS: dict[Action, str] = {
    Action.CANCEL: "cancelled", Action.SUSPEND: "suspended", Action.RESUME: "resumed",
    Action.REVOKE: "revoked", Action.SMS: "SMS sent",
    Action.REFUND: "refund requested", Action.CANCEL_REFUND: "refund request cancelled",
}

# What a vendor that lacks the action does not offer ("Flexiroam does not offer eSIM cancelling through its API").
OFFER_WORDS: dict[Action, str] = {
    Action.CANCEL: "eSIM cancelling", Action.SUSPEND: "eSIM suspending", Action.RESUME: "eSIM resuming",
    Action.REVOKE: "eSIM revoking", Action.SMS: "SMS to eSIMs",
    Action.REFUND: "refund requests", Action.CANCEL_REFUND: "refund request cancelling",
}

SMS_MAX_CHARS = 500  # Roumio / eSIM Access sendSms


@dataclass(frozen=True, slots=True)
class ActionEntry:
    """One journaled action. ``state`` reuses the order journal's states: PENDING (recorded, not yet
    answered), UNCERTAIN (answer lost; the eSIM's status decides), COMPLETED, FAILED (refused or not done)."""

    id: int
    vendor: str
    iccid: str
    action: Action
    state: OrderStatus
    desk_id: str
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    message: str | None = None  # the SMS text; a refund's "REASON: notes"; a cancel_refund's refund id
    amount: Decimal | None = None  # a cancel's refund as we expect it
    currency: str | None = None
    last_error: str | None = None
    lease_owner: str | None = None
    lease_until: float | None = None
    first_sent_at: datetime | None = None
    last_sent_at: datetime | None = None
    in_flight_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ActionEvent:
    """A line of an eSIM's history: what was done, when, from which desk."""

    at: datetime
    action: Action
    from_state: str | None
    to_state: str
    cause: str
    desk_id: str
    entry_id: int

    def line(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} UTC  {self.action.value} {self.to_state}: {self.cause} (desk {self.desk_id})"
