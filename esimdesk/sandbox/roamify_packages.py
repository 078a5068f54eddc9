"""Roamify's catalog as its current API serves it (roamify-more.md sections 2, 3 and 10).

``/api/esim/countries`` lists every group's name and code (codes are not unique: regions reuse country
codes). ``/api/esim/packages`` is paged since June 2026: without ``page``/``pageSize`` only page 1 (of
50) comes back. The document leaves open whether ``pageSize`` counts groups or packages: here it
counts packages, and a group split by a page boundary is listed on both pages with its own part.
A ``pageSize`` above ``MAX_PAGE_SIZE`` is cut to it without a word (no maximum is documented: the
adapter must not take a short page for the last one when it asked for more than the vendor gives).
"""

from __future__ import annotations

from typing import Any

from esimdesk.sandbox.countries import country_name, region_of
from esimdesk.sandbox.roamify_catalog import AREAS, Package, RoamifyCatalog, area_info

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
UNLIMITED = 9007199254740991  # JS Number.MAX_SAFE_INTEGER, the documented unlimited dataAmount
NETWORKS = ["4G", "5G"]


def countries(catalog: RoamifyCatalog) -> dict[str, Any]:
    listed = [area_info(a) for a in range(len(AREAS)) if catalog.area_count(a)]
    return {"countries": [{"code": code, "name": name} for _, name, code, _ in listed]}


def package_json(p: Package) -> dict[str, Any]:
    """One inner package, in the documented sample's key order."""
    out: dict[str, Any] = {
        "packageId": p.package_id,
        "package": p.name,
        "plan": "data-only",
        "activation": "first-use",
        "day": p.days,
        "price": p.price,
        "isUnlimited": p.data_mb is None,
        "isAPNAutomatic": True,
        "apn": "",
        "dataAmount": UNLIMITED if p.data_mb is None else p.data_mb,
        "dataUnit": "MB",
        "callType": "all", "callAmount": -1, "callUnit": "",
        "smsType": "all", "smsAmount": -1, "smsUnit": "",
        "withSMS": False, "withCall": False, "withHotspot": True, "withDataRoaming": True,
        "withDestinationInstall": False, "withUsageCheck": p.usage_check,
        "withThrottle": p.data_mb is None,
        "throttle": ({"throttleSpeed": 128, "throttleSpeedUnit": "kbps", "throttleThreshold": 2,
                      "throttleThresholdUnit": "gb"} if p.data_mb is None else None),
        "notes": [] if p.usage_check else ["Usage is not reported for this package."],
    }
    if p.travel_date:
        # Where ``requirements`` sits is not documented: on the package, as the field's name suggests.
        out["requirements"] = {"travelDate": True}
    return out


def topup_json(p: Package) -> dict[str, Any]:
    """A compatible top-up: the documented shape nests data, apn, call and sms (section 10)."""
    return {
        "packageId": p.package_id, "package": p.name, "plan": "data-only", "activation": "first-use",
        "day": p.days, "price": p.price,
        "withHotspot": True, "withDataRoaming": True, "withDestinationInstall": False,
        "withUsageCheck": p.usage_check,
        "apn": {"apnAutomatic": True, "apnName": "globaldata", "apnUsername": "", "apnPassword": ""},
        "data": {"isUnlimited": p.data_mb is None, "dataAmount": UNLIMITED if p.data_mb is None else p.data_mb,
                 "dataUnit": "MB"},
        "call": {"withCall": False, "callType": "all", "callAmount": -1, "callUnit": ""},
        "sms": {"withSMS": False, "smsType": "all", "smsAmount": -1, "smsUnit": ""},
        "notes": [],
    }


def _group(area: int, packages: list[Package]) -> dict[str, Any]:
    slug, name, code, geography = area_info(area)
    covered = AREAS[area][1]
    prices = [p.price for p in packages]
    return {
        "id": f"{slug}-esims", "countryName": name, "countryCode": code, "countrySlug": slug,
        "region": (region_of(covered[0]) or "Global") if geography == "local" else name,
        "geography": geography, "minPrice": min(prices), "maxPrice": max(prices),
        "image": f"https://imagedelivery.net/sandbox/{slug}/public",
        "signals": [{"code": c, "name": country_name(c), "networks": NETWORKS, "carriers": ["SandboxTel"]}
                    for c in covered],
        "packages": [package_json(p) for p in packages],
    }


def grouped(packages: list[Package]) -> list[dict[str, Any]]:
    """Consecutive packages of one area as one group."""
    groups: list[tuple[int, list[Package]]] = []
    for p in packages:
        if groups and groups[-1][0] == p.area:
            groups[-1][1].append(p)
        else:
            groups.append((p.area, [p]))
    return [_group(area, pkgs) for area, pkgs in groups]


def packages_page(catalog: RoamifyCatalog, query: dict[str, str]) -> dict[str, Any]:
    """``GET /api/esim/packages``: filtered, then one page of the grouped listing. ValueError: a bad query."""
    page = _positive(query.get("page"), 1, "page")
    size = min(_positive(query.get("pageSize"), DEFAULT_PAGE_SIZE, "pageSize"), MAX_PAGE_SIZE)
    package_id = query.get("packageId")
    if package_id:  # one package; the other filters are "typically ignored"
        found = catalog.get(package_id)
        return {"packages": grouped([found]) if found is not None and page == 1 else []}
    areas = _areas(query)
    geography = query.get("geography")
    if geography is not None and geography not in ("local", "regional", "global"):
        raise ValueError("geography must be one of local, regional, global")
    if areas is None and geography is None:
        start = (page - 1) * size
        end = min(start + size, len(catalog))
        return {"packages": grouped([catalog.listed(i) for i in range(start, end)])}
    chosen = [a for a in (areas if areas is not None else range(len(AREAS)))
              if geography is None or area_info(a)[3] == geography]
    listing = [p for a in chosen for p in catalog.in_area(a)]
    return {"packages": grouped(listing[(page - 1) * size:page * size])}


def _areas(query: dict[str, str]) -> list[int] | None:
    """The areas the ``country`` (a name) and ``countryCode`` filters keep; None: no such filter."""
    name, code = query.get("country"), query.get("countryCode")
    if not name and not code:
        return None
    out = []
    for a in range(len(AREAS)):
        _, a_name, a_code, _ = area_info(a)
        if (not name or a_name == name) and (not code or a_code == code):
            out.append(a)
    return out


def _positive(text: str | None, default: int, what: str) -> int:
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} must be a number") from None
    if value < 1:
        raise ValueError(f"{what} must be at least 1")
    return value
