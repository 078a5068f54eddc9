"""The interface every vendor adapter implements. Nothing above ``vendors/`` sees vendor JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, ClassVar

from esimdesk.domain import (
    Action,
    Balance,
    Esim,
    Event,
    Order,
    Plan,
    PlanDetails,
    Unsupported,
    Usage,
    VendorConfig,
)
from esimdesk.vendors.http import VendorHttp


class Capability(StrEnum):
    PLANS = "plans"
    TOPUP_PLANS = "topup_plans"
    BALANCE = "balance"
    ORDER = "order"
    ORDER_STATUS = "order_status"  # poll one order until its profiles are allocated
    LIST_ORDERS = "list_orders"
    LIST_ESIMS = "list_esims"
    GET_ESIM = "get_esim"
    TOPUP = "topup"
    EVENTS = "events"
    INVENTORY = "inventory"


class VendorAdapter:
    """Base class: every operation raises ``Unsupported`` unless the adapter overrides it.

    Adapters set ``name``, ``capabilities``, ``default_url`` and build ``self.http`` in ``__init__``.
    Writes (``place_order``, ``topup``) send exactly one request and never retry; on a lost answer
    they raise ``VendorError(maybe_sent=True)``.
    """

    name: ClassVar[str] = ""
    default_url: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Roumio: one eSIM per order line; others: None (no documented limit)
    max_quantity_per_line: ClassVar[int | None] = None
    # Whether the vendor honours our reference as an idempotency handle: resending an order with the
    # same reference never makes a second one (Roumio transactionId returns the first order; MicroESIM
    # refuses a repeated custom_order_no, naming the first order or raising DuplicateReference).
    idempotent_orders: ClassVar[bool] = False
    # How long after our last send an order request may still reach the vendor and be acted on (a
    # timed-out request can sit in a proxy's or the vendor's own queue). Until then a vendor's "no such
    # order" proves nothing: the entry stays UNCERTAIN ("may still be placed"), never FAILED. Three
    # minutes: well past our own longest wait for an answer (vendors/http.py) plus queues we cannot see.
    in_flight_seconds: ClassVar[float] = 180.0
    # Keyword options place_order takes beyond plan and quantity (MicroESIM: activation_date, custom_email).
    order_options: ClassVar[frozenset[str]] = frozenset()

    # iter_orders() already yields every eSIM the vendor lists, grouped by order (Roumio derives its
    # orders from its eSIM listing): a sync then skips the second, identical pass over the fleet.
    orders_carry_fleet: ClassVar[bool] = False

    http: VendorHttp

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    def supports(self, cap: Capability) -> bool:
        return cap in self.capabilities

    def _unsupported(self, op: str) -> Unsupported:
        return Unsupported(self.name, op)

    async def aclose(self) -> None:
        http = getattr(self, "http", None)
        if http is not None:
            await http.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    # --- catalog -------------------------------------------------------------------------------
    async def iter_plans(self) -> AsyncIterator[list[Plan]]:
        """Yield the catalog page by page so callers can show progress."""
        raise self._unsupported("list plans")
        yield []  # pragma: no cover  (makes this an async generator)

    async def list_plans(self) -> list[Plan]:
        plans: list[Plan] = []
        async for page in self.iter_plans():
            plans.extend(page)
        return plans

    def plans_from_orders(self, orders: list[Order]) -> list[Plan]:
        """Plans implied by past orders, for a vendor that publishes no plan list (Roamify)."""
        return []

    async def list_topup_plans(self, iccid: str) -> list[Plan]:
        raise self._unsupported("list top-up plans")

    @classmethod
    def plan_details(cls, raw: dict[str, Any] | None) -> PlanDetails:
        """What the vendor's stored payload of a plan (``Plan.raw``) says beyond the plan's row: networks,
        speed, APN, activation, top-ups. Read here, where the vendor's JSON is known; nothing stated: empty."""
        return PlanDetails()

    async def get_balance(self) -> Balance:
        raise self._unsupported("balance")

    # --- orders --------------------------------------------------------------------------------
    async def place_order(self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None) -> Order:
        """Send one order; returns it ALLOCATING (or COMPLETED with eSIMs if the vendor answers so)."""
        raise self._unsupported("place orders")

    async def get_order(self, order_id: str | None, reference: str | None = None) -> Order:
        """The order's current state; ALLOCATING while profiles are not ready."""
        raise self._unsupported("look up an order")

    async def iter_orders(self) -> AsyncIterator[list[Order]]:
        raise self._unsupported("list orders")
        yield []  # pragma: no cover

    async def topup(self, iccid: str, plan_id: str, reference: str, price: Decimal | None = None,
                    vendor_ref: str | None = None) -> Order:
        raise self._unsupported("top up")

    # --- fleet ---------------------------------------------------------------------------------
    async def iter_esims(self) -> AsyncIterator[list[Esim]]:
        raise self._unsupported("list eSIMs")
        yield []  # pragma: no cover

    async def get_esim(self, iccid: str) -> Esim:
        raise self._unsupported("look up an eSIM")

    async def esim_events(self, iccid: str) -> list[Event]:
        raise self._unsupported("eSIM events")

    # --- support actions (issue 21) --------------------------------------------------------------
    # The support actions the vendor's API offers; ``refusal`` says why any other one cannot be done.
    actions: ClassVar[frozenset[Action]] = frozenset()
    usage_batch: ClassVar[int] = 1  # eSIMs per usage request (Roumio: 10)

    @classmethod
    def refusal(cls, esim: Esim, action: Action) -> str | None:
        """Why ``action`` cannot be done on ``esim`` as it stands, in one sentence; None if it can.
        Decided from the eSIM's state alone (no network), so the window can grey a button with the reason."""
        if action not in cls.actions:
            return f"{cls.name} does not offer '{action.value}' through its API"
        return None

    @classmethod
    def expected_after(cls, action: Action, esim: Esim) -> bool | None:
        """Whether ``esim`` (read after a lost answer) shows ``action`` done: True, False, or None (cannot tell)."""
        return None

    async def esim_action(self, esim: Esim, action: Action, message: str | None = None) -> None:
        """Send one support action; like an order it is sent exactly once and never retried here.
        A refusal raises VendorRejected; a lost answer raises VendorError (maybe_sent=True)."""
        raise self._unsupported(action.value)

    async def usage(self, esims: list[Esim]) -> list[Usage]:
        """Fresh usage of these eSIMs, with the vendor's time for it where it gives one."""
        out: list[Usage] = []
        for esim in esims:
            fresh = await self.get_esim(esim.iccid)
            now = datetime.now(UTC)
            out.append(Usage(self.name, esim.iccid, now, fresh.data_used_mb, fresh.data_total_mb,
                             as_of=fresh.usage_as_of, data_remaining_mb=fresh.data_remaining_mb))
        return out
