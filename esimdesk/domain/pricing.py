"""The customer's price: the reseller's price rules applied to a plan's cost in the agent's currency.

A rule names a vendor and/or a region (a country code such as ``JP``, or ``regional`` / ``global`` for a
vendor's bundles), a markup in percent, a fixed amount added after it, and how the result is rounded up
(to the cent, to an ending of .99, to a half or to a whole unit). The most specific rule that matches a
plan applies: vendor and region, then region, then vendor, then the default (neither). Without any rule
the selling price is the cost (no margin), said as such.

Everything is ``Decimal``; rounding goes up (a rounded price never sells under the rule's price).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from esimdesk.domain.models import Plan

CENT = Decimal("0.01")
ROUNDINGS = {"cent": "to the cent", "99": "up to .99", "half": "up to .50 or .00", "whole": "up to a whole unit"}


@dataclass(frozen=True, slots=True)
class PriceRule:
    vendor: str | None = None  # None: every vendor
    region: str | None = None  # an alpha-2 country code, "regional", "global"; None: everywhere
    markup_pct: Decimal = Decimal(0)
    fixed: Decimal = Decimal(0)  # in the agent's currency, added after the markup
    rounding: str = "cent"  # a key of ROUNDINGS

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"unknown rounding {self.rounding!r}")
        for name in ("markup_pct", "fixed"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal")
        if self.markup_pct <= Decimal(-100):
            raise ValueError("a markup of -100 % or less gives the plan away")

    def matches(self, plan: Plan) -> bool:
        if self.vendor is not None and self.vendor != plan.vendor:
            return False
        if self.region is None:
            return True
        if self.region in ("regional", "global"):
            return plan.region == self.region or (self.region == "regional" and plan.region is None
                                                  and len(plan.countries) > 3)
        return plan.region is None and len(plan.countries) <= 3 and self.region.upper() in plan.countries

    @property
    def specificity(self) -> int:
        return (2 if self.region is not None else 0) + (1 if self.vendor is not None else 0)

    def words(self) -> str:
        """ "Roumio, JP: +25 % + 1.00, up to .99" """
        where = ", ".join(w for w in (self.vendor and self.vendor.title(), self.region) if w) or "every plan"
        parts = [f"+{self.markup_pct.normalize():f} %" if self.markup_pct else "",
                 f"+ {self.fixed.quantize(CENT)}" if self.fixed else "", ROUNDINGS[self.rounding]]
        return f"{where}: " + " ".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class Quoted:
    """What the customer pays for one plan: ``sell`` in ``currency``, the ``cost`` it comes from (same
    currency), the margin, and the rule applied (None: no rule, sold at cost)."""

    sell: Decimal
    cost: Decimal
    currency: str
    rule: PriceRule | None

    @property
    def margin(self) -> Decimal:
        return self.sell - self.cost



def round_up(amount: Decimal, rounding: str) -> Decimal:
    if rounding == "cent":
        return amount.quantize(CENT, rounding=ROUND_CEILING)
    if rounding == "whole":
        return amount.quantize(Decimal(1), rounding=ROUND_CEILING).quantize(CENT)
    if rounding == "half":
        return ((amount * 2).quantize(Decimal(1), rounding=ROUND_CEILING) / 2).quantize(CENT)
    # .99: the smallest price ending in .99 that is not below the amount (7.20 -> 7.99, 7.995 -> 8.99).
    whole = (amount + CENT).quantize(Decimal(1), rounding=ROUND_CEILING)
    return (whole - CENT).quantize(CENT)


def rule_for(plan: Plan, rules: tuple[PriceRule, ...] | list[PriceRule]) -> PriceRule | None:
    """The most specific rule matching ``plan`` (the first listed among equally specific ones)."""
    best: PriceRule | None = None
    for rule in rules:
        if rule.matches(plan) and (best is None or rule.specificity > best.specificity):
            best = rule
    return best


def quote(plan: Plan, cost: Decimal, currency: str, rules: tuple[PriceRule, ...] | list[PriceRule]) -> Quoted:
    """The customer's price of ``plan`` whose cost is ``cost`` in ``currency`` (the agent's currency)."""
    rule = rule_for(plan, rules)
    if rule is None:  # at cost: the cost to the nearest cent (no margin to speak of, up or down)
        return Quoted(cost.quantize(CENT, rounding=ROUND_HALF_UP), cost, currency, None)
    raw = cost * (1 + rule.markup_pct / 100) + rule.fixed
    return Quoted(max(round_up(raw, rule.rounding), Decimal(0)), cost, currency, rule)
