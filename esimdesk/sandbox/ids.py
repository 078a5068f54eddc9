"""Identifiers the simulators mint. The Luhn digit is computed here, independently of the app's own
check in ``esimdesk.domain.iccid``, so a bug there is caught by the sandbox instead of mirrored."""

from __future__ import annotations


def luhn_digit(body: str) -> str:
    """The check digit that makes ``body + digit`` pass the Luhn test."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)
