"""ICCID checks for what an agent types (vendor-given ICCIDs are taken as they are)."""

from __future__ import annotations

from esimdesk.domain.errors import InvalidInput, ValidationError


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def validate_iccid(text: str) -> str:
    """Return the ICCID with spaces removed, or raise InvalidInput saying what is wrong."""
    iccid = "".join(text.split())
    if not iccid.isdigit():
        raise InvalidInput(f"ICCID '{text}' must contain digits only")
    if not 18 <= len(iccid) <= 22:
        raise InvalidInput(f"ICCID '{iccid}' has {len(iccid)} digits; an ICCID has 18 to 22")
    if not iccid.startswith("89"):
        raise InvalidInput(f"ICCID '{iccid}' must start with 89 (the telecom prefix)")
    if not luhn_ok(iccid):
        raise InvalidInput(f"ICCID '{iccid}' fails its check digit: a digit is probably mistyped")
    return iccid


def is_valid_iccid(text: str) -> bool:
    try:
        validate_iccid(text)
    except ValidationError:
        return False
    return True
