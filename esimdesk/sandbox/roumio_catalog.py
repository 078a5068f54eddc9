"""Roumio's simulated catalog: deterministic by seed, cheap enough for 50,000 plans in well under a second.

Plans are plain dicts in Roumio's ``package/list`` shape so the simulator serves them as they are.
Prices are integer cents (×100, as Roumio sends), volumes MB, durations days.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

from esimdesk.sandbox.countries import COUNTRIES, REGIONS
from esimdesk.sandbox.countries import country_name as _country_name

country_name = functools.cache(_country_name)  # pycountry look-ups dominate generation time at 50k plans

DEMO_PLANS = 400  # base plans at the default demo size: every country plus regional, global and daily plans

_SIZES_GB = (1, 3, 5, 10, 20, 50)
_DAYS = (7, 15, 30, 30, 90, 180)
_DAILY_DAYS = 1  # daily plans are sold per day; ``periodNum`` orders several days at once
_OPERATORS = ("Vodafone", "Orange", "T-Mobile", "Telefonica", "China Mobile", "Singtel", "Claro", "MTN")

# Packages named in the vendor document (field tables and request samples), kept with the same codes so the
# document's examples work against the sandbox verbatim.
_DOC_PLANS: tuple[dict[str, Any], ...] = (
    {
        "packageCode": "JC016",
        "slug": "AS-11_1_30",
        "name": "Asia 11 countries 1GB 30 Days",
        "price": 1570,
        "volume": 1024,
        "duration": 30,
        "location": "CN,HK,ID,JP,MO,MY,PH,SG,KR,TW,TH,IN,VN,SA,KH,PK,LK",
        "description": "Asia 11 countries",
    },
    {
        "packageCode": "CKH003",
        "slug": "ES_5_30",
        "name": "Spain 5GB 30Days",
        "price": 990,
        "volume": 5120,
        "duration": 30,
        "location": "ES",
        "description": "Spain 5GB 30Days",
    },
    {
        "packageCode": "CKH179",
        "slug": "AZ_4_7",
        "name": "Azerbaijan 4GB 7Days",
        "price": 1200,
        "volume": 4096,
        "duration": 7,
        "location": "AZ",
        "description": "Azerbaijan 4GB 7Days",
    },
    {
        "packageCode": "AZ016",
        "slug": "AZ_1_7",
        "name": "Azerbaijan 1GB 7Days",
        "price": 450,
        "volume": 1024,
        "duration": 7,
        "location": "AZ",
        "description": "Azerbaijan 1GB 7Days",
    },
    {
        "packageCode": "AU016",
        "slug": "AU_1_7",
        "name": "Australia 1GB 7Days",
        "price": 500,
        "volume": 1024,
        "duration": 7,
        "location": "AU",
        "description": "Australia 1GB 7Days",
    },
    {
        "packageCode": "NA3017",
        "slug": "NA-3_1_7",
        "name": "North America 3 countries 1GB 7Days",
        "price": 650,
        "volume": 1024,
        "duration": 7,
        "location": "US,CA,MX",
        "description": "North America 3 countries",
    },
    {
        "packageCode": "7aa948d363",
        "slug": "GL_10_30",
        "name": "Global 10GB 30Days",
        "price": 1500,
        "volume": 10240,
        "duration": 30,
        "location": ",".join(COUNTRIES[:120]),
        "description": "Global 120 countries",
    },
)
# Ties (issue 27): three Japan packages at one price, so the Catalog's tie order shows: at one price the plan
# giving more days comes first, then more data ("Japan 5GB 10Days", "Japan 10GB 7Days", "Japan 5GB 7Days").
_TIED_PLANS: tuple[dict[str, Any], ...] = tuple(
    {"packageCode": code, "slug": f"JP_{gb}_{days}_TIE", "name": f"Japan {gb}GB {days}Days", "price": 450,
     "volume": gb * 1024, "duration": days, "location": "JP", "description": f"Japan {gb}GB {days}Days"}
    for code, gb, days in (("JPT057", 5, 7), ("JPT0510", 5, 10), ("JPT107", 10, 7)))
_DOC_TOPUPS: tuple[dict[str, Any], ...] = (
    {
        "packageCode": "SM001",
        "slug": "ES_TOPUP_1_7",
        "name": "Spain Top Up 1GB 7Days",
        "price": 300,
        "volume": 1024,
        "duration": 7,
        "location": "ES",
        "description": "Spain top up",
    },
)


def _plan(
    code: str,
    slug: str,
    name: str,
    price: int,
    volume: int,
    duration: int,
    location: str,
    description: str,
    *,
    data_type: int = 1,
    topup: bool = True,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    first = location.split(",")[0]
    op = _OPERATORS[(len(code) + price) % len(_OPERATORS)] if rng is None else rng.choice(_OPERATORS)
    return {
        "packageCode": code,
        "slug": slug,
        "name": name,
        "price": price,
        "currencyCode": "USD",
        "volume": volume,
        "smsStatus": 0,
        "dataType": data_type,
        "unusedValidTime": 180,
        "duration": duration,
        "durationUnit": "DAY",
        "location": location,
        "description": description,
        "activeType": 2,
        "favorite": False,
        "speed": "3G/4G/5G",
        "locationNetworkList": [
            {"locationName": country_name(first), "locationLogo": f"/img/{first.lower()}.png"}
        ],
        "operatorList": [{"operatorName": op, "networkType": "4G/5G"}],
        "ipExport": "HK" if "," in location else first,
        "supportTopUpType": 2 if topup else 1,
    }


def _doc_plan(d: dict[str, Any]) -> dict[str, Any]:
    return _plan(
        d["packageCode"],
        d["slug"],
        d["name"],
        d["price"],
        d["volume"],
        d["duration"],
        d["location"],
        d["description"],
    )


@dataclass
class RoumioCatalog:
    base: list[dict[str, Any]] = field(default_factory=list)
    topups: list[dict[str, Any]] = field(default_factory=list)
    by_code: dict[str, dict[str, Any]] = field(default_factory=dict)  # packageCode and slug -> plan
    scope: dict[str, str] = field(default_factory=dict)  # packageCode -> "" | "RG" | "GL"

    def find(self, code: str) -> dict[str, Any] | None:
        return self.by_code.get(code)

    def is_topup(self, plan: dict[str, Any]) -> bool:
        return plan.get("_topup", False)

    def topups_for(self, location: str) -> list[dict[str, Any]]:
        """Top-ups that fit a base plan: same country for a country plan, same region for a regional one."""
        return [p for p in self.topups if p["location"] == location]


def build_catalog(seed: int, size: int | None) -> RoumioCatalog:
    """``size`` base plans (None = demo size) plus the document's packages and one top-up set per location."""
    n = DEMO_PLANS if size is None else max(size, len(_DOC_PLANS))
    rng = random.Random(seed)
    cat = RoumioCatalog()
    regions = list(REGIONS.items())

    def add(plan: dict[str, Any], scope: str, topup: bool = False) -> None:
        if topup:
            plan["_topup"] = True
            cat.topups.append(plan)
        else:
            cat.base.append(plan)
        cat.scope[plan["packageCode"]] = scope
        cat.by_code[plan["packageCode"]] = plan
        cat.by_code[plan["slug"]] = plan

    for d in _DOC_PLANS:
        scope = "GL" if d["packageCode"] == "7aa948d363" else ("RG" if "," in d["location"] else "")
        add(_doc_plan(d), scope)
    for d in _DOC_TOPUPS:
        add(_doc_plan(d), "", topup=True)

    # Cycle: every country (fixed and daily), then regions, then a global plan; repeat with other sizes.
    i = 0
    while len(cat.base) < n - len(_TIED_PLANS):  # the tied plans below complete the size
        lap, k = divmod(i, len(COUNTRIES) + len(regions) + 2)
        size_gb = _SIZES_GB[(lap + k) % len(_SIZES_GB)]
        days = _DAYS[(lap * 7 + k) % len(_DAYS)]
        code = f"R{seed % 100:02d}{i:06d}"
        if k < len(COUNTRIES):
            cc = COUNTRIES[k]
            cname = country_name(cc)
            daily = (lap + k) % 9 == 4  # roughly one plan in nine is a daily-reset plan
            if daily:
                vol = 1024 * (1 + lap % 3)
                add(
                    _plan(
                        code,
                        f"{cc}_{vol // 1024}_D{lap}",
                        f"{cname} Unlimited Daily {vol // 1024}GB/day",
                        rng.randint(150, 600),
                        vol,
                        _DAILY_DAYS,
                        cc,
                        f"{cname} daily reset, FUP {vol}MB/day",
                        data_type=2,
                        rng=rng,
                    ),
                    "",
                )
            else:
                add(
                    _plan(
                        code,
                        f"{cc}_{size_gb}_{days}_{lap}",
                        f"{cname} {size_gb}GB {days}Days",
                        rng.randint(200, 900) * size_gb // 2 + 100,
                        size_gb * 1024,
                        days,
                        cc,
                        f"{cname} {size_gb}GB {days}Days",
                        rng=rng,
                    ),
                    "",
                )
        elif k < len(COUNTRIES) + len(regions):
            rname, codes = regions[k - len(COUNTRIES)]
            loc = ",".join(codes)
            add(
                _plan(
                    code,
                    f"RG-{rname[:2].upper()}_{size_gb}_{days}_{lap}",
                    f"{rname} {len(codes)} countries {size_gb}GB {days}Days",
                    rng.randint(400, 1200) * size_gb // 2,
                    size_gb * 1024,
                    days,
                    loc,
                    f"{rname} {len(codes)} countries",
                    rng=rng,
                ),
                "RG",
            )
        elif k == len(COUNTRIES) + len(regions):
            add(
                _plan(
                    code,
                    f"GL-{size_gb}_{days}_{lap}",
                    f"Global {size_gb}GB {days}Days",
                    rng.randint(800, 2000) * size_gb // 2,
                    size_gb * 1024,
                    days,
                    ",".join(COUNTRIES),
                    f"Global {len(COUNTRIES)} countries",
                    rng=rng,
                ),
                "GL",
            )
        else:
            add(
                _plan(
                    code,
                    f"GL-UL_{lap}",
                    "Global Unlimited Daily 2GB/day",
                    rng.randint(900, 1500),
                    2048,
                    _DAILY_DAYS,
                    ",".join(COUNTRIES),
                    "Global daily reset, FUP 2048MB/day",
                    data_type=2,
                    rng=rng,
                ),
                "GL",
            )
        i += 1
    # After the generated ones: every plan before them (and so the fleet made from them) stays as it was.
    for d in _TIED_PLANS:
        add(_doc_plan(d), "")

    # One pair of top-ups per distinct location: few enough to be cheap at 50k plans.
    seen: set[str] = {p["location"] for p in cat.topups}
    for plan in list(cat.base):
        loc = plan["location"]
        if loc in seen:
            continue
        seen.add(loc)
        for gb, days in ((1, 7), (5, 30)):
            code = f"TU{len(cat.topups):06d}"
            label = plan["description"].split(" ")[0] if "," in loc else country_name(loc)
            add(
                _plan(
                    code,
                    f"TU-{code}",
                    f"{label} Top Up {gb}GB {days}Days",
                    250 * gb + 50,
                    gb * 1024,
                    days,
                    loc,
                    f"{label} top up",
                ),
                cat.scope.get(plan["packageCode"], ""),
                topup=True,
            )
    return cat


def public(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as the vendor sends it (private bookkeeping keys dropped)."""
    return {k: v for k, v in plan.items() if not k.startswith("_")}
