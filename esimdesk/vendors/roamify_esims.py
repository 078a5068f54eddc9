"""Roamify's eSIM objects, usage, balance and share links to domain values (roamify-more.md 7, 8, 9, 13, 15).

Usage unit. The documents disagree: apidog calls ``allowedData``/``remainingData`` KB; the reference
sample shows no unit and the usage webhook says MB. Checked against a known plan: the usage sample is
the one of the sample eSIM (``894000000000029365``), made by the sample order for
``esim-cambodia-7days-1gb-all`` ("1 GB - 7 Days", ``dataAmount: 1024, dataUnit: "MB"`` in the top-up
listing), and it reports ``allowedData: 1024``. Read as KB that is a 1 MB plan, which Roamify does not
sell; read as MB it is the plan's 1 GB. So the unit is MB (as the webhook says), and a value at or
above 9007199254740991 (the catalog's "unlimited") is no cap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from esimdesk.domain import Balance, Esim, EsimStatus, MalformedResponse
from esimdesk.domain.states import status_after_usage
from esimdesk.vendors.base import ShareLink  # the contract's type, built here from Roamify's answer

VENDOR = "roamify"
UNLIMITED_AMOUNT = 9007199254740991
NO_USAGE = "usage not reported by Roamify"

# Roamify eSIM status -> ours. READY: generated, not yet on a phone (our NEW).
ESIM_STATUS = {
    "NEW": EsimStatus.NEW,
    "READY": EsimStatus.NEW,
    "INSTALLED": EsimStatus.INSTALLED,
    "REVOKED": EsimStatus.CANCELLED,
    "EXPIRED": EsimStatus.EXPIRED,
    "UNKNOWN": EsimStatus.UNKNOWN,
}


def _s(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def activation_code(profile: Any) -> str | None:
    """The QR payload: ``lpaCode``, else built from ``smdpAddress`` and ``activationCode`` (NOTES)."""
    if not isinstance(profile, dict):
        return None
    lpa = _s(profile.get("lpaCode"))
    if lpa:
        return lpa
    smdp, code = _s(profile.get("smdpAddress")), _s(profile.get("activationCode"))
    return f"LPA:1${smdp}${code}" if smdp and code else None


def profile_ready(data: Any) -> bool:
    """An eSIM object with its ICCID and LPA code: the profile is generated."""
    return isinstance(data, dict) and bool(_s(data.get("iccid"))) and activation_code(data.get("esim")) is not None


def esim_id(data: Any) -> str | None:
    return _s(data.get("id")) if isinstance(data, dict) else None


def reports_usage(data: Any) -> bool:
    return not (isinstance(data, dict) and data.get("withUsageCheck") is False)


def can_top_up(data: Any) -> bool:
    return not (isinstance(data, dict) and data.get("withTopUp") is False)


def parse_esim(data: Any, *, order_id: str | None = None, plan_id: str | None = None,
               usage: dict[str, Any] | None = None) -> Esim:
    """An eSIM object (section 7) with, where given, its usage (section 9a)."""
    if not isinstance(data, dict):
        raise MalformedResponse(VENDOR, "api/esim", "eSIM is not an object")
    iccid = _s(data.get("iccid"))
    if not iccid:
        raise MalformedResponse(VENDOR, "api/esim", "eSIM has no ICCID yet")
    vendor_status = data.get("status") if isinstance(data.get("status"), str) else "UNKNOWN"
    status = ESIM_STATUS.get(vendor_status, EsimStatus.UNKNOWN)
    profile = data.get("esim") if isinstance(data.get("esim"), dict) else {}
    used = total = None
    installed_at = None
    if usage is not None:
        used, total = usage_mb(usage)
        installed_at = _time(usage.get("startedAt"))
        status = status_after_usage(status, used, total)
    if not reports_usage(data):
        vendor_status = f"{vendor_status} · {NO_USAGE}"
    return Esim(
        vendor=VENDOR, iccid=iccid, status=status, vendor_status=vendor_status, order_id=order_id, plan_id=plan_id,
        activation_code=activation_code(profile), data_used_mb=used, data_total_mb=total,
        expires_at=_time(data.get("expiredAt")), installed_at=installed_at,
        qr_url=_s(profile.get("qrCodeUrl")), install_url=_s(profile.get("iosQuickInstall")),
        vendor_ref=esim_id(data), raw=data,
    )


def usage_mb(usage: dict[str, Any]) -> tuple[int | None, int | None]:
    """(used, allowed) in MB from ``/api/esim/usage``; allowed None = unlimited. Unit: see the module."""
    allowed, remaining = usage.get("allowedData"), usage.get("remainingData")
    for value in (allowed, remaining):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None, None
    if allowed >= UNLIMITED_AMOUNT or allowed < 0:
        return None, None  # unlimited: Roamify's representation of use against no cap is undocumented
    return max(0, int(allowed - remaining)), int(allowed)


def parse_balance(data: Any) -> Balance:
    if not isinstance(data, dict):
        raise MalformedResponse(VENDOR, "api/balance", "balance is not an object")
    value, currency = data.get("balance"), data.get("currency")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(VENDOR, "api/balance", "balance is not a number")
    try:
        amount = Decimal(str(value))  # through str: 3723.35 stays 3723.35
    except InvalidOperation:
        raise MalformedResponse(VENDOR, "api/balance", "balance is not a number") from None
    if not amount.is_finite() or not isinstance(currency, str) or len(currency) != 3:
        raise MalformedResponse(VENDOR, "api/balance", "balance has no amount or currency")
    return Balance(VENDOR, amount, currency.upper(), datetime.now(UTC))


def parse_link(data: Any) -> ShareLink:
    if not isinstance(data, dict) or not _s(data.get("link") or data.get("url")):
        raise MalformedResponse(VENDOR, "api/esim/link", "no link in the answer")
    return ShareLink(iccid=_s(data.get("iccid")) or "", url=_s(data.get("link") or data.get("url")) or "",
                     access_code=_s(data.get("accessCode")) or "")
