"""A catalog sync that writes only what changed (Roamify: 28,000+ packages that rarely change).

The whole listing is read first (it is small next to the store's work), then compared with what the store
last wrote of each plan (its digest, the vendor's payload included: ``Store.plans_to_write``): a sync that
finds the catalog as it was writes nothing; changed or new plans are upserted; when a plan is gone, the whole
listing is written (the store only confirms the plans as they were) and the rest marked stale (rows are
never deleted), the same as a full sync.
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
    listed = list(fetched.values())
    changed, gone = await asyncio.to_thread(store.plans_to_write, adapter.name, listed)
    if gone:
        await asyncio.to_thread(store.upsert_plans, listed)
        await asyncio.to_thread(store.mark_stale, "plans", adapter.name, run_started)
    elif changed:
        await asyncio.to_thread(store.upsert_plans, changed)
    return len(fetched)
