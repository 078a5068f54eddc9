"""Order options a vendor takes beyond plan and quantity (issue 21): MicroESIM's ``activation_date``
(a plan that starts by order date starts then instead of at once) and ``custom_email`` (the vendor
mails the eSIM to the customer). Checked before anything is recorded or sent."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from esimdesk.domain.errors import InvalidInput

MAX_QUANTITY = 50  # one agent action; larger batches are a bulk job, not a desk order
ACTIVATION_WINDOW = timedelta(days=30)  # "Optional, within 30 days"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # the shape only: the vendor is the one that mails


def validate_activation_date(when: datetime, now: datetime | None = None) -> datetime:
    """Aware, in the future and within 30 days; returned in UTC to the second."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidInput("the activation date needs a time zone (dates are taken as UTC)")
    now = now or datetime.now(UTC)
    when = when.astimezone(UTC).replace(microsecond=0)
    if when <= now:
        raise InvalidInput(f"the activation date {when:%Y-%m-%d %H:%M} UTC is in the past; leave it out to "
                              "start the plan at once")
    if when - now > ACTIVATION_WINDOW:
        raise InvalidInput(f"the activation date {when:%Y-%m-%d %H:%M} UTC is more than 30 days ahead; "
                              "MicroESIM takes dates within 30 days")
    return when


def validate_quantity(quantity: int) -> int:
    """1 to ``MAX_QUANTITY`` eSIMs in one order."""
    if quantity < 1:
        raise InvalidInput("the quantity must be at least 1")
    if quantity > MAX_QUANTITY:
        raise InvalidInput(f"the quantity {quantity:,} is more than {MAX_QUANTITY}, the most one order takes; "
                           "larger batches are a bulk job")
    return quantity


def validate_start_date(start: date, today: date | None = None) -> date:
    """A travel start date today or later (UTC)."""
    today = today or datetime.now(UTC).date()
    if start < today:
        raise InvalidInput(f"the start date {start.isoformat()} is in the past; nothing was ordered")
    return start


def validate_email(text: str) -> str:
    email = text.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise InvalidInput(f"'{text.strip()[:60]}' is not an e-mail address")
    return email


def parse_activation_date(text: str) -> datetime:
    """``YYYY-MM-DD`` (midnight) or ``YYYY-MM-DD HH:MM[:SS]``, in UTC."""
    raw = text.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(raw, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise InvalidInput(f"'{text.strip()[:40]}' is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM' (UTC)")
