"""Country names for ISO 3166 alpha-2 codes (pycountry), as agents search and read them."""

from __future__ import annotations

from functools import lru_cache

import pycountry


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


def country_code(name: str) -> str | None:
    """ "Japan" / "japan" / "JP" → "JP"; None if unknown."""
    text = name.strip()
    if len(text) == 2 and pycountry.countries.get(alpha_2=text.upper()):
        return text.upper()
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return None
