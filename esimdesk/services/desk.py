"""What the window asks for, in one place: look-ups, sync, orders and reconciliation for one desk.

Every method is async and runs SQLite work in a worker thread, so the Qt event loop (qasync) never
waits on the database or a vendor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from esimdesk.domain import Esim, JournalEvent, Order, Plan
from esimdesk.services.adapters import make_adapter
from esimdesk.services.orders import OrderProgress, OrderService
from esimdesk.services.runtime import AppContext
from esimdesk.services.sync import SyncProgress, VendorSyncResult, sync_all
from esimdesk.store import SqliteStore, open_store

LISTING_LIMIT = 100_000


class Desk:
    def __init__(self, ctx: AppContext, store: SqliteStore | None = None):
        self.ctx = ctx
        self.store = store or open_store(ctx.home)
        if ctx.demo:
            from esimdesk.services.demo import seed_demo_history

            seed_demo_history(self.store, ctx.sandbox)

    @property
    def vendors(self) -> list[str]:
        return [c.vendor for c in self.ctx.accounts.enabled]

    def close(self) -> None:
        self.store.close()
        self.ctx.close()

    # --- look-ups (cache only) -------------------------------------------------------------
    async def plans(self, vendor: str | None, country: str | None, text: str | None) -> list[Plan]:
        return await asyncio.to_thread(self.store.plans, vendor, country, text or None, LISTING_LIMIT)

    async def orders(self, vendor: str | None, text: str | None) -> list[Order]:
        return await asyncio.to_thread(self.store.orders, vendor, text or None, LISTING_LIMIT)

    async def esims(self, vendor: str | None, status: str | None, text: str | None) -> list[Esim]:
        return await asyncio.to_thread(self.store.esims, vendor, status, text or None, LISTING_LIMIT)

    async def order_history(self, reference: str | None) -> list[JournalEvent]:
        if not reference:
            return []
        return await asyncio.to_thread(lambda: self.store.journal_audit(reference=reference))

    async def last_sync(self):
        return await asyncio.to_thread(self.store.last_sync)

    # --- work with vendors -----------------------------------------------------------------
    async def sync(self, progress: Callable[[SyncProgress], None] | None = None) -> list[VendorSyncResult]:
        results = await sync_all(self.store, self.ctx.accounts.enabled, make_adapter, progress=progress)
        ok = [r.vendor for r in results if r.ok]
        for vendor in ok:
            await self.order_service().reconcile(vendor)
        return results

    def order_service(self, progress: Callable[[OrderProgress], None] | None = None) -> OrderService:
        return OrderService(self.store, self.ctx.accounts.enabled, make_adapter, progress=progress)

    async def place_order(self, vendor: str, plan_id: str, quantity: int,
                          progress: Callable[[OrderProgress], None] | None = None) -> Order:
        return await self.order_service(progress).place_order(vendor, plan_id, quantity)

    async def reconcile(self):
        return await self.order_service().reconcile()
