"""The sandbox as one ASGI app: each simulated vendor under its own prefix, plus a control API for tests.

Control API (JSON in and out; errors are HTTP 400 ``{"error": "..."}``):

- ``GET /_sandbox/state``: ``{vendor: stats}`` (counts of orders, requests, balances). Every vendor's
  stats carry the requests that reached it since the counters were last reset: ``requests_total``,
  ``requests_by_path`` (``{"esim/query": 200, ...}``, the path below its mount) and ``rate_limited``
  (those refused by its rate limit, counted in the others too).
  ``POST /_sandbox/state {"reset_counters": true}`` sets them back to zero (e.g. to count one sync) and
  answers the state.
- ``GET|POST|DELETE /_sandbox/faults[?vendor=V]``: list, add (``{"vendor": V, "faults": [Fault, ...]}``)
  or clear the injected faults; answers ``{vendor: [Fault, ...]}``.
  ``V`` may also be ``ecb``: the ECB's reference-rate files under ``/ecb/stats/eurofxref/`` (ecb.py).
- ``GET|POST /_sandbox/clock``: ``{"advance": S}`` moves the shared clock (every vendor) by S seconds;
  ``{"advance": S, "vendor": V}`` moves only V's clock (negative: back); ``{"offset": S, "vendor": V}``
  sets V's own offset from the shared clock. Answers ``{"now": shared, "vendors": {V: {"now", "offset"}}}``.
- ``GET|POST /_sandbox/config``: read or change the run-time switches
  (``{"roamify_reference_ids": false}``, ``{"latency_ms": 150}``); answers them all, e.g.
  ``{"roamify_reference_ids": true, "allocation_delay": 2.0, "usage_mb_per_hour": 40.0,
  "latency_ms": 0.0, "latency_sigma": 0.6}``.
- ``GET /_sandbox/orders?vendor=V``: the ledger of orders V created through the API in this run
  (with a world file: in this world) (``[{"order_id", "handle", "plan_id", "quantity", "kind",
  "created_at"}]``, oldest first); without ``vendor``: ``{vendor: [...]}`` for every vendor.
- ``GET /_sandbox/refunds?vendor=roamify``: the refund requests as the vendor's API shows them, newest first;
  ``POST /_sandbox/refunds {"vendor": "roamify", "refund_id": R, "decision": "approve" | "process" | "reject",
  "reason": "..."}``: the vendor's support decides one (approve credits its price to the balance); answers it
  (sandbox/roamify_refunds.py).

``Sandbox(state_file=...)`` keeps the world (orders, eSIMs, balances, counters, clocks) in a file so
runs share it (see state.py); without one, the world lives and dies with the object, as tests want.
Faults and the run-time switches of ``/_sandbox/config`` belong to the run, not to the world.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from contextlib import ExitStack
from email.utils import formatdate
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from esimdesk.sandbox.base import SANDBOX_CREDENTIALS, SandboxConfig, VendorSandbox
from esimdesk.sandbox.ecb import MOUNT as ECB_MOUNT
from esimdesk.sandbox.ecb import EcbSandbox
from esimdesk.sandbox.faults import (
    FaultInjector,
    LatencyModel,
    RequestCounter,
    SlidingWindowLimiter,
    VendorMiddleware,
    dated,
)
from esimdesk.sandbox.state import FORMAT, VERSION, WORLD_FIELDS, StateFile, StateFileError

log = logging.getLogger("esimdesk.sandbox")

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

    def __init__(self, config: SandboxConfig | None = None, vendors: tuple[str, ...] | None = None, *,
                 state_file: Path | str | None = None):
        self.config = config or SandboxConfig()
        # The world file (None: in memory only). Read before the simulators exist: a saved world keeps
        # the seed and sizes it was made with, and the simulators build their catalogs from them.
        self.world = StateFile(state_file) if state_file is not None else None
        self._world_lock = threading.RLock()
        self._other_vendors: dict[str, Any] = {}  # saved vendors this run does not simulate: kept as they are
        saved = self.world.read() if self.world is not None else None
        if saved is not None:
            self._adopt_world_config(saved)
        self.vendors: dict[str, VendorSandbox] = {}
        self.faults: dict[str, FaultInjector] = {}
        self.limiters: dict[str, SlidingWindowLimiter] = {}
        self.counters: dict[str, RequestCounter] = {}
        control = Starlette(routes=[
            Route("/state", self._state, methods=["GET", "POST"]),
            Route("/faults", self._faults, methods=["GET", "POST", "DELETE"]),
            Route("/clock", self._clock, methods=["GET", "POST"]),
            Route("/config", self._config, methods=["GET", "POST"]),
            Route("/orders", self._orders, methods=["GET"]),
            Route("/refunds", self._refunds, methods=["GET", "POST"]),
        ])
        # The control API answers at once (no latency, not counted): it is the test's, not a vendor's.
        routes: list[Any] = [Mount("/_sandbox", app=_Dated(control, self._shared_date))]
        for i, name in enumerate(vendors or tuple(SIMULATORS)):
            sim = simulator_class(name)(self.config, dict(SANDBOX_CREDENTIALS[name]))
            injector = FaultInjector(seed=self.config.seed * 100 + i)
            # Always on, whatever runs the sandbox (tests, --demo, python -m esimdesk.sandbox, benchmarks):
            # only Roumio documents a limit (8 requests/s, answered with its own 429); Roamify, MicroESIM
            # and Flexiroam document none, so they get no limiter.
            limiter = SlidingWindowLimiter(*sim.rate_limit) if sim.rate_limit else None
            counter = RequestCounter()
            inner = Starlette(routes=sim.routes())
            app = VendorMiddleware(inner, injector=injector, busy=sim.busy_response, limiter=limiter,
                                   rate_limited=sim.rate_limited_response, date=sim.clock.http_date,
                                   latency=LatencyModel(self.config, f"latency:{self.config.seed}:{name}"),
                                   counter=counter)
            routes.append(Mount(sim.mount, app=app))
            self.vendors[name], self.faults[name], self.counters[name] = sim, injector, counter
            if limiter:
                self.limiters[name] = limiter
        # The ECB's reference-rate files (ecb.py): no vendor, no account; its faults are faults["ecb"].
        # A remote server like the vendors: the same latency.
        self.ecb = EcbSandbox(self.config.clock)
        self.faults["ecb"] = FaultInjector(seed=self.config.seed * 100 + 99)
        routes.append(Mount(ECB_MOUNT, app=VendorMiddleware(
            Starlette(routes=self.ecb.routes()), injector=self.faults["ecb"], busy=self.ecb.busy_response,
            date=self._shared_date, latency=LatencyModel(self.config, f"latency:{self.config.seed}:ecb"))))
        self.app: ASGIApp = Starlette(routes=routes)
        if self.world is not None:
            if saved is None:  # a new world: seed it once, deterministically from the seed, and keep it
                for sim in self.vendors.values():
                    sim.materialize()
                self.save()
            else:
                self._load(saved)
            self.app = _Persisting(self.app, self)
        self.app = _HungUpQuietly(self.app)

    # --- the world file -----------------------------------------------------------------------------
    def _adopt_world_config(self, saved: dict[str, Any]) -> None:
        for name in WORLD_FIELDS:
            if name not in saved["config"]:
                continue
            value, mine = saved["config"][name], getattr(self.config, name)
            if value != mine:
                log.warning("the sandbox world %s was made with %s=%s; it keeps it (this run asked for %s); "
                            "a new world (esimdesk --demo --reset, or another --state file) takes the new one",
                            self.world.path if self.world else "", name, value, mine)
                setattr(self.config, name, value)

    def _load(self, saved: dict[str, Any]) -> None:
        """Put every simulator where the saved world left it. ``StateFileError`` if it does not fit."""
        try:
            with self._world_lock:
                self.config.clock.set_offset(float(saved.get("clock_offset", 0.0)))
                states = saved["vendors"]
                for name, sim in self.vendors.items():
                    with sim.lock:
                        if name in states:
                            sim.load_state(states[name])
                        else:  # a vendor this world never had: seeded now, saved with the next change
                            sim.materialize()
                self._other_vendors = {k: v for k, v in states.items() if k not in self.vendors}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            where = self.world.path if self.world else "the saved world"
            raise StateFileError(f"the sandbox world {where} is damaged or from another version "
                                 f"({type(exc).__name__}: {exc})") from None

    def save(self) -> None:
        """Write the whole world to its file now (nothing without one). Raises OSError."""
        if self.world is None:
            return
        with self._world_lock, ExitStack() as held:
            for sim in self.vendors.values():
                held.enter_context(sim.lock)
            doc = {
                "format": FORMAT, "version": VERSION, "saved_at": time.time(),
                "config": {name: getattr(self.config, name) for name in WORLD_FIELDS},
                "clock_offset": self.config.clock.offset,
                "vendors": {**self._other_vendors, **{n: sim.dump_state() for n, sim in self.vendors.items()}},
            }
            self.world.write(doc)

    def save_quietly(self) -> None:
        """``save`` from a request: a world that cannot be written is logged, the answer still goes out."""
        try:
            self.save()
        except OSError as exc:
            log.error("the sandbox world could not be saved to %s (%s); this change lives only as long as "
                      "this process", self.world.path if self.world else "", exc.strerror or exc)

    def refresh(self) -> None:
        """Read the world again if another process saved it since this one last read or wrote it."""
        if self.world is None or not self.world.changed():
            return
        with self._world_lock:
            if not self.world.changed():
                return
            try:
                saved = self.world.read()
                if saved is None:
                    return
                if any(saved["config"].get(k) != getattr(self.config, k) for k in WORLD_FIELDS):
                    log.warning("the sandbox world %s was replaced by another world; this process keeps "
                                "its own until it restarts", self.world.path)
                    return
                self._load(saved)
            except StateFileError as exc:
                log.error("%s; this process keeps the world it has", exc)

    def writes(self, method: str, path: str) -> bool:
        """Whether a request may change the world (and is saved before its answer leaves)."""
        if path.startswith("/_sandbox/"):
            return method == "POST" and path.rstrip("/") in ("/_sandbox/clock", "/_sandbox/refunds")
        for sim in self.vendors.values():
            if path == sim.mount or path.startswith(sim.mount + "/"):
                return sim.writes(method, path[len(sim.mount):])
        return False

    def stats(self) -> dict[str, Any]:
        return {name: {**sim.stats(), **self.counters[name].snapshot()} for name, sim in self.vendors.items()}

    def reset_counters(self) -> None:
        for counter in self.counters.values():
            counter.reset()

    async def _state(self, request: Request) -> JSONResponse:
        if request.method == "POST":
            try:
                body = await self._body(request)
                unknown = set(body) - {"reset_counters"}
                if unknown:
                    raise ValueError(f"{sorted(unknown)[0]!r} is not understood; only reset_counters")
                if not isinstance(body.get("reset_counters", False), bool):
                    raise ValueError("reset_counters must be true or false")
            except ValueError as exc:
                return _bad(str(exc))
            if body.get("reset_counters"):
                self.reset_counters()
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

    async def _refunds(self, request: Request) -> JSONResponse:
        try:
            body = await self._body(request) if request.method == "POST" else {}
            vendor = body.get("vendor") or request.query_params.get("vendor") or "roamify"
            if vendor not in self.vendors:
                raise ValueError(f"unknown vendor {vendor!r}")
            sim = self.vendors[vendor]
            if request.method == "GET":
                return JSONResponse(sim.refund_requests())
            refund_id, decision, reason = body.get("refund_id"), body.get("decision"), body.get("reason")
            if not isinstance(refund_id, str) or not isinstance(decision, str) or not isinstance(reason, str | None):
                raise ValueError("refund_id and decision are required (reason: text)")
            return JSONResponse(sim.decide_refund(refund_id, decision, reason))
        except ValueError as exc:
            return _bad(str(exc))


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


class _HungUpQuietly:
    """A client that left before its request was read (a cancelled sync, a walk stopping at its budget) is nobody
    to answer: the request ends there. Raised on, the server printed it as an error with its traceback, once a
    hang-up (with a world, what the vendor did before it is saved all the same: _Persisting)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ClientDisconnect:
            pass


class _Persisting:
    """Keeps the world file in step: read again when another process saved it, saved after each request
    that may change it, before the answer's first byte (a client that sees the answer finds it saved)."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app, self.sandbox = app, sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sandbox = self.sandbox
        sandbox.refresh()
        if not sandbox.writes(scope["method"], scope["path"]):
            await self.app(scope, receive, send)
            return
        saved = False

        async def send_after_saving(message) -> None:
            nonlocal saved
            if message["type"] == "http.response.start" and not saved:
                saved = True
                sandbox.save_quietly()
            await send(message)

        try:
            await self.app(scope, receive, send_after_saving)
        finally:
            if not saved:  # no answer went out (a dropped connection): the vendor may have acted all the same
                sandbox.save_quietly()
