"""What a routine sync may spend on asking a vendor about eSIMs one at a time, and in which order.

A vendor without a complete fleet listing (MicroESIM), or whose listing lacks usage (Roamify), is asked
about each eSIM on its own. At 100,000 eSIMs that is hours of requests at a vendor's pace, so a sync spends
at most a budget of requests — what the vendor's rate allows in ``target_seconds`` — on the eSIMs an agent
needs first: in use and about to run out (expiring soon, under 10 % data left), then in use, then the
rest not finished; within each, the longest unrefreshed first. An eSIM refreshed recently enough is not
due; a finished one (expired, cancelled, deleted) never again. What the budget leaves is said, and the
next sync starts where this one stopped (the order is by when each eSIM was last refreshed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from esimdesk.domain.models import Esim, EsimStatus

# Nothing more to learn about these: never asked again.
FINISHED = (EsimStatus.EXPIRED, EsimStatus.CANCELLED, EsimStatus.DELETED)
IN_USE = (EsimStatus.INSTALLED, EsimStatus.ACTIVE)


@dataclass(frozen=True)
class RefreshPolicy:
    # Every eSIM not finished is refreshed at least this often (Settings → Sync; settings.json "refresh_hours").
    refresh_hours: float = 6.0
    # An eSIM in use that is about to run out (expires within ``expiring_days`` or has under ``low_share``
    # of its data left) is due again after this many minutes: its figures are what the customer calls about.
    urgent_minutes: float = 30.0
    expiring_days: int = 3
    low_share: float = 0.10
    # A routine sync's per-vendor request budget is what the vendor's pace allows in this many seconds: the
    # whole sync stays within a minute, the catalog's pages and the fleet's listing taking the rest (measured:
    # MicroESIM's 100 catalog pages ~18 s, Roamify's ~20 s at 150 ms an answer: bench/results/sync_scale.json).
    target_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not (0 < self.refresh_hours <= 24 * 30):
            raise ValueError("refresh_hours must be more than 0 and at most 720 (30 days)")

    @property
    def refresh_every(self) -> timedelta:
        return timedelta(hours=self.refresh_hours)

    @property
    def urgent_every(self) -> timedelta:
        return min(timedelta(minutes=self.urgent_minutes), self.refresh_every)

    def budget(self, requests_per_second: float, requests_per_esim: int = 1) -> int:
        """eSIMs one sync may refresh: the requests the vendor's rate allows in ``target_seconds``, divided
        by what one eSIM costs (MicroESIM: its details and its events, two requests)."""
        requests = math.floor(requests_per_second * self.target_seconds)
        return max(1, requests // max(1, requests_per_esim))


@dataclass(frozen=True)
class RefreshPlan:
    """The eSIMs one sync asks about, in order, and how many were due in all."""

    vendor: str
    iccids: tuple[str, ...]
    due: int  # eSIMs due now (the planned ones included)
    budget: int  # the most this sync may refresh

    @property
    def left_for_later(self) -> int:
        return max(0, self.due - len(self.iccids))


def tier(esim: Esim, policy: RefreshPolicy, now: datetime) -> int | None:
    """0: in use and about to run out (expiring within ``expiring_days``, or under ``low_share`` of a known, limited
    allowance, in integers as Fleet's filter counts it); 1: in use; 2: any other not finished; None: finished
    (never asked again). The rule store/refresh.py's ``_TIER`` applies to stored rows, for a listing not stored yet."""
    if esim.status in FINISHED:
        return None
    if esim.status not in IN_USE:
        return 2
    low_num = round((1 - policy.low_share) * 100)
    expiring = esim.expires_at is not None and esim.expires_at < now + timedelta(days=policy.expiring_days)
    total, used = esim.data_total_mb or 0, esim.data_used_mb
    low = total > 0 and used is not None and used * 100 > total * low_num
    return 0 if expiring or low else 1


def plan_unstored(vendor: str, esims: Iterable[Esim], policy: RefreshPolicy, now: datetime, budget: int) -> RefreshPlan:
    """The plan for eSIMs none of which is stored yet (a vendor's first listing): all due (never asked), the most
    needed first, then by ICCID, as store/refresh.py's esims_due orders eSIMs never refreshed."""
    ranked = sorted((t, e.iccid) for e in esims if (t := tier(e, policy, now)) is not None)
    return RefreshPlan(vendor, tuple(i for _, i in ranked[:budget]), len(ranked), budget)


@dataclass(frozen=True)
class FleetWalk:
    """Where a vendor's chained fleet listing (Flexiroam's page_key) was left: a routine sync walks a share of
    it and the next goes on from ``key``. ``cycle_started``: when the walk now under way began at the first
    page (ISO time); an eSIM not listed since then, once the walk reaches the last page, is one the vendor no
    longer lists (stale)."""

    key: str | None
    cycle_started: str
