"""Roumio's error-code table, in words an agent can act on, mapped to our typed errors."""

from __future__ import annotations

from typing import Any

from esimdesk.domain.errors import (
    AccessRefused,
    InsufficientBalance,
    NotFound,
    PriceChanged,
    VendorAuthError,
    VendorBusy,
    VendorError,
    VendorRejected,
)


class AllocationPending(VendorRejected):
    """200010: the order is accepted and its profiles are still being prepared (not a failure)."""


# code -> (error class, agent-friendly sentence)
ERRORS: dict[str, tuple[type[VendorError], str]] = {
    "000001": (VendorBusy, "Roumio's server had an internal error; try again shortly"),
    "000101": (VendorAuthError, "Roumio did not receive the API key; set the account's key in Settings"),
    "000102": (VendorAuthError, "Roumio refused the format of the API key; check the key in Settings"),
    "000103": (VendorRejected, "Roumio refused the request method (an app defect; please report it)"),
    "000104": (VendorRejected, "Roumio could not read the request (an app defect; please report it)"),
    "000105": (VendorRejected, "Roumio says a required detail is missing from the request"),
    "000106": (VendorRejected, "Roumio says a required detail of the request is empty"),
    "000107": (VendorRejected, "Roumio says a detail of the request has the wrong length or range"),
    "101001": (AccessRefused, "Roumio says the request's timestamp expired; check this computer's clock"),
    "101002": (AccessRefused, "Roumio blocks this network's IP address; contact Roumio support"),
    "101003": (VendorAuthError, "Roumio refused the API key; check the account's key in Settings"),
    "200002": (VendorRejected, "Roumio does not allow this in the order's or eSIM's current status"),
    "200005": (
        PriceChanged,
        "Roumio's price for the package differs from ours; refresh the catalog and retry",
    ),
    "200006": (PriceChanged, "Roumio says the order total is wrong; refresh the catalog and retry"),
    "200007": (InsufficientBalance, "The Roumio account balance is too low; top up the account first"),
    "200008": (VendorRejected, "Roumio rejected the order details; contact Roumio customer service"),
    "200009": (VendorRejected, "Roumio reports an abnormal order status; contact Roumio customer service"),
    "200010": (AllocationPending, "Roumio is still preparing the eSIM profiles for this order"),
    "200011": (
        VendorRejected,
        "Roumio has no profiles left for this package; contact Roumio customer service",
    ),
    "310201": (NotFound, "Roumio does not know this bundle code"),
    "310211": (NotFound, "Roumio does not know this plan location"),
    "310221": (NotFound, "Roumio does not know this currency"),
    "310231": (NotFound, "Roumio does not know this carrier"),
    "310241": (NotFound, "Roumio does not know this package code; refresh the catalog"),
    "310243": (NotFound, "Roumio says this package does not exist"),
    "310251": (NotFound, "Roumio does not know this vendor"),
    "310272": (NotFound, "Roumio does not know this order number"),
    "310403": (NotFound, "Roumio does not know this eSIM (ICCID)"),
    "900001": (VendorBusy, "Roumio is busy; try again in a moment"),
}


def is_success_code(code: Any) -> bool:
    """``errorCode`` is null, missing, or "0" on success (samples show both null and "0")."""
    return code is None or str(code).strip() in ("", "0")


def error_for(code: Any, vendor_message: Any, endpoint: str, *, write: bool) -> VendorError:
    code_s = str(code).strip() if code is not None else None
    cls, words = ERRORS.get(code_s or "", (VendorRejected, "Roumio refused the request"))
    if code_s not in ERRORS and isinstance(vendor_message, str) and vendor_message:
        words = f"Roumio refused the request: {vendor_message[:200]}"
    # "Server error" on a write may have happened after the vendor acted: the order becomes UNCERTAIN.
    maybe_sent = write and code_s == "000001"
    return cls("roumio", endpoint, words, code=code_s, maybe_sent=maybe_sent)
