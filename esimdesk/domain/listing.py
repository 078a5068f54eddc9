"""What a table of the window shows: its filters and its order (the store turns it into SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

# The Catalog's "kind of data" filter (``ListingQuery.kind``).
PLAN_KINDS = ("unlimited", "daily", "fixed")


@dataclass(frozen=True)
class ListingQuery:
    """What a table shows: its filters and its order. ``text`` is the search box as typed."""

    table: str  # plans | orders | esims
    vendor: str | None = None
    text: str = ""
    country: str | None = None  # plans: alpha-2
    status: str | None = None  # esims: EsimStatus value
    sort: str | None = None  # a key of SORTS[table]
    descending: bool = False
    # Fleet's quick filters (esims), each ANDed with the rest:
    active: bool = False  # on a device and usable: INSTALLED or ACTIVE
    expiring_days: int | None = None  # expires within this many days of ``as_of`` (not already expired)
    low_data: bool = False  # under 10 % of a known, limited data allowance left
    not_installed_days: int | None = None  # still not installed this many days after its order was placed
    # What the day counts count from (aware UTC). Carried in the query, not read from the clock in the
    # store: a result's head, count and later pages then agree, and one minute's queries are one query.
    as_of: datetime | None = None
    # The Catalog's filters (plans), likewise ANDed:
    min_data_mb: int | None = None  # at least this much data over the whole plan (unlimited plans pass)
    min_days: int | None = None  # valid at least this many days
    max_days: int | None = None  # ... and at most this many
    kind: str | None = None  # one of PLAN_KINDS: unlimited only, daily allowance only, a fixed total only
    topup_only: bool = False  # only plans the vendor says can be topped up

    def __post_init__(self) -> None:
        for name in ("expiring_days", "not_installed_days"):
            days = getattr(self, name)
            if days is not None and not 0 <= days <= 3650:
                raise ValueError(f"{name} must be 0 to 3650 days, got {days}")
        if self.as_of is not None and self.as_of.utcoffset() is None:
            raise ValueError("as_of must be timezone-aware")
        if self.as_of is None and (self.active or self.expiring_days is not None
                                   or self.not_installed_days is not None):
            object.__setattr__(self, "as_of", datetime.now(UTC))  # one "now" for every read of this result
