"""A catalog sync that writes only what changed (Roamify: 28,000+ packages that rarely change).

The whole listing is read first (it is small next to the store's work), then compared with the cached
plans: a sync that finds the catalog as it was writes nothing; changed or new plans are upserted; when a
plan is gone, the whole listing is written and the rest marked stale (rows are never deleted), the same
as a full sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from esimdesk.domain import Plan
from esimdesk.store import Store
from esimdesk.vendors import VendorAdapter


async def sync_plans_incrementally(adapter: VendorAdapter, store: Store, run_started: str,
                                   report: Callable[[int], None]) -> int:
    """Returns how many plans the vendor listed; ``report`` is told the count as pages arrive."""
    fetched: dict[str, Plan] = {}
    async for page in adapter.iter_plans():
        for plan in page:
            fetched[plan.plan_id] = plan
        report(len(fetched))
    known = {p.plan_id: p for p in await asyncio.to_thread(store.plans, adapter.name)}
    if known.keys() - fetched.keys():
        await asyncio.to_thread(store.upsert_plans, list(fetched.values()))
        await asyncio.to_thread(store.mark_stale, "plans", adapter.name, run_started)
        return len(fetched)
    changed = [p for pid, p in fetched.items() if known.get(pid) != p]  # Plan equality leaves raw out
    if changed:
        await asyncio.to_thread(store.upsert_plans, changed)
    return len(fetched)
