"""What every simulated vendor shares: configuration, a controllable clock, auth and stats hooks."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute


class Clock:
    """Wall-clock time that tests can move forward (usage growth, expiry) without sleeping."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    def set_offset(self, seconds: float) -> None:
        """Put the clock where a saved world left it (seconds ahead of wall time; negative: behind)."""
        with self._lock:
            self._offset = seconds


class VendorClock:
    """One vendor's clock: the sandbox's shared clock plus an offset of the vendor's own.

    Moving the shared clock moves every vendor (usage growth, expiry); ``advance`` here moves only this
    vendor, forward or (negative) back, as a vendor whose servers run ahead of or behind the desk's.
    """

    def __init__(self, base: Clock) -> None:
        self.base = base
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.base.now() + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = seconds

    @property
    def offset(self) -> float:
        """Seconds this vendor runs ahead of the shared clock (negative: behind)."""
        with self._lock:
            return self._offset

    def http_date(self) -> str:
        """This clock's time as an HTTP ``Date`` header value (RFC 7231 IMF-fixdate)."""
        return formatdate(self.now(), usegmt=True)


@dataclass
class SandboxConfig:
    seed: int = 1
    # Catalog and fleet size per vendor. ``None`` = a realistic demo size chosen by each simulator.
    plans: int | None = None
    esims: int | None = None
    # Seconds until an order's profiles are allocated (Roumio 200010 / MicroESIM success_number 0 until then).
    allocation_delay: float = 2.0
    # How fast simulated usage grows: MB per hour of clock time for an ACTIVE eSIM.
    usage_mb_per_hour: float = 40.0
    # Starting balance in the vendor's currency units (Decimal-free: simulators keep integer cents).
    balance_cents: int = 500_000
    # Roamify's current API (roamify-more.md section 4): ``referenceId`` on orders and top-ups, echoed in
    # every order, and the look-ups by it. False plays an account on the older API of roamify.md: the
    # field is ignored, orders carry no ``referenceId`` key and ``GET /api/esim/order`` needs ``orderId``.
    # Switchable at run time: ``POST /_sandbox/config {"roamify_reference_ids": false}``.
    roamify_reference_ids: bool = True
    # How long a vendor (and the ECB) takes to answer, so a benchmark measures vendors rather than the
    # sandbox's CPU: each request waits a log-normal time with this median (0: answers at once, as unit
    # tests want) and spread (0.6: p99 about 4x the median, the long tail a real API has). Drawn from
    # RNGs seeded from ``seed``; the server's loop is never blocked (faults.LatencyModel).
    latency_ms: float = 0.0
    latency_sigma: float = 0.6
    # Roamify refund requests decided by the clock (roamify_refunds.py): PROCESSING this many seconds after the
    # request, decided at twice that. 0 (tests): only the control API decides (POST /_sandbox/refunds).
    refund_decision_s: float = 0.0
    clock: Clock = field(default_factory=Clock)

    # Fields the control API may change while the sandbox runs (``/_sandbox/config``), with their types.
    RUNTIME_FIELDS: ClassVar[dict[str, type]] = {
        "roamify_reference_ids": bool,
        "allocation_delay": float,
        "usage_mb_per_hour": float,
        "latency_ms": float,
        "latency_sigma": float,
        "refund_decision_s": float,
    }

    def runtime(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.RUNTIME_FIELDS}

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply run-time changes; a ValueError names the first unknown field or bad value (none applied)."""
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            kind = self.RUNTIME_FIELDS.get(name)
            if kind is None:
                known = ", ".join(self.RUNTIME_FIELDS)
                raise ValueError(f"{name!r} cannot be changed at run time; one of {known}")
            if kind is bool:
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
            checked[name] = kind(value)
        for name, value in checked.items():
            setattr(self, name, value)
        return self.runtime()

    @classmethod
    def from_env(cls, **overrides: Any) -> SandboxConfig:
        """Scale knobs for demos and benchmarks: ESIMDESK_SANDBOX_PLANS / _ESIMS / _SEED / _ALLOCATION /
        _LATENCY_MS."""

        def num(name: str, conv):
            val = os.environ.get(name)
            return conv(val) if val not in (None, "") else None

        kwargs: dict[str, Any] = {}
        for key, env, conv in (
            ("plans", "ESIMDESK_SANDBOX_PLANS", int),
            ("esims", "ESIMDESK_SANDBOX_ESIMS", int),
            ("seed", "ESIMDESK_SANDBOX_SEED", int),
            ("allocation_delay", "ESIMDESK_SANDBOX_ALLOCATION", float),
            ("latency_ms", "ESIMDESK_SANDBOX_LATENCY_MS", float),
        ):
            val = num(env, conv)
            if val is not None:
                kwargs[key] = val
        kwargs.update(overrides)
        return cls(**kwargs)


def rng_state(rng: random.Random) -> list[Any]:
    """A ``random.Random``'s state as JSON values (``set_rng_state`` puts it back)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def set_rng_state(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss = state
    rng.setstate((version, tuple(internal), gauss))


# Fixed demo credentials: the sandbox is local-only and these are printed for other tools to use.
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "roumio": {"KEY": "sbx-roumio-7f3a9c2e"},
    "roamify": {"TOKEN": "sbx-roamify-5b81d04f"},
    "microesim": {"ACCOUNT": "sbx-micro-account", "SECRET": "sbx-micro-secret-91ce", "SALT": "5a1f0c3e9b7d2a64"},
    "flexiroam": {"KEY": "sbx-flexiroam-e2c7a913"},
}


class VendorSandbox:
    """One simulated vendor. Subclasses define routes and the vendor's own error envelopes.

    ``mount``: the path prefix under the sandbox's root; the adapter's base URL is root + mount.
    ``rate_limit``: (requests, seconds) beyond which the vendor answers HTTP 429.
    """

    vendor: ClassVar[str] = ""
    mount: ClassVar[str] = ""
    rate_limit: ClassVar[tuple[int, float] | None] = None

    def __init__(self, config: SandboxConfig, credentials: dict[str, str]):
        self.config = config
        self.credentials = credentials
        self.lock = threading.RLock()  # state is touched from the server thread and from tests
        # This vendor's clock: every time it stamps (createdAt, create_time, the Date header) comes from it.
        self.clock = VendorClock(config.clock)
        self._api_seq = 0  # creation order of API orders (the clock may be moved back)

    def next_seq(self) -> int:
        with self.lock:
            self._api_seq += 1
            return self._api_seq

    def now(self) -> float:
        return self.clock.now()

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def busy_response(self) -> Response:
        """The vendor's own "busy, try later" answer (Roumio 900001); generic 503 where none is documented."""
        return JSONResponse({"message": "Service busy"}, status_code=503)

    def rate_limited_response(self) -> Response:
        """HTTP 429 (the rate limit, or an injected ``http_429`` fault) in the vendor's own error envelope."""
        return JSONResponse({"message": "Too Many Requests"}, status_code=429, headers={"Retry-After": "1"})

    # --- a world kept in a file (``Sandbox(state_file=...)``, see state.py) -------------------------
    def materialize(self) -> None:
        """Build whatever seeded state is made lazily, so a new world file holds it from the start."""

    def dump_state(self) -> dict[str, Any]:
        """Everything this vendor changed or seeded that is not derived from the seed: plain JSON values.
        Subclasses extend it (and ``load_state``) with their own orders, eSIMs, balances and counters."""
        with self.lock:
            return {"clock_offset": self.clock.offset, "api_seq": self._api_seq}

    def load_state(self, state: dict[str, Any]) -> None:
        """Put back what ``dump_state`` wrote (the caller holds ``self.lock``)."""
        self.clock.set_offset(float(state.get("clock_offset", 0.0)))
        self._api_seq = int(state.get("api_seq", 0))

    def writes(self, method: str, path: str) -> bool:
        """Whether a request (``path`` below this vendor's mount) may change the world, so it is saved after."""
        return method not in ("GET", "HEAD", "OPTIONS")

    def refund_requests(self) -> list[dict[str, Any]]:
        """The refund requests this vendor holds, as its API shows them (only Roamify simulates them)."""
        return []

    def decide_refund(self, refund_id: str, decision: str, reason: str | None = None) -> dict[str, Any]:
        """The vendor's support decides a refund request (the control API); ValueError in words."""
        raise ValueError(f"{self.vendor} has no refund requests in the sandbox")

    def stats(self) -> dict[str, Any]:
        """Counts for tests, e.g. how many distinct orders the vendor accepted (must include ``orders``)."""
        return {}

    def ledger(self) -> list[dict[str, Any]]:
        """Every order and top-up created through the API during this run (seeded history left out), oldest
        first, for tests and the soak benchmark (``GET /_sandbox/orders?vendor=V``): dicts with
        ``order_id``, ``handle`` (the client's idempotency handle or reference as the vendor keeps it,
        or None), ``plan_id``, ``quantity``, ``kind`` ("order" | "topup") and ``created_at`` (this vendor's
        clock, epoch seconds)."""
        return []

    @staticmethod
    async def json_body(request: Request) -> Any:
        body = await request.body()
        if not body:
            return {}
        return json.loads(body)
