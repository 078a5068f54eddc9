"""What the Catalog says about a plan beyond its row: total data, price per GB, coverage in words, and the
vendor's details (networks, speed, APN, activation) as the adapters read them from the vendor's payload."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from esimdesk.domain.countries import country_name
from esimdesk.domain.models import Plan
from esimdesk.domain.units import MB_PER_GB, data_amount


def total_mb(data_mb: int | None, daily: bool, validity_days: int) -> int | None:
    """The data a plan gives over its whole validity: a daily plan's allowance × its days; None = unlimited."""
    if data_mb is None:
        return None
    return data_mb * max(validity_days, 1) if daily else data_mb


def plan_total_mb(plan: Plan) -> int | None:
    return total_mb(plan.data_mb, plan.daily, plan.validity_days)


def price_per_gb(plan: Plan) -> Decimal | None:
    """The plan's price per GB of its total data (a daily plan: per GB of a day's allowance × its days), in
    the plan's currency, to the cent; None for an unlimited plan (or one of no data), where it means nothing."""
    total = plan_total_mb(plan)
    if not total or total <= 0:
        return None
    return (plan.price * MB_PER_GB / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def data_text(plan: Plan) -> str:
    """ "Unlimited", "1 GB/day", "5 GB"."""
    if plan.data_mb is None:
        return "Unlimited/day" if plan.daily else "Unlimited"
    return data_amount(plan.data_mb) + ("/day" if plan.daily else "")


def coverage_text(countries: tuple[str, ...], region: str | None, name: str | None = None) -> str:
    """Country names ("Japan", "Japan, South Korea"); a regional or global plan says so with its number of
    countries ("Regional (33 countries)", "Global (120 countries)"), or by the vendor's own name for it
    where it has one (``Plan.coverage_name``): "Africa Adventure (33 countries)", "Canary Islands (Spain)"."""
    n = len(countries)
    name = " ".join(name.split()) if name else None
    if name:
        if n == 0:
            return name
        return f"{name} ({country_name(countries[0]) if n == 1 else f'{n} countries'})"
    if region == "global":
        return f"Global ({n} countries)"
    if region == "regional" or n > 3:
        return f"Regional ({n} countries)"
    return ", ".join(country_name(c) for c in countries) if countries else "—"


@dataclass(frozen=True, slots=True)
class PlanDetails:
    """What the vendor says of a plan beyond price and data; None (or empty) = the vendor does not state it."""

    networks: tuple[str, ...] = ()  # "Docomo (4G/LTE)", "T-Mobile 4G/5G"
    speed: str | None = None  # "3G/4G/5G", or the speed after the fair-use threshold
    apn: str | None = None
    activation: str | None = None  # when the validity starts: "on first installation", "on first use"…
    topups: str | None = None  # what the vendor lists as top-ups for it
    notes: tuple[str, ...] = ()  # anything else worth an agent's eye (hotspot, data exit country)
