"""Roumio adapter: POST + JSON to every endpoint, ``Authorization: <key>``, errors in an HTTP 200 envelope.

Units: money is integer ×100 USD (1570 -> 15.70, the balance too); volumes are MB except
``esimList[].packageList[].volume``, which the vendor sends in bytes. Roumio has no order list: orders are
derived from ``esim/query`` grouped by ``orderNo``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from esimdesk.domain import (
    Action,
    Balance,
    Esim,
    MalformedResponse,
    NotFound,
    Order,
    OrderLine,
    OrderStatus,
    Plan,
    PlanDetails,
    Usage,
    ValidationError,
    VendorConfig,
    VendorError,
)
from esimdesk.vendors import DEFAULT_URLS, roumio_actions
from esimdesk.vendors.base import Capability, VendorAdapter
from esimdesk.vendors.http import VendorHttp
from esimdesk.vendors.paging import pages_ahead
from esimdesk.vendors.roumio_errors import AllocationPending, error_for, is_success_code
from esimdesk.vendors.roumio_status import esim_status

VENDOR = "roumio"
CURRENCY = "USD"  # the document: prices "value * 100" in USD; the balance carries no currency of its own
PAGE_SIZE = 500  # the largest page esim/query allows ([5, 500])
PLAN_CHUNK = 500  # package/list has no paging: one answer, handed out in chunks for progress
MB = 1024 * 1024
# A package/list volume this large cannot be MB (16 TB): the vendor sent bytes, as it does in esimList.
_BYTES_THRESHOLD = 1 << 24


# --- parsing helpers: anything unexpected becomes MalformedResponse ----------------------------------
@contextlib.contextmanager
def parsing(endpoint: str, *, write: bool = False) -> Iterator[None]:
    """Turn any shape surprise while reading an answer into a typed error (never a bare KeyError)."""
    try:
        yield
    except VendorError:
        raise
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        ArithmeticError,
        RecursionError,
    ) as exc:
        raise MalformedResponse(
            VENDOR, endpoint, f"unexpected answer shape ({type(exc).__name__})", maybe_sent=write
        ) from None


def money(value: Any) -> Decimal:
    """Roumio money: integer ×100, as a number or a numeric string (1570 or "1570" -> 15.70)."""
    if isinstance(value, bool) or value is None:
        raise TypeError("money")
    dec = Decimal(str(value).strip())
    if not dec.is_finite():
        raise ValueError("money")
    return (dec / 100).quantize(Decimal("0.01"))


def to_int(value: Any, *, default: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise TypeError("int")
    if isinstance(value, int):
        return value
    dec = Decimal(str(value).strip())
    if not dec.is_finite():
        raise ValueError("int")
    return int(dec)


def parse_time(value: Any) -> datetime | None:
    """``2024-05-29T18:34:17+0000``, ``...Z`` and ``2010-06-30T01:20+00:00`` all occur; no zone = UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError("time")
    dt = datetime.fromisoformat(value.strip())
    if dt.tzinfo is None or dt.utcoffset() is None:
        dt = dt.replace(tzinfo=UTC)  # the document calls its times "ISO UTC"
    return dt.astimezone(UTC)


def fmt_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def countries(location: Any) -> tuple[tuple[str, ...], str | None]:
    """``"CN,HK,…"`` -> alpha-2 codes and a region label: ``!RG``/``!GL`` markers or the number of countries."""
    if location is None:
        return (), None
    if not isinstance(location, str):
        raise TypeError("location")
    codes = [c.strip().upper() for c in location.split(",") if c.strip()]
    label = None
    if "!GL" in codes:
        label = "global"
    elif "!RG" in codes:
        label = "regional"
    codes = [c for c in codes if len(c) == 2 and c.isalpha()]
    if label is None and len(codes) > 1:
        label = (
            "global" if len(codes) >= 50 else "regional"
        )  # no field says which: wide coverage reads as global
    return tuple(dict.fromkeys(codes)), label


def topup_support(value: Any) -> bool | None:
    """The document types ``supportTopUpType`` Boolean but describes 1 = no, 2 = yes: accept both."""
    if isinstance(value, bool):
        return value
    if value in (1, "1"):
        return False
    if value in (2, "2"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def validity_days(duration: Any, unit: Any) -> int:
    n = to_int(duration, default=0) or 0
    u = str(unit or "DAY").strip().upper()
    if u.startswith("MONTH"):
        return n * 30
    if u.startswith("YEAR"):
        return n * 365
    if u.startswith("HOUR"):
        return max(1, -(-n // 24)) if n else 0
    return n


def plan_from(pkg: Any, endpoint: str = "package/list", *, topup: bool = False) -> Plan:
    with parsing(endpoint):
        code = pkg.get("packageCode") or pkg.get("slug")
        if not isinstance(code, str) or not code:
            raise ValueError("packageCode")
        volume = to_int(pkg.get("volume"))
        if volume is not None and volume >= _BYTES_THRESHOLD:
            volume //= MB
        if volume is not None and volume < 0:
            volume = None  # a negative volume can only mean "no cap"
        ccs, label = countries(pkg.get("location"))
        data_type = to_int(pkg.get("dataType"), default=1)
        return Plan(
            vendor=VENDOR,
            plan_id=code,
            name=str(pkg.get("name") or code),
            countries=ccs,
            data_mb=volume,
            validity_days=validity_days(pkg.get("duration"), pkg.get("durationUnit")),
            price=money(pkg.get("price")),
            currency=str(pkg.get("currencyCode") or CURRENCY),
            daily=data_type == 2,  # "reset daily unlimited FUP": volume is the daily full-speed allowance
            topup=True if topup else topup_support(pkg.get("supportTopUpType")),
            region=label,
            raw=pkg,
        )


_ROUMIO_ACTIVATION = {1: "on first installation", 2: "on first network connection"}


def _page_number(key: str) -> int:
    """A share's saved start page; one not ours to trust (hand-edited, another version's) starts at page 1, which
    is always safe: the cycle then lists more, never less."""
    return int(key) if key.isdigit() and 1 <= int(key) <= 10_000 else 1


def _int_or_none(value: Any) -> int | None:
    try:
        return to_int(value)
    except (TypeError, ValueError, ArithmeticError):
        return None


def plan_details(raw: Any) -> PlanDetails:
    """``package/list`` fields beyond the plan's row (document: speed, operatorList, activeType,
    unusedValidTime, ipExport, supportTopUpType, dataType). The package list carries no APN."""
    if not isinstance(raw, dict):
        return PlanDetails()
    ops = raw.get("operatorList") if isinstance(raw.get("operatorList"), list) else []
    networks = tuple(" ".join(str(o.get(k)).strip() for k in ("operatorName", "networkType") if o.get(k))
                     for o in ops if isinstance(o, dict) and o.get("operatorName"))
    speed = str(raw["speed"]).strip() if raw.get("speed") else None
    if _int_or_none(raw.get("dataType")) == 2:
        speed = (speed + "; " if speed else "") + "the daily allowance at full speed, then reduced (fair use)"
    activation = _ROUMIO_ACTIVATION.get(_int_or_none(raw.get("activeType")) or 0)
    unused = _int_or_none(raw.get("unusedValidTime"))
    if unused:
        unit = str(raw.get("durationUnit") or "DAY").strip().lower()
        install = f"install within {unused} {unit}{'s' if unused != 1 else ''}"
        activation = f"{activation}; {install}" if activation else install
    topup = topup_support(raw.get("supportTopUpType")) if not isinstance(raw.get("supportTopUpType"), list) else None
    topups = ("Roumio lists top-up packages for this plan: Fleet → Top up… on an eSIM of it" if topup
              else "Roumio offers no top-up for this plan" if topup is False else None)
    notes = (f"data exits in {raw['ipExport']}",) if raw.get("ipExport") else ()
    return PlanDetails(networks=networks, speed=speed, activation=activation, topups=topups, notes=notes)


def esim_from(rec: Any, endpoint: str = "esim/query") -> Esim:
    with parsing(endpoint):
        iccid = rec.get("iccid")
        if not isinstance(iccid, str | int) or isinstance(iccid, bool) or not str(iccid).strip():
            raise ValueError("iccid")
        e_status, s_status = rec.get("esimStatus"), rec.get("smdpStatus")
        used = to_int(rec.get("orderUsage"))
        packages = rec.get("packageList") or []
        if not isinstance(packages, list):
            raise TypeError("packageList")
        first = packages[0] if packages else {}
        plan_id = first.get("packageCode") or first.get("slug") if isinstance(first, dict) else None
        tran = rec.get("esimTranNo")
        return Esim(
            vendor=VENDOR,
            iccid=str(iccid).strip(),
            status=esim_status(_s(e_status), _s(s_status), used),
            vendor_status=f"{e_status}/{s_status}",
            order_id=_s(rec.get("orderNo")),
            plan_id=_s(plan_id),
            activation_code=_s(rec.get("ac")),
            data_used_mb=used,
            data_total_mb=to_int(rec.get("totalVolume")),
            expires_at=parse_time(rec.get("expiredTime")),
            installed_at=parse_time(rec.get("activateTime")),
            # The hosted page with the eSIM's QR code, for the customer: the document's sample gives the same
            # address as ``shortUrl`` and ``qrCodeUrl``; the short one first where they differ.
            qr_url=_s(rec.get("shortUrl")) or _s(rec.get("qrCodeUrl")),
            vendor_ref=_s(tran),
            raw=rec,
        )


def _s(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        raise TypeError("expected text")
    return str(value)


def esim_list(obj: Any, endpoint: str = "esim/query") -> tuple[list[Esim], int | None]:
    """The eSIMs of one ``esim/query`` page and the pager's ``total``."""
    with parsing(endpoint):
        items = obj.get("esimList")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise TypeError("esimList")
        pager = obj.get("pager") or {}
        total = to_int(pager.get("total")) if isinstance(pager, dict) else None
        return [esim_from(r, endpoint) for r in items], total


def plan_list(obj: Any, endpoint: str = "package/list", *, topup: bool = False) -> list[Plan]:
    with parsing(endpoint):
        items = obj.get("packageList")
        if items is None:
            items = []
        if not isinstance(items, list):
            raise TypeError("packageList")
        return [plan_from(p, endpoint, topup=topup) for p in items]


def balance_from(obj: Any, endpoint: str = "balance") -> Balance:
    with parsing(endpoint):
        return Balance(VENDOR, money(obj["balance"]), CURRENCY, observed_at=datetime.now(UTC))


def make_check(endpoint: str, *, write: bool):
    """The envelope check ``VendorHttp`` runs on each decoded answer."""

    def check(payload: Any) -> None:
        if not isinstance(payload, dict):
            raise MalformedResponse(VENDOR, endpoint, "answer is not a Roumio envelope", maybe_sent=write)
        code = payload.get("errorCode")
        success = payload.get("success")
        ok_flag = success is True or (isinstance(success, str) and success.strip().lower() == "true")
        if is_success_code(code) and ok_flag:
            return
        if is_success_code(code) and success is None and "obj" in payload:
            return  # no flag but an answer: take it
        # Samples say ``errorMsg``, the tables ``errorMessage``: either may carry the vendor's words.
        message = payload.get("errorMsg") or payload.get("errorMessage")
        raise error_for(None if is_success_code(code) else code, message, endpoint, write=write)

    return check


def obj_of(payload: Any, endpoint: str, *, write: bool = False) -> dict[str, Any]:
    obj = payload.get("obj") if isinstance(payload, dict) else None
    if not isinstance(obj, dict):
        raise MalformedResponse(VENDOR, endpoint, "answer carries no result object", maybe_sent=write)
    return obj


class RoumioAdapter(VendorAdapter):
    name = VENDOR
    default_url = DEFAULT_URLS[VENDOR]
    capabilities = frozenset(
        {
            Capability.PLANS,
            Capability.TOPUP_PLANS,
            Capability.BALANCE,
            Capability.ORDER,
            Capability.ORDER_STATUS,
            Capability.LIST_ORDERS,  # derived from esim/query grouped by orderNo: Roumio has no order list
            Capability.LIST_ESIMS,
            Capability.GET_ESIM,
            Capability.TOPUP,
            Capability.PLAN_TOPUPS,  # package/list TOPUP by packageCode: before any eSIM of the plan exists
        }
    )
    max_quantity_per_line = 1  # "count: currently we support only 1"
    idempotent_orders = True  # a repeated transactionId returns the first order
    orders_carry_fleet = True  # iter_orders is the eSIM listing grouped by orderNo
    # Its numbered esim/query pages at 8/s: 2 + E / 500 requests no longer fit a sync's minute past ~120,000
    # eSIMs, so a routine sync reads a share of them (walk_orders) and the next goes on from there.
    resumable_orders = True
    # Its 50,000-plan catalog is one answer that rarely changes: a sync that finds it as it was writes nothing.
    incremental_plans = True
    actions = frozenset(roumio_actions.PATHS)
    usage_batch = roumio_actions.USAGE_BATCH
    requests_per_second = 8.0  # documented ("8 API request per second"); http paces one per 0.14 s

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        super().__init__(config, timeout=timeout, transport=transport)
        key = config.secrets.get("KEY", "")
        # Roumio allows 8 requests per second. AsyncLimiter(8, 1) lets 8 go at once and then drips, so one
        # sliding second can see 9; one request per 0.14 s never puts more than 8 in any 1 s window
        # (the 9th is 1.12 s after the 1st), with 0.12 s to spare for network jitter.
        self.http = VendorHttp(
            VENDOR,
            config.base_url or self.default_url,
            headers={"Authorization": key, "Content-Type": "application/json", "Accept": "application/json"},
            timeout=timeout,
            rate=(1, 0.14),
            secrets=config.secret_values(),
            transport=transport,
        )

    async def _post(self, endpoint: str, body: dict[str, Any], *, write: bool = False) -> dict[str, Any]:
        payload = await self.http.request(
            "POST", endpoint, idempotent=not write, json_body=body, check=make_check(endpoint, write=write)
        )
        return obj_of(payload, endpoint, write=write)

    # --- catalog ---------------------------------------------------------------------------------
    async def iter_plans(self) -> AsyncIterator[list[Plan]]:
        obj = await self._post("package/list", {"locationCode": "", "type": "BASE"})
        plans = plan_list(obj)
        for i in range(0, len(plans), PLAN_CHUNK):
            yield plans[i : i + PLAN_CHUNK]

    @classmethod
    def plan_details(cls, raw: dict[str, Any] | None) -> PlanDetails:
        return plan_details(raw)

    async def list_topup_plans(self, iccid: str) -> list[Plan]:
        obj = await self._post("package/list", {"type": "TOPUP", "iccid": iccid})
        return plan_list(obj, topup=True)

    async def list_plan_topups(self, plan_id: str) -> list[Plan]:
        """The top-up packages Roumio lists for a base package (``type`` TOPUP with its ``packageCode``)."""
        obj = await self._post("package/list", {"type": "TOPUP", "packageCode": plan_id})
        return plan_list(obj, topup=True)

    async def get_balance(self) -> Balance:
        return balance_from(await self._post("balance", {}))

    async def _price_of(self, plan_id: str) -> Decimal:
        obj = await self._post("package/list", {"type": "BASE", "packageCode": plan_id})
        for plan in plan_list(obj):
            if plan.plan_id == plan_id or (plan.raw or {}).get("slug") == plan_id:
                return plan.price
        raise NotFound(
            VENDOR,
            "package/list",
            "Roumio does not know this package code; refresh the catalog",
            code="310241",
        )

    # --- orders ----------------------------------------------------------------------------------
    async def place_order(
        self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None
    ) -> Order:
        if quantity < 1:
            raise ValidationError("an order needs at least one eSIM")
        if unit_price is None:
            unit_price = await self._price_of(plan_id)  # a read: safe before the single write below
        cents = int((unit_price * 100).to_integral_value())
        body = {
            "transactionId": reference,
            "amount": cents * quantity,
            "packageInfoList": [
                {"packageCode": plan_id, "count": 1, "price": cents} for _ in range(quantity)
            ],
        }
        obj = await self._post("esim/order", body, write=True)
        with parsing("esim/order", write=True):
            order_no = obj.get("orderNo")
            if not isinstance(order_no, str | int) or isinstance(order_no, bool) or not str(order_no):
                raise ValueError("orderNo")
            echoed = _s(obj.get("transactionId"))  # a list or object here: a malformed answer, not a crash
        return Order(
            vendor=VENDOR,
            order_id=str(order_no),
            reference=echoed or reference,
            handle=echoed,
            status=OrderStatus.ALLOCATING,
            created_at=datetime.now(UTC),
            total=(unit_price * quantity).quantize(Decimal("0.01")),
            currency=CURRENCY,
            lines=(OrderLine(plan_id, quantity, unit_price),),
            raw=obj,
        )

    async def _query_pages(self, body: dict[str, Any]) -> AsyncIterator[list[Esim]]:
        async with contextlib.aclosing(self._numbered_pages(body)) as pages:
            async for _number, esims, _last in pages:
                yield esims

    async def _numbered_pages(self, body: dict[str, Any], first: int = 1) -> AsyncIterator[tuple[int, list[Esim], bool]]:
        """esim/query's pages from ``first``: each with its number and whether it is the last."""

        async def page(number: int) -> tuple[list[Esim], int | None]:
            return esim_list(await self._post("esim/query", {**body, "pager": {"pageNum": number, "pageSize": PAGE_SIZE}}))

        # The pager's total says how many pages there are: the next ones are asked for (at Roumio's 8/s) while
        # one is written. A short page ends the listing too (a total that was off).
        def pages(answer: tuple[list[Esim], int | None]) -> int | None:
            return None if answer[1] is None else -(-answer[1] // PAGE_SIZE)

        number = first
        async with contextlib.aclosing(pages_ahead(page, count=pages, start=first)) as answers:
            async for answer in answers:
                esims, count = answer[0], pages(answer)
                last = len(esims) < PAGE_SIZE or (count is not None and number >= count)
                yield number, esims, last
                if last:
                    return
                number += 1

    async def get_order(self, order_id: str | None, reference: str | None = None) -> Order:
        if not order_id:
            return await self._order_by_reference(reference)
        esims: list[Esim] = []
        try:
            async for page in self._query_pages({"orderNo": order_id}):
                esims.extend(page)
        except AllocationPending:
            return Order(
                VENDOR, order_id, reference, OrderStatus.ALLOCATING, datetime.now(UTC), currency=CURRENCY
            )
        return self._order_from(order_id, reference, esims)

    async def _order_by_reference(self, reference: str | None) -> Order:
        """No orderNo (the answer was lost): find the transactionId among the allocated eSIMs.

        Roumio has no look-up by transactionId, and eSIMs still allocating are not listed; NotFound here
        means "not visible yet", and re-sending the order with the same transactionId is the vendor's own
        documented way to learn its orderNo without ordering twice.
        """
        if not reference:
            raise NotFound(VENDOR, "esim/query", "no order number or reference to look the order up by")
        found = None
        async with contextlib.aclosing(self._query_pages({})) as pages:
            async for page in pages:
                found = next((e for e in page if (e.raw or {}).get("transactionId") == reference), None)
                if found is not None:
                    break  # the pages read ahead are cancelled before the order is asked for
        if found is not None:
            return await self.get_order(found.order_id, reference)
        raise NotFound(VENDOR, "esim/query", "Roumio lists no eSIM for this order reference yet")

    @staticmethod
    def _order_from(order_id: str, reference: str | None, esims: list[Esim]) -> Order:
        created = None
        # The transactionId Roumio lists on the order's eSIMs, never ours written over it: adopting or
        # polling compares it with the handle we sent.
        txn = None
        with parsing("esim/query"):
            for e in esims:
                raw = e.raw or {}
                txn = txn or _s(raw.get("transactionId"))
                for pkg in raw.get("packageList") or []:
                    t = parse_time(pkg.get("createTime")) if isinstance(pkg, dict) else None
                    if t is not None and (created is None or t < created):
                        created = t
        lines: dict[str, int] = {}
        for e in esims:
            if e.plan_id:
                lines[e.plan_id] = lines.get(e.plan_id, 0) + 1
        return Order(
            vendor=VENDOR,
            order_id=order_id,
            reference=txn or reference,
            handle=txn,
            status=OrderStatus.COMPLETED,
            created_at=created or datetime.now(UTC),
            currency=CURRENCY,
            lines=tuple(OrderLine(p, n) for p, n in lines.items()),
            esims=tuple(esims),
        )

    async def iter_orders(self) -> AsyncIterator[list[Order]]:
        """Roumio has no order list: every allocated eSIM grouped by orderNo, one page of orders per page read (an
        order split across pages completed before it is handed out): walk_orders from the first page to the last."""
        async with contextlib.aclosing(self.walk_orders(None)) as pages:
            async for rows, _next in pages:
                if orders := [r for r in rows if isinstance(r, Order)]:  # from page 1 no order comes in part
                    yield orders

    async def topup(
        self,
        iccid: str,
        plan_id: str,
        reference: str,
        price: Decimal | None = None,
        vendor_ref: str | None = None,
    ) -> Order:
        body: dict[str, Any] = {"transactionId": reference, "packageCode": plan_id}
        if vendor_ref:
            body["esimTranNo"] = vendor_ref  # the document recommends esimTranNo; iccid is deprecated
        else:
            body["iccid"] = iccid
        if price is not None:
            body["amount"] = str(int((price * 100).to_integral_value()))  # verified by Roumio if sent
        obj = await self._post("esim/topup", body, write=True)
        with parsing("esim/topup", write=True):
            txn = _s(obj.get("transactionId")) or reference
            # The answer's orderUsage sample (207239584) looks like bytes while esim/query gives MB: not used.
            _ = parse_time(obj.get("expiredTime")), to_int(obj.get("totalVolume"))
        return Order(
            vendor=VENDOR,
            order_id=txn,  # a top-up has no orderNo; its transactionId is the handle
            reference=reference,
            status=OrderStatus.COMPLETED,
            created_at=datetime.now(UTC),
            total=price,
            currency=CURRENCY,
            lines=(OrderLine(plan_id, 1, price),),
            kind="topup",
            raw=obj,
        )

    async def walk_orders(self, key: str | None) -> AsyncIterator[tuple[list[Order | Esim], str | None]]:
        """The orders pass from page ``key`` (None: the first): a routine sync reads a share of it (services/sync.py).
        Each page gives the orders it completes, whole, and the page the next share starts at (None after the
        last page). An order still open when a share stops is not handed out: the next share starts at the page
        where it began. The first order of a share that starts past page 1 may have begun on a page before: its
        eSIMs come as they are (``Esim`` items: their rows refreshed, the order's lines left as they are), never
        as an order that would now count fewer eSIMs."""
        start = 1 if key is None else _page_number(key)
        pending: dict[str, list[Esim]] = {}  # in the order met: the first is the oldest still open
        began: dict[str, int] = {}
        handed: dict[str, list[Esim]] = {}
        partial: str | None = None  # the order a share past page 1 starts in

        # The document does not say the list keeps an order's eSIMs together, and it does not always: an order met
        # again goes out again with every eSIM seen of it (those gone out before without their payload: the store
        # keeps the one it has).
        def whole(order_no: str, esims: list[Esim]) -> Order:
            earlier = handed.get(order_no, [])
            handed[order_no] = earlier + [replace(e, raw=None) for e in esims]
            return self._order_from(order_no, None, earlier + esims)

        async with contextlib.aclosing(self._numbered_pages({}, start)) as pages:
            async for number, page, last in pages:
                if number == start and start > 1 and page:
                    partial = page[0].order_id
                rows: list[Order | Esim] = []
                for e in page:
                    if partial is not None and e.order_id == partial:
                        rows.append(e)
                    else:
                        pending.setdefault(e.order_id or "", []).append(e)
                        began.setdefault(e.order_id or "", number)
                open_one = None if last or not page else page[-1].order_id
                for o in [o for o in pending if o != open_one]:
                    esims = pending.pop(o)
                    began.pop(o)
                    if o:  # an eSIM listed without orderNo belongs to no order
                        rows.append(whole(o, esims))
                if last:
                    yield rows, None
                    return
                # Where the open order began; past the share's first page, so that a share always moves on
                # (an order longer than a share is then met in part: its eSIMs as they are, as above).
                resume = began[open_one] if open_one in pending else number + 1
                yield rows, str(resume if resume > start else number + 1)

    # --- fleet -----------------------------------------------------------------------------------
    async def iter_esims(self) -> AsyncIterator[list[Esim]]:
        async for page in self._query_pages({}):
            if page:
                yield page

    async def get_esim(self, iccid: str) -> Esim:
        obj = await self._post("esim/query", {"iccid": iccid, "pager": {"pageNum": 1, "pageSize": 5}})
        esims, _ = esim_list(obj)
        for e in esims:
            if e.iccid == iccid:
                return e
        if esims:
            return esims[0]
        raise NotFound(VENDOR, "esim/query", "Roumio does not know this eSIM (ICCID)", code="310403")

    # --- support actions (roumio_actions.py) --------------------------------------------------------
    @classmethod
    def refusal(cls, esim: Esim, action: Action) -> str | None:
        return roumio_actions.refusal(esim, action)

    @classmethod
    def expected_after(cls, action: Action, esim: Esim) -> bool | None:
        return roumio_actions.expected_after(action, esim)

    async def esim_action(self, esim: Esim, action: Action, message: str | None = None) -> None:
        path = roumio_actions.PATHS[action]
        # The answer carries nothing we need (a success envelope): the eSIM's status is read afterwards.
        await self.http.request("POST", path, idempotent=False, json_body=roumio_actions.body_for(esim, action, message),
                                check=make_check(path, write=True))

    async def usage(self, esims: list[Esim]) -> list[Usage]:
        known = [e for e in esims if e.vendor_ref]
        for e in esims:
            if not e.vendor_ref:  # an eSIM synced before its esimTranNo was kept: learn it (a read)
                known.append(await self.get_esim(e.iccid))
        out: list[Usage] = []
        for i in range(0, len(known), roumio_actions.USAGE_BATCH):
            chunk = known[i : i + roumio_actions.USAGE_BATCH]
            payload = await self.http.request(
                "POST", roumio_actions.USAGE_PATH, idempotent=True,
                json_body={"esimTranNoList": [e.vendor_ref for e in chunk]},
                check=make_check(roumio_actions.USAGE_PATH, write=False))
            obj = payload.get("obj") if isinstance(payload, dict) else None
            out.extend(roumio_actions.usage_from(obj, {e.vendor_ref: e for e in chunk}, datetime.now(UTC)))
        return out
