"""The country table the simulated catalogs are generated from (deterministic, no randomness here)."""

from __future__ import annotations

import pycountry

# Regions as resellers sell them; every code is ISO 3166 alpha-2.
REGIONS: dict[str, tuple[str, ...]] = {
    "Europe": (
        "AL AD AT BE BA BG HR CY CZ DK EE FI FR DE GR HU IS IE IT LV LI LT LU MT MD MC ME NL MK NO PL PT RO "
        "SM RS SK SI ES SE CH UA GB"
    ).split(),
    "Asia": "CN HK MO TW JP KR SG MY TH VN ID PH KH LA MM IN LK PK BD NP MN KZ UZ KG BN".split(),
    "Middle East": "AE SA QA KW BH OM JO IL TR EG IQ GE AM AZ".split(),
    "Americas": "US CA MX BR AR CL CO PE EC UY PY BO CR PA GT SV HN NI DO JM PR TT BS BB".split(),
    "Africa": "ZA NG KE GH MA TN TZ UG RW SN CI CM ZM ZW BW NA MZ MG MU ET DZ".split(),
    "Oceania": "AU NZ FJ PG WS TO VU NC PF GU".split(),
}

# Single-country catalog order: by region, then alphabetical, so "the first N countries" is stable.
COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(c for region in REGIONS.values() for c in sorted(region)))


def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def region_of(code: str) -> str | None:
    for name, codes in REGIONS.items():
        if code in codes:
            return name
    return None
