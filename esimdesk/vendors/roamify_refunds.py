"""Roamify's refund requests and SMS to an eSIM (issue 30): the requests, their answers, which state allows what.

What Roamify's support pages state (roamify-support.md, copied here: nothing reads the vendor documents
at run time):

- one refund request covers one eSIM; Roamify support decides it; nothing is refunded until it is
  approved; submitting does NOT revoke or stop the eSIM; an approved balance-paid order is credited back
  to the partner balance (``GET /api/balance``); installed and used eSIMs are accepted and reviewed;
- an eSIM already refunded: HTTP 422; a second request while one is PENDING or PROCESSING: HTTP 409, the
  error carrying the open request's ``refundId``;
- statuses: PENDING (open, waiting for support), PROCESSING (open, approved and being processed), REFUNDED
  (final), REJECTED (final; ``rejection_reason`` says why), CANCELLED (withdrawn by the partner; the exact
  string is unconfirmed);
- errors: ``{"message": "...", "status": "failed", "code": "..."}``;
- SMS: ``POST /api/esim/sms`` ``{"iccid", "message"}``, both required; its answer is not documented (we
  assume the common ``{"status": "success", "data": ...}`` envelope and read nothing from it); no length
  limit is documented (esimdesk keeps its own 500 characters, SMS_MAX_CHARS).

ASSUMED, not confirmed by the documents (the one place to change if a real account answers otherwise):

- create: ``POST /api/refund`` ``{"iccid", "esimId"?, "reason", "notes"?}`` -> ``{"status": "success",
  "data": <refund>}``;
- one: ``GET /api/refund?refundId=X``; list: ``GET /api/refunds?iccid=&status=`` (the filters unconfirmed),
  ``data`` a list (or ``{"refunds": [...]}``: both read); cancel: ``POST /api/refund/cancel {"refundId"}``;
- the refund object's fields in camelCase (refundId, status, esimId, iccid, reason, rejectionReason,
  amount, currency, createdAt, updatedAt); Roamify's refund webhook writes snake_case (refund_id,
  rejection_reason), so both spellings are read; times as epoch seconds (as its orders) or ISO 8601;
- the reason codes: Roamify has a fixed list whose values could not be read; esimdesk sends its own
  (domain/refunds.py REFUND_REASONS: NOT_INSTALLED, NOT_WORKING, DUPLICATE, CUSTOMER_REQUEST, OTHER) until
  Roamify's list is known.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from esimdesk.domain import Action, Esim, EsimStatus, MalformedResponse
from esimdesk.domain.refunds import RefundRequest, RefundStatus

VENDOR = "roamify"
CREATE = "api/refund"
ONE = "api/refund"
LIST = "api/refunds"
CANCEL = "api/refund/cancel"
SMS = "api/esim/sms"

ACTIONS = frozenset({Action.SMS, Action.REFUND, Action.CANCEL_REFUND})
_INSTALLED = (EsimStatus.INSTALLED, EsimStatus.ACTIVE, EsimStatus.DEPLETED)


def _pick(data: dict[str, Any], *keys: str) -> Any:
    """The first of ``keys`` the object carries with a value (camelCase first, then the webhook's snake_case)."""
    for key in keys:
        value = data.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text or None
    return None


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or value in (None, ""):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, UTC)
        dt = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (OverflowError, OSError, ValueError):
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        d = Decimal(str(value))  # through str: 4.99 stays 4.99
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def parse_refund(data: Any, endpoint: str = ONE, iccid: str | None = None) -> RefundRequest:
    """A refund object, camelCase or snake_case (see the module); ``iccid``: the eSIM asked about, where the
    object leaves it out."""
    if not isinstance(data, dict):
        raise MalformedResponse(VENDOR, endpoint, "refund request is not an object")
    refund_id = _text(_pick(data, "refundId", "refund_id", "id"))
    if not refund_id:
        raise MalformedResponse(VENDOR, endpoint, "refund request has no refundId")
    raw_status = (_text(_pick(data, "status", "refundStatus", "refund_status")) or "UNKNOWN").upper()
    # "CANCELED" (one l) is read as CANCELLED: the exact string is unconfirmed.
    status_word = "CANCELLED" if raw_status == "CANCELED" else raw_status
    status = RefundStatus(status_word) if status_word in RefundStatus.__members__ else RefundStatus.UNKNOWN
    currency = _text(_pick(data, "currency"))
    return RefundRequest(
        vendor=VENDOR, refund_id=refund_id, iccid=_text(_pick(data, "iccid")) or iccid or "", status=status,
        vendor_status=raw_status, esim_id=_text(_pick(data, "esimId", "esim_id")),
        reason=_text(_pick(data, "reason", "reasonCode", "reason_code")),
        rejection_reason=_text(_pick(data, "rejectionReason", "rejection_reason")),
        amount=_money(_pick(data, "amount", "refundAmount", "refund_amount")),
        currency=currency.upper() if currency else None,
        created_at=_time(_pick(data, "createdAt", "created_at")),
        updated_at=_time(_pick(data, "updatedAt", "updated_at")),
        checked_at=datetime.now(UTC),
    )


def parse_refunds(data: Any, iccid: str | None = None) -> list[RefundRequest]:
    items = data.get("refunds") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise MalformedResponse(VENDOR, LIST, "no refund request list")
    return [parse_refund(item, LIST, iccid) for item in items]


def open_refund_id(payload: Any) -> str | None:
    """The open request's id a 409 names: at the top of the error body or under ``data``."""
    for obj in (payload, payload.get("data") if isinstance(payload, dict) else None):
        if isinstance(obj, dict):
            found = _text(_pick(obj, "refundId", "refund_id"))
            if found:
                return found
    return None


def refusal(esim: Esim, action: Action) -> str | None:
    """Which state allows what, in words (None: allowed). Roamify reviews a refund request for an eSIM in any
    state (installed and used ones included); whether one is already open is the request list's to say. An
    SMS reaches an installed eSIM only."""
    if action in (Action.REFUND, Action.CANCEL_REFUND):
        return None
    if action is Action.SMS:
        if esim.status in _INSTALLED:
            return None
        if esim.status is EsimStatus.NEW:
            return "an SMS reaches only an installed eSIM (this one is not installed yet)"
        return f"an SMS reaches only an installed eSIM (this one is {esim.status.value.lower()})"
    return None
