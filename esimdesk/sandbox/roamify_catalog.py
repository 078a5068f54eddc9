"""Roamify's package table for the simulator: deterministic by seed, built lazily, cheap at 50,000.

Roamify publishes no plan list, so this table exists only to price and validate orders. Package ids
follow the documented example ``esim-cambodia-7days-1gb-all``: area slug, days, volume, network set.
"""

from __future__ import annotations

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
# reaches all of them (the catalog cycles through areas).
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *((slugify(country_name(c)), (c,)) for c in COUNTRIES),
    *((slugify(region), tuple(codes)) for region, codes in REGIONS.items()),
    ("global", tuple(COUNTRIES)),
)
DEFAULT_PLANS = 600


@dataclass(frozen=True, slots=True)
class Package:
    package_id: str
    name: str  # "1 GB - 7 Days", as the documented ``package`` field
    countries: tuple[str, ...]
    data_mb: int | None
    days: int
    daily: bool
    price: int | float  # USD, a JSON number as in the sample (5)


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
            pid, f"{label} - {days} Days", countries, mb, days, daily, self._price(pid, mb, days, daily)
        )

    def _price(self, pid: str, mb: int | None, days: int, daily: bool) -> int | float:
        if pid == SAMPLE_PACKAGE_ID:
            return 5
        h = int.from_bytes(hashlib.blake2b(f"{self.seed}:{pid}".encode(), digest_size=4).digest(), "big")
        gb = 60 if mb is None else mb / 1024 * (days if daily else 1)
        cents = int(150 + gb * 90 + days * 8 + h % 300)
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
