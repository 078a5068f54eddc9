"""The sandbox as one ASGI app: each simulated vendor under its own prefix, plus a control API for tests."""

from __future__ import annotations

import importlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from esimdesk.sandbox.base import SANDBOX_CREDENTIALS, SandboxConfig, VendorSandbox
from esimdesk.sandbox.faults import FaultInjector, SlidingWindowLimiter, VendorMiddleware

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
        routes: list[Any] = [
            Route("/_sandbox/state", self._state, methods=["GET"]),
            Route("/_sandbox/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/_sandbox/clock", self._clock, methods=["POST"]),
        ]
        for i, name in enumerate(vendors or tuple(SIMULATORS)):
            sim = simulator_class(name)(self.config, dict(SANDBOX_CREDENTIALS[name]))
            injector = FaultInjector(seed=self.config.seed * 100 + i)
            limiter = SlidingWindowLimiter(*sim.rate_limit) if sim.rate_limit else None
            inner = Starlette(routes=sim.routes())
            app = VendorMiddleware(inner, injector=injector, busy=sim.busy_response, limiter=limiter)
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

    async def _clock(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.config.clock.advance(float(body.get("advance", 0)))
        return JSONResponse({"now": self.config.clock.now()})
