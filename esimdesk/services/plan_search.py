"""The Catalog's search box read the way an agent says a sale: "japan 7 days 5gb", "a week in south korea",
"unlimited thailand 2 weeks". Qt-free, so the reading is tested without a window.

What it takes out of the text: a country (its name, or its code typed in capitals; several words such as
"south korea"), a length ("7 days", "a week", "2 weeks", "a month": that many days *at least*, since a
customer who asks for a week is served by an 8-day plan but not by a 5-day one), a data amount ("5gb",
"500 MB": at least that much), "unlimited". What is left is searched as text (a plan's name, a bundle's
name such as "Africa Adventure", a plan id). Filler words ("at least", "for", "in", "data") are dropped,
so "at" is never read as Austria nor "in" as India.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from esimdesk.domain.countries import ALIASES, country_code, country_name
from esimdesk.domain.units import MB_PER_GB

FILLER = {"a", "an", "the", "for", "in", "at", "of", "to", "with", "least", "min", "minimum", "data", "plan",
          "plans", "esim", "esims", "cheapest", "cheap", "and", "or", "one", "from", "trip", "travel", "about"}
_DAYS = re.compile(r"^(\d{1,3})\s*(?:days?|d|nights?)$", re.I)
_WEEKS = re.compile(r"^(\d{1,2})\s*(?:weeks?|w|wks?)$", re.I)
_MONTHS = re.compile(r"^(\d{1,2})\s*(?:months?|mo)$", re.I)
_DATA = re.compile(r"^(\d{1,4}(?:[.,]\d{1,2})?)\s*(gb|g|mb|m)$", re.I)
_WORD_DAYS = {"day": 1, "week": 7, "fortnight": 14, "month": 30}
_UNITS = ("days", "day", "d", "nights", "night", "weeks", "week", "w", "wk", "wks", "months", "month", "mo",
          "gb", "g", "mb", "m")


@dataclass(frozen=True)
class PlanAsk:
    country: str | None = None  # alpha-2
    min_days: int | None = None
    min_data_mb: int | None = None
    unlimited: bool = False
    text: str = ""  # what is left, searched as text
    understood: tuple[str, ...] = field(default=())  # "Japan", "at least 7 days", "at least 5 GB": said under the box


def _tokens(text: str) -> list[str]:
    """Words, with a number and its unit joined ("7 days" → "7days"-like pairs kept as one token)."""
    words = [w for w in re.split(r"[\s,;]+", text.strip()) if w]
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if re.fullmatch(r"\d+(?:[.,]\d+)?", word) and i + 1 < len(words) and words[i + 1].lower() in _UNITS:
            out.append(f"{word} {words[i + 1]}")
            i += 2
            continue
        out.append(word)
        i += 1
    return out


def _length(token: str) -> int | None:
    low = token.lower()
    for pattern, factor in ((_DAYS, 1), (_WEEKS, 7), (_MONTHS, 30)):
        m = pattern.match(low.replace(" ", ""))
        if m:
            return int(m.group(1)) * factor
    return _WORD_DAYS.get(low)


def _data(token: str) -> int | None:
    m = _DATA.match(token.replace(" ", ""))
    if not m:
        return None
    amount = float(m.group(1).replace(",", "."))
    return int(amount * MB_PER_GB) if m.group(2).lower().startswith("g") else int(amount)


def _country(words: list[str], whole: bool) -> tuple[str, int, int] | None:
    """(code, start, length) of the first country named in ``words``, longest name first."""
    for size in (3, 2, 1):
        for start in range(0, len(words) - size + 1):
            chunk = words[start:start + size]
            if any(w.lower() in FILLER for w in chunk):
                continue
            phrase = " ".join(chunk)
            if size == 1 and len(phrase) <= 3 and not (phrase.isupper() or whole or phrase.lower() in ALIASES):
                continue  # "jp" typed in lower case inside a sentence is no code ("JP", "usa" are)
            if len(phrase) < 2:
                continue
            code = country_code(phrase)
            if code is not None:
                return code, start, size
    return None


def read_plan_search(text: str) -> PlanAsk:
    tokens = _tokens(text)
    days = data = None
    unlimited = False
    rest: list[str] = []
    for token in tokens:
        length, amount = _length(token), _data(token)
        if length is not None and days is None:
            days = length
        elif amount is not None and data is None:
            data = amount
        elif token.lower() in ("unlimited", "unlim"):
            unlimited = True
        else:
            rest.append(token)
    found = _country(rest, whole=len(tokens) == 1)
    country = None
    if found is not None:
        country, start, size = found
        rest = rest[:start] + rest[start + size:]
    # A lone dash ("1 GB - 7 Days" typed as a plan's name) joins nothing; any other character is searched
    # for itself ("%" finds a plan named with a percent sign, literally).
    words = [w for w in rest if w.lower() not in FILLER and w.strip("-–—")]
    understood = tuple(x for x in (
        country_name(country) if country else None,
        f"at least {days} days" if days else None,
        "unlimited data" if unlimited else (f"at least {data // MB_PER_GB if data % MB_PER_GB == 0 else data / MB_PER_GB:g} GB"
                                            if data and data >= MB_PER_GB else f"at least {data} MB" if data else None),
    ) if x)
    return PlanAsk(country, days, data, unlimited, " ".join(words), understood)
