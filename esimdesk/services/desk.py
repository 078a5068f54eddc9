"""What the window asks for, in one place: look-ups, sync, orders and reconciliation for one desk.

Every method is async and runs SQLite work in a worker thread, so the Qt event loop (qasync) never
waits on the database or a vendor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from esimdesk.domain import Esim, JournalEntry, JournalEvent, Order, Plan
from esimdesk.services import offers
from esimdesk.services.adapters import make_adapter
from esimdesk.services.orders import OrderProgress, OrderService
from esimdesk.services.runtime import AppContext
from esimdesk.services.sync import SyncProgress, VendorSyncResult, sync_all
from esimdesk.store import SqliteStore, open_store
from esimdesk.vendors import Capability, adapter_class

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

    def reload_accounts(self) -> None:
        """After the agent changed accounts (keychain/settings); demo accounts stay the sandbox's."""
        if not self.ctx.demo:
            from esimdesk.services.config import load_accounts

            self.ctx.accounts = load_accounts(self.ctx.home)

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

        def read() -> list[JournalEvent]:
            from esimdesk.services.team_sync import history  # team mode: another desk's order, its trail

            return self.store.journal_audit(reference=reference) or history(self.store, reference)

        return await asyncio.to_thread(read)

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

    async def reconcile(self, *, may_send: bool = False):
        """``may_send``: the agent asked (menu) — lost orders may be resent with the vendor's own handle."""
        return await self.order_service().reconcile(may_send=may_send)

    async def journal_entry(self, reference: str | None) -> JournalEntry | None:
        if not reference:
            return None
        return await asyncio.to_thread(lambda: self.store.journal_get(reference=reference))

    # The agent's three decisions on an order whose answer was lost.
    async def adopt(self, reference: str, order_id: str,
                    progress: Callable[[OrderProgress], None] | None = None) -> Order:
        return await self.order_service(progress).adopt(reference, order_id)

    async def resend(self, reference: str, progress: Callable[[OrderProgress], None] | None = None) -> Order:
        return await self.order_service(progress).resend(reference)

    async def abandon(self, reference: str) -> JournalEntry:
        return await self.order_service().abandon(reference)

    # --- what a vendor cannot fill (the window's empty states) --------------------------------
    def gap(self, vendor: str | None, listing: str) -> str | None:
        """For a view filtered to one vendor ("plans", "orders", "esims"): the sentence saying what that
        vendor does not offer there, or None."""
        return offers.gap(vendor, listing) if vendor else None

    def order_note(self, order: Order) -> str | None:
        """A completed order whose answer carries no ICCID or activation code: where to get them."""
        return offers.order_note(order)

    def can_top_up(self, vendor: str) -> bool:
        cfg = self.ctx.accounts.get(vendor)
        return cfg is not None and Capability.TOPUP in adapter_class(vendor).capabilities

    async def topup_plans(self, vendor: str, iccid: str) -> list[Plan]:
        """The top-up plans the vendor offers for this eSIM (empty if it does not say)."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None or Capability.TOPUP_PLANS not in adapter_class(vendor).capabilities:
            return []
        async with make_adapter(cfg) as adapter:
            return await adapter.list_topup_plans(iccid)

    async def topup(self, vendor: str, iccid: str, plan_id: str,
                    progress: Callable[[OrderProgress], None] | None = None) -> Order:
        return await self.order_service(progress).topup(vendor, iccid, plan_id)

    async def set_note(self, vendor: str, iccid: str, note: str) -> None:
        await asyncio.to_thread(self.store.set_note, vendor, iccid, note)

    # --- customer cards (issue 14) -------------------------------------------------------------
    async def cards(self, target: str, reseller: str | None = None) -> list:
        """The customer cards of an eSIM (ICCID) or of every eSIM of an order (order id or reference);
        ValidationError, in words, for an unknown target or an eSIM without an activation code yet."""
        from esimdesk.services.cards import cards_for

        return await asyncio.to_thread(cards_for, self.store, target, reseller)

    async def cards_pdf(self, cards: list, path: str, page: str = "A4") -> int:
        """The cards written to a PDF at ``path`` (several per page), in a worker thread."""
        from esimdesk.services.cards import write_pdf

        return await asyncio.to_thread(write_pdf, list(cards), path, page)
