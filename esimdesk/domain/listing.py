"""What a table of the window shows: its filters and its order (the store turns it into SQL)."""

from __future__ import annotations

from dataclasses import dataclass


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
