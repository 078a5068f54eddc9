"""The desk's non-secret preferences in settings.json: low-balance thresholds and exchange rates.

Amounts are Decimal, kept in the file as strings so nothing is lost to binary floats. Secrets never come
here (they live in the keychain: services/config.py).

Exchange rates: the agent enters, per currency, what one unit of it is worth in the agent's currency and the
date of that rate. ``convert`` is what a view calls to show a price in the agent's currency: it answers the
converted amount with the rate's date, or None when no rate is configured (then prices are compared only
within one currency).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from esimdesk.domain import VENDOR_TITLES, VENDORS, Balance, ValidationError, money_str
from esimdesk.services.config import load_settings, save_settings
from esimdesk.vendors import Capability, adapter_class


def vendors_with_balance() -> list[str]:
    """The vendors that report a balance (a low-balance threshold means something only for them)."""
    return [v for v in VENDORS if Capability.BALANCE in adapter_class(v).capabilities]


THRESHOLDS_KEY = "low_balance"
RATES_KEY = "exchange_rates"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Rate:
    """1 ``currency`` = ``rate`` of the agent's currency, as of ``as_of``, from ``source`` (the agent's own
    rate in Settings, the ECB, Roamify; services/currency.py picks one per currency)."""

    currency: str
    rate: Decimal
    as_of: date
    source: str = "manual"


@dataclass(frozen=True, eq=True)
class Rates:
    """The agent's currency and the rates into it, one per currency (a dict: O(1) per converted cell)."""

    agent_currency: str | None = None
    by_currency: Mapping[str, Rate] = field(default_factory=dict)

    __hash__ = None  # a mapping inside: not hashable

    def get(self, currency: str) -> Rate | None:
        return self.by_currency.get(currency.upper())


@dataclass(frozen=True)
class Converted:
    """An amount in the agent's currency. ``as_of``: the date of the rate used; None when the amount was
    already in the agent's currency (no rate was needed)."""

    amount: Decimal
    currency: str
    as_of: date | None
    rate: Decimal


def convert(amount: Decimal, currency: str, rates: Rates) -> Converted | None:
    """``amount`` of ``currency`` in the agent's currency, exact (Decimal product, not rounded: a view
    rounds for display with money_str), or None when no agent currency or no rate for ``currency`` is
    configured."""
    agent = rates.agent_currency
    if not agent:
        return None
    if currency.upper() == agent:
        return Converted(amount, agent, None, Decimal(1))
    rate = rates.get(currency)
    if rate is None:
        return None
    return Converted(amount * rate.rate, agent, rate.as_of, rate.rate)


# --- parsing what the agent typed (errors in words, before anything is written) --------------------
def parse_currency(text: str, what: str = "currency") -> str:
    code = (text or "").strip().upper()
    if not _CURRENCY.match(code):
        raise ValidationError(f"'{text.strip()}' is not a currency code: the {what} takes three letters like USD")
    return code


def parse_amount(text: str, what: str) -> Decimal | None:
    """A positive Decimal from the agent's text ('1,234.50' allowed); None for an empty field."""
    cleaned = (text or "").strip().replace(",", "").replace(" ", "")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValidationError(f"{what}: '{text.strip()}' is not a number like 50.00") from None
    if not value.is_finite() or value <= 0:
        raise ValidationError(f"{what}: '{text.strip()}' must be a number above zero")
    return value


def parse_rate(currency: str, rate: str, as_of: str) -> Rate:
    code = parse_currency(currency)
    value = parse_amount(rate, f"the rate of {code}")
    if value is None:
        raise ValidationError(f"the rate of {code} is empty: enter what 1 {code} is worth, or remove the row")
    try:
        when = date.fromisoformat((as_of or "").strip())
    except ValueError:
        raise ValidationError(f"the date of the {code} rate, '{as_of.strip()}', is not a date like 2026-11-29") from None
    return Rate(code, value, when)


def make_rates(agent_currency: str, rates: Iterable[Rate]) -> Rates:
    """Rates checked as a whole: an agent currency when any rate is given, one row per currency, no rate of
    the agent's own currency into itself."""
    rows = list(rates)
    agent = parse_currency(agent_currency, "agent's currency") if agent_currency.strip() else None
    if rows and agent is None:
        raise ValidationError("enter your own currency (e.g. EUR) for the exchange rates to convert into")
    by: dict[str, Rate] = {}
    for rate in rows:
        if rate.currency == agent:
            raise ValidationError(f"{agent} is your own currency: it needs no rate")
        if rate.currency in by:
            raise ValidationError(f"{rate.currency} has two rates: keep one row per currency")
        by[rate.currency] = rate
    return Rates(agent, by)


# --- settings.json ---------------------------------------------------------------------------------
def _decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def thresholds_from(settings: dict) -> dict[str, Decimal]:
    raw = settings.get(THRESHOLDS_KEY)
    if not isinstance(raw, dict):
        return {}
    # A hand-edited value that is no positive number is no threshold (never a crash at start-up).
    return {v: d for v, text in raw.items() if v in VENDORS and (d := _decimal(text)) is not None}


def rates_from(settings: dict) -> Rates:
    raw = settings.get(RATES_KEY)
    if not isinstance(raw, dict):
        return Rates()
    agent = raw.get("agent_currency")
    agent = agent if isinstance(agent, str) and _CURRENCY.match(agent) else None
    by: dict[str, Rate] = {}
    rows = raw.get("rates")
    for code, row in (rows.items() if isinstance(rows, dict) else ()):
        if not (isinstance(row, dict) and isinstance(code, str) and _CURRENCY.match(code)):
            continue
        value = _decimal(row.get("rate"))
        try:
            when = date.fromisoformat(str(row.get("date")))
        except ValueError:
            continue
        if value is not None:
            by[code] = Rate(code, value, when)
    return Rates(agent, by)


def low_balance_thresholds(home: Path) -> dict[str, Decimal]:
    return thresholds_from(load_settings(home))


def exchange_rates(home: Path) -> Rates:
    return rates_from(load_settings(home))


def save_preferences(home: Path, *, thresholds: Mapping[str, Decimal | None] | None = None,
                     rates: Rates | None = None) -> None:
    """Write the thresholds and/or rates given (None: that part is kept); the rest of the file is kept."""
    settings = load_settings(home)  # a settings file that cannot be read stops the save (ConfigError)
    if thresholds is not None:
        for vendor in thresholds:
            if vendor not in VENDORS:
                raise ValidationError(f"unknown vendor '{vendor}'")
        kept = {v: str(d) for v, d in thresholds.items() if d is not None}
        if kept:
            settings[THRESHOLDS_KEY] = kept
        else:
            settings.pop(THRESHOLDS_KEY, None)
    if rates is not None:
        if rates.agent_currency or rates.by_currency:
            settings[RATES_KEY] = {
                "agent_currency": rates.agent_currency,
                "rates": {r.currency: {"rate": str(r.rate), "date": r.as_of.isoformat()}
                          for r in rates.by_currency.values()},
            }
        else:
            settings.pop(RATES_KEY, None)
    save_settings(home, settings)


# --- the low-balance warning -----------------------------------------------------------------------
def low_balance_warnings(balances: Iterable[Balance], thresholds: Mapping[str, Decimal]) -> list[str]:
    """'⚠ Roumio balance 12.00 USD below 50.00' for each vendor whose balance is under its threshold (the
    threshold is in the vendor's own currency, so no conversion)."""
    out = []
    for balance in balances:
        limit = thresholds.get(balance.vendor)
        if limit is not None and balance.amount < limit:
            title = VENDOR_TITLES.get(balance.vendor, balance.vendor)
            out.append(f"⚠ {title} balance {money_str(balance.amount)} {balance.currency} below {money_str(limit)}")
    return out


def balance_warnings(home: Path, balances: Iterable[Balance]) -> list[str]:
    """The warnings for ``balances`` under the thresholds saved in ``home`` (reads the settings file: call
    it off the GUI thread)."""
    return low_balance_warnings(balances, low_balance_thresholds(home))
