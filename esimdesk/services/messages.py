"""A failed vendor call in one sentence for the window's message bar: who said no, their reason (and code),
and what to do. Plain text: the window shows it in a plain-text label (vendor words are never markup)."""

from __future__ import annotations

from esimdesk.domain import VENDOR_TITLES, EsimdeskError, VendorError, VendorRejected


def vendor_error(exc: BaseException | None) -> VendorError | None:
    """The vendor's own error behind ``exc`` (services re-raise it in their words, ``from None``: it is the
    ``__context__``)."""
    for _ in range(8):
        if exc is None or isinstance(exc, VendorError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def failure_text(what: str, vendor: str | None, exc: BaseException) -> str:
    """'Roumio refused the order: the Roumio account balance is too low; top up the account first (code
    200007). Nothing was charged.' — or '<what> failed: <the service's sentence>'; an unexpected error is
    named by its type only (the details go to the log), never a traceback."""
    title = VENDOR_TITLES.get(vendor or "", vendor or "")
    if not isinstance(exc, EsimdeskError):
        return (f"{what[:1].upper()}{what[1:]} failed unexpectedly ({type(exc).__name__}); nothing more is known here "
                "— try again, and if it happens again report it with the log (ESIMDESK_LOG_LEVEL=DEBUG)")
    said = str(exc)
    cause = vendor_error(exc)
    if isinstance(cause, VendorRejected) and title:
        rest = said[len(str(cause)):].lstrip(". ") if said.startswith(str(cause)) else ""
        reason = cause.message[:1].lower() + cause.message[1:] if cause.message[:2] != cause.message[:2].upper() \
            else cause.message
        code = f" (code {cause.code})" if cause.code else ""
        return f"{title} refused the {what}: {reason}{code}." + (f" {rest}" if rest else "")
    return f"{what[:1].upper()}{what[1:]} failed: {said}"
