"""Roamify's catalog to Plans: ``/api/esim/countries`` and the grouped ``/api/esim/packages`` (roamify-more.md 2, 3, 10).

Country mapping. Roamify's codes are not unique: a regional group reuses a country's code (its own
sample: "AF" for "Afghanistan" and "Africa Adventure"). So a code is trusted only for a ``local``
group whose code no other name shares; otherwise the group's name is matched to a country, and a
regional or global group covers the countries of its ``signals``, and its name ("Africa Adventure") is
the plan's ``coverage_name``, the name it is found by (its packages are named "1 GB - 7 Days"). Data: ``dataAmount`` in its
``dataUnit`` to MB; ``isUnlimited`` (with ``dataAmount`` 9007199254740991) is no cap. Price: a decimal
in major units of USD (the catalog carries no currency field; every sample is USD).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry

from esimdesk.domain import MalformedResponse, Plan, PlanDetails

VENDOR = "roamify"
UNLIMITED_AMOUNT = 9007199254740991  # JS Number.MAX_SAFE_INTEGER
CATALOG_CURRENCY = "USD"
_DAILY = re.compile(r"/\s*day\b", re.I)
_UNIT_MB = {"MB": 1, "GB": 1024, "TB": 1024 * 1024}
_ALIASES = {"usa": "US", "uk": "GB", "turkey": "TR", "vietnam": "VN", "south-korea": "KR", "russia": "RU"}


def slug(text: str) -> str:
    """A name as Roamify's package ids spell it: "Côte d'Ivoire" -> "cote-d-ivoire"."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@lru_cache(maxsize=1)
def country_slugs() -> dict[str, str]:
    """Every country's names, slugged, to its ISO alpha-2 code (the package ids' areas and the groups' names)."""
    table: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("official_name", "name", "common_name"):  # later ones win: the everyday name
            value = getattr(c, attr, None)
            if value:
                table[slug(value)] = c.alpha_2
    table.update(_ALIASES)
    return table


class CountryMap:
    """Roamify's country names and codes (from ``/api/esim/countries``) to ISO 3166 alpha-2."""

    def __init__(self, countries: list[dict[str, Any]] | None = None):
        codes = Counter(c.get("code") for c in countries or () if isinstance(c, dict))
        self.shared = {code for code, n in codes.items() if n > 1}  # codes more than one name uses

    def country_of(self, group: dict[str, Any]) -> str | None:
        """The one country a package group is sold as; None for a regional or global group and for a name
        no country has (a bundle such as "Africa Adventure", whatever country's code it repeats)."""
        if group.get("geography") in ("regional", "global"):
            return None
        code, name = group.get("countryCode"), group.get("countryName")
        iso = _iso(code) if isinstance(code, str) and code not in self.shared else None
        by_name = _by_name(name) if isinstance(name, str) else None
        if iso and (by_name in (None, iso)):
            return iso
        return by_name

    def group_countries(self, group: dict[str, Any]) -> tuple[tuple[str, ...], str | None]:
        """(countries, region label) of one package group."""
        one = self.country_of(group)
        if one:
            return (one,), None
        geography = group.get("geography")
        covered = _signal_codes(group)  # a region, or a name no country has: a bundle sold as a region
        if geography in ("regional", "global"):
            return covered, geography
        return covered, ("regional" if len(covered) != 1 else None)

    def coverage_name(self, group: dict[str, Any]) -> str | None:
        """The group's ``countryName`` where the group is no single country ("Africa Adventure", "Europe",
        "Global"): the plan is found, and its coverage shown, by it; None for a country's own group."""
        name = group.get("countryName")
        if not isinstance(name, str) or not name.strip() or self.country_of(group):
            return None
        return " ".join(name.split())


def _iso(code: str) -> str | None:
    code = code.strip().upper()
    return code if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None else None


def _by_name(name: str) -> str | None:
    return country_slugs().get(slug(name))


def _signal_codes(group: dict[str, Any]) -> tuple[str, ...]:
    signals = group.get("signals")
    out: dict[str, None] = {}
    for s in signals if isinstance(signals, list) else ():
        code = _iso(s.get("code", "")) if isinstance(s, dict) and isinstance(s.get("code"), str) else None
        if code:
            out[code] = None
    return tuple(out)


def _decimal(value: Any, what: str) -> Decimal:
    # Through str: a JSON float such as 1.32 must not become 1.3200000000000000621...
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(VENDOR, "api/esim/packages", f"{what} is not a number")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(VENDOR, "api/esim/packages", f"{what} is not a number") from None
    if not d.is_finite() or d < 0:
        raise MalformedResponse(VENDOR, "api/esim/packages", f"{what} is not a price")
    return d


def data_mb(unlimited: Any, amount: Any, unit: Any) -> int | None:
    """MB of a package's allowance; None = unlimited."""
    if unlimited is True or amount == UNLIMITED_AMOUNT:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise MalformedResponse(VENDOR, "api/esim/packages", "dataAmount is not a number")
    factor = _UNIT_MB.get(str(unit or "MB").upper())
    if factor is None:
        raise MalformedResponse(VENDOR, "api/esim/packages", f"unknown dataUnit {unit!r}")
    return int(Decimal(str(amount)) * factor)


def needs_travel_date(pkg: dict[str, Any], group: dict[str, Any] | None = None) -> bool:
    """``requirements.travelDate``; where it sits is undocumented: the package, else its group."""
    for holder in (pkg, group or {}):
        req = holder.get("requirements") if isinstance(holder, dict) else None
        if isinstance(req, dict) and req.get("travelDate") is True:
            return True
    return False


def parse_package(pkg: Any, group: dict[str, Any], countries: tuple[str, ...], region: str | None,
                  coverage_name: str | None = None) -> Plan:
    if not isinstance(pkg, dict) or not isinstance(pkg.get("packageId"), str) or not pkg["packageId"]:
        raise MalformedResponse(VENDOR, "api/esim/packages", "package has no packageId")
    name = pkg.get("package") if isinstance(pkg.get("package"), str) else pkg["packageId"]
    days = pkg.get("day")
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise MalformedResponse(VENDOR, "api/esim/packages", "day is not a whole number")
    raw = {**pkg, "group": _group_raw(group)}
    return Plan(
        vendor=VENDOR, plan_id=pkg["packageId"], name=name, countries=countries,
        data_mb=data_mb(pkg.get("isUnlimited"), pkg.get("dataAmount"), pkg.get("dataUnit")),
        validity_days=days, price=_decimal(pkg.get("price"), "price"), currency=CATALOG_CURRENCY,
        daily=bool(_DAILY.search(name)), topup=None, region=region, raw=raw, coverage_name=coverage_name,
    )


SIGNALS_KEPT = 5  # a global group's signals name 100+ countries: the plan keeps the first few and their count


def _group_raw(group: dict[str, Any]) -> dict[str, Any]:
    """What a plan keeps of its group: its name and geography, and its first signals (carriers, networks)."""
    raw = {k: group.get(k) for k in ("id", "countryName", "countryCode", "geography")}
    signals = group.get("signals")
    if isinstance(signals, list):
        raw["signals"] = [{k: s.get(k) for k in ("name", "networks", "carriers")}
                          for s in signals[:SIGNALS_KEPT] if isinstance(s, dict)]
        raw["signalCount"] = len(signals)
    return raw


def _words(value: Any) -> list[str]:
    return [str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip()] \
        if isinstance(value, list) else []


def plan_details(raw: Any) -> PlanDetails:
    """The package's fields beyond the plan's row (roamify-more.md 3): the group's signals (carriers and
    networks per country), ``throttle``, ``apn``/``isAPNAutomatic`` (a top-up nests ``apn``), ``activation``."""
    if not isinstance(raw, dict):
        return PlanDetails()
    group = raw.get("group") if isinstance(raw.get("group"), dict) else {}
    networks = []
    for sig in group.get("signals") or ():
        if not isinstance(sig, dict):
            continue
        carriers, kinds = ", ".join(_words(sig.get("carriers"))), "/".join(_words(sig.get("networks")))
        if carriers or kinds:
            networks.append(f"{sig.get('name') or '?'}: {carriers or 'carrier not stated'}"
                            + (f" ({kinds})" if kinds else ""))
    more = group.get("signalCount")
    if isinstance(more, int) and more > len(networks) and networks:
        networks.append(f"and {more - len(networks)} more countries")
    speed = None
    throttle = raw.get("throttle")
    if raw.get("withThrottle") and isinstance(throttle, dict):
        speed = (f"reduced to {throttle.get('throttleSpeed')} {throttle.get('throttleSpeedUnit') or ''}".strip()
                 + f" after {throttle.get('throttleThreshold')} {str(throttle.get('throttleThresholdUnit') or '').upper()}"
                 .rstrip())
    apn_field = raw.get("apn")
    automatic = raw.get("isAPNAutomatic")
    if isinstance(apn_field, dict):
        automatic, apn_field = apn_field.get("apnAutomatic", automatic), apn_field.get("apnName")
    apn = str(apn_field).strip() if isinstance(apn_field, str) and apn_field.strip() else None
    if automatic is True:
        apn = f"{apn} (set automatically)" if apn else "set automatically"
    activation = {"first-use": "on first use (first connection at the destination)"}.get(
        raw.get("activation"), str(raw["activation"]) if isinstance(raw.get("activation"), str) else None)
    if needs_travel_date(raw):
        activation = (activation + "; " if activation else "") + "the customer's travel date is asked when ordering"
    notes = []
    if raw.get("withHotspot") is True:
        notes.append("hotspot allowed")
    if raw.get("withUsageCheck") is False:
        notes.append("usage not reported by Roamify")
    notes += [n for n in _words(raw.get("notes")) if n not in notes]
    return PlanDetails(networks=tuple(networks), speed=speed, apn=apn, activation=activation,
                       topups="Roamify lists compatible top-ups per eSIM: Fleet → Top up… on an eSIM of it",
                       notes=tuple(notes))


def parse_packages(data: Any, countries: CountryMap) -> list[Plan]:
    """``data`` of ``/api/esim/packages``: groups, each with its ``packages``."""
    groups = data.get("packages") if isinstance(data, dict) else None
    if not isinstance(groups, list):
        raise MalformedResponse(VENDOR, "api/esim/packages", "no packages array")
    plans = []
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("packages"), list):
            raise MalformedResponse(VENDOR, "api/esim/packages", "package group has no packages")
        covered, region = countries.group_countries(group)
        named = countries.coverage_name(group)
        plans.extend(parse_package(p, group, covered, region, named) for p in group["packages"])
    return plans


def parse_topup_packages(data: Any, countries: tuple[str, ...] = ()) -> list[Plan]:
    """``/api/esim/topup/packages``: data, apn, call and sms are nested objects here (section 10)."""
    if not isinstance(data, list):
        raise MalformedResponse(VENDOR, "api/esim/topup/packages", "no package array")
    plans = []
    for pkg in data:
        if not isinstance(pkg, dict):
            raise MalformedResponse(VENDOR, "api/esim/topup/packages", "package is not an object")
        nested = pkg.get("data") if isinstance(pkg.get("data"), dict) else {}
        flat = {**pkg, "isUnlimited": nested.get("isUnlimited"), "dataAmount": nested.get("dataAmount"),
                "dataUnit": nested.get("dataUnit")}
        plan = parse_package(flat, {}, countries, None)
        plans.append(replace(plan, topup=True, raw=pkg))
    return plans
