"""Roamify's package table for the simulator: deterministic by seed, built lazily, cheap at 50,000.

Package ids follow the documented example ``esim-cambodia-7days-1gb-all``: area slug, days, volume,
network set. ``roamify_packages.py`` serves the table as ``/api/esim/countries`` and the paged,
grouped-by-country ``/api/esim/packages`` (roamify-more.md sections 2 and 3).
"""

from __future__ import annotations

import bisect
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property

from esimdesk.sandbox.countries import COUNTRIES, REGIONS, country_name

# The documented sample package: it must exist and keep its documented name and price.
SAMPLE_PACKAGE_ID = "esim-cambodia-7days-1gb-all"

# (token in the id, display volume, MB or None = unlimited, daily). Unlimited and daily come early so
# that even a small catalog has them.
SIZES: tuple[tuple[str, str, int | None, bool], ...] = (
    ("1gb", "1 GB", 1024, False),
    ("unlimited", "Unlimited", None, False),
    ("1gbday", "1 GB/Day", 1024, True),
    ("3gb", "3 GB", 3072, False),
    ("500mb", "500 MB", 500, False),
    ("5gb", "5 GB", 5120, False),
    ("10gb", "10 GB", 10240, False),
    ("2gbday", "2 GB/Day", 2048, True),
    ("20gb", "20 GB", 20480, False),
    ("2gb", "2 GB", 2048, False),
    ("50gb", "50 GB", 51200, False),
    ("15gb", "15 GB", 15360, False),
    ("100gb", "100 GB", 102400, False),
)
DAYS: tuple[int, ...] = (7, 15, 30, 1, 3, 5, 10, 14, 60, 90, 180, 365)  # coprime length with SIZES


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


# Areas: every country, then the regions and "global". Countries first so even a small catalog
# reaches all of them (the catalog cycles through areas). Afghanistan, in no region, comes last: its code
# "AF" is also the "Africa Adventure" bundle's, as in Roamify's own sample.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *((slugify(country_name(c)), (c,)) for c in COUNTRIES),
    *((slugify(region), tuple(codes)) for region, codes in REGIONS.items()),
    ("global", tuple(COUNTRIES)),
    ("afghanistan", ("AF",)),
)
DEFAULT_PLANS = 600


# Roamify's codes for regional groups reuse country codes (the documented sample: "AF" for both
# "Afghanistan" and "Africa Adventure"): several here do too (AF, AS, AM, ME, GL). A group's name is its
# region's, or the vendor's own for a bundle: Africa is sold as "Africa Adventure" (its packages are
# named "1 GB - 7 Days": only the group's name says Africa).
REGION_CODES = {"europe": "EU", "asia": "AS", "middle-east": "ME", "americas": "AM", "africa": "AF",
                "oceania": "OC", "global": "GL"}
REGION_NAMES = {"africa": "Africa Adventure", "global": "Global"}


def _travel_date(index: int) -> bool:
    return index % 97 == 13


@dataclass(frozen=True, slots=True)
class Package:
    package_id: str
    name: str  # "1 GB - 7 Days", as the documented ``package`` field
    countries: tuple[str, ...]
    data_mb: int | None
    days: int
    daily: bool
    price: int | float  # USD, a JSON number as in the sample (5)
    index: int = 0
    area: int = 0  # index into AREAS: the country or region group it is listed under

    @property
    def usage_check(self) -> bool:
        """``withUsageCheck``: a few packages report no usage (roamify-more.md section 3)."""
        return self.package_id == SAMPLE_PACKAGE_ID or self.index % 17 != 11

    @property
    def travel_date(self) -> bool:
        """``requirements.travelDate``: about 30 of 28,000 in the real catalog; 1 in 97 here, so even a
        small catalog has one."""
        return self.package_id != SAMPLE_PACKAGE_ID and _travel_date(self.index)

    @property
    def top_up(self) -> bool:
        """``withTopUp`` of an eSIM on this package."""
        return self.package_id == SAMPLE_PACKAGE_ID or self.index % 11 != 7


class RoamifyCatalog:
    def __init__(self, seed: int, size: int | None = None):
        self.seed = seed
        self.size = max(1, size if size is not None else DEFAULT_PLANS)

    def __len__(self) -> int:
        return self.size

    def _variant(self, k: int) -> tuple[int, int, int]:
        return k % len(SIZES), k % len(DAYS), k // (len(SIZES) * len(DAYS))

    def package(self, index: int) -> Package:
        if not 0 <= index < self.size:
            raise IndexError(index)
        area, k = index % len(AREAS), index // len(AREAS)
        slug, countries = AREAS[area]
        si, di, gen = self._variant(k)
        token, label, mb, daily = SIZES[si]
        days = DAYS[di]
        suffix = "all" if gen == 0 else f"all{gen + 1}"
        pid = f"esim-{slug}-{days}days-{token}-{suffix}"
        return Package(
            pid, f"{label} - {days} Days", countries, mb, days, daily, self._price(pid, mb, days, daily, index),
            index, area,
        )

    def _price(self, pid: str, mb: int | None, days: int, daily: bool, index: int = 0) -> int | float:
        if pid == SAMPLE_PACKAGE_ID:
            return 5
        h = int.from_bytes(hashlib.blake2b(f"{self.seed}:{pid}".encode(), digest_size=4).digest(), "big")
        gb = 60 if mb is None else mb / 1024 * (days if daily else 1)
        cents = int(150 + gb * 90 + days * 8 + h % 300)
        if _travel_date(index):
            cents += 500  # dated packages (a few) never undercut the plain ones: "the cheapest" orders without a date
        return cents // 100 if cents % 100 == 0 else round(cents / 100, 2)

    @cached_property
    def _index(self) -> dict[str, int]:
        # Built on the first order only; ~50 ms at 50,000 packages.
        return {self.package(i).package_id: i for i in range(self.size)}

    def get(self, package_id: str) -> Package | None:
        i = self._index.get(package_id)
        return None if i is None else self.package(i)

    def __iter__(self):
        return (self.package(i) for i in range(self.size))

    # --- listed grouped by area (country or region), as /api/esim/packages lists them ----------------
    def area_count(self, area: int) -> int:
        """How many packages area ``area`` has (package i belongs to area i % len(AREAS))."""
        return max(0, -(-(self.size - area) // len(AREAS)))

    @cached_property
    def _area_starts(self) -> list[int]:
        starts, total = [], 0
        for a in range(len(AREAS)):
            starts.append(total)
            total += self.area_count(a)
        return starts

    def listed(self, position: int) -> Package:
        """The package at ``position`` of the listing grouped by area (areas in table order)."""
        area = bisect.bisect_right(self._area_starts, position) - 1
        while self.area_count(area) == 0:  # an empty area shares its start with the next
            area += 1
        return self.package(area + (position - self._area_starts[area]) * len(AREAS))

    def in_area(self, area: int):
        return (self.package(area + k * len(AREAS)) for k in range(self.area_count(area)))

    def compatible_topups(self, package: Package, limit: int = 12) -> list[Package]:
        """Top-ups Roamify would offer an eSIM on ``package``: its area's packages that need no travel date."""
        return [p for p in self.in_area(package.area) if not p.travel_date][:limit]


def area_info(area: int) -> tuple[str, str, str, str]:
    """(slug, name, Roamify's code, geography) of a listing group."""
    slug, countries = AREAS[area]
    if slug in REGION_CODES:
        name = REGION_NAMES.get(slug) or next(r for r in REGIONS if slugify(r) == slug)
        return slug, name, REGION_CODES[slug], "global" if slug == "global" else "regional"
    return slug, country_name(countries[0]), countries[0], "local"
