"""The sandbox as one ASGI app: each simulated vendor under its own prefix, plus a control API for tests.

Control API (JSON in and out; errors are HTTP 400 ``{"error": "..."}``):

- ``GET /_sandbox/state``: ``{vendor: stats}`` (counts of orders, requests, balances).
- ``GET|POST|DELETE /_sandbox/faults[?vendor=V]``: list, add (``{"vendor": V, "faults": [Fault, ...]}``)
  or clear the injected faults; answers ``{vendor: [Fault, ...]}``.
- ``GET|POST /_sandbox/clock``: ``{"advance": S}`` moves the shared clock (every vendor) by S seconds;
  ``{"advance": S, "vendor": V}`` moves only V's clock (negative: back); ``{"offset": S, "vendor": V}``
  sets V's own offset from the shared clock. Answers ``{"now": shared, "vendors": {V: {"now", "offset"}}}``.
- ``GET|POST /_sandbox/config``: read or change the run-time switches
  (``{"roamify_reference_ids": false}``); answers them all, e.g.
  ``{"roamify_reference_ids": true, "allocation_delay": 2.0, "usage_mb_per_hour": 40.0}``.
- ``GET /_sandbox/orders?vendor=V``: the ledger of orders V created through the API in this run
  (``[{"order_id", "handle", "plan_id", "quantity", "kind", "created_at"}]``, oldest first); without
  ``vendor``: ``{vendor: [...]}`` for every vendor.
"""

from __future__ import annotations

import importlib
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from esimdesk.sandbox.base import SANDBOX_CREDENTIALS, SandboxConfig, VendorSandbox
from esimdesk.sandbox.faults import FaultInjector, SlidingWindowLimiter, VendorMiddleware, dated

SIMULATORS = {
    "roumio": "esimdesk.sandbox.roumio:RoumioSandbox",
    "roamify": "esimdesk.sandbox.roamify:RoamifySandbox",
    "microesim": "esimdesk.sandbox.microesim:MicroesimSandbox",
    "flexiroam": "esimdesk.sandbox.flexiroam:FlexiroamSandbox",
}


def simulator_class(vendor: str) -> type[VendorSandbox]:
    module, _, cls = SIMULATORS[vendor].partition(":")
    return getattr(importlib.import_module(module), cls)


class Sandbox:
    """All four vendors, their fault injectors and rate limiters, in one Starlette app."""

    def __init__(self, config: SandboxConfig | None = None, vendors: tuple[str, ...] | None = None):
        self.config = config or SandboxConfig()
        self.vendors: dict[str, VendorSandbox] = {}
        self.faults: dict[str, FaultInjector] = {}
        self.limiters: dict[str, SlidingWindowLimiter] = {}
        control = Starlette(routes=[
            Route("/state", self._state, methods=["GET"]),
            Route("/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/clock", self._clock, methods=["GET", "POST"]),
            Route("/config", self._config, methods=["GET", "POST"]),
            Route("/orders", self._orders, methods=["GET"]),
        ])
        routes: list[Any] = [Mount("/_sandbox", app=_Dated(control, self._shared_date))]
        for i, name in enumerate(vendors or tuple(SIMULATORS)):
            sim = simulator_class(name)(self.config, dict(SANDBOX_CREDENTIALS[name]))
            injector = FaultInjector(seed=self.config.seed * 100 + i)
            limiter = SlidingWindowLimiter(*sim.rate_limit) if sim.rate_limit else None
            inner = Starlette(routes=sim.routes())
            app = VendorMiddleware(inner, injector=injector, busy=sim.busy_response, limiter=limiter,
                                   rate_limited=sim.rate_limited_response, date=sim.clock.http_date)
            routes.append(Mount(sim.mount, app=app))
            self.vendors[name], self.faults[name] = sim, injector
            if limiter:
                self.limiters[name] = limiter
        self.app = Starlette(routes=routes)

    def stats(self) -> dict[str, Any]:
        return {name: sim.stats() for name, sim in self.vendors.items()}

    async def _state(self, request: Request) -> JSONResponse:
        return JSONResponse(self.stats())

    async def _faults(self, request: Request) -> JSONResponse:
        vendor = request.query_params.get("vendor")
        targets = [vendor] if vendor else list(self.faults)
        if request.method == "POST":
            body = await request.json()
            for f in body.get("faults", []):
                self.faults[body["vendor"]].add(f)
        elif request.method == "DELETE":
            for v in targets:
                self.faults[v].clear()
        return JSONResponse({v: self.faults[v].list() for v in targets})

    def _shared_date(self) -> str:
        return formatdate(self.config.clock.now(), usegmt=True)

    def clock_state(self) -> dict[str, Any]:
        return {
            "now": self.config.clock.now(),
            "vendors": {name: {"now": sim.clock.now(), "offset": sim.clock.offset}
                        for name, sim in self.vendors.items()},
        }

    async def _body(self, request: Request) -> dict[str, Any]:
        if not await request.body():
            return {}
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    async def _clock(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                body = await self._body(request)
                vendor = body.get("vendor")
                if vendor is not None and vendor not in self.vendors:
                    raise ValueError(f"unknown vendor {vendor!r}")
                advance, offset = body.get("advance"), body.get("offset")
                for name, val in (("advance", advance), ("offset", offset)):
                    if val is not None and (isinstance(val, bool) or not isinstance(val, int | float)):
                        raise ValueError(f"{name} must be a number of seconds")
                if offset is not None and vendor is None:
                    raise ValueError("offset needs a vendor (the shared clock only moves by advance)")
            except ValueError as exc:
                return _bad(str(exc))
            if vendor is None:
                self.config.clock.advance(float(advance or 0))
            else:
                clock = self.vendors[vendor].clock
                if offset is not None:
                    clock.set_offset(float(offset))
                clock.advance(float(advance or 0))
        return JSONResponse(self.clock_state())

    async def _config(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                return JSONResponse(self.config.update(await self._body(request)))
            except ValueError as exc:
                return _bad(str(exc))
        return JSONResponse(self.config.runtime())

    def ledger(self, vendor: str) -> list[dict[str, Any]]:
        sim = self.vendors[vendor]
        with sim.lock:
            return sim.ledger()

    async def _orders(self, request: Request) -> JSONResponse:
        vendor = request.query_params.get("vendor")
        if vendor is None:
            return JSONResponse({name: self.ledger(name) for name in self.vendors})
        if vendor not in self.vendors:
            return _bad(f"unknown vendor {vendor!r}")
        return JSONResponse(self.ledger(vendor))


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


class _Dated:
    """The control API's answers carry a Date header too (the shared clock's), as uvicorn's is off."""

    def __init__(self, app: ASGIApp, date) -> None:
        self.app, self.date = app, date

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            send = dated(send, self.date)
        await self.app(scope, receive, send)
