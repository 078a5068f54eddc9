"""What a sync reports: its progress while it runs and each source's result (a vendor, or "team" for the
team store: services/team_sync.py), shared by the vendors' sync, the team's and the sync child."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class SyncProgress:
    vendor: str
    stage: str  # plans | balance | orders | esims | events
    done: int
    total: int | None  # None when the vendor does not say how many there are
    due: int | None = None  # stage "refresh": eSIMs due in all (``total`` is what this sync's budget takes)


@dataclass
class RefreshSummary:
    """The eSIMs a sync asked the vendor about one at a time (domain/refresh.py) and what it left."""

    due: int = 0  # due when the sync began
    planned: int = 0  # what the request budget allowed of them
    refreshed: int = 0  # answered
    failed: int = 0  # the vendor refused or did not know them (each said in the log)
    budget: int = 0

    @property
    def left_for_later(self) -> int:
        """Due, but past this sync's budget (or not reached: cancelled, or the vendor failed mid-way)."""
        return max(0, self.due - self.refreshed - self.failed)

    def to_json(self) -> dict[str, int]:
        return {"due": self.due, "planned": self.planned, "refreshed": self.refreshed, "failed": self.failed,
                "budget": self.budget, "left_for_later": self.left_for_later}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RefreshSummary:
        return cls(d.get("due", 0), d.get("planned", 0), d.get("refreshed", 0), d.get("failed", 0), d.get("budget", 0))


@dataclass
class WalkSummary:
    """What one sync walked of a long fleet listing (Flexiroam's chained pages, Roumio's numbered ones: domain/refresh.py
    FleetWalk)."""

    pages: int = 0
    esims: int = 0
    complete: bool = False  # reached the last page: the next sync starts over at the first
    resumed: bool = False  # went on from where an earlier sync stopped
    budget: int = 0  # the most pages this sync could walk (0: unbounded: a vendor's first listing is walked whole)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WalkSummary:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


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
    # eSIMs asked about one at a time (a vendor without a full listing, or whose listing lacks usage).
    refresh: RefreshSummary | None = None
    # The share of a chained fleet listing this sync walked (Flexiroam), None where the listing is read whole.
    walk: WalkSummary | None = None

    def to_json(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "ok": self.ok, "plans": self.plans, "orders": self.orders,
                "esims": self.esims, "error": self.error, "seconds": round(self.seconds, 3),
                **({"refresh": self.refresh.to_json()} if self.refresh is not None else {}),
                **({"walk": self.walk.to_json()} if self.walk is not None else {})}
