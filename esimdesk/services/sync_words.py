"""A running sync and its end in words an agent reads: how far each vendor is, how long is left, and what
a routine sync left for later and why (the window's status line, the command line)."""

from __future__ import annotations

import time
from collections.abc import Callable

from esimdesk.domain import count_of, vendor_title
from esimdesk.services.sync_results import SyncProgress, VendorSyncResult

STAGE_WORDS = {"plans": "plans", "balance": "balance", "orders": "orders", "esims": "eSIMs listed",
               "events": "events"}
# No estimate before this many seconds of a stage: the first answers say little about the pace.
ESTIMATE_AFTER_S = 3.0


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{max(1, round(seconds))} s"
    if seconds < 60:
        return f"{round(seconds / 5) * 5} s"
    if seconds < 3600:
        return count_of(round(seconds / 60), "min", "min")
    return f"{seconds / 3600:.1f} h"


class ProgressWords:
    """One line per progress report: "Syncing MicroESIM: eSIMs refreshed 1,200 of 4,000 (40,000 due), about
    2 min left". The time left is from the pace of this stage so far."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._started: dict[tuple[str, str], tuple[float, int]] = {}

    def __call__(self, p: SyncProgress) -> str:
        now = self.clock()
        t0, done0 = self._started.setdefault((p.vendor, p.stage), (now, p.done))
        title = vendor_title(p.vendor)
        if p.stage != "refresh":
            total = f" of {p.total:,}" if p.total else ""
            return f"Syncing {title}: {STAGE_WORDS.get(p.stage, p.stage)} {p.done:,}{total}"
        due = f" ({p.due:,} due)" if p.due is not None and p.total is not None and p.due > p.total else ""
        text = f"Syncing {title}: eSIMs refreshed {p.done:,} of {p.total or 0:,}{due}"
        elapsed = now - t0
        if p.total and p.done < p.total and elapsed >= ESTIMATE_AFTER_S and p.done > done0:
            left = (p.total - p.done) * elapsed / (p.done - done0)
            text += f", about {duration(left)} left"
        return text


def refresh_sentence(result: VendorSyncResult) -> str | None:
    """What a vendor's sync did not refresh and why; None when it refreshed every eSIM due."""
    walked = walk_sentence(result)
    r = result.refresh
    if r is None or (r.left_for_later == 0 and r.failed == 0):
        return walked
    title = vendor_title(result.vendor)
    parts = [f"{title}: {count_of(r.refreshed, 'eSIM')} refreshed one by one"]
    if r.left_for_later:
        why = (f"this sync's request budget: {r.budget:,} a sync at {title}'s pace"
               if r.refreshed + r.failed >= r.planned else "the sync stopped before them")
        parts.append(f"{count_of(r.left_for_later, 'more eSIM')} due left for the next sync ({why})")
    if r.failed:
        parts.append(f"{count_of(r.failed, 'eSIM')} {title} did not answer for (see the log)")
    return "; ".join(([walked] if walked else []) + parts)


def walk_sentence(result: VendorSyncResult) -> str | None:
    """A long listing walked in part (Flexiroam's chained pages, Roumio's at 8/s): how much, and that the next sync
    goes on from there."""
    w = result.walk
    if w is None or w.complete or not w.pages:
        return None
    title = vendor_title(result.vendor)
    return (f"{title}: {count_of(w.esims, 'eSIM')} checked this sync ({count_of(w.pages, 'page')} of its listing); "
            f"the next sync goes on from there (the whole of {title}'s listing takes longer than a sync's minute at its "
            "pace: a sync reads a share)")
