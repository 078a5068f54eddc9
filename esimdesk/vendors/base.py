"""The interface every vendor adapter implements. Nothing above ``vendors/`` sees vendor JSON.

The contract is declared here, whole: every operation services use is a method of ``VendorAdapter``
(raising ``Unsupported`` unless the adapter overrides it) or a class attribute with a default. What a
vendor can do is data: its ``capabilities``, each naming the method(s) that do it (``CONTRACT``), and
for each capability it lacks the sentence that says so (``absent_reason``). Services ask
``adapter.supports(Capability.X)``; they never probe an adapter for a member by name
(tests/vendors/test_contract_all.py checks both, for every adapter).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
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
    vendor_title,
)
from esimdesk.domain.actions import OFFER_WORDS
from esimdesk.domain.exchange import Quote
from esimdesk.domain.refunds import RefundRequest
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
    INVENTORY = "inventory"  # the free stock: eSIMs never handed out (Flexiroam)
    PLAN_TOPUPS = "plan_topups"  # a plan's top-ups, before any eSIM of it exists (Roumio, by package)
    START_DATE = "start_date"  # some plans need the customer's travel start date, asked live (Roamify)
    SHARE_LINK = "share_link"  # the vendor's hosted install page for the customer (Roamify)
    ORDER_BY_REFERENCE = "order_by_reference"  # an order found by our handle after a lost answer (Roamify)
    FIND_ORDERS = "find_orders"  # orders of a package and quantity booked in a time window (Roamify's older API)
    EXCHANGE_RATES = "exchange_rates"  # the vendor's own currency rates (Roamify's /api/rates, /api/currencies)
    REFUNDS = "refunds"  # refund requests its support decides (Roamify; domain/refunds.py)


@dataclass(frozen=True, slots=True)
class Operation:
    """What a capability is in the contract: the adapter methods that do it, and the words for it in the
    sentence a vendor without it is refused with (``Unsupported``: "X does not offer <words> through its API"):
    a noun phrase, so the sentence reads right."""

    methods: tuple[str, ...]
    words: str


# Capability -> its methods and words. The words are the ones the command line and window print today.
CONTRACT: Mapping[Capability, Operation] = MappingProxyType({
    Capability.PLANS: Operation(("iter_plans",), "plan lists"),
    Capability.TOPUP_PLANS: Operation(("list_topup_plans",), "top-up plan lists"),
    Capability.BALANCE: Operation(("get_balance",), "a balance"),
    Capability.ORDER: Operation(("place_order",), "orders"),
    Capability.ORDER_STATUS: Operation(("get_order",), "order look-ups"),
    Capability.LIST_ORDERS: Operation(("iter_orders",), "order lists"),
    Capability.LIST_ESIMS: Operation(("iter_esims",), "eSIM lists"),
    Capability.GET_ESIM: Operation(("get_esim",), "eSIM look-ups"),
    Capability.TOPUP: Operation(("topup",), "top-ups"),
    Capability.EVENTS: Operation(("esim_events",), "eSIM events"),
    Capability.INVENTORY: Operation(("iter_inventory",), "free-stock lists"),
    Capability.PLAN_TOPUPS: Operation(("list_plan_topups",), "a plan's top-up list"),
    Capability.START_DATE: Operation(("needs_start_date",), "orders with a travel start date"),
    Capability.SHARE_LINK: Operation(("share_link",), "install links for the customer"),
    Capability.ORDER_BY_REFERENCE: Operation(("order_by_reference",), "order look-ups by reference"),
    Capability.FIND_ORDERS: Operation(("find_orders",), "order searches by package and time"),
    Capability.EXCHANGE_RATES: Operation(("exchange_rates", "rate_currencies"), "exchange rates"),
    Capability.REFUNDS: Operation(("request_refund", "get_refund", "list_refunds", "cancel_refund"),
                                  "refund requests"),
})


@dataclass(frozen=True, slots=True)
class ShareLink:
    """A vendor's hosted install page for one eSIM, opened with ``access_code`` (Roamify)."""

    iccid: str
    url: str
    access_code: str


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
    # The catalog is big and rarely changes: a sync compares it with the stored one and writes only what
    # changed (services/plan_sync.py) instead of listing it into the store page by page (Roamify).
    incremental_plans: ClassVar[bool] = False
    # How long generating an order's profiles may take, in seconds: the orders engine polls at least this
    # long (never less than its own default) before it stops waiting (Roamify: 120).
    allocation_seconds: ClassVar[float] = 0.0
    # The pace a sync keeps asking this vendor about eSIMs one at a time (requests a second) and so its request
    # budget (domain/refresh.py): the vendor's documented rate limit, else the pace we hold ourselves to with a
    # vendor that states none (20/s: a few desks of one reseller together stay polite).
    requests_per_second: ClassVar[float] = 20.0
    # Requests to refresh one eSIM on its own (get_esim; usage where the listing lacks it).
    refresh_requests: ClassVar[int] = 1
    # Whether iter_esims gives each eSIM's usage; if not (Roamify), a sync reads the usage of the eSIMs in use
    # with usage(), the most needed first, within the budget.
    listing_has_usage: ClassVar[bool] = True
    # The fleet listing is a chain of pages, each asked with the key the one before gave (Flexiroam's
    # page_key), so its time grows with the fleet however fast the vendor: a routine sync walks the budget's
    # share of it (walk_esims) and the next goes on from the key where it stopped (services/sync.py).
    resumable_listing: ClassVar[bool] = False
    # The orders pass (orders_carry_fleet) is a numbered listing a routine sync reads a share of (walk_orders),
    # the next going on from where it stopped: Roumio's esim/query, 2 + E / 500 requests at 8/s.
    resumable_orders: ClassVar[bool] = False
    # Whether the last iter_esims listed the whole fleet: False where an answer reached a cap the vendor
    # documents no way past (Roamify's ``limit``, set per listing). A sync marks stale only after a whole one.
    listing_complete: bool = True

    http: VendorHttp

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.config.base_url!r})"

    @property
    def title(self) -> str:
        """The vendor's name for an agent's sentence ("MicroESIM"); ``name`` is its id ("microesim")."""
        return vendor_title(self.name)

    def supports(self, cap: Capability) -> bool:
        return cap in self.capabilities

    @classmethod
    def absent_reason(cls, cap: Capability) -> str | None:
        """Why this vendor cannot do ``cap``, in the sentence its calls are refused with; None if it can."""
        if cap in cls.capabilities:
            return None
        return str(Unsupported(cls.name, CONTRACT[cap].words))

    def _unsupported(self, op: str | Capability) -> Unsupported:
        return Unsupported(self.name, CONTRACT[op].words if isinstance(op, Capability) else op)

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
        raise self._unsupported(Capability.PLANS)
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
        raise self._unsupported(Capability.TOPUP_PLANS)

    async def list_plan_topups(self, plan_id: str) -> list[Plan]:
        """The top-ups the vendor lists for a plan before any eSIM of it exists (``PLAN_TOPUPS``)."""
        raise self._unsupported(Capability.PLAN_TOPUPS)

    @classmethod
    def plan_details(cls, raw: dict[str, Any] | None) -> PlanDetails:
        """What the vendor's stored payload of a plan (``Plan.raw``) says beyond the plan's row: networks,
        speed, APN, activation, top-ups. Read here, where the vendor's JSON is known; nothing stated: empty."""
        return PlanDetails()

    async def get_balance(self) -> Balance:
        raise self._unsupported(Capability.BALANCE)

    # --- orders --------------------------------------------------------------------------------
    async def place_order(self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None) -> Order:
        """Send one order; returns it ALLOCATING (or COMPLETED with eSIMs if the vendor answers so)."""
        raise self._unsupported(Capability.ORDER)

    async def needs_start_date(self, plan_id: str) -> bool:
        """Whether the plan needs the customer's travel start date, asked live (``START_DATE``); a vendor
        without it takes no start date with an order."""
        raise self._unsupported(Capability.START_DATE)

    async def get_order(self, order_id: str | None, reference: str | None = None) -> Order:
        """The order's current state; ALLOCATING while profiles are not ready."""
        raise self._unsupported(Capability.ORDER_STATUS)

    async def iter_orders(self) -> AsyncIterator[list[Order]]:
        raise self._unsupported(Capability.LIST_ORDERS)
        yield []  # pragma: no cover

    async def walk_orders(self, key: str | None) -> AsyncIterator[tuple[list[Order | Esim], str | None]]:
        """The orders pass from ``key`` (None: its start), page by page: the orders each page completes (and the
        ``Esim``s of an order a share holds only in part) with the key the next share starts at (None after the
        last page). Only where ``resumable_orders``."""
        raise self._unsupported(Capability.LIST_ORDERS)
        yield [], None  # pragma: no cover

    async def order_by_reference(self, reference: str, kind: str = "order") -> Order | None:
        """The order the vendor holds under our handle, after a lost answer (``ORDER_BY_REFERENCE``);
        None when the vendor says it has none. Raises ``Unsupported`` also when this account's API
        cannot settle it (Roamify's older API): the caller then tries ``find_orders``."""
        raise self._unsupported(Capability.ORDER_BY_REFERENCE)

    async def find_orders(self, package_id: str, quantity: int, sent_from: datetime, sent_to: datetime,
                          reference: str | None = None) -> list[Order]:
        """Orders of ``quantity`` × ``package_id`` the vendor booked while our request could have been in
        flight (``sent_from``..``sent_to``, this desk's clock): candidates, never proof (``FIND_ORDERS``)."""
        raise self._unsupported(Capability.FIND_ORDERS)

    async def topup(self, iccid: str, plan_id: str, reference: str, price: Decimal | None = None,
                    vendor_ref: str | None = None) -> Order:
        raise self._unsupported(Capability.TOPUP)

    # --- fleet ---------------------------------------------------------------------------------
    async def iter_esims(self) -> AsyncIterator[list[Esim]]:
        raise self._unsupported(Capability.LIST_ESIMS)
        yield []  # pragma: no cover

    async def walk_esims(self, key: str | None) -> AsyncIterator[tuple[list[Esim], str | None]]:
        """The fleet listing from ``key`` (None: its first page): each page with the key of the next (None
        after the last). Only where ``resumable_listing``."""
        raise self._unsupported(Capability.LIST_ESIMS)
        yield [], None  # pragma: no cover

    async def get_esim(self, iccid: str) -> Esim:
        raise self._unsupported(Capability.GET_ESIM)

    async def refresh_esim(self, iccid: str, listed: Esim | None = None) -> tuple[Esim, list[Event]]:
        """One eSIM asked about on its own by a sync (``refresh_requests`` requests): its state and usage now,
        and its events where the vendor gives them. ``listed``: the eSIM as this sync's listing gave it."""
        return await self.get_esim(iccid), []

    async def esim_events(self, iccid: str) -> list[Event]:
        raise self._unsupported(Capability.EVENTS)

    async def share_link(self, iccid: str) -> ShareLink:
        """The vendor's hosted install page for the customer (``SHARE_LINK``)."""
        raise self._unsupported(Capability.SHARE_LINK)

    async def iter_inventory(self) -> AsyncIterator[list[Esim]]:
        """The free stock only: eSIMs never handed out (``INVENTORY``), page by page."""
        raise self._unsupported(Capability.INVENTORY)
        yield []  # pragma: no cover

    async def free_stock(self) -> int:
        """How many eSIMs were never handed out (``INVENTORY``)."""
        count = 0
        async for page in self.iter_inventory():
            count += len(page)
        return count

    # --- exchange rates (issue 27) ---------------------------------------------------------------
    async def exchange_rates(self, sources: list[str], target: str) -> list[Quote]:
        """The vendor's latest rate of each of ``sources`` into ``target`` (``EXCHANGE_RATES``): one
        ``Quote(vendor, source, target, rate, as_of)`` each, "1 source = rate × target"; a currency the
        vendor refuses is left out (and said in the log)."""
        raise self._unsupported(Capability.EXCHANGE_RATES)

    async def rate_currencies(self) -> list[str]:
        """The currency codes the vendor quotes rates for (``EXCHANGE_RATES``)."""
        raise self._unsupported(Capability.EXCHANGE_RATES)

    # --- support actions (issue 21) --------------------------------------------------------------
    # The support actions the vendor's API offers; ``refusal`` says why any other one cannot be done.
    actions: ClassVar[frozenset[Action]] = frozenset()
    usage_batch: ClassVar[int] = 1  # eSIMs per usage request (Roumio: 10)

    @classmethod
    def refusal(cls, esim: Esim, action: Action) -> str | None:
        """Why ``action`` cannot be done on ``esim`` as it stands, in one sentence; None if it can.
        Decided from the eSIM's state alone (no network), so the window can grey a button with the reason."""
        if action not in cls.actions:
            return str(Unsupported(cls.name, OFFER_WORDS[action]))
        return None

    @classmethod
    def expected_after(cls, action: Action, esim: Esim) -> bool | None:
        """Whether ``esim`` (read after a lost answer) shows ``action`` done: True, False, or None (cannot tell)."""
        return None

    @classmethod
    def usage_gap(cls, esim: Esim) -> str | None:
        """Why the vendor reports no usage for ``esim`` as it stands, "<a few words>: <the vendor's rule>"
        (e.g. "not installed yet: Roamify reports usage once the eSIM is installed"); None when it should
        report some. From the eSIM's state alone (no network): the Fleet says it where usage is blank."""
        return None

    async def esim_action(self, esim: Esim, action: Action, message: str | None = None) -> None:
        """Send one support action; like an order it is sent exactly once and never retried here.
        A refusal raises VendorRejected; a lost answer raises VendorError (maybe_sent=True)."""
        raise self._unsupported(action.value)

    # --- refund requests (issue 30) ------------------------------------------------------------------
    async def request_refund(self, esim: Esim, reason: str, notes: str | None = None) -> RefundRequest:
        """Send one refund request for ``esim`` (``REFUNDS``), once, never retried: the vendor's support decides it
        later. A second one while one is open raises ``RefundAlreadyOpen`` carrying the open one; a lost answer
        ``VendorError(maybe_sent=True)``."""
        raise self._unsupported(Capability.REFUNDS)

    async def get_refund(self, refund_id: str) -> RefundRequest:
        """One refund request as the vendor shows it now (``REFUNDS``)."""
        raise self._unsupported(Capability.REFUNDS)

    async def list_refunds(self, iccid: str | None = None) -> list[RefundRequest]:
        """The refund requests of one eSIM, or all of them, newest first (``REFUNDS``)."""
        raise self._unsupported(Capability.REFUNDS)

    async def cancel_refund(self, refund_id: str) -> RefundRequest:
        """Withdraw an open refund request (``REFUNDS``); sent once, never retried."""
        raise self._unsupported(Capability.REFUNDS)

    async def usage(self, esims: list[Esim]) -> list[Usage]:
        """Fresh usage of these eSIMs, with the vendor's time for it where it gives one."""
        out: list[Usage] = []
        for esim in esims:
            fresh = await self.get_esim(esim.iccid)
            now = datetime.now(UTC)
            blank = fresh.data_used_mb is None and fresh.data_remaining_mb is None
            out.append(Usage(self.name, esim.iccid, now, fresh.data_used_mb, fresh.data_total_mb,
                             as_of=fresh.usage_as_of, data_remaining_mb=fresh.data_remaining_mb,
                             note=self.usage_gap(fresh) if blank else None))
        return out
