"""Deterministic fault injection, rate limiting and latency, as ASGI middleware around one simulated vendor.

Each request is counted (per endpoint, ``RequestCounter``), judged by the vendor's documented rate limit
(``SlidingWindowLimiter``, on arrival), held for the vendor's answer time (``LatencyModel``: off unless
``SandboxConfig.latency_ms`` is set; an ``asyncio.sleep``, so requests overlap as they do at a vendor),
and then meets the faults.

A fault hits requests whose endpoint (path below the vendor's mount) matches ``endpoint`` (fnmatch).
``when="before"`` answers instead of the vendor; ``when="after"`` lets the vendor act (an order is
recorded, money is taken) and then loses the answer: the case that makes an order UNCERTAIN. Every
kind honours ``when`` (``latency`` only delays and lets the answer through).

Three more kinds (``BOUND_FAULT_KINDS``) test the client's bounds on an answer: ``trickle`` (a byte
every ``seconds``: no read ever times out, the answer never ends), ``endless`` (a JSON stream without
end, as fast as it is read) and ``deep_json`` (valid JSON nested 100,000 levels deep). Each streams
until the client hangs up.

Every answer that leaves a vendor's middleware, the vendor's own and every fault's (a dropped one
included), carries exactly one ``Date`` header, stamped from that vendor's clock: uvicorn's own is
switched off (server.py), so a test can skew one vendor's clock and see it in ``Date`` and in the
vendor's timestamps alike.
"""

from __future__ import annotations

import asyncio
import fnmatch
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from esimdesk.sandbox.base import SandboxConfig

FAULT_KINDS = (
    "latency",  # answer normally after `seconds`
    "late",  # the request reaches the vendor `seconds` late (a slow network): acted on even if the client gave up
    "http_429",
    "http_500",
    "http_503",
    "busy",  # the vendor's own busy code (Roumio 900001)
    "timeout",  # no answer for `seconds` (default 30), then the connection is closed
    "drop",  # connection closed mid-answer
    "truncated",  # JSON cut in half, complete HTTP message
    "malformed",  # not JSON at all, labelled as JSON
    "html",  # an HTML error page (as a proxy in front of the vendor would give)
    "wrong_content_type",  # valid JSON labelled text/plain
)
# Answers that test the client's bounds rather than its retries (apart from FAULT_KINDS, whose every kind a
# read gets past by asking again): each streams its body until the client hangs up.
BOUND_FAULT_KINDS = (
    "trickle",  # a 200 whose body comes one byte every `seconds` (default 5): never complete, never idle long
    "endless",  # a 200 whose JSON body streams without end
    "deep_json",  # a 200 with valid JSON nested DEEP_JSON_LEVELS deep
)
ALL_FAULT_KINDS = FAULT_KINDS + BOUND_FAULT_KINDS

DEEP_JSON_LEVELS = 100_000
TRICKLE_BODY = b'{"message": "' + b"." * 65_536 + b'"}'  # ~64 KiB: at a byte a second, 18 hours
ENDLESS_CHUNK = b'"' + b"x" * 65_534 + b'",'  # 64 KiB of list items, again and again


@dataclass
class Fault:
    kind: str
    endpoint: str = "*"
    when: str = "before"
    times: int | None = 1  # None: every matching request
    probability: float = 1.0  # drawn from the injector's seeded RNG
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ALL_FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(ALL_FAULT_KINDS)}")
        if self.when not in ("before", "after"):
            raise ValueError("when must be 'before' or 'after'")


class FaultInjector:
    def __init__(self, seed: int = 0):
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)
        self.injected: list[dict[str, Any]] = []

    def add(self, fault: Fault | dict[str, Any]) -> Fault:
        if isinstance(fault, dict):
            fault = Fault(**fault)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]

    def take(self, endpoint: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fnmatch.fnmatchcase(endpoint, fault.endpoint):
                    continue
                if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                self.injected.append({"endpoint": endpoint, "kind": fault.kind, "when": fault.when})
                return fault
        return None


class SlidingWindowLimiter:
    def __init__(self, limit: int, per: float):
        self.limit, self.per = limit, per
        self._hits: deque[float] = deque()
        self._lock = threading.Lock()
        self.refused = 0

    def allow(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._hits and now - self._hits[0] >= self.per:
                self._hits.popleft()
            if len(self._hits) >= self.limit:
                self.refused += 1
                return False
            self._hits.append(now)
            return True


class LatencyModel:
    """How long one vendor takes to answer: log-normal, median ``config.latency_ms``, spread
    ``config.latency_sigma`` (read at every draw, so ``/_sandbox/config`` switches it at run time).

    Log-normal because response times are: most near the median, a long tail (sigma 0.6: p99 about 4x
    the median). The RNG is seeded, so a run's sequence of delays is the same each time (for a given
    order of requests)."""

    def __init__(self, config: SandboxConfig, seed: str):
        self.config = config
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> float:
        """Seconds to wait before answering this request (0 when latency is off)."""
        median_ms, sigma = self.config.latency_ms, self.config.latency_sigma
        if median_ms <= 0:
            return 0.0
        with self._lock:
            return self._rng.lognormvariate(math.log(median_ms / 1000), sigma)


class RequestCounter:
    """Requests that reached one vendor, per endpoint (the path below its mount), for ``/_sandbox/state``:
    a benchmark counts what one sync asked for. Refused ones (the rate limit) count too, as the vendor
    counts them, and are also counted apart. ``reset`` starts again from zero."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: Counter[str] = Counter()
        self._rate_limited = 0

    def count(self, endpoint: str) -> None:
        with self._lock:
            self._by_path[endpoint] += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    def reset(self) -> None:
        with self._lock:
            self._by_path.clear()
            self._rate_limited = 0

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests_total": sum(self._by_path.values()),
                    "requests_by_path": dict(sorted(self._by_path.items())),
                    "rate_limited": self._rate_limited}


class VendorMiddleware:
    """Count, rate limit, latency, then faults, around one vendor's ASGI app."""

    def __init__(self, app: ASGIApp, *, injector: FaultInjector, busy: Callable[[], Response],
                 limiter: SlidingWindowLimiter | None = None,
                 rate_limited: Callable[[], Response] | None = None,
                 date: Callable[[], str] | None = None,
                 latency: LatencyModel | None = None,
                 counter: RequestCounter | None = None):
        self.app = app
        self.injector = injector
        self.busy = busy
        self.limiter = limiter
        # The vendor's own 429 (rate limit and the http_429 fault); its clock's time for the Date header.
        self.rate_limited = rate_limited or _generic_429
        self.date = date
        self.latency = latency
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.date is not None:
            send = dated(send, self.date)
        endpoint = scope.get("path", "").removeprefix(scope.get("root_path", "")).strip("/")
        if self.counter is not None:
            self.counter.count(endpoint)
        # The limit is judged on arrival, before the latency: a client pacing itself at the documented
        # rate must not be refused because the answers' delays happened to bunch its requests together.
        allowed = self.limiter is None or self.limiter.allow()
        delay = self.latency.draw() if self.latency is not None else 0.0
        if delay > 0:
            await asyncio.sleep(delay)  # never time.sleep: the other requests go on meanwhile
        if not allowed:
            if self.counter is not None:
                self.counter.count_rate_limited()
            await self.rate_limited()(scope, receive, send)  # a real 429 takes its round trip too
            return
        fault = self.injector.take(endpoint)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "latency":
            await asyncio.sleep(fault.seconds if fault.seconds is not None else 1.0)
            await self.app(scope, receive, send)
            return
        if fault.kind == "late":
            await _deliver_late(self.app, scope, receive, send, fault.seconds if fault.seconds is not None else 60.0)
            return
        if fault.when == "after":
            # The vendor does the work; its answer is swallowed and replaced by the fault.
            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        await self._answer_fault(fault, scope, receive, send)

    async def _answer_fault(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        kind = fault.kind
        if kind == "http_429":
            resp = self.rate_limited()
        elif kind in ("http_500", "http_503"):
            status = int(kind[-3:])
            headers = {"Retry-After": "1"} if status == 503 else {}
            resp = Response('{"message":"error"}', status_code=status, media_type="application/json", headers=headers)
        elif kind == "busy":
            resp = self.busy()
        elif kind == "timeout":
            await asyncio.sleep(fault.seconds if fault.seconds is not None else 30.0)
            await _drop(send)
            return
        elif kind == "drop":
            await _drop(send)
            return
        elif kind in ("trickle", "endless", "deep_json"):
            resp = StreamingResponse(_stream(fault), media_type="application/json")
        elif kind == "truncated":
            resp = Response('{"success": true, "obj": {"list": [{"a', media_type="application/json")
        elif kind == "malformed":
            resp = Response("{success: yes, obj: ]", media_type="application/json")
        elif kind == "html":
            resp = Response("<html><body><h1>502 Bad Gateway</h1></body></html>", status_code=502,
                            media_type="text/html")
        else:  # wrong_content_type
            resp = Response('{"success": true}', media_type="text/plain")
        await resp(scope, receive, send)


def _generic_429() -> Response:
    return Response('{"message":"Too Many Requests"}', status_code=429, media_type="application/json",
                    headers={"Retry-After": "1"})


def dated(send: Send, date: Callable[[], str]) -> Send:
    """``send`` that gives every response start exactly one Date header, from ``date()``."""

    async def dated_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
            headers.append((b"date", date().encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)

    return dated_send


async def _deliver_late(app: ASGIApp, scope: Scope, receive: Receive, send: Send, seconds: float) -> None:
    """The whole request is taken now and handed to the vendor ``seconds`` later, whether or not the client
    still waits (a request held in a queue on its way). An answer nobody waits for any more goes nowhere."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await asyncio.sleep(seconds)
    body = b"".join(chunks)
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the vendor never hears of the client's going
        return {"type": "http.disconnect"}

    async def maybe_send(message: Message) -> None:
        try:
            await send(message)
        except Exception:  # noqa: BLE001  (the client has gone: its answer is lost, the vendor acted)
            pass

    await app(scope, replay, maybe_send)


async def _drop(send: Send) -> None:
    """Start an answer that promises a body and never deliver it: the client sees a dropped connection."""
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")]})
    await send({"type": "http.response.body", "body": b'{"succ', "more_body": True})
    raise ConnectionAbortedError("sandbox: connection dropped on purpose")


async def _stream(fault: Fault) -> AsyncIterator[bytes]:
    """The body of a ``trickle``, ``endless`` or ``deep_json`` answer. Starlette stops it when the client
    hangs up (a send to a closed connection raises, or its disconnect listener cancels it)."""
    if fault.kind == "deep_json":
        yield b"[" * DEEP_JSON_LEVELS
        yield b"]" * DEEP_JSON_LEVELS
        return
    if fault.kind == "endless":
        yield b'{"success": true, "data": ['
        while True:
            yield ENDLESS_CHUNK
            await asyncio.sleep(0)  # let the server's other requests (and the disconnect) through
    pause = fault.seconds if fault.seconds is not None else 5.0
    for i in range(len(TRICKLE_BODY)):
        yield TRICKLE_BODY[i:i + 1]
        await asyncio.sleep(pause)
