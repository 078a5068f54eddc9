"""What a sync reports: its progress while it runs and each source's result (a vendor, or "team" for the
team store: services/team_sync.py), shared by the vendors' sync, the team's and the sync child."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SyncProgress:
    vendor: str
    stage: str  # plans | balance | orders | esims | events
    done: int
    total: int | None  # None when the vendor does not say how many there are


@dataclass
class VendorSyncResult:
    vendor: str
    ok: bool = False
    plans: int = 0
    orders: int = 0
    esims: int = 0
    error: str | None = None
    seconds: float = 0.0
    # Why it failed, as one sentence an agent acts on, starting with the vendor's name ("roumio: the key
    # was refused — check File → Accounts (or ESIMDESK_ROUMIO_KEY)"); never a credential. None when ok.
    problem: str | None = None
    # Whether the vendor answered: "online" (even to refuse), "offline" (no connection, DNS, no answer in
    # time: services/reachability.py), None (cancelled, or not known). The window's toolbar and banner.
    reach: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "ok": self.ok, "plans": self.plans, "orders": self.orders,
                "esims": self.esims, "error": self.error, "seconds": round(self.seconds, 3)}
