"""Words an agent reads, one rule for the command line, the messages and the window: vendors by their
names ("MicroESIM", never "microesim": that is the id scripts and ``--vendor`` use) and counts with their
plural right ("1 eSIM", "2 eSIMs", never "eSIM(s)")."""

from __future__ import annotations

from esimdesk.domain.models import Vendor

VENDOR_TITLES: dict[str, str] = {Vendor.ROUMIO: "Roumio", Vendor.ROAMIFY: "Roamify", Vendor.MICROESIM: "MicroESIM",
                                 Vendor.FLEXIROAM: "Flexiroam"}

# Nouns whose plural is not the noun + "s".
_PLURALS = {"reply": "replies", "copy": "copies", "entry": "entries", "country": "countries", "is": "are",
            "was": "were", "has": "have", "does": "do"}


def vendor_title(vendor: str | None) -> str:
    """The vendor's name as it writes it ("Roumio", "MicroESIM"); an id not known here as it is."""
    if not vendor:
        return ""
    return VENDOR_TITLES.get(vendor, vendor)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """The noun for ``n`` of them: ``plural(1, "eSIM")`` → "eSIM", ``plural(2, "eSIM")`` → "eSIMs"."""
    if n == 1:
        return noun
    return many or _PLURALS.get(noun) or f"{noun}s"


def count_of(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and its noun: "1 eSIM", "2 eSIMs", "0 top-ups", "1,200 plans"."""
    return f"{n:,} {plural(n, noun, many)}"
