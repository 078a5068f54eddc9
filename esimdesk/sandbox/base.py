"""What every simulated vendor shares: configuration, a controllable clock, auth and stats hooks."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
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
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def from_env(cls, **overrides: Any) -> SandboxConfig:
        """Scale knobs for demos and benchmarks: ESIMDESK_SANDBOX_PLANS / _ESIMS / _SEED / _ALLOCATION."""

        def num(name: str, conv):
            val = os.environ.get(name)
            return conv(val) if val not in (None, "") else None

        kwargs: dict[str, Any] = {}
        for key, env, conv in (
            ("plans", "ESIMDESK_SANDBOX_PLANS", int),
            ("esims", "ESIMDESK_SANDBOX_ESIMS", int),
            ("seed", "ESIMDESK_SANDBOX_SEED", int),
            ("allocation_delay", "ESIMDESK_SANDBOX_ALLOCATION", float),
        ):
            val = num(env, conv)
            if val is not None:
                kwargs[key] = val
        kwargs.update(overrides)
        return cls(**kwargs)


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

    def now(self) -> float:
        return self.config.clock.now()

    def routes(self) -> list[BaseRoute]:
        raise NotImplementedError

    def busy_response(self) -> Response:
        """The vendor's own "busy, try later" answer (Roumio 900001); generic 503 where none is documented."""
        return JSONResponse({"message": "Service busy"}, status_code=503)

    def stats(self) -> dict[str, Any]:
        """Counts for tests, e.g. how many distinct orders the vendor accepted (must include ``orders``)."""
        return {}

    @staticmethod
    async def json_body(request: Request) -> Any:
        body = await request.body()
        if not body:
            return {}
        import json

        return json.loads(body)
