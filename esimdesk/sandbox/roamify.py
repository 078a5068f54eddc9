"""Simulated Roamify API: catalog, orders, profile generation, eSIMs, usage, top-ups, balance, share links.

Mounted at ``/roamify`` so paths are ``/roamify/api/esim/...``. Orders are answered PENDING and turn
COMPLETED ``allocation_delay`` seconds later (the documented samples show COMPLETED only). An order's
eSIMs have no ICCID or LPA code until ``POST /api/esim/apply`` generates them (roamify-more.md section
6): generation takes ``allocation_delay`` seconds; apply holds the request that long (at most
``apply_hold`` seconds, then answers "eSIM is still pending processing", as it does to a second apply
while one runs). The catalog is in ``roamify_packages.py``, the eSIMs in ``roamify_esims.py``.

``referenceId`` (roamify-more.md section 4, the current API): optional on orders and top-ups, kept on
the order, echoed in every order (null when none was sent: the doc's samples echo it), found again
with ``GET /api/esim/order?referenceId=`` and filtered on by ``GET /api/esim/orders?referenceId=``.
A reused referenceId is accepted and makes a second order, as the vendor documents no uniqueness rule.
``SandboxConfig.roamify_reference_ids = False`` plays the older API of roamify.md instead: the field
is ignored and orders render without it.
"""

from __future__ import annotations

import asyncio
import math
import random
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from esimdesk.sandbox.base import SandboxConfig, VendorSandbox, rng_state, set_rng_state
from esimdesk.sandbox.ids import luhn_digit as _luhn_digit
from esimdesk.sandbox.roamify_catalog import RoamifyCatalog
from esimdesk.sandbox.roamify_esims import OrderedEsim, RoamifyFleet, esim_json, link_json, usage_json
from esimdesk.sandbox.roamify_packages import countries, packages_page, topup_json
from esimdesk.sandbox.roamify_rates import currencies_answer, rate_answer
from esimdesk.sandbox.roamify_refunds import NOTES_MAX, OPEN, REASONS, RoamifyRefunds, refund_json
from esimdesk.sandbox.roamify_refunds import STATUSES as REFUND_STATUSES

# The documented samples (order, top-up), kept verbatim in the order history.
SAMPLE_ORDERS: tuple[dict[str, Any], ...] = (
    {
        "id": "67bbabb7-e893-410a-b0a8-4fa62d347b6c",
        "orderType": "api",
        "status": "COMPLETED",
        "total": 5,
        "currency": "USD",
        "createdAt": 1731837535,
        "updatedAt": 1731837539,
        "items": [
            {
                "esimId": "b06036c5-eadc-4f88-aa31-8c207fec91ec",
                "packageId": "esim-cambodia-7days-1gb-all",
                "package": "1 GB - 7 Days",
                "type": "esim",
                "price": 5,
                "currency": "USD",
                "createdAt": 1731837535,
                "updatedAt": 1731837539,
            }
        ],
    },
    {
        "id": "0501aef3-7cf1-4b4c-a293-c03a6bd7a8ab",
        "orderType": "api",
        "status": "COMPLETED",
        "total": 5,
        "currency": "USD",
        "createdAt": 1731838277,
        "updatedAt": 1731838280,
        "items": [
            {
                "esimId": "22dcdb84-968b-415c-bb70-79e2f3ffc296",
                "packageId": "esim-cambodia-7days-1gb-all",
                "package": "1 GB - 7 Days",
                "type": "esim",
                "price": 5,
                "currency": "USD",
                "createdAt": 1731838277,
                "updatedAt": 1731838280,
            }
        ],
    },
)
STATUSES = ("PENDING", "COMPLETED", "ARCHIVED", "CANCELLED", "REFUNDED", "REQUIRE_ACTION")
ESIM_STATUSES = ("NEW", "READY", "INSTALLED", "REVOKED", "EXPIRED", "UNKNOWN")
PENDING_PROCESSING = "eSIM is still pending processing"  # the one documented eSIM message (section 6)


class IccidRange(Sequence[str]):
    """The ICCIDs of eSIMs this account holds: computed on demand, so 100,000 cost nothing."""

    def __init__(self, prefix: str, count: int):
        self.prefix, self.count = prefix, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if not -self.count <= i < self.count:
            raise IndexError(i)
        body = f"{self.prefix}{i % self.count:08d}"
        return body + _luhn_digit(body)

    def __contains__(self, iccid: object) -> bool:
        if not isinstance(iccid, str) or len(iccid) != len(self.prefix) + 9 or not iccid.isdigit():
            return False
        if not iccid.startswith(self.prefix):
            return False
        idx = int(iccid[len(self.prefix) : -1])
        return idx < self.count and self[idx] == iccid


@dataclass
class _Order:
    id: str
    created: float
    ready_at: float
    lines: list[tuple[str, str, int | float, str]]  # (esimId, packageId, price, package name)
    kind: str = "order"
    iccid: str | None = None
    fixed: dict[str, Any] | None = None  # a verbatim sample or seeded history entry
    extra: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None  # the client's referenceId
    seq: int = 0  # > 0: created through the API in this run (its place in the ledger)


def _num(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else cents / 100


class RoamifySandbox(VendorSandbox):
    vendor = "roamify"
    mount = "/roamify"
    apply_hold = 60.0  # seconds apply holds a request before answering "still pending processing"

    def __init__(self, config: SandboxConfig, credentials: dict[str, str]):
        super().__init__(config, credentials)
        self.catalog = RoamifyCatalog(config.seed, config.plans)
        self.known_iccids = IccidRange("8988247000", config.esims if config.esims is not None else 40)
        self.balance_cents = config.balance_cents
        self._rng = random.Random(config.seed * 7919 + 3)
        self._orders: list[_Order] = []
        self._by_id: dict[str, _Order] = {}
        self.order_requests = 0
        self.topup_requests = 0
        self.created = 0
        self.topups = 0
        self.fleet = RoamifyFleet(config.seed, self.catalog, self.known_iccids, self.now())
        self.refunds = RoamifyRefunds()  # refund requests and the SMS outbox (roamify_refunds.py)
        self._seed_history()

    # --- state ---------------------------------------------------------------------------------
    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _add(self, order: _Order) -> None:
        self._orders.append(order)
        self._by_id[order.id] = order

    def _seed_history(self) -> None:
        """A few past orders (the documented samples first) so reconciliation and the catalog have data."""
        for sample in SAMPLE_ORDERS:
            created = float(sample["createdAt"])
            self._add(_Order(sample["id"], created, created, [], fixed=sample))
        self.fleet.add_sample(SAMPLE_ORDERS[0]["id"], float(SAMPLE_ORDERS[0]["createdAt"]))
        now = self.now()
        for i in range(min(12, len(self.catalog))):
            pkg = self.catalog.package(self._rng.randrange(len(self.catalog)))
            created = float(int(now - 86400 * (30 - i * 2) - self._rng.randrange(3600)))
            status = "COMPLETED" if i % 5 else self._rng.choice(("CANCELLED", "REFUNDED", "ARCHIVED"))
            order = _Order(
                self._uuid(), created, created + 4, [(self._uuid(), pkg.package_id, pkg.price, pkg.name)]
            )
            order.extra["status"] = status
            self._add(order)
            if status in ("COMPLETED", "ARCHIVED"):  # delivered long ago: its eSIM is generated
                esim = OrderedEsim(order.lines[0][0], order.id, pkg.package_id, created)
                self.fleet.generate(esim, created, 4, None)
                self.fleet.add(esim)

    # --- a world kept in a file ----------------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().dump_state(),
                "balance_cents": self.balance_cents, "rng": rng_state(self._rng),
                "orders": [asdict(o) for o in self._orders],  # referenceIds included
                "order_requests": self.order_requests, "topup_requests": self.topup_requests,
                "created": self.created, "topups": self.topups, "fleet": self.fleet.dump(),
                "refunds": self.refunds.dump(),
            }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.balance_cents = state["balance_cents"]
        set_rng_state(self._rng, state["rng"])
        self._orders, self._by_id = [], {}
        for row in state["orders"]:
            self._add(_Order(**{**row, "lines": [tuple(line) for line in row["lines"]]}))
        self.order_requests, self.topup_requests = state["order_requests"], state["topup_requests"]
        self.created, self.topups = state["created"], state["topups"]
        if "fleet" in state:  # a world saved before eSIMs were simulated keeps its seeded ones
            self.fleet.load(state["fleet"])
        self.refunds = RoamifyRefunds()
        self.refunds.load(state.get("refunds", {}))  # a world saved before refunds were simulated has none

    def status_of(self, order: _Order) -> str:
        if order.fixed is not None:
            return order.fixed["status"]
        if "status" in order.extra:
            return order.extra["status"]
        return "COMPLETED" if self.now() >= order.ready_at else "PENDING"

    @property
    def reference_ids(self) -> bool:
        """The current API (referenceId known) or the older one; read per request, switchable at run time."""
        return self.config.roamify_reference_ids

    def render(self, order: _Order) -> dict[str, Any]:
        if order.fixed is not None:
            if not self.reference_ids:
                return order.fixed  # the older API's samples, verbatim
            # The current API's samples carry "referenceId" right after "id"; none was sent for these.
            return {"id": order.fixed["id"], "referenceId": None, **order.fixed}
        status = self.status_of(order)
        created = int(order.created)
        updated = max(created, math.ceil(order.ready_at)) if status != "PENDING" else created
        items = [
            {
                "esimId": esim_id,
                "packageId": pid,
                "package": name,
                "type": "esim",  # the documented top-up sample says "esim" too
                "price": price,
                "currency": "USD",
                "createdAt": created,
                "updatedAt": updated,
            }
            for esim_id, pid, price, name in order.lines
        ]
        total_cents = sum(round(p * 100) for _, _, p, _ in order.lines)
        ref = {"referenceId": order.reference} if self.reference_ids else {}
        return {
            "id": order.id,
            **ref,
            "orderType": "api",
            "status": status,
            "total": _num(total_cents),
            "currency": "USD",
            "createdAt": created,
            "updatedAt": updated,
            "items": items,
        }

    def ledger(self) -> list[dict[str, Any]]:
        with self.lock:
            return [
                {
                    "order_id": o.id,
                    "handle": o.reference,
                    "plan_id": ",".join(dict.fromkeys(pid for _, pid, _, _ in o.lines)),
                    "quantity": len(o.lines),  # one item per eSIM
                    "kind": o.kind,
                    "created_at": o.created,
                }
                for o in sorted((o for o in self._orders if o.seq), key=lambda o: o.seq)
            ]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            self._advance_refunds()
            return {
                "orders": self.created,
                "order_requests": self.order_requests,
                "topup_requests": self.topup_requests,
                "topups": self.topups,
                "history": len(self._orders),
                "balance_cents": self.balance_cents,
                "balance": str(Decimal(self.balance_cents) / 100),
                "applies": self.fleet.applies,
                "esims": len(self.known_iccids) + len(self.fleet.ordered),
                "refunds": self.refund_requests(), "refund_requests": self.refunds.create_requests,
                "sms_outbox": [dict(m) for m in self.refunds.sms],
            }

    # --- http ----------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        return [
            Route("/api/esim/order", self._order, methods=["GET", "POST"]),
            Route("/api/esim/order/topup", self._topup, methods=["POST"]),
            Route("/api/esim/orders", self._orders_list, methods=["GET"]),
            Route("/api/esim/order/instant", self._instant, methods=["POST"]),
            Route("/api/esim/countries", self._countries, methods=["GET"]),
            Route("/api/esim/packages", self._packages, methods=["GET"]),
            Route("/api/esim/apply", self._apply, methods=["POST"]),
            Route("/api/esim", self._esim, methods=["GET"]),
            Route("/api/esims", self._esims, methods=["GET"]),
            Route("/api/esim/usage", self._usage, methods=["GET"]),
            Route("/api/esim/topup/packages", self._topup_packages, methods=["GET"]),
            Route("/api/esim/link", self._link, methods=["POST"]),
            Route("/api/balance", self._balance, methods=["GET"]),
            Route("/api/rates", self._rates, methods=["GET"]),  # roamify_rates.py
            Route("/api/currencies", self._currencies, methods=["GET"]),
            # Refund requests and SMS (roamify_refunds.py; the refund paths are esimdesk's assumption).
            Route("/api/refund", self._refund, methods=["GET", "POST"]),
            Route("/api/refunds", self._refund_list, methods=["GET"]),
            Route("/api/refund/cancel", self._refund_cancel, methods=["POST"]),
            Route("/api/esim/sms", self._sms, methods=["POST"]),
        ]

    @staticmethod
    def _error(message: str, status: int) -> JSONResponse:
        # The document shows no error body; the envelope mirrors the success one ("status": "success").
        return JSONResponse({"status": "error", "message": message}, status_code=status)

    def rate_limited_response(self) -> Response:
        # No limit is documented; an injected 429 comes in the same error envelope as the others.
        resp = self._error("Too Many Requests", 429)
        resp.headers["Retry-After"] = "1"
        return resp

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {self.credentials['TOKEN']}"

    @staticmethod
    def _ok(data: Any) -> JSONResponse:
        return JSONResponse({"status": "success", "data": data})

    async def _authorized_object(self, request: Request) -> dict | JSONResponse:
        """The request's JSON body as an object (any other JSON: an empty one), or the answer that refuses
        the request: 401 without the token, 400 for a body that is not JSON."""
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        try:
            body = await self.json_body(request)
        except ValueError:
            return self._error("Invalid JSON body", 400)
        return body if isinstance(body, dict) else {}

    async def _order(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            with self.lock:
                self.order_requests += 1
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        if request.method == "GET":
            order_id = request.query_params.get("orderId")
            reference = request.query_params.get("referenceId") if self.reference_ids else None
            with self.lock:
                if order_id:  # both given: orderId decides (undocumented)
                    order = self._by_id.get(order_id)
                elif reference:
                    # Several orders may share a referenceId (reuse is not refused); which one the vendor
                    # answers is undocumented: the earliest here.
                    order = next((o for o in self._orders if o.reference == reference), None)
                else:
                    either = "orderId or referenceId" if self.reference_ids else "orderId"
                    return self._error(f"{either} is required", 400)
                if order is None:
                    return self._error("Order not found", 404)
                return self._ok(self.render(order))
        try:
            body = await self.json_body(request)
        except ValueError:
            return self._error("Invalid JSON body", 400)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return self._error("items must be a non-empty array", 400)
        try:
            reference = self._reference(body)
        except ValueError as exc:
            return self._error(str(exc), 400)
        lines = []
        with self.lock:
            for item in items:
                pid = item.get("packageId") if isinstance(item, dict) else None
                qty = item.get("quantity") if isinstance(item, dict) else None
                if not isinstance(pid, str) or not pid:
                    return self._error("packageId is required", 400)
                if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 100:
                    return self._error("quantity must be a number from 1 to 100", 400)
                pkg = self.catalog.get(pid)
                if pkg is None:
                    return self._error(f"Package {pid} not found", 400)
                lines.extend((self._uuid(), pkg.package_id, pkg.price, pkg.name) for _ in range(qty))
            return self._create(lines, "order", reference=reference)

    def _reference(self, body: dict[str, Any]) -> str | None:
        """The body's optional referenceId (None when absent, null or empty); ignored by the older API."""
        if not self.reference_ids:
            return None
        ref = body.get("referenceId")
        if ref is None or ref == "":
            return None
        if not isinstance(ref, str):
            raise ValueError("referenceId must be a string")
        return ref

    def _create(self, lines, kind: str, iccid: str | None = None,
                reference: str | None = None) -> JSONResponse:
        cost = sum(round(p * 100) for _, _, p, _ in lines)
        if cost > self.balance_cents:
            return self._error("Insufficient balance", 400)
        self.balance_cents -= cost
        now = self.now()
        order = _Order(self._uuid(), now, now + self.config.allocation_delay, lines, kind=kind, iccid=iccid,
                       reference=reference, seq=self.next_seq())
        self._add(order)
        if kind == "order":
            self.created += 1
            for esim_id, pid, _, _ in lines:
                self.fleet.add(OrderedEsim(esim_id, order.id, pid, now, reference))
        else:
            self.topups += 1
            self.fleet.add_topup(iccid, lines[0][1])
        return self._ok(self.render(order))

    async def _topup(self, request: Request) -> JSONResponse:
        with self.lock:
            self.topup_requests += 1
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        iccid, pid = body.get("iccid"), body.get("packageId")
        if not isinstance(iccid, str) or not iccid or not isinstance(pid, str) or not pid:
            return self._error("iccid and packageId are required", 400)
        try:
            reference = self._reference(body)
        except ValueError as exc:
            return self._error(str(exc), 400)
        with self.lock:
            view = self.fleet.find(iccid=iccid, now=self.now(), rate=self.config.usage_mb_per_hour)
            if view is None:
                return self._error(f"eSIM {iccid} not found", 404)
            pkg = self.catalog.get(pid)
            if pkg is None:
                return self._error(f"Package {pid} not found", 400)
            if not view.package.top_up:
                return self._error("This eSIM cannot be topped up", 400)
            if pkg not in self.catalog.compatible_topups(view.package):
                return self._error(f"Package {pid} is not a compatible top-up for this eSIM", 400)
            line = (self._uuid(), pkg.package_id, pkg.price, pkg.name)
            return self._create([line], "topup", iccid, reference=reference)

    def _list_params(self, request: Request, statuses: tuple[str, ...]):
        """The order and eSIM listings' shared query: (status, limit, referenceId), or the error answer."""
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        status = request.query_params.get("status")
        if status is not None and status not in statuses:
            return self._error(f"status must be one of {', '.join(statuses)}", 400)
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            return self._error("limit must be a number", 400)
        if limit < 1:
            return self._error("limit must be positive", 400)
        reference = request.query_params.get("referenceId") if self.reference_ids else None
        return status, limit, reference

    async def _orders_list(self, request: Request) -> JSONResponse:
        params = self._list_params(request, STATUSES)
        if isinstance(params, JSONResponse):
            return params
        status, limit, reference = params
        out = []
        with self.lock:
            # Newest first; the document shows no paging, only ``limit``.
            for order in sorted(self._orders, key=lambda o: o.created, reverse=True):
                if reference and order.reference != reference:
                    continue
                if status is None or self.status_of(order) == status:
                    out.append(self.render(order))
                    if len(out) >= limit:
                        break
        return self._ok({"orders": out})

    # --- the current API beyond orders (roamify-more.md) -----------------------------------------
    def _view(self, *, iccid: str | None = None, esim_id: str | None = None):
        return self.fleet.find(iccid=iccid, esim_id=esim_id, now=self.now(), rate=self.config.usage_mb_per_hour)

    async def _instant(self, request: Request) -> JSONResponse:
        """Order and generate at once (section 4b): the answer carries ``esims[]`` instead of ``items[]``."""
        with self.lock:
            self.order_requests += 1
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        try:
            body = await self.json_body(request)
            reference = self._reference(body if isinstance(body, dict) else {})
        except ValueError as exc:
            return self._error(str(exc) if "referenceId" in str(exc) else "Invalid JSON body", 400)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return self._error("items must be a non-empty array", 400)
        lines = []
        with self.lock:
            for item in items:
                pkg = self.catalog.get(item.get("packageId")) if isinstance(item, dict) else None
                qty = item.get("quantity") if isinstance(item, dict) else None
                if pkg is None:
                    return self._error("Package not found", 400)
                if not isinstance(qty, int) or isinstance(qty, bool) or not 1 <= qty <= 100:
                    return self._error("quantity must be a number from 1 to 100", 400)
                if pkg.travel_date:
                    return self._error(f"Package {pkg.package_id} needs a startDate: order it, then apply", 400)
                lines.extend((self._uuid(), pkg.package_id, pkg.price, pkg.name) for _ in range(qty))
            created = self._create(lines, "order", reference=reference)
            if created.status_code != 200:
                return created
            order = self._orders[-1]
            now = self.now()
            esims = [self.fleet.ordered[esim_id] for esim_id, _, _, _ in lines]
            for esim in esims:
                self.fleet.generate(esim, now, self.config.allocation_delay, None)
        await asyncio.sleep(min(self.config.allocation_delay, self.apply_hold))
        with self.lock:
            data = {k: v for k, v in self.render(order).items() if k != "items"}
            data["esims"] = [esim_json(self.fleet.ordered_view(e, self.now(), self.config.usage_mb_per_hour))
                             for e in esims]
        return self._ok(data)

    async def _countries(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        return self._ok(countries(self.catalog))

    async def _packages(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        try:
            return self._ok(packages_page(self.catalog, dict(request.query_params)))
        except ValueError as exc:
            return self._error(str(exc), 400)

    async def _apply(self, request: Request) -> JSONResponse:
        """Generate profiles (section 6): one eSIM, or with ``referenceId`` every eSIM of that order."""
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        esim_id, start = body.get("esimId"), body.get("startDate")
        if not isinstance(esim_id, str) or not esim_id:
            return self._error("esimId is required", 400)
        if start is not None and not _iso_date(start):
            return self._error("startDate must be an ISO 8601 date", 400)
        try:
            reference = self._reference(body)
        except ValueError as exc:
            return self._error(str(exc), 400)
        with self.lock:
            self.fleet.applies += 1
            esim = self.fleet.ordered.get(esim_id)
            if esim is None:
                return self._error("eSIM not found", 404)
            targets = [esim]
            if reference:
                order_ids = {o.id for o in self._orders if o.reference == reference}
                targets = [e for e in self.fleet.ordered.values() if e.order_id in order_ids]
                if not targets:
                    return self._error("Order not found", 404)
            for t in targets:
                pkg = self.catalog.get(t.package_id)
                if pkg is not None and pkg.travel_date and not start and t.ready_at is None:
                    return self._error(f"startDate is required for package {t.package_id}", 400)
            now = self.now()
            if any(t.ready_at is not None and now < t.ready_at for t in targets):
                return self._error(PENDING_PROCESSING, 400)
            for t in targets:
                if t.ready_at is None:
                    self.fleet.generate(t, now, self.config.allocation_delay, start)
            wait = max(t.ready_at for t in targets) - now
        await asyncio.sleep(max(0.0, min(wait, self.apply_hold)))
        with self.lock:
            views = [self.fleet.ordered_view(t, self.now(), self.config.usage_mb_per_hour) for t in targets]
            if not all(v.iccid for v in views):
                return self._error(PENDING_PROCESSING, 400)
            out = [esim_json(v) for v in views]
        return self._ok(out if reference else out[0])

    async def _esim(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        iccid, esim_id = request.query_params.get("iccid"), request.query_params.get("esimId")
        if not iccid and not esim_id:
            return self._error("iccid or esimId is required", 400)
        with self.lock:
            view = self._view(iccid=iccid, esim_id=esim_id)
            if view is None:
                return self._error("eSIM not found", 404)
            return self._ok(esim_json(view))

    async def _esims(self, request: Request) -> JSONResponse:
        """Newest first; ``limit`` (default 50), ``status`` and ``referenceId`` filters; no paging (section 8)."""
        params = self._list_params(request, ESIM_STATUSES)
        if isinstance(params, JSONResponse):
            return params
        status, limit, reference = params
        out = []
        with self.lock:
            for view in self.fleet.all(self.now(), self.config.usage_mb_per_hour):
                if reference and view.reference != reference:
                    continue
                if status is None or view.status == status:
                    out.append(esim_json(view))
                    if len(out) >= limit:
                        break
        return self._ok(out)

    async def _usage(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        iccid = request.query_params.get("iccid")
        if not iccid:
            return self._error("iccid is required", 400)
        with self.lock:
            view = self._view(iccid=iccid)
            if view is None:
                return self._error("eSIM not found", 404)
            if not view.package.usage_check:
                return self._error("Usage check is not supported for this package; see its notes", 400)
            return self._ok(usage_json(view, self.now()))

    async def _topup_packages(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        iccid = request.query_params.get("iccid")
        if not iccid:
            return self._error("iccid is required", 400)
        with self.lock:
            view = self._view(iccid=iccid)
            if view is None:
                return self._error("eSIM not found", 404)
            offered = self.catalog.compatible_topups(view.package) if view.package.top_up else []
            return self._ok([topup_json(p) for p in offered])

    async def _link(self, request: Request) -> JSONResponse:
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        iccid, esim_id = body.get("iccid"), body.get("esimId")
        if not isinstance(iccid, str | None) or not isinstance(esim_id, str | None) or not (iccid or esim_id):
            return self._error("iccid or esimId is required", 400)
        with self.lock:
            view = self._view(iccid=iccid) if iccid else self._view(esim_id=esim_id)
            if view is None:
                return self._error("eSIM not found", 404)
            if not view.iccid:
                return self._error("The eSIM profile has not been generated yet", 400)
            return self._ok(link_json(view, self.now()))

    async def _balance(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        with self.lock:
            self._advance_refunds()  # a request decided by the clock credits the balance first
            return self._ok({"balance": _num(self.balance_cents), "currency": "USD"})

    async def _rates(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        body, status = rate_answer(request.query_params.get("source"), request.query_params.get("target"),
                                   self.now())
        return JSONResponse(body, status_code=status)

    async def _currencies(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        return JSONResponse(currencies_answer())


    # --- refund requests and SMS (issue 30; roamify_refunds.py) -----------------------------------------
    @staticmethod
    def _failed(message: str, status: int, code: str, **extra: Any) -> JSONResponse:
        """Roamify's documented error body for refunds: ``{"message", "status": "failed", "code"}``."""
        return JSONResponse({"message": message, "status": "failed", "code": code, **extra}, status_code=status)

    def _advance_refunds(self) -> None:
        """The demo's decisions by the clock (``refund_decision_s``); the caller holds the lock."""
        self.balance_cents += self.refunds.advance(self.now(), self.config.refund_decision_s)

    def refund_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            self._advance_refunds()
            return [refund_json(r) for r in self.refunds.listed(None, None)]

    def decide_refund(self, refund_id: str, decision: str, reason: str | None = None) -> dict[str, Any]:
        with self.lock:
            self._advance_refunds()
            refund, credit = self.refunds.decide(refund_id, decision, reason, self.now())
            self.balance_cents += credit
            return refund_json(refund)

    def _price_cents(self, esim_id: str, view) -> tuple[int, str | None]:
        """What the eSIM was bought for (its order line), else its package's price; and its order."""
        for order in self._orders:
            for line_esim, _, price, _ in order.lines:
                if line_esim == esim_id:
                    return round(price * 100), order.id
        return round(view.package.price * 100), None

    async def _refund(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            if not self._authorized(request):
                return self._error("Unauthorized", 401)
            with self.lock:
                refund = self._known_refund(request.query_params.get("refundId"))
                return refund if isinstance(refund, JSONResponse) else self._ok(refund_json(refund))
        with self.lock:
            self.refunds.create_requests += 1
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        iccid, esim_id, reason, notes = body.get("iccid"), body.get("esimId"), body.get("reason"), body.get("notes")
        if not isinstance(iccid, str | None) or not isinstance(esim_id, str | None) or not (iccid or esim_id):
            return self._failed("iccid or esimId is required", 400, "VALIDATION_ERROR")
        if reason not in REASONS:
            return self._failed(f"reason must be one of {', '.join(REASONS)}", 400, "VALIDATION_ERROR")
        if notes is not None and (not isinstance(notes, str) or len(notes) > NOTES_MAX):
            return self._failed(f"notes must be text of at most {NOTES_MAX} characters", 400, "VALIDATION_ERROR")
        with self.lock:
            self._advance_refunds()
            view = self._view(iccid=iccid) if iccid else self._view(esim_id=esim_id)
            if view is None:
                return self._failed("eSIM not found", 404, "NOT_FOUND")
            earlier = self.refunds.of_esim(view.id, view.iccid)
            if any(r.status == "REFUNDED" for r in earlier):
                return self._failed("This eSIM has already been refunded", 422, "ALREADY_REFUNDED")
            open_ = next((r for r in earlier if r.status in OPEN), None)
            if open_ is not None:
                return self._failed("A refund request is already open for this eSIM", 409, "REFUND_ALREADY_OPEN",
                                    refundId=open_.id)
            cents, order_id = self._price_cents(view.id, view)
            now = self.now()
            refund = self.refunds.create_refund(self._uuid(), view.iccid, view.id, order_id, reason, notes, cents, now)
            return self._ok(refund_json(refund))

    def _known_refund(self, refund_id: object):
        """The request named ``refund_id`` as its time has it (under the lock), or the answer refusing the name:
        400 without one, 404 for one Roamify does not know."""
        if not isinstance(refund_id, str) or not refund_id:
            return self._failed("refundId is required", 400, "VALIDATION_ERROR")
        self._advance_refunds()
        refund = self.refunds.requests.get(refund_id)
        if refund is None:
            return self._failed("Refund request not found", 404, "NOT_FOUND")
        return refund

    async def _refund_list(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return self._error("Unauthorized", 401)
        status = request.query_params.get("status")
        if status is not None and status not in REFUND_STATUSES:
            return self._failed(f"status must be one of {', '.join(REFUND_STATUSES)}", 400, "VALIDATION_ERROR")
        with self.lock:
            self._advance_refunds()
            listed = self.refunds.listed(request.query_params.get("iccid"), status)
            return self._ok([refund_json(r) for r in listed])

    async def _refund_cancel(self, request: Request) -> JSONResponse:
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        with self.lock:
            refund = self._known_refund(body.get("refundId"))
            if isinstance(refund, JSONResponse):
                return refund
            if refund.status not in OPEN:
                return self._failed(f"The refund request is already {refund.status} and cannot be cancelled", 409,
                                    "REFUND_NOT_OPEN")
            refund.status, refund.updated = "CANCELLED", self.now()
            return self._ok(refund_json(refund))

    async def _sms(self, request: Request) -> JSONResponse:
        body = await self._authorized_object(request)
        if isinstance(body, JSONResponse):
            return body
        iccid, message = body.get("iccid"), body.get("message")
        if not isinstance(iccid, str) or not iccid or not isinstance(message, str) or not message:
            return self._failed("iccid and message are required", 400, "VALIDATION_ERROR")
        with self.lock:
            view = self._view(iccid=iccid)
            if view is None:
                return self._failed("eSIM not found", 404, "NOT_FOUND")
            if view.status != "INSTALLED":
                return self._failed(f"SMS can only be sent to an installed eSIM (this one is {view.status})", 400,
                                    "ESIM_NOT_INSTALLED")
            self.refunds.sms.append({"iccid": view.iccid, "esimId": view.id, "message": message, "at": self.now()})
            return self._ok({"iccid": view.iccid, "esimId": view.id, "sent": True})


def _iso_date(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value[:10]) if len(value) > 10 else date.fromisoformat(value)
        if len(value) > 10:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
