"""Typed domain objects shared by every layer.

Rules every object keeps (checked in ``__post_init__`` so a vendor adapter that forgets them fails
loudly in tests rather than quietly in an agent's table):
money is ``Decimal`` in the vendor's currency, times are timezone-aware UTC, volumes are integer MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

__all__ = [
    "VENDORS",
    "Vendor",
    "EsimStatus",
    "OrderStatus",
    "Plan",
    "OrderLine",
    "Order",
    "Sale",
    "Esim",
    "Usage",
    "Balance",
    "Event",
    "utc",
    "money_str",
]


class Vendor(StrEnum):
    ROUMIO = "roumio"
    ROAMIFY = "roamify"
    MICROESIM = "microesim"
    FLEXIROAM = "flexiroam"


VENDORS: tuple[str, ...] = tuple(v.value for v in Vendor)


class EsimStatus(StrEnum):
    NEW = "NEW"  # allocated, not yet installed on a phone
    INSTALLED = "INSTALLED"  # profile on a device, no data used yet
    ACTIVE = "ACTIVE"  # in use
    DEPLETED = "DEPLETED"  # data used up
    EXPIRED = "EXPIRED"
    SUSPENDED = "SUSPENDED"
    CANCELLED = "CANCELLED"
    DELETED = "DELETED"
    UNKNOWN = "UNKNOWN"


class OrderStatus(StrEnum):
    PENDING = "PENDING"  # recorded here, not yet confirmed by the vendor
    ALLOCATING = "ALLOCATING"  # accepted, profiles not ready
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    UNCERTAIN = "UNCERTAIN"  # the vendor's answer was lost; reconciliation decides


def utc(dt: datetime | None) -> datetime | None:
    """Return ``dt`` in UTC; refuse naive datetimes (their zone is a guess we do not make here)."""
    if dt is None:
        return None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: vendor adapters must attach the vendor's time zone")
    return dt.astimezone(UTC)


def money_str(amount: Decimal | None) -> str | None:
    """Money as the contract's decimal string with two places ("12.34")."""
    if amount is None:
        return None
    return str(amount.quantize(Decimal("0.01")))


def _check_money(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, Decimal):
        raise TypeError(f"{name} must be Decimal, got {type(value).__name__}")


def _check_mb(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise TypeError(f"{name} must be an integer of MB, got {value!r}")


def _check_time(obj: Any, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            object.__setattr__(obj, name, utc(value))


@dataclass(frozen=True, slots=True)
class Plan:
    vendor: str
    plan_id: str  # what the vendor takes to order: Roumio packageCode, Roamify packageId, MicroESIM channel_dataplan_id
    name: str
    countries: tuple[str, ...]  # ISO 3166 alpha-2
    data_mb: int | None  # None = unlimited
    validity_days: int
    price: Decimal
    currency: str
    daily: bool = False
    topup: bool | None = None  # can be topped up later; None = the vendor does not say
    region: str | None = None  # "regional"/"global" label where the vendor groups countries
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # The vendor's own name for what the plan covers where it is no single country ("Africa Adventure",
    # MicroESIM's "Asia 8 countries"): searchable and shown as the plan's coverage.
    coverage_name: str | None = None

    def __post_init__(self) -> None:
        _check_money("price", self.price)
        _check_mb("data_mb", self.data_mb)
        object.__setattr__(self, "countries", tuple(self.countries))

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "plan_id": self.plan_id,
            "name": self.name,
            "countries": list(self.countries),
            "data_mb": self.data_mb,
            "unlimited": self.data_mb is None,  # beside data_mb's null: no cap (per day for a daily plan)
            "validity_days": self.validity_days,
            "price": money_str(self.price),
            "currency": self.currency,
            "daily": self.daily,
            "topup": self.topup,
            "coverage_name": self.coverage_name,
        }


@dataclass(frozen=True, slots=True)
class Esim:
    vendor: str
    iccid: str  # exactly as the vendor gave it (some vendor samples fail Luhn)
    status: EsimStatus
    vendor_status: str  # the vendor's own words, e.g. "IN_USE/ENABLED"
    order_id: str | None = None
    plan_id: str | None = None
    activation_code: str | None = None  # LPA:1$<SM-DP+>$<matching id>
    data_used_mb: int | None = None
    data_total_mb: int | None = None  # None = unlimited or unknown
    expires_at: datetime | None = None
    installed_at: datetime | None = None
    qr_url: str | None = None
    install_url: str | None = None  # e.g. Apple universal link where the vendor gives one
    vendor_ref: str | None = None  # vendor's own handle for the profile (Roumio esimTranNo, MicroESIM device id)
    note: str | None = None  # the agent's own note (e.g. the customer's name); never sent to a vendor
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # When the usage figures were true: the vendor's own time (Roumio lastUpdateTime) or when we fetched them.
    usage_as_of: datetime | None = None
    data_remaining_mb: int | None = None  # where the vendor reports what is left (Flexiroam balances)
    device_name: str | None = None  # the customer's device, where the vendor reports it (Flexiroam)
    device_imei: str | None = None
    # When the vendor last confirmed this eSIM (its listing, or a look-up of it): the Fleet's "as of". Set
    # by the store, never by a vendor's answer.
    seen_at: datetime | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_mb("data_used_mb", self.data_used_mb)
        _check_mb("data_total_mb", self.data_total_mb)
        _check_mb("data_remaining_mb", self.data_remaining_mb)
        _check_time(self, "expires_at", "installed_at", "usage_as_of")
        if not isinstance(self.status, EsimStatus):
            object.__setattr__(self, "status", EsimStatus(self.status))

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "iccid": self.iccid,
            "order_id": self.order_id,
            "plan_id": self.plan_id,
            "status": self.status.value,
            "vendor_status": self.vendor_status,
            "activation_code": self.activation_code,
            "data_used_mb": self.data_used_mb,
            "data_total_mb": self.data_total_mb,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "usage_as_of": self.usage_as_of.isoformat() if self.usage_as_of else None,
        }


@dataclass(frozen=True, slots=True)
class OrderLine:
    plan_id: str
    quantity: int = 1
    unit_price: Decimal | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        _check_money("unit_price", self.unit_price)
        if self.quantity < 1:
            raise ValueError("quantity must be at least 1")


@dataclass(frozen=True, slots=True)
class Order:
    vendor: str
    order_id: str | None  # the vendor's id; None while PENDING/UNCERTAIN
    reference: str | None  # idempotency handle we sent (Roumio transactionId, MicroESIM custom_order_no)
    status: OrderStatus
    created_at: datetime
    total: Decimal | None = None
    currency: str | None = None
    lines: tuple[OrderLine, ...] = ()
    esims: tuple[Esim, ...] = ()
    kind: str = "order"  # "order" or "topup"
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    # The handle the vendor's own answer carries (Roumio transactionId, Roamify referenceId), exactly as it
    # gave it; None when its answer carries none. ``reference`` may be ours, filled in by the adapter: only
    # this field can show that a vendor answered with another desk's (or another entry's) order.
    handle: str | None = None
    sale: Sale | None = field(default=None, compare=False)  # the customer's price, where this desk sold it
    # Team mode: another desk's order is kept here under the handle that desk sent the vendor (``reference``,
    # unique to that desk); this is the reference its agent typed, the name every desk shows and finds it by.
    typed_reference: str | None = field(default=None, compare=False)

    @property
    def shown_reference(self) -> str | None:
        """The order's reference as its agent typed it, whichever desk placed it."""
        return self.typed_reference or self.reference

    def __post_init__(self) -> None:
        _check_money("total", self.total)
        _check_time(self, "created_at")
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "esims", tuple(self.esims))
        if not isinstance(self.status, OrderStatus):
            object.__setattr__(self, "status", OrderStatus(self.status))

    def to_json(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "order_id": self.order_id,
            "reference": self.reference,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "total": money_str(self.total),
            "currency": self.currency,
            "esims": [{"iccid": e.iccid, "activation_code": e.activation_code} for e in self.esims],
            **({"sale": {"total": money_str(self.sale.total), "currency": self.sale.currency,
                         "cost": None if self.sale.cost is None else money_str(self.sale.cost),
                         "rule": self.sale.rule}} if self.sale is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Sale:
    """What the customer was charged for an order, as quoted when it was sold (price rules and rates change
    later; the sale does not): the whole order's selling price, the cost it came from in the same currency
    at that day's rate, and the rule applied in words (None: sold at cost)."""

    total: Decimal
    currency: str
    cost: Decimal | None = None
    rule: str | None = None

    def __post_init__(self) -> None:
        _check_money("total", self.total)

    @property
    def margin(self) -> Decimal | None:
        return None if self.cost is None else self.total - self.cost


@dataclass(frozen=True, slots=True)
class Usage:
    vendor: str
    iccid: str
    observed_at: datetime
    data_used_mb: int | None
    data_total_mb: int | None = None
    as_of: datetime | None = None  # the vendor's own time for the figures (None: as of ``observed_at``)
    data_remaining_mb: int | None = None
    # Why the vendor gave no figures, where it can be told ("not installed yet: Roamify reports usage once
    # the eSIM is installed"); None when it gave some, or gave no reason.
    note: str | None = None

    def __post_init__(self) -> None:
        _check_mb("data_used_mb", self.data_used_mb)
        _check_mb("data_total_mb", self.data_total_mb)
        _check_mb("data_remaining_mb", self.data_remaining_mb)
        _check_time(self, "observed_at", "as_of")

    @property
    def when(self) -> datetime:
        """When the figures were true: the vendor's time if it gave one, else when we fetched them."""
        return self.as_of or self.observed_at

    @property
    def left_mb(self) -> int | None:
        """What is left: the vendor's own figure, else the total less what is used when both are known."""
        if self.data_remaining_mb is not None:
            return self.data_remaining_mb
        if self.data_total_mb is not None and self.data_used_mb is not None:
            return max(0, self.data_total_mb - self.data_used_mb)
        return None


@dataclass(frozen=True, slots=True)
class Balance:
    vendor: str
    amount: Decimal
    currency: str
    observed_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_money("amount", self.amount)
        _check_time(self, "observed_at")

    def to_json(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "amount": money_str(self.amount), "currency": self.currency}


@dataclass(frozen=True, slots=True)
class Event:
    vendor: str
    iccid: str
    kind: str  # vendor's event name, e.g. MicroESIM "ESIM_INSTALLED"
    occurred_at: datetime | None
    detail: str = ""
    raw: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_time(self, "occurred_at")
