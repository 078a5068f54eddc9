"""One currency on screen: which rate converts each vendor's currency into the agent's, and the plans'
stored converted prices kept in step with it.

Per currency the rate is, in this order: the agent's own rate (Settings → Exchange rates) — it overrides
both sources; else the newer of Roamify's quote (where a Roamify account fetched one) and the ECB's
reference rates cross-converted through the euro; else the ECB rates shipped with esimdesk (so a desk that
has never been online still compares vendors, saying how old the rates are). Each rate keeps its date and
source; a view says its age when it is older than three working days (domain/exchange.py).

The agent's currency is the one set in Settings, else the one of the computer's locale, else USD (the
currency most vendors price in).
"""

from __future__ import annotations

import locale
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from esimdesk.domain import ConfigError, ValidationError
from esimdesk.domain.exchange import SOURCE_NAMES, Quote, age_words, cross, is_stale
from esimdesk.domain.pricing import PriceRule, Quoted, quote
from esimdesk.services.config import load_settings, save_settings
from esimdesk.services.preferences import Rate, Rates, convert, rates_from
from esimdesk.services.team_config import load_team_config

FALLBACK_CURRENCY = "USD"
# The ECB's reference rates of 2024-06-28 (units per 1 EUR; rates-and-install-links.md §1b): what a desk
# converts with before its first refresh. Marked "shipped", so every converted price says how old it is.
SHIPPED_DATE = date(2024, 6, 28)
SHIPPED_PER_EUR = {"USD": Decimal("1.0705"), "JPY": Decimal("171.94"), "HKD": Decimal("8.3594"),
                   "IDR": Decimal("17487.21")}
RULES_KEY = "price_rules"
PUBLISH_KEY = "price_rules_publish"  # team mode: saved here, not yet in the team store (the next sync sends them)


def locale_currency() -> str | None:
    """The ISO code of the computer's monetary locale ("EUR" for de_DE), or None (the C locale has none)."""
    try:
        previous = locale.setlocale(locale.LC_MONETARY)
        try:
            locale.setlocale(locale.LC_MONETARY, "")
            code = (locale.localeconv().get("int_curr_symbol") or "").strip()[:3].upper()
        finally:
            locale.setlocale(locale.LC_MONETARY, previous)
    except (locale.Error, ValueError):
        return None
    return code if len(code) == 3 and code.isalpha() else None


def agent_currency(manual: Rates) -> str:
    return manual.agent_currency or locale_currency() or FALLBACK_CURRENCY


def _ecb_table(quotes: Iterable[Quote], source: str) -> tuple[dict[str, Decimal], dict[str, date]]:
    rates: dict[str, Decimal] = {}
    dates: dict[str, date] = {}
    for q in quotes:
        if q.source == source and q.base == "EUR":
            rates[q.currency], dates[q.currency] = q.rate, q.as_of
    return rates, dates


def effective_rates(manual: Rates, quotes: list[Quote], needed: Iterable[str]) -> Rates:
    """The rate into the agent's currency of each currency in ``needed`` (and each with a manual rate)."""
    agent = agent_currency(manual)
    ecb, ecb_dates = _ecb_table(quotes, "ecb")
    by: dict[str, Rate] = {}
    known = set(ecb) | set(SHIPPED_PER_EUR) | {"EUR"} | {q.base for q in quotes if q.source == "roamify"}
    for currency in sorted({c.upper() for c in needed} | set(manual.by_currency) | known):
        if currency == agent:
            continue
        own = manual.get(currency) if manual.agent_currency == agent else None
        if own is not None:
            by[currency] = own
            continue
        found: list[Rate] = []
        rate = cross(ecb, currency, agent)
        if rate is not None:
            legs = [ecb_dates[c] for c in (currency, agent) if c != "EUR"]
            found.append(Rate(currency, rate, min(legs), "ecb"))
        for q in quotes:
            if q.source == "roamify" and q.base == currency and q.currency == agent:
                found.append(Rate(currency, q.rate, q.as_of, "roamify"))
        if found:
            by[currency] = max(found, key=lambda r: (r.as_of, r.source == "roamify"))
            continue
        rate = cross(SHIPPED_PER_EUR, currency, agent)
        if rate is not None:
            by[currency] = Rate(currency, rate, SHIPPED_DATE, "shipped")
    return Rates(agent, by)


def sort_factors(rates: Rates) -> dict[str, Decimal]:
    """What the store multiplies each currency's prices by to order them in the agent's currency."""
    if not rates.agent_currency:
        return {}
    return {rates.agent_currency: Decimal(1), **{c: r.rate for c, r in rates.by_currency.items()}}


def rate_note(rate: Rate | None, today: date) -> str:
    """ "" for a fresh rate; "rate 12 days old (ECB 2026-11-20)" for a stale one."""
    if rate is None or not is_stale(rate.as_of, today):
        return ""
    return f"rate {age_words(rate.as_of, today)} ({SOURCE_NAMES.get(rate.source, rate.source)} {rate.as_of.isoformat()})"


def rates_summary(rates: Rates, today: date) -> str:
    """ "USD→EUR 0.9213 (ECB 2026-12-04) · HKD→EUR 0.1183 (ECB 2026-12-04)": for tooltips and the status line."""
    parts = [f"{c}→{rates.agent_currency} {r.rate.quantize(Decimal('0.0001')) if r.rate < 1000 else r.rate:f} "
             f"({SOURCE_NAMES.get(r.source, r.source)} {r.as_of.isoformat()}"
             + (f", {age_words(r.as_of, today)}" if is_stale(r.as_of, today) else "") + ")"
             for c, r in sorted(rates.by_currency.items())]
    return " · ".join(parts)


def today_utc() -> date:
    return datetime.now(UTC).date()


# --- the reseller's price rules -------------------------------------------------------------------
def rules_from(settings: dict) -> tuple[PriceRule, ...]:
    raw = settings.get(RULES_KEY)
    out: list[PriceRule] = []
    for row in raw if isinstance(raw, list) else ():
        try:
            out.append(rule_from_json(row))
        except (ValueError, TypeError, ArithmeticError):
            continue  # a hand-edited row that is no rule: left out, never a crash at start-up
    return tuple(out)


def rule_from_json(row: dict) -> PriceRule:
    return PriceRule(vendor=row.get("vendor") or None, region=row.get("region") or None,
                     markup_pct=Decimal(str(row.get("markup_pct", "0"))), fixed=Decimal(str(row.get("fixed", "0"))),
                     rounding=row.get("rounding") or "cent")


def rule_to_json(rule: PriceRule) -> dict:
    return {"vendor": rule.vendor, "region": rule.region, "markup_pct": str(rule.markup_pct),
            "fixed": str(rule.fixed), "rounding": rule.rounding}


def price_rules(home: Path) -> tuple[PriceRule, ...]:
    return rules_from(load_settings(home))


def save_price_rules(home: Path, rules: Iterable[PriceRule]) -> None:
    """Kept in settings.json; in team mode also marked for the team store (services/team_sync.py sends them
    with the next sync, and every desk then quotes with them)."""
    settings = load_settings(home)
    kept = [rule_to_json(r) for r in rules]
    changed = kept != (settings.get(RULES_KEY) or [])
    if kept:
        settings[RULES_KEY] = kept
    else:
        settings.pop(RULES_KEY, None)
    if changed and _team_mode(home):
        settings[PUBLISH_KEY] = True
    save_settings(home, settings)


def _team_mode(home: Path) -> bool:
    try:
        return load_team_config(home) is not None
    except ConfigError:  # a team store set up wrongly: said by the sync; the desk's own rules meanwhile
        return False


def desk_price_rules(home: Path, team: dict | None) -> tuple[PriceRule, ...]:
    """The rules this desk quotes with: in team mode the team's (``team``: as last read from the team store),
    unless this desk saved its own since (they go to the team store with the next sync); else Settings'."""
    settings = load_settings(home)
    if team is not None and not settings.get(PUBLISH_KEY) and _team_mode(home):
        return rules_from({RULES_KEY: team.get("rules")})
    return rules_from(settings)


@dataclass(frozen=True)
class Pricing:
    """Everything a view needs to show a plan's cost and selling price in the agent's currency."""

    rates: Rates
    rules: tuple[PriceRule, ...] = ()
    today: date = date(1970, 1, 1)

    @property
    def currency(self) -> str | None:
        return self.rates.agent_currency

    def cost(self, amount: Decimal, currency: str):
        """``convert``'s answer (amount in the agent's currency with the rate's date), or None."""
        return convert(amount, currency, self.rates)

    def quote(self, plan) -> Quoted | None:
        converted = self.cost(plan.price, plan.currency)
        if converted is None:
            return None
        return quote(plan, converted.amount, converted.currency, self.rules)

    def note(self, currency: str) -> str:
        """Beside a converted price: the rate's age when older than three working days."""
        if self.rates.agent_currency and currency.upper() == self.rates.agent_currency:
            return ""
        return rate_note(self.rates.get(currency), self.today)


def parse_rule(vendor: str, region: str, markup: str, fixed: str, rounding: str) -> PriceRule:
    """A rule from the Settings table's text, with errors in words."""
    def number(text: str, what: str) -> Decimal:
        cleaned = (text or "").strip().replace("%", "").replace(",", "")
        if not cleaned:
            return Decimal(0)
        try:
            value = Decimal(cleaned)
        except ArithmeticError:
            raise ValidationError(f"{what}: '{text.strip()}' is not a number like 25 or 1.50") from None
        if not value.is_finite():
            raise ValidationError(f"{what}: '{text.strip()}' is not a number")
        return value

    region_text = (region or "").strip()
    if region_text.lower() in ("regional", "global"):
        region_code: str | None = region_text.lower()
    elif region_text:
        from esimdesk.domain.countries import resolve_country  # lazy: only when a rule names a region

        region_code = resolve_country(region_text)
    else:
        region_code = None
    try:
        return PriceRule(vendor=(vendor or "").strip().lower() or None, region=region_code,
                         markup_pct=number(markup, "markup"), fixed=number(fixed, "fixed amount"),
                         rounding=rounding or "cent")
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def manual_rates(home: Path) -> Rates:
    return rates_from(load_settings(home))
