"""Exchange rates as facts with a date and a source, and what one currency is worth in another.

A ``Quote`` is "1 ``base`` = ``rate`` × ``currency`` as of ``as_of``", exactly as its source gave it: the
European Central Bank quotes every currency per 1 EUR (base EUR); Roamify quotes a pair it was asked for.
``cross`` turns EUR-based quotes into any pair (rate_B / rate_A: the ECB publishes no cross rates). All in
``Decimal``: a rate is never a binary float.

Freshness is counted in TARGET working days, the days the ECB publishes on: no rate comes on a weekend,
New Year's Day, Good Friday, Easter Monday, 1 May or 25/26 December, so a Monday morning's rate of the
previous Friday is current, not three days old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from dateutil.easter import easter  # Good Friday and Easter Monday: TARGET holidays

# How many working days old a rate may be before every converted price says so (issue 27).
STALE_AFTER_WORKING_DAYS = 3
SOURCE_NAMES = {"ecb": "ECB", "roamify": "Roamify", "manual": "your own rate", "shipped": "shipped with esimdesk"}


@dataclass(frozen=True, slots=True)
class Quote:
    """1 ``base`` = ``rate`` × ``currency``, as of ``as_of`` (the source's date), from ``source``."""

    source: str  # 'ecb' | 'roamify' | 'manual' | 'shipped'
    base: str
    currency: str
    rate: Decimal
    as_of: date

    def __post_init__(self) -> None:
        if not isinstance(self.rate, Decimal) or not self.rate.is_finite() or self.rate <= 0:
            raise ValueError(f"a rate must be a positive Decimal, got {self.rate!r}")


def cross(per_eur: dict[str, Decimal], source: str, target: str) -> Decimal | None:
    """What 1 ``source`` is worth in ``target`` from rates per 1 EUR (EUR itself is 1); None without both."""
    table = {**per_eur, "EUR": Decimal(1)}
    a, b = table.get(source.upper()), table.get(target.upper())
    if a is None or b is None:
        return None
    return b / a


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """A TARGET working day: the ECB publishes its reference rates on it."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in {(1, 1), (5, 1), (12, 25), (12, 26)}:
        return False
    sunday = easter(day.year)
    return day not in (sunday - timedelta(days=2), sunday + timedelta(days=1))


@lru_cache(maxsize=256)  # asked for every converted cell painted: one rate's answer is reused, not recounted
def working_days_since(as_of: date, today: date) -> int:
    """Working days after ``as_of`` up to and including ``today`` (0 for today's or a future rate)."""
    n, day = 0, as_of
    while day < today:
        day += timedelta(days=1)
        n += is_working_day(day)
    return n


def is_stale(as_of: date, today: date) -> bool:
    """A rate older than three working days: said beside every price converted with it."""
    return working_days_since(as_of, today) > STALE_AFTER_WORKING_DAYS


def age_words(as_of: date, today: date) -> str:
    """ "today", "1 day old", "12 days old" (calendar days: what an agent reads)."""
    days = (today - as_of).days
    if days <= 0:
        return "today"
    return "1 day old" if days == 1 else f"{days} days old"
