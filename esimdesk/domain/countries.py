"""Countries as agents type and read them: ISO 3166 via pycountry ("Japan", "JPN", "jp" → "JP")."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache

import pycountry

from esimdesk.domain.errors import ValidationError

# What agents type that ISO 3166 does not spell that way (ISO's own names, codes and common names
# are found by pycountry).
ALIASES = {"uk": "GB", "great britain": "GB", "england": "GB", "turkey": "TR", "russia": "RU",
           "holland": "NL", "usa": "US", "america": "US"}


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if len(code) == 2 else None
    if country is None:
        return code
    return getattr(country, "common_name", None) or country.name


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every lower-case name a country goes by → its alpha-2 code."""
    names: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(c, attr, None)
            if value:
                names.setdefault(value.lower(), c.alpha_2)
    for alias, code in ALIASES.items():
        names.setdefault(alias, code)
    return names


@lru_cache(maxsize=1)
def country_choices() -> tuple[tuple[str, str], ...]:
    """Every country as the agent may pick it from a completion list: ("Japan (JP, JPN)", "JP"), by name.
    The codes ride in the label so a completion that matches anywhere finds "jpn" as well as "jap"."""
    return tuple(sorted(((f"{country_name(c.alpha_2)} ({c.alpha_2}, {c.alpha_3})", c.alpha_2)
                         for c in pycountry.countries), key=lambda pair: pair[0].lower()))


_CHOICE = re.compile(r"\(([A-Z]{2}), [A-Z]{3}\)\s*$")


def _lookup(text: str) -> str | None:
    key = text.strip().lower()
    if not key:
        return None
    chosen = _CHOICE.search(text)
    if chosen:  # a completion as country_choices() labels it
        return chosen.group(1)
    if key in ALIASES:
        return ALIASES[key]
    try:
        return pycountry.countries.lookup(key).alpha_2  # alpha-2, alpha-3, numeric, any of its names
    except LookupError:
        pass
    if len(key) >= 4:  # "Russia", "Viet": the one country whose name starts so
        found = {code for name, code in _names().items() if name.startswith(key)}
        if len(found) == 1:
            return found.pop()
    return None


def country_code(name: str) -> str | None:
    """ "Japan" / "japan" / "JPN" / "JP" → "JP"; None if unknown."""
    return _lookup(name)


def closest_countries(text: str, n: int = 3) -> list[str]:
    """The alpha-2 codes of the countries whose names are closest to ``text``, best first."""
    key = text.strip().lower()
    if len(key) < 3:
        return []  # a two-letter code is right or wrong: no "closest" code to offer
    names = _names()
    out: list[str] = []
    for name, code in names.items():  # "Korea", "Salvador": the names that contain it
        if key in name and code not in out:
            out.append(code)
    if out:
        return out[:n]
    scored = sorted(((difflib.SequenceMatcher(None, key, name).ratio(), code) for name, code in names.items()),
                    reverse=True)
    best = scored[0][0] if scored else 0.0
    for score, code in scored:  # typing slips: the best match and those nearly as good
        if score < max(0.6, best - 0.1):
            break
        if code not in out:
            out.append(code)
    return out[:n]


def resolve_country(text: str) -> str:
    """The alpha-2 code for a country typed as alpha-2, alpha-3 or name; a ValidationError otherwise
    that names the closest matches: "'Jpan' is not a country; did you mean: Japan (JP)?"."""
    code = _lookup(text)
    if code is not None:
        return code
    shown = text.strip()
    close = closest_countries(shown)
    if close:
        raise ValidationError(f"'{shown}' is not a country; did you mean: "
                              + ", ".join(f"{country_name(c)} ({c})" for c in close) + "?")
    raise ValidationError(f"'{shown}' is not a country: give its name or ISO 3166 code (e.g. Japan, JP or JPN)")
