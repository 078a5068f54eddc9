"""Roamify adapter: orders, top-ups and order look-ups.

Roamify's current API takes our ``referenceId`` on orders and top-ups and finds an order by it
(roamify-more.md §4); it does not promise to refuse a reused one, so it is a look-up handle, not an
idempotency handle: a lost answer is settled with ``order_by_reference``. An account on the older
API (roamify.md: no referenceId) falls back to ``find_orders`` — package, quantity and time measured
on Roamify's own clock. Roamify has no plan list in the older document: the catalog is derived from
past orders (``plans_from_orders``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry

from esimdesk.domain import (
    InsufficientBalance,
    MalformedResponse,
    NotFound,
    Order,
    OrderLine,
    OrderStatus,
    Plan,
    Unsupported,
    VendorConfig,
    VendorRejected,
)
from esimdesk.vendors.base import Capability, VendorAdapter
from esimdesk.vendors.http import VendorHttp

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
IN_FLIGHT_S = 90  # a request may reach Roamify this long after we sent it (timeouts, retries by proxies)

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
_ALIASES = {"usa": "US", "uk": "GB", "turkey": "TR", "vietnam": "VN", "south-korea": "KR", "russia": "RU"}


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@lru_cache(maxsize=1)
def _country_slugs() -> dict[str, str]:
    table: dict[str, str] = {}
    for c in pycountry.countries:
        for attr in ("official_name", "name", "common_name"):  # later ones win: the everyday name
            value = getattr(c, attr, None)
            if value:
                table[_slug(value)] = c.alpha_2
    table.update(_ALIASES)
    return table


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
    code = _country_slugs().get(area)
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
    if status == "error":
        raise _rejection(str(payload.get("message") or "request refused"))
    if status != "success" or "data" not in payload:
        raise MalformedResponse(VENDOR, "api/esim", "answer has no success envelope")


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
    )


def _parsed_write(data: Any, reference: str, kind: str) -> Order:
    try:
        return parse_order(data, reference, kind)
    except MalformedResponse as err:
        # The vendor answered 200 to a write: it has acted even if we cannot read the answer.
        err.maybe_sent = True
        raise


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
    capabilities = frozenset(
        {Capability.ORDER, Capability.ORDER_STATUS, Capability.LIST_ORDERS, Capability.TOPUP}
    )
    max_quantity_per_line = None
    idempotent_orders = False  # referenceId finds an order but does not stop a second one
    # No plan list (NOTES): the catalog is the packages seen in past orders.
    plans_from_orders = staticmethod(plans_from_orders)

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        super().__init__(config, timeout=timeout, transport=transport)
        self._reference_ids: bool | None = None
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

    async def _call(self, method: str, path: str, *, idempotent: bool, **kw) -> Any:
        try:
            payload = await self.http.request(method, path, idempotent=idempotent, check=check, **kw)
        except VendorRejected as err:
            if type(err) is VendorRejected and err.http_status is not None:
                # HTTP 4xx with Roamify's error envelope: give it the type its message says.
                raise _rejection(err.message, err.http_status) from None
            raise
        return payload["data"]

    async def place_order(
        self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None
    ) -> Order:
        # referenceId: the desk's handle, to find the order by after a lost answer (an older API ignores it).
        body = {"items": [{"packageId": plan_id, "quantity": quantity}], "referenceId": reference}
        data = await self._call("POST", "api/esim/order", idempotent=False, json_body=body)
        return _parsed_write(data, reference, "order")

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
            raise Unsupported(VENDOR, "look an order up by referenceId") from None
        except VendorRejected as err:
            if err.http_status == 400:  # the older API: "orderId is required"
                raise Unsupported(VENDOR, "look an order up by referenceId") from None
            raise
        if not isinstance(data, dict) or data.get("referenceId") != reference:
            raise Unsupported(VENDOR, "look an order up by referenceId")
        return parse_order(data, reference, kind)

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
        if not order_id:
            raise NotFound(VENDOR, "api/esim/order", "Roamify looks orders up by its own id only")
        data = await self._call("GET", "api/esim/order", idempotent=True, params={"orderId": order_id})
        return parse_order(data, reference)

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
                out.append(order)
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
