"""Orders and top-ups that are placed exactly once and never lost.

1. validate (plan known and orderable, quantity, ICCID, balance) — no vendor call on bad input;
2. record the intent in the journal (PENDING) and commit it;
3. claim the entry (compare-and-set, counts the attempt) and send the order once;
4. poll allocation with a deadline (ALLOCATING survives a restart);
5. store the eSIMs and mark the entry COMPLETED.
A lost answer makes the entry UNCERTAIN; ``reconcile`` settles it per vendor, never by a blind resend.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from esimdesk.domain import (
    DuplicateReference,
    EsimdeskError,
    JournalEntry,
    Order,
    OrderStatus,
    PriceChanged,
    Unsupported,
    ValidationError,
    VendorConfig,
    VendorError,
    VendorRejected,
    money_str,
    validate_iccid,
)
from esimdesk.store import Store
from esimdesk.vendors import Capability, VendorAdapter

log = logging.getLogger("esimdesk.orders")

MAX_QUANTITY = 50  # one agent action; larger batches are a bulk job, not a desk order
SEND_LEASE_S = 120.0  # how long a claim protects an entry while its request is in flight
NEVER_SENT_GRACE = timedelta(hours=24)  # a PENDING entry never sent and older than this is abandoned

AdapterFactory = Callable[[VendorConfig], VendorAdapter]


@dataclass(frozen=True)
class OrderProgress:
    reference: str
    state: str  # "sending" | "allocating" | "completed"
    message: str


class OrderOutcome(EsimdeskError):
    """An order that did not complete; ``entry`` says where it stands, the message what to do."""

    def __init__(self, message: str, entry: JournalEntry | None):
        super().__init__(message)
        self.entry = entry


def new_reference(vendor: str) -> str:
    # Roumio allows 50 characters; MicroESIM's custom_order_no is kept short and alphanumeric-safe.
    return f"ESD{datetime.now(UTC):%y%m%d}{uuid.uuid4().hex[:16].upper()}"


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def lease_is_live(entry: JournalEntry) -> bool:
    """Someone holds the entry right now: an unexpired lease whose process still runs.

    A process on this machine that no longer exists (killed mid-order) holds nothing; a lease from
    another machine (team mode) is trusted until it expires.
    """
    if not entry.lease_owner or not entry.lease_until or entry.lease_until <= time.time():
        return False
    host, _, rest = entry.lease_owner.partition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(rest.split(":")[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


class OrderService:
    def __init__(self, store: Store, accounts: list[VendorConfig], adapter_factory: AdapterFactory, *,
                 poll_interval: float = 1.0, allocation_deadline: float = 45.0,
                 progress: Callable[[OrderProgress], None] | None = None):
        self.store = store
        self.accounts = {c.vendor: c for c in accounts}
        self.adapter_factory = adapter_factory
        self.poll_interval = poll_interval
        self.allocation_deadline = allocation_deadline
        self.progress = progress or (lambda p: None)
        self.owner = process_owner()

    # --- entry points ------------------------------------------------------------------------
    async def place_order(self, vendor: str, plan_id: str, quantity: int = 1, reference: str | None = None) -> Order:
        config = self._account(vendor)
        async with self.adapter_factory(config) as adapter:
            if not adapter.supports(Capability.ORDER):
                raise Unsupported(vendor, "place orders")
            if not 1 <= quantity <= MAX_QUANTITY:
                raise ValidationError(f"quantity must be between 1 and {MAX_QUANTITY}")
            plan = await asyncio.to_thread(self.store.plan, vendor, plan_id)
            if plan is None and adapter.supports(Capability.PLANS):
                raise ValidationError(f"{vendor} has no plan '{plan_id}' in the local catalog; run a sync or check the id")
            unit_price = plan.price if plan else None
            currency = plan.currency if plan else None
            if plan is not None and unit_price is not None and adapter.supports(Capability.BALANCE):
                await self._check_balance(adapter, unit_price * quantity, currency)
            reference = reference or new_reference(vendor)
            entry = await asyncio.to_thread(
                lambda: self.store.journal_create(vendor=vendor, kind="order", reference=reference, plan_id=plan_id,
                                                  quantity=quantity, unit_price=unit_price, currency=currency))
            return await self._send_and_settle(adapter, entry)

    async def topup(self, vendor: str, iccid: str, plan_id: str) -> Order:
        iccid = validate_iccid(iccid)
        config = self._account(vendor)
        async with self.adapter_factory(config) as adapter:
            if not adapter.supports(Capability.TOPUP):
                raise Unsupported(vendor, "top up")
            price = currency = None
            if adapter.supports(Capability.TOPUP_PLANS):
                offered = await adapter.list_topup_plans(iccid)
                match = next((p for p in offered if p.plan_id == plan_id), None)
                if match is None:
                    names = ", ".join(p.plan_id for p in offered[:8]) or "none"
                    raise ValidationError(f"{vendor} does not offer top-up '{plan_id}' for eSIM {iccid}; it offers: {names}")
                price, currency = match.price, match.currency
                if adapter.supports(Capability.BALANCE):
                    await self._check_balance(adapter, price, currency)
            entry = await asyncio.to_thread(
                lambda: self.store.journal_create(vendor=vendor, kind="topup", reference=new_reference(vendor),
                                                  plan_id=plan_id, quantity=1, unit_price=price, currency=currency,
                                                  iccid=iccid))
            return await self._send_and_settle(adapter, entry)

    async def reconcile(self, vendor: str | None = None) -> list[JournalEntry]:
        """Settle every unfinished entry (PENDING/ALLOCATING/UNCERTAIN) with its vendor."""
        entries = await asyncio.to_thread(self.store.journal_unfinished, vendor)
        settled: list[JournalEntry] = []
        by_vendor: dict[str, list[JournalEntry]] = {}
        for e in entries:
            by_vendor.setdefault(e.vendor, []).append(e)
        for v, items in by_vendor.items():
            config = self.accounts.get(v)
            if config is None:
                settled.extend(items)  # no account on this desk: leave them as they are
                continue
            async with self.adapter_factory(config) as adapter:
                for entry in items:
                    try:
                        await self._reconcile_one(adapter, entry)
                    except OrderOutcome:
                        pass
                    except EsimdeskError as exc:
                        log.info("reconcile %s: %s", entry.reference, exc)
                    settled.append(await asyncio.to_thread(self.store.journal_get, entry.id))
        return settled

    # --- steps -------------------------------------------------------------------------------
    def _account(self, vendor: str) -> VendorConfig:
        config = self.accounts.get(vendor)
        if config is None:
            raise ValidationError(f"no {vendor} account is configured on this desk")
        return config

    async def _check_balance(self, adapter: VendorAdapter, cost: Decimal, currency: str | None) -> None:
        balance = await adapter.get_balance()
        await asyncio.to_thread(self.store.save_balance, balance)
        if currency and balance.currency != currency:
            return  # different currencies: the vendor decides (its own 'insufficient balance' is mapped)
        if balance.amount < cost:
            raise ValidationError(f"{adapter.name} balance is {money_str(balance.amount)} {balance.currency}, "
                                  f"this order costs {money_str(cost)} {currency or balance.currency}: top up the account first")

    async def _send_and_settle(self, adapter: VendorAdapter, entry: JournalEntry) -> Order:
        claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
            entry.id, self.owner, states=(OrderStatus.PENDING, OrderStatus.UNCERTAIN), lease_seconds=SEND_LEASE_S,
            sending=True, steal_from=_dead_owner(entry)))
        if claimed is None:
            current = await asyncio.to_thread(self.store.journal_get, entry.id)
            raise OrderOutcome(f"order {entry.reference} is already being handled by another esimdesk window "
                               f"(state {current.state.value}); nothing was sent from here", current)
        self.progress(OrderProgress(entry.reference, "sending", f"sending to {adapter.name}"))
        try:
            order = await self._send(adapter, claimed)
        except DuplicateReference as exc:
            # The vendor has an order under this reference but will not say which: never FAILED, never resent.
            await self._finish(claimed, OrderStatus.UNCERTAIN, f"vendor already holds this reference: {exc}",
                               error=str(exc))
            raise OrderOutcome(
                f"{exc}. {adapter.name} already has an order with reference {claimed.reference}, so it was placed "
                "and paid, but its eSIMs are not known here: find it in the vendor's portal. Do NOT order again.",
                await self._get(claimed)) from None
        except VendorError as exc:
            if isinstance(exc, VendorRejected) and not exc.maybe_sent:
                # The vendor read the order and said no: nothing was charged.
                await self._finish(claimed, OrderStatus.FAILED, f"vendor refused: {exc}", error=str(exc))
                extra = await self._refresh_price(adapter, claimed) if isinstance(exc, PriceChanged) else ""
                raise OrderOutcome(f"{exc}. Nothing was charged.{extra}", await self._get(claimed)) from None
            if not exc.maybe_sent:
                await self._finish(claimed, OrderStatus.FAILED, f"not accepted: {exc}", error=str(exc))
                raise OrderOutcome(f"{exc}. {adapter.name} did not take the order; nothing was charged. "
                                   "Try again in a moment.", await self._get(claimed)) from None
            await self._finish(claimed, OrderStatus.UNCERTAIN, f"answer lost: {exc}", error=str(exc))
            raise OrderOutcome(
                f"{exc}. The order may have been placed and money may have been spent. Do NOT order again: "
                f"run 'esimdesk reconcile' (reference {claimed.reference}) to settle it with {adapter.name}.",
                await self._get(claimed)) from None
        return await self._after_accepted(adapter, claimed, order)

    async def _send(self, adapter: VendorAdapter, entry: JournalEntry) -> Order:
        if entry.kind == "topup":
            esim = await asyncio.to_thread(self.store.esim, entry.iccid, entry.vendor)
            return await adapter.topup(entry.iccid, entry.plan_id, entry.reference, entry.unit_price,
                                       vendor_ref=esim.vendor_ref if esim else None)
        return await adapter.place_order(entry.plan_id, entry.quantity, entry.reference, entry.unit_price)

    async def _after_accepted(self, adapter: VendorAdapter, entry: JournalEntry, order: Order) -> Order:
        order = _with_entry(order, entry)
        await asyncio.to_thread(self.store.upsert_orders, [order])
        if order.status is OrderStatus.COMPLETED:
            await self._finish(entry, OrderStatus.COMPLETED, f"{adapter.name} accepted as {order.order_id}, eSIMs ready",
                               order_id=order.order_id)
            return await self._stored(order)
        entry = await self._finish(entry, OrderStatus.ALLOCATING, f"{adapter.name} accepted as {order.order_id}",
                                   order_id=order.order_id, release=False)
        return await self._poll(adapter, entry)

    async def _poll(self, adapter: VendorAdapter, entry: JournalEntry) -> Order:
        if not adapter.supports(Capability.ORDER_STATUS) or entry.kind == "topup":
            await self._finish(entry, OrderStatus.COMPLETED, "accepted; the vendor gives no allocation status")
            return await self._stored_by_entry(entry)
        deadline = time.monotonic() + self.allocation_deadline
        waited = 0.0
        while True:
            try:
                order = await adapter.get_order(entry.order_id, entry.reference)
            except VendorError as exc:
                log.info("poll %s: %s", entry.reference, exc)
                order = None
            if order is not None and order.status is OrderStatus.COMPLETED:
                order = _with_entry(order, entry)
                await asyncio.to_thread(self.store.upsert_orders, [order])
                await self._finish(entry, OrderStatus.COMPLETED, f"{len(order.esims)} eSIM profile(s) allocated")
                return await self._stored(order)
            if order is not None and order.status is OrderStatus.FAILED:
                await self._finish(entry, OrderStatus.FAILED, "vendor reports the order failed")
                raise OrderOutcome(f"{adapter.name} reports order {entry.order_id} failed", await self._get(entry))
            if time.monotonic() >= deadline:
                await asyncio.to_thread(self.store.journal_release, entry.id, self.owner)
                raise OrderOutcome(
                    f"{adapter.name} accepted order {entry.order_id} but its eSIMs are not ready after "
                    f"{int(self.allocation_deadline)} s. It is paid and kept as ALLOCATING: run 'esimdesk reconcile' "
                    "later to fetch the eSIMs; do not order again.", await self._get(entry))
            self.progress(OrderProgress(entry.reference, "allocating", f"waiting for profiles ({int(waited)} s)"))
            await asyncio.sleep(self.poll_interval)
            waited += self.poll_interval

    async def _reconcile_one(self, adapter: VendorAdapter, entry: JournalEntry) -> None:
        now = datetime.now(UTC)
        if entry.state is OrderStatus.ALLOCATING:
            claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
                entry.id, self.owner, states=(OrderStatus.ALLOCATING,), lease_seconds=SEND_LEASE_S,
                steal_from=_dead_owner(entry)))
            if claimed:
                await self._poll(adapter, claimed)
            return
        if lease_is_live(entry) and entry.lease_owner != self.owner:
            return  # another window or process is working on it right now
        if entry.state is OrderStatus.PENDING and entry.attempts == 0:
            if now - entry.created_at > NEVER_SENT_GRACE:
                await self._finish(entry, OrderStatus.FAILED, "never sent and too old to send now")
                return
            # Recorded, never sent (the app stopped in between): send it now, as the agent asked.
            await self._send_and_settle(adapter, entry)
            return
        # UNCERTAIN, or PENDING with an attempt made by a process that died: the vendor decides.
        if entry.state is OrderStatus.PENDING:
            entry = await self._finish(entry, OrderStatus.UNCERTAIN, "the sending process stopped before the answer")
        await self._settle_uncertain(adapter, entry)

    async def _settle_uncertain(self, adapter: VendorAdapter, entry: JournalEntry) -> None:
        """Ask the vendor what became of an order whose answer was lost, the safest way it allows."""
        if adapter.idempotent_orders:
            # The vendor treats a repeated reference as the same order (Roumio transactionId): resend.
            await self._send_and_settle(adapter, entry)
            return
        finder = getattr(adapter, "find_orders", None)
        if entry.kind == "order" and finder is not None:
            # No handle (Roamify): look for it by package, quantity and time before anything else.
            since = entry.created_at - timedelta(minutes=2)
            candidates = await finder(entry.plan_id, entry.quantity, since)
            taken = await asyncio.to_thread(self.store.journal_claimed_order_ids, adapter.name)
            free = [o for o in candidates if o.order_id not in taken]
            if len(free) == 1:
                await self._adopt(adapter, entry, free[0], "found in the vendor's order list (package, quantity, time)")
            elif not free:
                await self._send_and_settle(adapter, entry)
            else:
                ids = ", ".join(o.order_id or "?" for o in free)
                await self._finish(entry, OrderStatus.UNCERTAIN,
                                   f"{len(free)} matching orders at the vendor ({ids}); the agent must pick",
                                   error="ambiguous match")
            return
        if entry.last_error != "cannot verify with the vendor":  # say it once, not at every reconcile
            await self._finish(entry, OrderStatus.UNCERTAIN,
                               f"{adapter.name} offers no way to check this {entry.kind}; check the vendor's portal",
                               error="cannot verify with the vendor")

    async def _adopt(self, adapter: VendorAdapter, entry: JournalEntry, order: Order, cause: str) -> None:
        claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
            entry.id, self.owner, states=(OrderStatus.UNCERTAIN, OrderStatus.PENDING), lease_seconds=SEND_LEASE_S,
            steal_from=_dead_owner(entry)))
        if claimed is None:
            return
        await asyncio.to_thread(self.store.journal_transition, entry.id, OrderStatus.UNCERTAIN, cause,
                                order_id=order.order_id)
        await self._after_accepted(adapter, await self._get(claimed), order)

    async def _refresh_price(self, adapter: VendorAdapter, entry: JournalEntry) -> str:
        """After a price error: fetch the vendor's current price, cache it, and say it."""
        try:
            plans = [p for p in await adapter.list_plans() if p.plan_id == entry.plan_id]
        except EsimdeskError:
            return ""
        await asyncio.to_thread(self.store.upsert_plans, plans)
        if not plans:
            return f" {adapter.name} no longer lists plan {entry.plan_id}."
        new = plans[0]
        return (f" The price is now {money_str(new.price)} {new.currency} (was {money_str(entry.unit_price)});"
                " order again to accept it.")

    # --- helpers -----------------------------------------------------------------------------
    async def _finish(self, entry: JournalEntry, state: OrderStatus, cause: str, *, order_id: str | None = None,
                      error: str | None = None, release: bool = True) -> JournalEntry:
        updated = await asyncio.to_thread(lambda: self.store.journal_transition(
            entry.id, state, cause, order_id=order_id, error=error))
        if release:
            await asyncio.to_thread(self.store.journal_release, entry.id, self.owner)
        return updated

    async def _get(self, entry: JournalEntry) -> JournalEntry:
        return await asyncio.to_thread(self.store.journal_get, entry.id)

    async def _stored(self, order: Order) -> Order:
        if order.order_id:
            stored = await asyncio.to_thread(self.store.order, order.vendor, order.order_id)
            if stored is not None:
                return stored
        return order

    async def _stored_by_entry(self, entry: JournalEntry) -> Order:
        entry = await self._get(entry)
        if entry.order_id:
            stored = await asyncio.to_thread(self.store.order, entry.vendor, entry.order_id)
            if stored is not None:
                return stored
        return Order(entry.vendor, entry.order_id, entry.reference, entry.state, entry.created_at,
                     entry.unit_price, entry.currency, kind=entry.kind)


def _dead_owner(entry: JournalEntry) -> str | None:
    return entry.lease_owner if entry.lease_owner and not lease_is_live(entry) else None


def _with_entry(order: Order, entry: JournalEntry) -> Order:
    """The vendor's answer, labelled with our reference and kind so it lands on the journal's order row."""
    if order.reference == entry.reference and order.kind == entry.kind:
        return order
    return replace(order, reference=entry.reference, kind=entry.kind)
