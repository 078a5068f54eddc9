"""Roamify adapter: catalog, orders with their eSIMs' profiles, fleet and usage, top-ups, balance, share links.

Roamify's current API takes our ``referenceId`` on orders and top-ups and finds an order by it
(roamify-more.md §4); it does not promise to refuse a reused one, so it is a look-up handle, not an
idempotency handle: a lost answer is settled with ``order_by_reference``. An account on the older
API (roamify.md: no referenceId) falls back to ``find_orders`` — package, quantity and time measured
on Roamify's own clock.

An order's answer has only an ``esimId`` per eSIM; the ICCID and LPA code come from generating the
profile (``POST /api/esim/apply``, §6). ``get_order`` does that: it asks for each eSIM by esimId and,
the first time it finds one without its profile, applies once for the whole order (by its
referenceId) with a ≥ 90 s timeout; a timeout or "eSIM is still pending processing" only means: ask
by esimId again (never order again). Applying is not a purchase, so a restarted desk applies once
more; we assume (undocumented) that Roamify answers a second apply with "still pending" or the
profile. The order is COMPLETED only when Roamify says so and every eSIM has ICCID and LPA code.
Catalog parsing is in ``roamify_catalog.py``, eSIM objects and usage in ``roamify_esims.py``. Refund
requests and SMS (issue 30; paths and shapes partly our assumption, written out there) in
``roamify_refunds.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from esimdesk.domain import (
    Action,
    InsufficientBalance,
    MalformedResponse,
    NotFound,
    Order,
    OrderLine,
    OrderStatus,
    Plan,
    PlanDetails,
    Unsupported,
    ValidationError,
    VendorConfig,
    VendorError,
    VendorRejected,
)
from esimdesk.domain.exchange import Quote
from esimdesk.domain.models import Balance, Esim, Usage
from esimdesk.domain.refunds import OPEN_REFUND, RefundAlreadyOpen, RefundRequest
from esimdesk.vendors import roamify_refunds
from esimdesk.vendors.base import Capability, ShareLink, VendorAdapter
from esimdesk.vendors.http import VendorHttp
from esimdesk.vendors.paging import pages_ahead
from esimdesk.vendors.roamify_catalog import (
    CountryMap,
    country_slugs,
    needs_travel_date,
    parse_packages,
    parse_topup_packages,
)
from esimdesk.vendors.roamify_catalog import plan_details as catalog_plan_details
from esimdesk.vendors.roamify_esims import (
    NO_USAGE,
    can_top_up,
    esim_id,
    parse_balance,
    parse_esim,
    parse_link,
    profile_ready,
    reports_usage,
)
from esimdesk.vendors.roamify_rates import CURRENCIES, RATES, parse_currencies, parse_rate

log = logging.getLogger("esimdesk.vendors.roamify")

VENDOR = "roamify"

# Roamify order status -> ours.
ORDER_STATUS: dict[str, OrderStatus] = {
    "PENDING": OrderStatus.ALLOCATING,  # accepted, eSIMs not ready yet
    "COMPLETED": OrderStatus.COMPLETED,
    "ARCHIVED": OrderStatus.COMPLETED,  # an old order put away; it had completed
    "CANCELLED": OrderStatus.FAILED,
    "REFUNDED": OrderStatus.FAILED,  # money back: nothing delivered to keep
    "REQUIRE_ACTION": OrderStatus.ALLOCATING,  # still open; someone must act in Roamify's portal
}
# Anything else is an order we cannot judge: reconciliation decides.
UNKNOWN_STATUS = OrderStatus.UNCERTAIN

# The document shows no paging on GET /api/esim/orders, only ``limit``: ask for plenty at once.
LIST_LIMIT = 1000
CLOCK_SLACK_S = 5  # Date and createdAt are whole seconds
# A request may reach Roamify this long after we sent it (timeouts, retries by proxies): the window its
# order list is searched in, and the wait before its "no such referenceId" counts (VendorAdapter.in_flight_seconds).
IN_FLIGHT_S = 180
PAGE_SIZE = 500  # packages per catalog page we ask for; Roamify documents no maximum (see iter_plans)
APPLY_TIMEOUT_S = 90.0  # profile generation "can take up to 90 s" (§6)
ESIM_LIMIT = 100_000  # GET /api/esims documents ``limit`` and no paging: ask for the whole fleet
FLEET_PAGE = 200  # eSIMs handed to the store at a time (their usage is asked for meanwhile)
PARALLEL = 8  # concurrent per-eSIM look-ups (usage, profiles)
PENDING = "pending processing"  # "eSIM is still pending processing": generation runs, ask again later

REGION_SLUGS = {
    "global": "global",
    "europe": "regional",
    "asia": "regional",
    "middle-east": "regional",
    "americas": "regional",
    "africa": "regional",
    "oceania": "regional",
    "north-america": "regional",
    "south-america": "regional",
    "latin-america": "regional",
    "caribbean": "regional",
    "balkans": "regional",
}
_PACKAGE_ID = re.compile(
    r"^esim-(?P<area>[a-z0-9-]+?)-(?P<days>\d+)days?-(?P<size>[a-z0-9]+)(?:-[a-z0-9]+)?$"
)
_PACKAGE_NAME = re.compile(
    r"^\s*(?:(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>GB|MB|TB)|(?P<unl>unlimited))\s*(?P<daily>/\s*day)?\s*-\s*"
    r"(?P<days>\d+)\s*days?\s*$",
    re.I,
)


def area_of(package_id: str) -> tuple[tuple[str, ...], str | None]:
    """Countries (ISO alpha-2) and region label from a package id's slug; ``((), None)`` if unknown."""
    m = _PACKAGE_ID.match(package_id or "")
    if not m:
        return (), None
    area = m["area"]
    if area in REGION_SLUGS:
        return (), REGION_SLUGS[area]
    code = country_slugs().get(area)
    return ((code,), None) if code else ((), None)


def parse_package_name(name: str) -> tuple[int | None, int, bool] | None:
    """ "1 GB - 7 Days" -> (1024, 7, False); "Unlimited - 7 Days" -> (None, 7, False); "1 GB/Day" daily."""
    m = _PACKAGE_NAME.match(name or "")
    if not m:
        return None
    days = int(m["days"])
    if m["unl"]:
        return None, days, False
    mb = Decimal(m["num"]) * {"MB": 1, "GB": 1024, "TB": 1024 * 1024}[m["unit"].upper()]
    return int(mb), days, bool(m["daily"])


def to_decimal(value: Any, what: str = "amount") -> Decimal:
    # Through str: a JSON float such as 4.99 must not become 4.9900000000000002131...
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MalformedResponse(VENDOR, "api/esim/order", f"{what} is not a number")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise MalformedResponse(VENDOR, "api/esim/order", f"{what} is not a number") from None
    if not d.is_finite():
        raise MalformedResponse(VENDOR, "api/esim/order", f"{what} is not a number")
    return d


def to_time(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResponse(VENDOR, "api/esim/order", "time is not epoch seconds")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedResponse(VENDOR, "api/esim/order", "time is out of range") from None


def check(payload: Any) -> None:
    """Roamify's envelope: ``{"status": "success", "data": ...}``; ``"error"`` carries a message."""
    if not isinstance(payload, dict):
        raise MalformedResponse(VENDOR, "api/esim", "answer is not a JSON object")
    status = payload.get("status")
    if status in ("error", "failed"):  # "failed": the refund pages' error body
        raise _rejection(str(payload.get("message") or "request refused"))
    if status != "success" or "data" not in payload:
        raise MalformedResponse(VENDOR, "api/esim", "answer has no success envelope")


def _rates_check(payload: Any) -> None:
    """The rates module's answers: Roamify's error envelope is refused; any other JSON is parsed later
    (its shape is undocumented, see roamify_rates.py)."""
    if isinstance(payload, dict) and payload.get("status") == "error":
        raise _rejection(str(payload.get("message") or "request refused"))


def _rejection(message: str, http_status: int | None = None) -> VendorRejected:
    low = message.lower()
    cls = VendorRejected
    if "insufficient" in low or "balance" in low:
        cls = InsufficientBalance
    elif "not found" in low:
        cls = NotFound
    return cls(VENDOR, "api/esim", message, http_status=http_status)


def parse_order(data: Any, reference: str | None = None, kind: str = "order") -> Order:
    if not isinstance(data, dict):
        raise MalformedResponse(VENDOR, "api/esim/order", "order is not an object")
    order_id = data.get("id")
    if not isinstance(order_id, str) or not order_id:
        raise MalformedResponse(VENDOR, "api/esim/order", "order has no id")
    items = data.get("items")
    if not isinstance(items, list):
        raise MalformedResponse(VENDOR, "api/esim/order", "order has no items")
    # One item per eSIM (each has its own esimId): group them back into lines by package.
    grouped: dict[str, list[Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("packageId"), str):
            raise MalformedResponse(VENDOR, "api/esim/order", "order item has no packageId")
        entry = grouped.setdefault(item["packageId"], [0, None, None])
        entry[0] += 1
        entry[1] = to_decimal(item["price"], "price") if item.get("price") is not None else None
        entry[2] = item.get("package") if isinstance(item.get("package"), str) else None
    lines = [OrderLine(pid, qty, price, name) for pid, (qty, price, name) in grouped.items()]
    status = data.get("status")
    # The current API echoes our referenceId (null or "" when none was sent); the older one has no such key.
    echoed = data.get("referenceId")
    if isinstance(echoed, str) and echoed:
        reference = echoed
    else:
        echoed = None
    currency = data.get("currency")
    return Order(
        vendor=VENDOR,
        order_id=order_id,
        reference=reference,
        status=ORDER_STATUS.get(status, UNKNOWN_STATUS) if isinstance(status, str) else UNKNOWN_STATUS,
        created_at=to_time(data.get("createdAt")),
        total=to_decimal(data["total"], "total") if data.get("total") is not None else None,
        currency=currency if isinstance(currency, str) else None,
        lines=lines,
        esims=(),  # Roamify gives no ICCID here; esimId stays in raw
        kind=kind,
        raw=data,
        handle=echoed,
    )


def _parsed_write(data: Any, reference: str, kind: str) -> Order:
    try:
        return parse_order(data, reference, kind)
    except MalformedResponse as err:
        # The vendor answered 200 to a write: it has acted even if we cannot read the answer.
        err.maybe_sent = True
        raise


def _awaiting_profiles(order: Order) -> Order:
    """Paid but its profiles not fetched: never COMPLETED without every eSIM's ICCID and LPA code."""
    if order.status is OrderStatus.COMPLETED and not order.esims:
        return replace(order, status=OrderStatus.ALLOCATING)
    return order


def parse_orders(data: Any) -> list[Order]:
    orders = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(orders, list):
        raise MalformedResponse(VENDOR, "api/esim/orders", "no orders array")
    return [parse_order(o) for o in orders]


def plans_from_orders(orders: Iterable[Order | dict[str, Any]]) -> list[Plan]:
    """Plans for the Roamify packages seen in past orders (the only catalog Roamify gives us).

    The newest order's price wins; items whose package name cannot be read are skipped.
    """
    seen: dict[str, tuple[float, Plan]] = {}
    for order in orders:
        raw = order.raw if isinstance(order, Order) else order
        if not isinstance(raw, dict) or not isinstance(raw.get("items"), list):
            continue
        for item in raw["items"]:
            try:
                plan, when = _plan_from_item(item, raw)
            except (MalformedResponse, KeyError, TypeError, ValueError):
                continue
            if plan is not None and (plan.plan_id not in seen or when >= seen[plan.plan_id][0]):
                seen[plan.plan_id] = (when, plan)
    return sorted((p for _, p in seen.values()), key=lambda p: p.plan_id)


def _plan_from_item(item: Any, order: dict[str, Any]) -> tuple[Plan | None, float]:
    if not isinstance(item, dict) or not isinstance(item.get("packageId"), str):
        return None, 0
    parsed = parse_package_name(item.get("package") or "")
    if parsed is None:
        return None, 0
    data_mb, days, daily = parsed
    countries, region = area_of(item["packageId"])
    currency = item.get("currency") or order.get("currency")
    when = item.get("createdAt") or order.get("createdAt") or 0
    plan = Plan(
        vendor=VENDOR,
        plan_id=item["packageId"],
        name=item["package"],
        countries=countries,
        data_mb=data_mb,
        validity_days=days,
        price=to_decimal(item["price"], "price"),
        currency=currency if isinstance(currency, str) else "USD",
        daily=daily,
        topup=None,
        region=region,
        raw=item,
    )
    return plan, float(when) if isinstance(when, int | float) else 0.0


class RoamifyAdapter(VendorAdapter):
    name = VENDOR
    default_url = "https://api.getroamify.com"
    capabilities = frozenset({
        Capability.PLANS, Capability.TOPUP_PLANS, Capability.BALANCE, Capability.ORDER, Capability.ORDER_STATUS,
        Capability.LIST_ORDERS, Capability.LIST_ESIMS, Capability.GET_ESIM, Capability.TOPUP,
        Capability.START_DATE, Capability.SHARE_LINK,  # travelDate (asked live), the hosted install page
        # A lost answer: looked up by referenceId; on the older API (no referenceId) guessed by package and time.
        Capability.ORDER_BY_REFERENCE, Capability.FIND_ORDERS,
        Capability.EXCHANGE_RATES,  # /api/rates, /api/currencies (roamify-support.md §4)
        Capability.REFUNDS,  # refund requests Roamify support decides (roamify_refunds.py)
    })
    # SMS to an installed eSIM; refund requests and their withdrawal, journaled like support actions.
    actions = roamify_refunds.ACTIONS
    max_quantity_per_line = None
    idempotent_orders = False  # referenceId finds an order but does not stop a second one
    in_flight_seconds = float(IN_FLIGHT_S)
    # 28,000+ packages that rarely change: a sync that finds the catalog as it was writes nothing.
    incremental_plans = True
    # Generating profiles takes up to 90 s (§6): the orders engine waits at least this long for them.
    allocation_seconds = 120.0
    # /api/esims carries no usage: one /api/esim/usage a installed eSIM, read by a sync within its budget for
    # the eSIMs most needed (usage() below), not for the whole fleet each time (273 s at 100,000 eSIMs).
    listing_has_usage = False
    # The older API had no plan list: plans implied by past orders (kept for accounts on it).
    plans_from_orders = staticmethod(plans_from_orders)

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None,
                 page_size: int = PAGE_SIZE, apply_timeout: float = APPLY_TIMEOUT_S):
        super().__init__(config, timeout=timeout, transport=transport)
        self._reference_ids: bool | None = None
        self.page_size = page_size
        self.apply_timeout = max(apply_timeout, 0.01)
        self._applied: set[str] = set()  # orders this adapter has asked Roamify to generate profiles for
        self._start_dates: dict[str, date] = {}  # order id -> travel start date, for its apply
        self.http = VendorHttp(
            VENDOR,
            config.base_url or self.default_url,
            headers={
                "Authorization": f"Bearer {config.secrets.get('TOKEN', '')}",
                "Accept": "application/json",
            },
            timeout=timeout,
            secrets=config.secret_values(),
            transport=transport,
        )


    @classmethod
    def plan_details(cls, raw: dict[str, Any] | None) -> PlanDetails:
        return catalog_plan_details(raw)

    async def _call(self, method: str, path: str, *, idempotent: bool, **kw) -> Any:
        try:
            payload = await self.http.request(method, path, idempotent=idempotent, check=check, **kw)
        except VendorRejected as err:
            if type(err) is VendorRejected and err.http_status is not None:
                # HTTP 4xx with Roamify's error envelope: give it the type its message says.
                typed = _rejection(err.message, err.http_status)
                typed.payload = err.payload  # e.g. a 409's refundId
                raise typed from None
            raise
        return payload["data"]

    async def place_order(
        self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None,
        start_date: date | None = None,
    ) -> Order:
        # referenceId: the desk's handle, to find the order by after a lost answer (an older API ignores it).
        body = {"items": [{"packageId": plan_id, "quantity": quantity}], "referenceId": reference}
        data = await self._call("POST", "api/esim/order", idempotent=False, json_body=body)
        order = _parsed_write(data, reference, "order")
        if start_date is not None and order.order_id:
            self._start_dates[order.order_id] = start_date
        return _awaiting_profiles(order)

    # --- catalog ---------------------------------------------------------------------------------
    async def _country_map(self) -> CountryMap:
        data = await self._call("GET", "api/esim/countries", idempotent=True)
        listed = data.get("countries") if isinstance(data, dict) else None
        if not isinstance(listed, list):
            raise MalformedResponse(VENDOR, "api/esim/countries", "no countries array")
        return CountryMap(listed)

    async def iter_plans(self) -> AsyncIterator[list[Plan]]:
        """Page by page (``page``, ``pageSize``) until a short page, Roamify's own rule (§3).

        Whether ``pageSize`` counts groups or packages is undocumented, so a page is short only when
        both its packages and its groups are fewer than asked. No maximum page size is documented: a
        short first page may be a silent cap, so page 2 is asked for once and, if it brings more, the
        first page's counts are the page size from then on. A page with nothing new ends the listing.
        """
        countries = await self._country_map()
        size = max(1, self.page_size)
        full = (size, size)  # (packages, groups) of a page that is not the last
        seen: set[str] = set()

        async def fetch(number: int) -> Any:
            return await self._call("GET", "api/esim/packages", idempotent=True, params={"page": number, "pageSize": size})

        # Roamify says no page count: the next pages are asked for while one is parsed, and the few asked past
        # the end (PAGES_AHEAD - 1 at most) are dropped when a short page ends the listing.
        async with contextlib.aclosing(pages_ahead(fetch)) as answers:
            page = 0
            async for data in answers:
                page += 1
                plans = parse_packages(data, countries)
                groups = len(data["packages"])
                new = [p for p in plans if p.plan_id not in seen]
                if not new:
                    return
                seen.update(p.plan_id for p in new)
                yield new
                short = len(plans) < full[0] and groups < full[1]
                if short and page == 1:
                    full = (len(plans), groups)  # page 2 tells whether that was the end or a cap
                elif short:
                    return

    async def needs_start_date(self, plan_id: str) -> bool:
        """Whether the package needs the customer's travel start date (``requirements.travelDate``),
        asked live before an order; a package Roamify no longer lists is refused in words."""
        data = await self._call("GET", "api/esim/packages", idempotent=True, params={"packageId": plan_id})
        groups = data.get("packages") if isinstance(data, dict) else None
        for group in groups if isinstance(groups, list) else ():
            for pkg in group.get("packages") or () if isinstance(group, dict) else ():
                if isinstance(pkg, dict) and pkg.get("packageId") == plan_id:
                    return needs_travel_date(pkg, group)
        raise ValidationError(f"Roamify no longer lists package '{plan_id}'; run a sync and pick another; "
                              "nothing was ordered")

    async def list_topup_plans(self, iccid: str) -> list[Plan]:
        """Only what Roamify offers for this eSIM (§10); an eSIM with ``withTopUp: false`` is refused in words."""
        esim = await self._call("GET", "api/esim", idempotent=True, params={"iccid": iccid})
        if not can_top_up(esim):
            raise ValidationError(f"Roamify says eSIM {iccid} cannot be topped up (withTopUp: false); "
                                  "nothing was ordered")
        data = await self._call("GET", "api/esim/topup/packages", idempotent=True, params={"iccid": iccid})
        out = []
        for plan in parse_topup_packages(data):  # the listing names no country: read it from the package id
            countries, region = area_of(plan.plan_id)
            out.append(replace(plan, countries=countries, region=region))
        return out

    async def get_balance(self) -> Balance:
        return parse_balance(await self._call("GET", "api/balance", idempotent=True))

    # --- eSIMs -----------------------------------------------------------------------------------
    @classmethod
    def usage_gap(cls, esim: Esim) -> str | None:
        # Usage is asked for (and reported) only while an eSIM is INSTALLED, and never for a package whose
        # eSIM says withUsageCheck: false (NO_USAGE in its vendor status).
        state = esim.vendor_status.split(" ")[0].upper()
        if NO_USAGE in esim.vendor_status:
            return "not reported: Roamify reports no usage for this eSIM's package"
        if state in ("NEW", "READY"):
            return "not installed yet: Roamify reports usage once the eSIM is installed"
        if state != "INSTALLED":
            return f"not reported: Roamify reports usage only while an eSIM is installed (this one is {state})"
        return None

    async def _usage(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Usage of an installed eSIM whose package reports it; None otherwise or when Roamify refuses."""
        if obj.get("status") != "INSTALLED" or not reports_usage(obj):
            return None
        try:
            data = await self._call("GET", "api/esim/usage", idempotent=True, params={"iccid": obj["iccid"]})
        except VendorRejected as exc:
            log.info("roamify usage of %s: %s", obj.get("iccid"), exc)
            return None
        return data if isinstance(data, dict) else None

    async def iter_esims(self) -> AsyncIterator[list[Esim]]:
        """``GET /api/esims`` (no paging documented: one call with a large ``limit``), handed on in pages,
        without usage (``listing_has_usage``: a sync reads it with ``usage()``). eSIMs whose profile is not
        generated yet have no ICCID: left out."""
        data = await self._call("GET", "api/esims", idempotent=True, params={"limit": ESIM_LIMIT})
        if not isinstance(data, list):
            raise MalformedResponse(VENDOR, "api/esims", "no eSIM array")
        # No paging is documented: an answer that fills the limit may have left eSIMs out. Said, and the sync
        # then marks none stale (those left out are not gone).
        self.listing_complete = len(data) < ESIM_LIMIT
        if not self.listing_complete:
            log.warning("roamify listed %d eSIMs, its limit: the fleet may be larger than shown", len(data))
        ready = [o for o in data if isinstance(o, dict) and isinstance(o.get("iccid"), str) and o["iccid"]]
        for i in range(0, len(ready), FLEET_PAGE):
            yield [parse_esim(obj) for obj in ready[i:i + FLEET_PAGE]]

    async def refresh_esim(self, iccid: str, listed: Esim | None = None) -> tuple[Esim, list]:
        """The listed eSIM with its usage: one ``/api/esim/usage`` (none when it is not installed or its
        package reports none); without a listed one, the eSIM itself too."""
        obj = listed.raw if listed is not None and isinstance(listed.raw, dict) and listed.raw.get("iccid") == iccid \
            else None
        if obj is None:
            return await self.get_esim(iccid), []
        return parse_esim(obj, usage=await self._usage(obj)), []

    async def usage(self, esims: list[Esim]) -> list[Usage]:
        """One ``/api/esim/usage`` per installed eSIM whose package reports usage (its listed object, kept
        as ``raw``, says which); the others get a reading without figures and the reason."""
        gate = asyncio.Semaphore(PARALLEL)
        now = datetime.now(UTC)

        async def one(esim: Esim) -> Usage:
            async with gate:
                fresh, _ = await self.refresh_esim(esim.iccid, esim)
            blank = fresh.data_used_mb is None and fresh.data_remaining_mb is None
            return Usage(VENDOR, esim.iccid, now, fresh.data_used_mb, fresh.data_total_mb, as_of=fresh.usage_as_of,
                         data_remaining_mb=fresh.data_remaining_mb, note=self.usage_gap(fresh) if blank else None)

        return list(await asyncio.gather(*(one(e) for e in esims)))

    async def get_esim(self, iccid: str) -> Esim:
        obj = await self._call("GET", "api/esim", idempotent=True, params={"iccid": iccid})
        if not isinstance(obj, dict):
            raise MalformedResponse(VENDOR, "api/esim", "eSIM is not an object")
        return parse_esim(obj, usage=await self._usage(obj))

    # --- support actions and refund requests (issue 30; roamify_refunds.py) -----------------------------
    @classmethod
    def refusal(cls, esim: Esim, action: Action) -> str | None:
        return super().refusal(esim, action) or roamify_refunds.refusal(esim, action)

    async def esim_action(self, esim: Esim, action: Action, message: str | None = None) -> None:
        """An SMS (``POST /api/esim/sms``); its answer carries nothing we need. Refund requests have methods
        of their own (they answer a request to keep)."""
        if action is not Action.SMS:
            raise self._unsupported(action.value)
        await self._call("POST", roamify_refunds.SMS, idempotent=False,
                         json_body={"iccid": esim.iccid, "message": message or ""})

    async def request_refund(self, esim: Esim, reason: str, notes: str | None = None) -> RefundRequest:
        body: dict[str, Any] = {"iccid": esim.iccid, "reason": reason}
        if esim.vendor_ref:
            body["esimId"] = esim.vendor_ref
        if notes:
            body["notes"] = notes
        try:
            data = await self._call("POST", roamify_refunds.CREATE, idempotent=False, json_body=body)
        except VendorRejected as err:
            if err.http_status == 409:
                raise await self._already_open(esim, err) from None
            raise
        try:
            return roamify_refunds.parse_refund(data, roamify_refunds.CREATE, esim.iccid)
        except MalformedResponse as err:
            err.maybe_sent = True  # answered 200: the request was taken even if its answer cannot be read
            raise

    async def _already_open(self, esim: Esim, err: VendorRejected) -> RefundAlreadyOpen:
        """Roamify's 409: the open request it names (``refundId``), read so the agent sees it; else the eSIM's
        open one from its list."""
        refund: RefundRequest | None = None
        wanted = roamify_refunds.open_refund_id(err.payload)
        try:
            if wanted:
                refund = await self.get_refund(wanted)
            else:
                refund = next((r for r in await self.list_refunds(esim.iccid) if r.status in OPEN_REFUND), None)
        except VendorError as exc:  # the refusal stands; only its detail is missing
            log.info("roamify open refund of %s: %s", esim.iccid, exc)
        return RefundAlreadyOpen(VENDOR, roamify_refunds.CREATE, err.message, refund, http_status=err.http_status)

    async def get_refund(self, refund_id: str) -> RefundRequest:
        data = await self._call("GET", roamify_refunds.ONE, idempotent=True, params={"refundId": refund_id})
        return roamify_refunds.parse_refund(data, roamify_refunds.ONE)

    async def list_refunds(self, iccid: str | None = None) -> list[RefundRequest]:
        data = await self._call("GET", roamify_refunds.LIST, idempotent=True,
                                params={"iccid": iccid} if iccid else None)
        return roamify_refunds.parse_refunds(data, iccid)

    async def cancel_refund(self, refund_id: str) -> RefundRequest:
        data = await self._call("POST", roamify_refunds.CANCEL, idempotent=False, json_body={"refundId": refund_id})
        try:
            return roamify_refunds.parse_refund(data, roamify_refunds.CANCEL)
        except MalformedResponse as err:
            err.maybe_sent = True
            raise

    async def share_link(self, iccid: str) -> ShareLink:
        """Roamify's hosted install page for the customer, with its access code (§13)."""
        data = await self._call("POST", "api/esim/link", idempotent=False, json_body={"iccid": iccid})
        return parse_link(data)

    # --- exchange rates (roamify-support.md §4; shapes undocumented: roamify_rates.py) ---------------
    async def _rates_call(self, path: str, params: dict[str, str] | None = None) -> Any:
        """A read of the rates module, whose answer may come with or without Roamify's envelope."""
        try:
            return await self.http.request("GET", path, idempotent=True, check=_rates_check, params=params)
        except VendorRejected as err:
            if type(err) is VendorRejected and err.http_status is not None:
                raise _rejection(err.message, err.http_status) from None
            raise

    async def exchange_rates(self, sources: list[str], target: str) -> list[Quote]:
        """One ``GET /api/rates?source=S&target=T`` per source currency (the latest rate: no ``datetime``).
        A currency Roamify refuses is left out; when it refuses every one, the first refusal is raised."""
        target = target.strip().upper()
        today = datetime.now(UTC).date()
        out: list[Quote] = []
        refused: list[VendorRejected] = []
        for source in sorted({s.strip().upper() for s in sources} - {target}):
            try:
                payload = await self._rates_call(RATES, {"source": source, "target": target})
            except VendorRejected as err:
                log.info("roamify has no rate %s->%s: %s", source, target, err)
                refused.append(err)
                continue
            out.append(parse_rate(payload, source, target, today))
        if refused and not out:
            raise refused[0]
        return out

    async def rate_currencies(self) -> list[str]:
        return parse_currencies(await self._rates_call(CURRENCIES))

    # --- profiles of an order's eSIMs --------------------------------------------------------------
    async def _profiles(self, ids: list[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """The eSIM objects, by esimId, of those whose profile is generated (§7, the recovery path), and
        the esimIds Roamify knows no eSIM by."""
        gate = asyncio.Semaphore(PARALLEL)
        unknown: set[str] = set()

        async def one(eid: str) -> dict[str, Any] | None:
            async with gate:
                try:
                    obj = await self._call("GET", "api/esim", idempotent=True, params={"esimId": eid})
                except NotFound:
                    unknown.add(eid)
                    return None
            return obj if profile_ready(obj) else None

        found = await asyncio.gather(*(one(e) for e in ids))
        return {eid: obj for eid, obj in zip(ids, found, strict=True) if obj is not None}, unknown

    async def _apply(self, order: Order, missing: list[str]) -> dict[str, dict[str, Any]]:
        """Ask Roamify to generate the profiles: once for the whole order by its referenceId, else per eSIM.

        A timeout or "still pending processing" is no failure: the profiles are asked for by esimId
        later. Any other refusal (e.g. a travel date it needs) is raised after the others were tried."""
        ref = (order.raw or {}).get("referenceId")
        bodies = ([{"esimId": missing[0], "referenceId": ref}] if isinstance(ref, str) and ref
                  else [{"esimId": m} for m in missing])
        start = self._start_dates.get(order.order_id or "")
        out: dict[str, dict[str, Any]] = {}
        refused: VendorRejected | None = None
        for body in bodies:
            if start is not None:
                body["startDate"] = start.isoformat()
            try:
                data = await self._call("POST", "api/esim/apply", idempotent=False, json_body=body,
                                        timeout=self.apply_timeout)
            except VendorRejected as exc:
                if PENDING not in exc.message.lower():
                    refused = exc
                continue
            except VendorError as exc:  # a timeout, a dropped answer, a 5xx: generation may well be running
                log.info("roamify apply for order %s: %s; asking by esimId", order.order_id, exc)
                continue
            for obj in data if isinstance(data, list) else [data]:
                if profile_ready(obj):
                    out[esim_id(obj) or ""] = obj
        if refused is not None and not out:
            raise refused
        return out

    async def _with_profiles(self, order: Order) -> Order:
        items = [(i["esimId"], i.get("packageId")) for i in (order.raw or {}).get("items") or ()
                 if isinstance(i, dict) and isinstance(i.get("esimId"), str) and i["esimId"]]
        if not items:
            return _awaiting_profiles(order)
        ready, unknown = await self._profiles([eid for eid, _ in items])
        if len(unknown) == len(items):
            # No eSIM Roamify knows yet (just ordered), or a top-up's item (it adds to an eSIM, makes none):
            # nothing to generate now, and never COMPLETED without profiles (the engine ends top-ups itself).
            return _awaiting_profiles(order)
        missing = [eid for eid, _ in items if eid not in ready]
        if missing and order.order_id not in self._applied:
            self._applied.add(order.order_id or "")
            ready.update(await self._apply(order, missing))
        esims = tuple(parse_esim(ready[eid], order_id=order.order_id, plan_id=pid)
                      for eid, pid in items if eid in ready)
        done = len(esims) == len(items)
        status = order.status
        if status is OrderStatus.COMPLETED and not done:
            status = OrderStatus.ALLOCATING
        return replace(order, status=status, esims=esims)

    async def order_by_reference(self, reference: str, kind: str = "order") -> Order | None:
        """The order Roamify holds under our ``referenceId``; ``None`` when Roamify says it has none.

        Raises ``Unsupported`` when the answer cannot settle it: an account on the older API, which
        neither stores nor looks up referenceId (it asks for an orderId, or answers an order without
        our reference).
        """
        try:
            data = await self._call("GET", "api/esim/order", idempotent=True, params={"referenceId": reference})
        except NotFound:
            # "Not found" means "not placed" only from an API that knows referenceId.
            if await self._knows_reference_ids():
                return None
            raise Unsupported(VENDOR, "order look-ups by reference") from None
        except VendorRejected as err:
            if err.http_status == 400:  # the older API: "orderId is required"
                raise Unsupported(VENDOR, "order look-ups by reference") from None
            raise
        if not isinstance(data, dict) or data.get("referenceId") != reference:
            raise Unsupported(VENDOR, "order look-ups by reference")
        order = parse_order(data, reference, kind)
        return _awaiting_profiles(order) if kind == "order" else order

    async def _knows_reference_ids(self) -> bool:
        """Whether this account's API stores referenceId: its order listing carries the key."""
        if self._reference_ids is None:
            data = await self._call("GET", "api/esim/orders", idempotent=True, params={"limit": 5})
            orders = data.get("orders") if isinstance(data, dict) else None
            if not isinstance(orders, list):
                raise MalformedResponse(VENDOR, "api/esim/orders", "no orders array")
            if not orders:
                return True  # no order at all: nothing can have been placed, whatever the API knows
            self._reference_ids = any(isinstance(o, dict) and "referenceId" in o for o in orders)
        return self._reference_ids

    @property
    def clock_offset(self) -> float | None:
        """Seconds Roamify's clock is ahead of this desk's, from its last answer's Date header."""
        return self.http.clock_offset

    async def get_order(self, order_id: str | None, reference: str | None = None) -> Order:
        """The order with its eSIMs; COMPLETED only once every eSIM has ICCID and LPA code (see the module)."""
        if not order_id:
            raise NotFound(VENDOR, "api/esim/order", "Roamify looks orders up by its own id only")
        data = await self._call("GET", "api/esim/order", idempotent=True, params={"orderId": order_id})
        order = parse_order(data, reference)
        if order.status in (OrderStatus.FAILED, OrderStatus.UNCERTAIN):
            return order
        return await self._with_profiles(order)

    async def list_orders(self, status: str | None = None, limit: int = LIST_LIMIT) -> list[Order]:
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        data = await self._call("GET", "api/esim/orders", idempotent=True, params=params)
        return parse_orders(data)

    async def iter_orders(self) -> AsyncIterator[list[Order]]:
        # One page: the document shows no paging, so a large limit is the best we can do.
        yield await self.list_orders()

    async def find_orders(
        self, package_id: str, quantity: int, sent_from: datetime, sent_to: datetime,
        reference: str | None = None,
    ) -> list[Order]:
        """Orders of ``quantity`` × ``package_id`` that Roamify created while our request could have been
        in flight: ``sent_from``..``sent_to`` (this desk's clock) moved onto Roamify's clock with the
        offset its ``Date`` header gives, so a desk clock minutes off finds the right orders."""
        orders = await self.list_orders()  # its answer's Date header measures the offset
        offset = timedelta(seconds=self.http.clock_offset or 0.0)
        # createdAt and Date are whole seconds: a little slack before; after, the longest a request
        # can take to reach Roamify and be booked (our timeout) plus slack.
        lo = sent_from + offset - timedelta(seconds=CLOCK_SLACK_S)
        hi = sent_to + offset + timedelta(seconds=IN_FLIGHT_S)
        out = []
        for order in orders:
            if not lo <= order.created_at <= hi:
                continue
            theirs = (order.raw or {}).get("referenceId")
            if theirs and theirs != reference:
                continue  # carries another reference: another desk's or another entry's order
            if (
                len(order.lines) == 1
                and order.lines[0].plan_id == package_id
                and order.lines[0].quantity == quantity
            ):
                out.append(_awaiting_profiles(order))  # adopted, it is polled for its profiles
        return out

    async def topup(
        self,
        iccid: str,
        plan_id: str,
        reference: str,
        price: Decimal | None = None,
        vendor_ref: str | None = None,
    ) -> Order:
        body = {"iccid": iccid, "packageId": plan_id, "referenceId": reference}
        data = await self._call("POST", "api/esim/order/topup", idempotent=False, json_body=body)
        return _parsed_write(data, reference, "topup")
