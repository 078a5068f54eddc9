"""What the window asks for, in one place: look-ups, sync, orders and reconciliation for one desk.

Every method is async and runs SQLite work in a worker thread, so the Qt event loop (qasync) never
waits on the database or a vendor.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from esimdesk.domain import (
    Esim,
    EsimStatus,
    JournalEntry,
    JournalEvent,
    ListingQuery,
    Order,
    Plan,
    PlanDetails,
    StoreError,
    topup_refusal,
    vendor_title,
)
from esimdesk.domain.mail import MailSettings
from esimdesk.services import offers
from esimdesk.services.actions import ActionService
from esimdesk.services.adapters import make_adapter
from esimdesk.services.balance import fetch_balances
from esimdesk.services.cards import cards_for
from esimdesk.services.config import load_accounts
from esimdesk.services.currency import (
    Pricing,
    desk_price_rules,
    effective_rates,
    manual_rates,
    sort_factors,
    today_utc,
)
from esimdesk.services.demo import seed_demo_history
from esimdesk.services.export import export_listing
from esimdesk.services.mail import MailService
from esimdesk.services.mail_message import VendorPage
from esimdesk.services.mail_settings import load_mail_settings
from esimdesk.services.orders import OrderProgress, OrderService
from esimdesk.services.queries import QueryRunner
from esimdesk.services.reachability import Reachability
from esimdesk.services.reachability import check_vendor as ask_vendor_once
from esimdesk.services.refunds import RefundService
from esimdesk.services.runtime import AppContext
from esimdesk.services.sync import SyncProgress, VendorSyncResult
from esimdesk.services.sync_process import sync_in_child
from esimdesk.services.team_sync import history as team_history
from esimdesk.store import SqliteStore, open_store
from esimdesk.store.team_local import team_rules
from esimdesk.vendors import Capability, adapter_class

log = logging.getLogger("esimdesk.desk")


class Desk:
    def __init__(self, ctx: AppContext, store: SqliteStore | None = None):
        self.ctx = ctx
        self.store = store or open_store(ctx.home)
        if ctx.demo:
            seed_demo_history(self.store, ctx.sandbox)
        self.queries = QueryRunner(self.store)
        # Which vendors answer, from the calls below (no polling of its own): the window's toolbar and banner.
        self.reachability = Reachability()
        self._mail: MailService | None = None

    @property
    def vendors(self) -> list[str]:
        return [c.vendor for c in self.ctx.accounts.enabled]

    def reload_accounts(self) -> None:
        """After the agent changed accounts (keychain/settings); demo accounts stay the sandbox's."""
        if not self.ctx.demo:
            self.ctx.accounts = load_accounts(self.ctx.home)

    def close(self) -> None:
        self.queries.close()
        self.store.close()
        self.ctx.close()

    # --- look-ups (cache only) -------------------------------------------------------------
    # The window's tables: the whole result's true count (never capped), then its rows by position, a
    # page at a time. Each runs in a worker thread; cancelling the caller interrupts the SQL statement.
    # ``background``: for a tab behind the one shown (its queries wait behind the shown tab's: QueryRunner).
    async def listing_open(self, query: ListingQuery, start: int = 0, limit: int = 400,
                           counted: tuple[int, int] | None = None, background: bool = False):
        """(rows in the result, rows with a sort value, first position read, [(rowid, item)] from it).
        ``counted``: the counts of this same query from a moment ago, while the store has not changed (the
        agent's backspace back to a result already shown costs one page, not a count over every row)."""
        def work(store):
            total, split = counted if counted is not None else store.listing_count(query)
            first = start if start < total else 0
            return total, split, first, store.listing_page(query, split, first, limit)

        return await self.queries.run(work, background)

    async def listing_head(self, query: ListingQuery, limit: int, background: bool = False):
        """The first rows before the count: store/listings.py's ListingHead."""
        return await self.queries.run(lambda store: store.listing_head(query, limit), background)

    async def listing_count(self, query: ListingQuery, total: int | None = None,
                            background: bool = False) -> tuple[int, int]:
        return await self.queries.run(lambda store: store.listing_count(query, total), background)

    async def listing_page(self, query: ListingQuery, split: int, offset: int, limit: int):
        return await self.queries.run(lambda store: store.listing_page(query, split, offset, limit))

    def listing_page_now(self, query: ListingQuery, split: int, offset: int, limit: int):
        """One page now, on the calling thread (an item the agent acts on before its page arrived)."""
        return self.store.listing_page(query, split, offset, limit)

    async def listing_find(self, query: ListingQuery, split: int, rowid: int, near: int,
                           background: bool = False) -> int:
        return await self.queries.run(lambda store: store.listing_find(query, split, rowid, near), background)

    async def settle_queries(self) -> None:
        """Until no look-up is queued or running in a worker thread, cancelled ones included: before the
        store is closed and its file replaced (the demo's reset)."""
        await self.queries.settle()

    async def export_csv(self, query: ListingQuery, titles, cells, path, progress=None) -> int:
        """Every row of ``query`` written to ``path`` as CSV, read through the window's query workers
        (services/export.py: cancelling the caller leaves no file). Returns the rows written."""
        return await export_listing(self.queries, query, titles, cells, path, progress)

    async def cheapest_per_vendor(self, query: ListingQuery, background: bool = False) -> list[tuple[int, Plan]]:
        """In the query's country, each enabled vendor's cheapest matching plan per currency: (rowid, Plan)."""
        vendors = self.vendors
        return await self.queries.run(lambda store: store.cheapest_per_vendor(query, vendors), background)

    async def plan_details(self, plan: Plan) -> PlanDetails:
        """What the vendor says of the plan beyond its row (networks, speed, APN, activation, top-ups), read by
        its adapter from the payload stored at the last sync."""
        def read() -> PlanDetails:
            return adapter_class(plan.vendor).plan_details(self.store.plan_raw(plan.vendor, plan.plan_id))

        return await asyncio.to_thread(read)

    async def plan_topups(self, plan: Plan) -> list[Plan] | None:
        """The top-ups the vendor lists for a plan before any eSIM of it exists (Roumio, by package), asked
        live; None where the vendor lists them only per eSIM or not at all (the details say which)."""
        cfg = self.ctx.accounts.get(plan.vendor)
        if cfg is None or Capability.PLAN_TOPUPS not in adapter_class(plan.vendor).capabilities:
            return None
        async with make_adapter(cfg) as adapter:
            return await adapter.list_plan_topups(plan.plan_id)

    async def pricing(self) -> tuple[Pricing, int]:
        """The agent's currency, the rate of each currency the catalog prices in (services/currency.py) and
        the price rules; the plans' converted prices brought in step with those rates (a rewrite of the
        plans of a currency whose rate changed: seconds at 150,000 plans, in a thread of its own so the
        tables' look-ups go on). Returns (pricing, plans rewritten): rewritten plans mean a new price order."""
        def work() -> tuple[Pricing, int]:
            store = self.store
            manual = manual_rates(self.ctx.home)
            rates = effective_rates(manual, store.quotes(), store.plan_currencies())
            try:
                rewritten = store.apply_sort_rates(rates.agent_currency, sort_factors(rates))
            except StoreError as exc:  # the file busy (a sync writing) or full: prices still show; re-sorted next time
                log.warning("the plans' price order was not brought in step with the rates now: %s", exc)
                rewritten = 0
            return Pricing(rates, self.price_rules(), today_utc()), rewritten

        return await asyncio.to_thread(work)

    def price_rules(self):
        """The reseller's price rules: the team's in team mode (every desk quotes the same), else Settings'."""
        return desk_price_rules(self.ctx.home, team_rules(self.store))

    async def order_history(self, reference: str | None) -> list[JournalEvent]:
        if not reference:
            return []

        def read() -> list[JournalEvent]:
            # Team mode: another desk's order, its trail.
            return self.store.journal_audit(reference=reference) or team_history(self.store, reference)

        return await asyncio.to_thread(read)

    async def last_sync(self):
        return await asyncio.to_thread(self.store.last_sync)

    # --- work with vendors -----------------------------------------------------------------
    async def sync(self, progress: Callable[[SyncProgress], None] | None = None,
                   finished: Callable[[VendorSyncResult], None] | None = None,
                   notice: Callable[[str], None] | None = None) -> list[VendorSyncResult]:
        """Every enabled vendor, in a child process (services/sync_process.py: the window keeps painting);
        it also settles the orders left unfinished, as ``esimdesk sync`` does. ``finished`` per vendor;
        ``notice`` for each order found placed that the desk had not filed (said loudly)."""
        def done(result: VendorSyncResult) -> None:
            self.reachability.note_sync([result])  # each vendor as it ends, not when the slowest does
            if finished is not None:
                finished(result)

        results = await sync_in_child(self.ctx.home, self.ctx.accounts.enabled, progress=progress, finished=done,
                                      notice=notice, ecb_url=self.ctx.accounts.ecb_url)
        self.reachability.note_sync(results)
        return results

    async def check_vendor(self, vendor: str) -> str:
        """The toolbar's one check when the agent clicks a vendor: reachable or not, in words."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None:
            return f"No {vendor_title(vendor)} account is configured: see File → Settings…"
        return await ask_vendor_once(self.store, cfg, self.reachability)

    def order_service(self, progress: Callable[[OrderProgress], None] | None = None) -> OrderService:
        return OrderService(self.store, self.ctx.accounts.enabled, make_adapter, progress=progress)

    async def place_order(self, vendor: str, plan_id: str, quantity: int,
                          progress: Callable[[OrderProgress], None] | None = None, start_date=None,
                          **options) -> Order:
        """``start_date``: Roamify's travel date (issue 20); ``options``: MicroESIM's activation_date and
        custom_email (issue 21)."""
        return await self.reachability.watch(vendor, self.order_service(progress).place_order(
            vendor, plan_id, quantity, start_date=start_date, **options))

    async def needs_start_date(self, vendor: str, plan_id: str) -> bool:
        """Whether the plan needs the customer's travel start date (asked live: Roamify's travelDate)."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None or Capability.START_DATE not in adapter_class(vendor).capabilities:
            return False
        async with make_adapter(cfg) as adapter:
            return await self.reachability.watch(vendor, adapter.needs_start_date(plan_id))

    def can_share_link(self, vendor: str) -> bool:
        return (self.ctx.accounts.get(vendor) is not None
                and Capability.SHARE_LINK in adapter_class(vendor).capabilities)

    async def share_link(self, vendor: str, iccid: str):
        """The vendor's hosted install page for the customer, with its access code (Roamify)."""
        async with make_adapter(self.ctx.accounts.get(vendor)) as adapter:
            return await self.reachability.watch(vendor, adapter.share_link(iccid))

    # --- e-mail to the customer (issue 30) ---------------------------------------------------------------
    def mail_settings(self):
        """The SMTP settings e-mails go through: Settings → E-mail, or in the demo its local mail sink."""
        if self.ctx.demo:  # never Settings → E-mail's real server from the demo, even while its sink restarts
            return self.ctx.demo_mail or MailSettings()
        return load_mail_settings(self.ctx.home)

    def mail(self) -> MailService:
        """One per desk: its process owner is what tells its own sendings in flight from a stopped process's."""
        if self._mail is None:
            self._mail = MailService(self.store, self.mail_settings, pages=self._install_page)
        return self._mail

    async def _install_page(self, vendor: str, iccid: str) -> VendorPage | None:
        """The vendor's hosted install page for the e-mail, where it offers one (Roamify's share link)."""
        if not self.can_share_link(vendor):
            return None
        link = await self.share_link(vendor, iccid)
        return VendorPage(link.url, link.access_code or None) if link.url else None

    async def balances(self):
        """The balances the last sync (or order check) saw, from the cache."""
        return await asyncio.to_thread(self.store.balances)

    async def balance_now(self, vendor: str, timeout: float = 8.0):
        """One vendor's balance asked now (the order dialog's "before and after"): a BalanceRow, with the
        cached balance and the reason when the vendor cannot say; None for a vendor that reports none."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None:
            return None
        rows = await fetch_balances(self.store, [cfg], timeout=timeout, reach=self.reachability)
        return rows[0] if rows else None

    async def reconcile(self, *, may_send: bool = False):
        """``may_send``: the agent asked (menu) — lost orders may be resent with the vendor's own handle.
        Returns the entries still unfinished and what the agent must hear (orders told failed that were placed)."""
        service = self.order_service()
        entries = await service.reconcile(may_send=may_send)
        return entries, list(service.notices)

    async def reconcile_order(self, reference: str) -> JournalEntry:
        """One order settled now, on the agent's word (may resend where the vendor's handle makes it harmless)."""
        return await self.order_service().reconcile_one(reference, may_send=True)

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

    def topup_refusal(self, esim: Esim) -> str | None:
        """Why Top up… is not offered for this eSIM (the vendor's API, the desk's accounts, the eSIM's state
        as last seen: domain/states.py), in words; None when it is."""
        if not self.can_top_up(esim.vendor):
            return (f"{vendor_title(esim.vendor)} cannot top up eSIMs through its API (or no account is configured "
                    "for it): buy a new eSIM instead")
        return topup_refusal(esim)

    async def topup_plans(self, vendor: str, iccid: str) -> list[Plan]:
        """The top-up plans the vendor offers for this eSIM (empty if it does not say)."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None or Capability.TOPUP_PLANS not in adapter_class(vendor).capabilities:
            return []
        async with make_adapter(cfg) as adapter:
            return await self.reachability.watch(vendor, adapter.list_topup_plans(iccid))

    async def topup(self, vendor: str, iccid: str, plan_id: str,
                    progress: Callable[[OrderProgress], None] | None = None) -> Order:
        return await self.reachability.watch(vendor, self.order_service(progress).topup(vendor, iccid, plan_id))

    async def set_note(self, vendor: str, iccid: str, note: str) -> None:
        await asyncio.to_thread(self.store.set_note, vendor, iccid, note)

    # --- customer cards (issue 14) -------------------------------------------------------------
    async def cards(self, target: str, reseller: str | None = None) -> list:
        """The customer cards of an eSIM (ICCID) or of every eSIM of an order (order id or reference);
        ValidationError, in words, for an unknown target or an eSIM without an activation code yet."""
        return await asyncio.to_thread(cards_for, self.store, target, reseller)

    async def cards_pdf(self, cards: list, path: str, page: str = "A4") -> int:
        """The cards written to a PDF at ``path`` (several per page), in a worker thread."""
        from esimdesk.services.card_paint import write_pdf  # Qt: only when a PDF is written

        return await asyncio.to_thread(write_pdf, list(cards), path, page)

    # --- support actions (issue 21) ---------------------------------------------------------------
    def action_service(self, progress=None):
        return ActionService(self.store, self.ctx.accounts.enabled, make_adapter, progress=progress)

    # --- refund requests (issue 30; services/refunds.py) ---------------------------------------------------
    def takes_refunds(self, vendor: str) -> bool:
        return Capability.REFUNDS in adapter_class(vendor).capabilities

    def refund_service(self, progress=None) -> RefundService:
        return RefundService(self.store, self.ctx.accounts.enabled, make_adapter, progress=progress)

    async def refunds_of(self, esim: Esim) -> tuple[list, dict]:
        """The eSIM's stored refund requests, newest first, and what Request refund… / Cancel request allow."""
        service = self.refund_service()
        requests = await service.stored(esim.vendor, esim.iccid)
        return requests, service.refund_availability(esim, requests)

    async def refund_request(self, esim: Esim, reason: str, notes: str | None, progress=None):
        return await self.reachability.watch(esim.vendor, self.refund_service(progress).request(
            esim.iccid, reason, notes, vendor=esim.vendor))

    async def refund_cancel(self, esim: Esim, progress=None):
        return await self.reachability.watch(esim.vendor, self.refund_service(progress).cancel(
            esim.iccid, vendor=esim.vendor))

    async def refunds_refresh(self, esim: Esim) -> tuple[list, list[str]]:
        return await self.refund_service().refresh(esim.vendor, esim.iccid)

    def action_availability(self, esim: Esim) -> dict:
        """Action -> None (allowed in the eSIM's state as last seen) or the reason in words."""
        return self.action_service().availability(esim)

    async def action_price(self, esim: Esim):
        return await self.action_service().price_of(esim)

    async def esim_action(self, iccid: str, action, message: str | None = None, vendor: str | None = None,
                          progress=None):
        return await self.reachability.watch(vendor, self.action_service(progress).run(iccid, action, message,
                                                                                    vendor=vendor))

    async def esim_usage(self, iccids: list[str]):
        return await self.action_service().usage(iccids)

    async def esim_usage_and_events(self, vendor: str, iccid: str) -> tuple[list, list]:
        """The eSIM's stored usage readings and vendor events, oldest first (the Fleet detail's chart and list)."""
        return await asyncio.to_thread(lambda: (self.store.usage(vendor, iccid), self.store.events(vendor, iccid)))

    async def esim_history(self, vendor: str, iccid: str) -> list:
        return await asyncio.to_thread(self.store.esim_history, vendor, iccid)

    async def free_stock_stored(self, vendor: str = "flexiroam") -> int | None:
        """The vendor's free stock as of its last sync (eSIMs stored as NEW: never handed out), from the
        store in a worker thread; None where no account is configured."""
        if self.ctx.accounts.get(vendor) is None:
            return None
        query = ListingQuery("esims", vendor=vendor, status=EsimStatus.NEW.value)
        return (await self.queries.run(lambda store: store.listing_count(query), background=True))[0]

    async def free_stock(self, vendor: str = "flexiroam") -> int | None:
        """How many of the vendor's eSIMs were never handed out (Flexiroam's list-inventory availability),
        or None where the vendor cannot say or no account is configured."""
        cfg = self.ctx.accounts.get(vendor)
        if cfg is None:
            return None
        async with make_adapter(cfg) as adapter:
            return await adapter.free_stock() if adapter.supports(Capability.INVENTORY) else None
