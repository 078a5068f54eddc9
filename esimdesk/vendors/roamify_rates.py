"""Roamify's exchange-rates module (roamify-support.md §4): ``GET /api/rates?source=&target=`` and
``GET /api/currencies`` to ``Quote``s and currency codes.

The answers' shapes are NOT documented (§4b: "response shapes … not documented"), so a few plausible ones
are accepted, tried in this order; anything else is a ``MalformedResponse`` in words:

- ``{"status": "success", "data": {"rate": 0.92, "timestamp": …}}`` (Roamify's usual envelope; what the
  sandbox serves);
- ``{"data": [{"source": "USD", "target": "EUR", "rate": 0.92, "datetime": …}, …]}`` (a list, e.g. a
  series: the item of the pair asked for with the newest time);
- ``{"data": {"rates": {"EUR": 0.92}, "date": …}}`` (a table by target currency);
- ``{"rate": 0.92}`` (no envelope at all).

The rate field may be ``rate``, ``value`` or ``exchangeRate`` (number or numeric string: read through
``str`` into ``Decimal``); the time ``timestamp``, ``datetime``, ``date``, ``time`` or ``updatedAt`` (ISO
8601 text, or epoch seconds/milliseconds). The quote's ``as_of`` is that time's UTC date, else today (UTC).
A rate means "1 source = rate × target" (§4b, unconfirmed; the sandbox agrees with the ECB's cross rates).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from esimdesk.domain import MalformedResponse
from esimdesk.domain.exchange import Quote

VENDOR = "roamify"
RATES = "api/rates"
CURRENCIES = "api/currencies"
RATE_KEYS = ("rate", "value", "exchangeRate")
TIME_KEYS = ("timestamp", "datetime", "date", "time", "updatedAt")


def _unwrapped(payload: Any) -> Any:
    """The ``data`` of an envelope, else the payload itself (an answer without envelope)."""
    if isinstance(payload, dict) and "data" in payload and not any(k in payload for k in RATE_KEYS):
        return payload["data"]
    return payload


def _rate(value: Any, pair: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(VENDOR, RATES, f"the {pair} rate is not a number")
    try:
        rate = Decimal(str(value).strip())  # through str: 0.92 stays 0.92, not 0.92000000000000003997…
    except InvalidOperation:
        raise MalformedResponse(VENDOR, RATES, f"the {pair} rate '{value}' is not a number") from None
    if not rate.is_finite() or rate <= 0:
        raise MalformedResponse(VENDOR, RATES, f"the {pair} rate '{value}' is not a positive number")
    return rate


def _when(value: Any) -> datetime | None:
    """An ISO 8601 text (a date, or a time with Z or an offset) or epoch seconds/ms, as UTC; None if neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138: that is milliseconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            return None
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None


def _time_of(obj: dict[str, Any], outer: Any = None) -> datetime | None:
    for holder in (obj, outer):
        if isinstance(holder, dict):
            for key in TIME_KEYS:
                when = _when(holder.get(key))
                if when is not None:
                    return when
    return None


def _matches(item: dict[str, Any], source: str, target: str) -> bool:
    """An item naming its pair names the one asked for; one naming none is taken as it."""
    for key, want in (("source", source), ("from", source), ("target", target), ("to", target)):
        got = item.get(key)
        if isinstance(got, str) and got.strip() and got.strip().upper() != want:
            return False
    return True


def parse_rate(payload: Any, source: str, target: str, today: date) -> Quote:
    """The quote in one ``/api/rates`` answer for ``source``→``target``; ``today`` (UTC) when it is undated."""
    source, target = source.upper(), target.upper()
    pair = f"{source}→{target}"
    data = _unwrapped(payload)
    candidates: list[tuple[dict[str, Any], Any]] = []
    if isinstance(data, list):
        candidates = [(item, None) for item in data if isinstance(item, dict) and _matches(item, source, target)]
    elif isinstance(data, dict) and isinstance(data.get("rates"), dict):
        table = {str(k).upper(): v for k, v in data["rates"].items()}
        if target in table:
            candidates = [({"rate": table[target]}, data)]
    elif isinstance(data, dict) and _matches(data, source, target):
        candidates = [(data, payload)]
    found = [(item, outer) for item, outer in candidates if any(item.get(k) is not None for k in RATE_KEYS)]
    if not found:
        raise MalformedResponse(VENDOR, RATES, f"the answer for {pair} holds no rate of that pair")

    def newest(entry: tuple[dict[str, Any], Any]) -> float:
        when = _time_of(*entry)
        return when.timestamp() if when is not None else float("-inf")

    item, outer = max(found, key=newest)  # a series: its latest point
    value = next(item[k] for k in RATE_KEYS if item.get(k) is not None)
    when = _time_of(item, outer)
    return Quote(VENDOR, source, target, _rate(value, pair), when.date() if when is not None else today)


def parse_currencies(payload: Any) -> list[str]:
    """``/api/currencies``: a list of codes, or of objects with ``code``/``currency`` (shape undocumented)."""
    data = _unwrapped(payload)
    if isinstance(data, dict):
        data = data.get("currencies", data)
    items: Iterable[Any] = data.keys() if isinstance(data, dict) else data if isinstance(data, list) else ()
    if not isinstance(data, dict | list):
        raise MalformedResponse(VENDOR, CURRENCIES, "the answer lists no currencies")
    codes = set()
    for item in items:
        code = item.get("code") or item.get("currency") if isinstance(item, dict) else item
        if isinstance(code, str) and len(code.strip()) == 3 and code.strip().isalpha():
            codes.add(code.strip().upper())
    return sorted(codes)
