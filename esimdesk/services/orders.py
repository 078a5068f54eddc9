"""Orders and top-ups that are placed exactly once and never lost.

1. validate (plan known and orderable, quantity, ICCID, balance, reference) — no vendor call on bad input;
2. record the intent in the journal (PENDING) and commit it durably — if that fails, nothing is sent;
3. claim the entry (compare-and-set, counts the attempt) and send the order once, with the desk's
   handle (Roumio transactionId, MicroESIM custom_order_no, Roamify referenceId);
4. poll allocation with a deadline (ALLOCATING survives a restart);
5. store the eSIMs and mark the entry COMPLETED.

A lost or ambiguous answer makes the entry UNCERTAIN. Only the agent's word sends money: ``place_order``,
``topup`` and ``resend``. ``reconcile`` asks the vendors; with ``may_send`` (the agent ran it) it resends
only where the vendor's own handle makes that harmless and only within ``RESEND_WINDOW`` of the first
attempt; sync's reconcile never sends. What stays unknown waits for the agent: ``adopt``, ``resend``,
``abandon``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from esimdesk.domain import (
    DuplicateReference,
    EsimdeskError,
    InvalidInput,
    JournalEntry,
    Order,
    OrderStatus,
    PriceChanged,
    Sale,
    StoreError,
    Unsupported,
    ValidationError,
    VendorAuthError,
    VendorConfig,
    VendorError,
    VendorRejected,
    VendorUnavailable,
    count_of,
    money_str,
    validate_iccid,
    validate_reference,
    vendor_title,
)
from esimdesk.domain.order_options import (
    validate_activation_date,
    validate_email,
    validate_quantity,
    validate_start_date,
)
from esimdesk.domain.reference import REFERENCE_MAX_LENGTH
from esimdesk.domain.states import AWAITING_AGENT, MAY_BE_FILED, UNDECIDED, UNFINISHED, topup_refusal
from esimdesk.store import Store
from esimdesk.vendors import Capability, VendorAdapter

log = logging.getLogger("esimdesk.orders")

SEND_LEASE_S = 120.0  # how long a claim protects an entry while its request is in flight
ALLOCATION_DEADLINE_S = 45.0  # how long an order waits for its profiles, unless the vendor needs longer
# Resending a lost order with the vendor's own handle is harmless, but only while the customer is
# still at the desk: later the agent may have sold them something else, so the agent decides.
RESEND_WINDOW = timedelta(minutes=15)
NEVER_SENT_GRACE = timedelta(minutes=15)  # a PENDING entry never sent and older than this is FAILED
# Support actions (services/actions.py): a status read this soon after a lost answer proves nothing yet.
# Orders wait longer: a vendor's "no such order" counts only past its adapter's ``in_flight_seconds``.
SETTLE_DELAY_S = 30.0
RESEND_PAUSE_S = 1.0  # before the one automatic resend of an ambiguous answer at a vendor with a handle

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


def vendor_handle(reference: str, desk_id: str, typed: bool) -> str:
    """What the vendor is sent for this reference: unique to this desk, so the same reference typed at
    two desks never names one vendor order (Roumio answers a repeated transactionId with the first order).

    A generated reference is random already; a typed one gets the desk id, shortened with a digest when
    the result would pass Roumio's 50-character limit.
    """
    if not typed:
        return reference
    handle = f"{reference}-{desk_id}"
    if len(handle) <= REFERENCE_MAX_LENGTH:
        return handle
    digest = hashlib.sha256(reference.encode()).hexdigest()[:8]
    keep = REFERENCE_MAX_LENGTH - len(desk_id) - len(digest) - 2
    return f"{reference[:keep]}~{digest}-{desk_id}"


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


def not_taken(exc: VendorError) -> bool:
    """The vendor certainly did not act: it refused in words, refused the credentials, or was never reached.

    Everything else — a timeout, a dropped connection, a 5xx or HTML page, a "busy" code or a 429 to an
    order (a vendor may act and then report overload), a body we cannot read — is ambiguous.
    """
    if exc.maybe_sent:
        return False
    if isinstance(exc, VendorRejected | VendorAuthError):
        return True
    return isinstance(exc, VendorUnavailable)


class OrderService:
    def __init__(self, store: Store, accounts: list[VendorConfig], adapter_factory: AdapterFactory, *,
                 poll_interval: float = 1.0, allocation_deadline: float | None = None,
                 progress: Callable[[OrderProgress], None] | None = None,
                 resend_window: timedelta = RESEND_WINDOW, settle_delay: float | None = None,
                 resend_pause: float = RESEND_PAUSE_S):
        self.store = store
        self.accounts = {c.vendor: c for c in accounts}
        self.adapter_factory = adapter_factory
        self.poll_interval = poll_interval
        self.allocation_deadline = allocation_deadline
        self.progress = progress or (lambda p: None)
        self.resend_window = resend_window
        # How long a sent request may still reach the vendor: the adapter's own bound unless given (tests).
        self.settle_delay = settle_delay
        self.resend_pause = resend_pause
        self.owner = process_owner()
        # What a reconcile found that the agent must hear (an order told failed that was placed): in words,
        # for the CLI's stderr and the window's message bar. Read and cleared by the caller.
        self.notices: list[str] = []
        # Travel start dates given with an order (Roamify's travelDate packages), by journal entry id, for
        # the send. Not journalled: a desk restarted before the send asks Roamify without it.
        self._start_dates: dict[int, date] = {}

    # --- entry points: the agent's word ------------------------------------------------------
    async def place_order(self, vendor: str, plan_id: str, quantity: int = 1, reference: str | None = None,
                          start_date: date | None = None, *, activation_date: datetime | None = None,
                          custom_email: str | None = None, sale: Sale | None = None) -> Order:
        """``sale``: the customer's price as quoted (price rules), kept with the order as it was when sold."""
        typed = reference is not None
        if typed:
            reference = validate_reference(reference)
        config = self._account(vendor)
        options = _order_options(activation_date, custom_email)
        async with self.adapter_factory(config) as adapter:
            if not adapter.supports(Capability.ORDER):
                raise Unsupported(vendor, "orders")
            unknown = set(options) - adapter.order_options
            if unknown:
                raise InvalidInput(f"{vendor_title(vendor)} takes no "
                                   f"{' or '.join(sorted(o.replace('_', ' ') for o in unknown))} with an order")
            if start_date is not None and not adapter.supports(Capability.START_DATE):
                raise InvalidInput(f"{adapter.title} orders take no start date; nothing was ordered")
            validate_quantity(quantity)
            plan = await asyncio.to_thread(self.store.plan, vendor, plan_id)
            if plan is None and adapter.supports(Capability.PLANS):
                raise ValidationError(f"{vendor_title(vendor)} has no plan '{plan_id}' in the local catalog; run a sync or check the id")
            unit_price = plan.price if plan else None
            currency = plan.currency if plan else None
            await self._check_start_date(adapter, plan_id, start_date)
            if plan is not None and unit_price is not None and adapter.supports(Capability.BALANCE):
                await self._check_balance(adapter, unit_price * quantity, currency)
            reference = reference or new_reference(vendor)
            entry = await self._record(vendor=vendor, kind="order", reference=reference, typed=typed, plan_id=plan_id,
                                       quantity=quantity, unit_price=unit_price, currency=currency, sale=sale,
                                       **options)
            if start_date is not None:
                self._start_dates[entry.id] = start_date
            return await self._send_and_settle(adapter, entry, resends=1)

    async def topup(self, vendor: str, iccid: str, plan_id: str) -> Order:
        iccid = validate_iccid(iccid)
        config = self._account(vendor)
        known = await asyncio.to_thread(self.store.esim, iccid, vendor)
        why = topup_refusal(known) if known is not None else None
        if why is not None:  # as last synced: never sent to the vendor, whose answer would only puzzle
            raise ValidationError(f"top up refused: {why} ({vendor_title(vendor)} shows it "
                                  f"{known.vendor_status}); nothing was sent")
        async with self.adapter_factory(config) as adapter:
            if not adapter.supports(Capability.TOPUP):
                raise Unsupported(vendor, "top-ups")
            price = currency = None
            if adapter.supports(Capability.TOPUP_PLANS):
                offered = await adapter.list_topup_plans(iccid)
                match = next((p for p in offered if p.plan_id == plan_id), None)
                if match is None:
                    names = ", ".join(p.plan_id for p in offered[:8]) or "none"
                    raise ValidationError(f"{vendor_title(vendor)} does not offer top-up '{plan_id}' for eSIM {iccid}; it offers: {names}")
                price, currency = match.price, match.currency
                if adapter.supports(Capability.BALANCE):
                    await self._check_balance(adapter, price, currency)
            entry = await self._record(vendor=vendor, kind="topup", reference=new_reference(vendor), typed=False,
                                       plan_id=plan_id, quantity=1, unit_price=price, currency=currency, iccid=iccid)
            return await self._send_and_settle(adapter, entry, resends=1)

    async def adopt(self, reference: str, order_id: str) -> Order:
        """The agent says: vendor order ``order_id`` is this entry's (after checking the vendor's portal)."""
        entry = await self._unfinished_entry(reference)
        order_id = order_id.strip()
        other = await asyncio.to_thread(self.store.journal_by_order_id, entry.vendor, order_id)
        if other is not None and other.id != entry.id:
            raise ValidationError(f"{vendor_title(entry.vendor)} order {order_id} already belongs to reference {other.reference}; "
                                  "nothing was changed")
        async with self.adapter_factory(self._account(entry.vendor)) as adapter:
            try:
                order = await adapter.get_order(order_id, entry.vendor_handle)
            except (VendorRejected, Unsupported) as exc:
                raise ValidationError(f"{vendor_title(entry.vendor)} does not confirm order {order_id} ({exc}); nothing was changed") from None
            if order.status is OrderStatus.COMPLETED and not order.esims and not order.lines:
                # An empty answer (no line, no eSIM) confirms nothing: never attach a guess to the journal.
                raise ValidationError(f"{vendor_title(entry.vendor)} shows nothing under order {order_id}; nothing was changed")
            differs = mismatch(entry, order)
            if differs:
                raise ValidationError(f"{vendor_title(entry.vendor)} order {order_id} is not what reference {entry.reference} "
                                      f"asked for: {differs}; nothing was changed")
            adopted = await self._adopt(adapter, entry, order, f"the agent adopted {vendor_title(entry.vendor)} order {order_id}")
        if adopted is None:
            raise OrderOutcome(f"reference {entry.reference} is being handled by another esimdesk window right now; "
                               "nothing was changed", await self._get(entry))
        return adopted

    async def resend(self, reference: str) -> Order:
        """The agent says: send it (again). Where the vendor can still say it has the order, ask first."""
        entry = await self._unfinished_entry(reference)
        async with self.adapter_factory(self._account(entry.vendor)) as adapter:
            if entry.attempts and not adapter.idempotent_orders:
                found = await self._look_up(adapter, entry)
                if isinstance(found, Order):
                    adopted = await self._adopt(adapter, entry, found,
                                                f"{adapter.title} has it under reference {entry.vendor_handle}")
                    if adopted is not None:
                        return adopted
            await self._note(entry, "the agent asked to send it again")
            return await self._send_and_settle(adapter, await self._get(entry), resends=1)

    async def abandon(self, reference: str) -> JournalEntry:
        """The agent says: it was not placed (or is not wanted); stop settling it."""
        entry = await self._unfinished_entry(reference)
        cause = ("abandoned by the agent: never sent" if entry.attempts == 0 else
                 "abandoned by the agent as not placed; if the vendor did place it, the sync that lists it files "
                 "it here and says so")
        claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
            entry.id, self.owner, states=UNDECIDED, lease_seconds=SEND_LEASE_S, steal_from=_dead_owner(entry)))
        if claimed is None:
            raise OrderOutcome(f"reference {entry.reference} is being handled by another esimdesk window right now; "
                               "nothing was changed", await self._get(entry))
        return await self._finish(claimed, OrderStatus.FAILED, cause, error="abandoned by the agent")

    # --- reconciliation: asks the vendors ----------------------------------------------------
    async def reconcile(self, vendor: str | None = None, *, may_send: bool = False) -> list[JournalEntry]:
        """Settle every unfinished entry (PENDING/ALLOCATING/UNCERTAIN) with its vendor.

        ``may_send``: the agent asked for it (``esimdesk reconcile``, the menu): an ambiguous order at a
        vendor with an idempotency handle may be resent with that handle within ``RESEND_WINDOW``.
        Sync and start-up pass False: they never send. One vendor's failure never stops the others.
        """
        await self.file_placed(vendor)
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
            try:
                async with self.adapter_factory(config) as adapter:
                    for entry in items:
                        try:
                            await self._reconcile_one(adapter, entry, may_send)
                        except OrderOutcome:
                            pass
                        except EsimdeskError as exc:
                            log.info("reconcile %s: %s", entry.reference, exc)
                        except Exception:  # a bug or a damaged row must not stop the other entries
                            log.exception("reconcile of %s failed unexpectedly", entry.reference)
            except EsimdeskError as exc:  # e.g. the account's settings are incomplete
                log.info("reconcile %s: %s", v, exc)
            for entry in items:
                settled.append(await asyncio.to_thread(self.store.journal_get, entry.id) or entry)
        return settled

    async def file_placed(self, vendor: str | None = None) -> list[str]:
        """Nothing a vendor made stays unknown: every order a sync listed under one of this desk's handles
        whose entry is not COMPLETED or ALLOCATING (FAILED, UNCERTAIN, PENDING) is filed under that entry —
        never a second row — and said. An entry the agent was told had failed is said loudly."""
        said: list[str] = []
        for entry, order_id in await asyncio.to_thread(self.store.journal_placed_unsettled, vendor):
            if entry.state is OrderStatus.PENDING and lease_is_live(entry) and entry.lease_owner != self.owner:
                continue  # being sent right now: its own answer files it
            order = await asyncio.to_thread(self.store.order, entry.vendor, order_id)
            if order is None:
                continue
            told_failed = entry.state is OrderStatus.FAILED
            what = f"{vendor_title(entry.vendor)} order {order_id} (reference {entry.reference}, plan {entry.plan_id} × {entry.quantity})"
            differs = mismatch(entry, order)
            if differs:
                noted = await self._note(entry, f"{vendor_title(entry.vendor)} lists order {order_id} under this reference, but it "
                                                f"is not what was asked: {differs}; the agent decides",
                                         error=AWAITING_AGENT)
                if noted.updated_at != entry.updated_at:
                    said.append(f"{what}: {vendor_title(entry.vendor)} lists it under this desk's reference but it is not what was "
                                f"asked ({differs}); check it in {vendor_title(entry.vendor)}'s portal")
                continue
            claimed = await asyncio.to_thread(lambda e=entry: self.store.journal_claim(
                e.id, self.owner, states=MAY_BE_FILED, lease_seconds=SEND_LEASE_S,
                steal_from=_dead_owner(e)))
            if claimed is None:
                continue
            state = (OrderStatus.COMPLETED if order.status is OrderStatus.COMPLETED and order.esims
                     else OrderStatus.ALLOCATING)
            cause = (f"{vendor_title(entry.vendor)} lists order {order_id} under reference {entry.vendor_handle} (seen by a sync)"
                     + (": it had been recorded as FAILED" if told_failed else ""))
            await self._finish(claimed, state, cause, order_id=order_id)
            if told_failed:
                said.append(f"an order you were told had failed was placed: {what} is now filed as {state.value}. "
                            "Do not order it again; if it was ordered again, the customer has two")
            else:
                said.append(f"{what} was placed after all: filed as {state.value}")
            log.warning("%s", said[-1])
        self.notices.extend(said)
        return said

    async def reconcile_one(self, reference: str, *, may_send: bool = False) -> JournalEntry:
        """Settle one unfinished entry now (the agent's "Reconcile now" on one order), as ``reconcile``
        settles each; the vendor's failure is raised in words, not logged: the agent asked and waits."""
        entry = await asyncio.to_thread(lambda: self.store.journal_get(reference=reference.strip()))
        if entry is None:
            raise ValidationError(f"no order with reference '{reference}' in this desk's journal")
        if entry.state not in UNFINISHED:
            return entry  # settled meanwhile (e.g. by a sync): nothing to ask
        async with self.adapter_factory(self._account(entry.vendor)) as adapter:
            try:
                await self._reconcile_one(adapter, entry, may_send)
            except OrderOutcome:
                pass  # the entry's state and history say what became of it
        return await self._get(entry)

    # --- steps -------------------------------------------------------------------------------
    def _account(self, vendor: str) -> VendorConfig:
        config = self.accounts.get(vendor)
        if config is None:
            raise ValidationError(f"no {vendor_title(vendor)} account is configured on this desk")
        return config

    async def _record(self, *, typed: bool, **kw) -> JournalEntry:
        """The intent, durably in the journal before anything is sent; a desk that cannot write sends nothing."""
        try:
            def create() -> JournalEntry:
                handle = vendor_handle(kw["reference"], self.store.desk_id(), typed)
                return self.store.journal_create(handle=handle, **kw)

            return await asyncio.to_thread(create)
        except StoreError as exc:
            if getattr(exc, "reason", None) == "recorded-not-sent":  # its entry could not be taken back
                raise OrderOutcome(f"{exc}. Nothing was sent to {kw['vendor']} and nothing was charged.", None) from None
            raise OrderOutcome(f"{exc}. The order could not be recorded, so nothing was sent to {vendor_title(kw['vendor'])} "
                               "and nothing was charged.", None) from None

    async def _unfinished_entry(self, reference: str) -> JournalEntry:
        entry = await asyncio.to_thread(lambda: self.store.journal_get(reference=reference.strip()))
        if entry is None:
            raise ValidationError(f"no order with reference '{reference}' in this desk's journal")
        if entry.state not in UNDECIDED:
            raise ValidationError(f"order {entry.reference} is {entry.state.value}, not waiting for a decision; "
                                  "nothing was changed")
        if lease_is_live(entry) and entry.lease_owner != self.owner:
            raise ValidationError(f"order {entry.reference} is being handled by another esimdesk window right now")
        return entry

    async def _check_start_date(self, adapter: VendorAdapter, plan_id: str, start_date: date | None) -> None:
        """A package that needs the travel start date gets one, today or later (asked live: Roamify's travelDate)."""
        if not adapter.supports(Capability.START_DATE):
            if start_date is not None:
                raise InvalidInput(f"{adapter.title} orders take no start date; nothing was ordered")
            return
        if start_date is not None:
            validate_start_date(start_date)
        if start_date is None and await adapter.needs_start_date(plan_id):
            raise ValidationError(f"{adapter.title} package '{plan_id}' needs the customer's travel start date: give "
                                  "--start-date YYYY-MM-DD (in the window: the order dialog's start date); "
                                  "nothing was ordered")

    async def _check_balance(self, adapter: VendorAdapter, cost: Decimal, currency: str | None) -> None:
        balance = await adapter.get_balance()
        try:
            await asyncio.to_thread(self.store.save_balance, balance)
        except StoreError as exc:  # caching it is incidental; the journal write says what matters
            log.info("balance not cached: %s", exc)
        if currency and balance.currency != currency:
            return  # different currencies: the vendor decides (its own 'insufficient balance' is mapped)
        if balance.amount < cost:
            raise ValidationError(f"{adapter.title} balance is {money_str(balance.amount)} {balance.currency}, "
                                  f"this order costs {money_str(cost)} {currency or balance.currency}: top up the account first")

    async def _send_and_settle(self, adapter: VendorAdapter, entry: JournalEntry, resends: int = 0) -> Order:
        """Send once; an ambiguous answer gets ``resends`` settling tries (same handle, or a look-up)."""
        try:
            claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
                entry.id, self.owner, states=UNDECIDED, lease_seconds=SEND_LEASE_S, sending=True,
                steal_from=_dead_owner(entry)))
        except StoreError as exc:
            raise OrderOutcome(f"{exc}. Nothing was sent to {adapter.title} and nothing was charged.",
                               entry) from None
        if claimed is None:
            current = await asyncio.to_thread(self.store.journal_get, entry.id)
            raise OrderOutcome(f"order {entry.reference} is already being handled by another esimdesk window "
                               f"(state {current.state.value}); nothing was sent from here", current)
        self.progress(OrderProgress(entry.reference, "sending", f"sending to {adapter.title}"))
        try:
            order = await self._send(adapter, claimed)
        except DuplicateReference as exc:
            # The vendor has an order under this reference but will not say which: never FAILED, never resent.
            await self._finish(claimed, OrderStatus.UNCERTAIN, f"vendor already holds this reference: {exc}",
                               error=AWAITING_AGENT)
            raise OrderOutcome(
                f"{exc}. {adapter.title} already has an order with reference {claimed.vendor_handle}, so it was placed "
                "and paid, but its eSIMs are not known here: find it in the vendor's portal and run "
                f"'esimdesk reconcile --adopt {claimed.reference} ORDER_ID'. Do NOT order again.",
                await self._get(claimed)) from None
        except VendorError as exc:
            if not_taken(exc) and claimed.attempts > 1:
                # A resend the vendor refused or never got says nothing of the earlier send, which may have
                # been placed and paid: the order stays uncertain until a look-up (or the agent) settles it.
                await self._finish(claimed, OrderStatus.UNCERTAIN, f"resend not taken: {exc}", error=str(exc))
                raise OrderOutcome(
                    f"{exc}. That was a resend: the first request for {claimed.reference} may have been placed and "
                    f"paid, so it is still not settled. Do NOT order again: run 'esimdesk reconcile' when "
                    f"{adapter.title} can be reached.", await self._get(claimed)) from None
            if not_taken(exc):
                await self._finish(claimed, OrderStatus.FAILED, f"vendor refused: {exc}", error=str(exc))
                extra = await self._refresh_price(adapter, claimed) if isinstance(exc, PriceChanged) else ""
                said = "Nothing was charged." if isinstance(exc, VendorRejected) else \
                    f"{adapter.title} did not take the order; nothing was charged. Try again in a moment."
                raise OrderOutcome(f"{exc}. {said}{extra}", await self._get(claimed)) from None
            # The vendor's own complete answer (a 500, a 429) means the request is no longer on its way; no
            # answer, or a gateway's (502, 504: a proxy in front of the vendor gave up waiting while our request
            # may still sit in a queue behind it), leaves it in flight until the adapter's bound.
            gone = exc.http_status is not None and exc.http_status not in (502, 504)
            until = datetime.now(UTC) if gone else self._in_flight_until(adapter, claimed)
            lost = await self._finish(claimed, OrderStatus.UNCERTAIN, f"answer lost: {exc}" + (
                "" if gone else f"; it may still reach {adapter.title} and be placed until {clock(until)}"),
                error=str(exc), in_flight_until=until)
            if resends > 0:
                pause = min(max(self.resend_pause, exc.retry_after or 0.0), 5.0)
                await asyncio.sleep(pause)
                if adapter.idempotent_orders:
                    # The same handle again: the vendor answers with the first order if it took it.
                    return await self._send_and_settle(adapter, lost, resends - 1)
                found = await self._settle_uncertain(adapter, lost, may_send=False)
                if found is not None:
                    return found
                now = await self._get(claimed)
                if now.state is OrderStatus.FAILED:
                    raise OrderOutcome(f"{exc}. {adapter.title} confirms it has no order under reference "
                                       f"{claimed.vendor_handle}: it was not placed and nothing was charged. "
                                       "Order again if the customer still wants it.", now) from None
            now = await self._get(claimed)
            until = self._in_flight_until(adapter, now)
            late = (f", and the request may still reach {adapter.title} until {clock(until)}: do NOT order again "
                    "before then" if until > datetime.now(UTC) else ". Do NOT order again")
            raise OrderOutcome(
                f"{exc}. The order may have been placed and money may have been spent{late}. Run 'esimdesk "
                f"reconcile' (reference {claimed.reference}) to settle it with {adapter.title}.", now) from None
        return await self._after_accepted(adapter, claimed, order)

    async def _send(self, adapter: VendorAdapter, entry: JournalEntry) -> Order:
        if entry.kind == "topup":
            esim = await asyncio.to_thread(self.store.esim, entry.iccid, entry.vendor)
            return await adapter.topup(entry.iccid, entry.plan_id, entry.vendor_handle, entry.unit_price,
                                       vendor_ref=esim.vendor_ref if esim else None)
        # The options recorded with the intent go with every send of it (a resend is the same order).
        extra = _order_options(entry.activation_date, entry.custom_email)
        start = self._start_dates.get(entry.id)
        if start is not None:  # only the vendors that take one (Roamify's travel date)
            extra["start_date"] = start
        return await adapter.place_order(entry.plan_id, entry.quantity, entry.vendor_handle, entry.unit_price, **extra)

    async def _after_accepted(self, adapter: VendorAdapter, entry: JournalEntry, order: Order) -> Order:
        await self._refuse_mismatch(adapter, entry, order)
        order = _with_entry(order, entry)
        try:
            await asyncio.to_thread(self.store.upsert_orders, [order])
            if order.status is OrderStatus.COMPLETED:
                await self._finish(entry, OrderStatus.COMPLETED,
                                   f"{adapter.title} accepted as {order.order_id}, eSIMs ready", order_id=order.order_id)
                return await self._stored(order)
            entry = await self._finish(entry, OrderStatus.ALLOCATING, f"{adapter.title} accepted as {order.order_id}",
                                       order_id=order.order_id, release=False)
            return await self._poll(adapter, entry)
        except StoreError as exc:
            raise OrderOutcome(
                f"{adapter.title} took order {order.order_id} (reference {entry.vendor_handle}): placed and paid, but "
                f"this desk may not have recorded it: {exc}. Write the order id down; once the data folder is writable again run "
                f"'esimdesk reconcile --adopt {entry.reference} {order.order_id}'. Do NOT order again.", None) from None

    async def _poll(self, adapter: VendorAdapter, entry: JournalEntry) -> Order:
        if not adapter.supports(Capability.ORDER_STATUS) or entry.kind == "topup":
            await self._finish(entry, OrderStatus.COMPLETED, "accepted; the vendor gives no allocation status")
            return await self._stored_by_entry(entry)
        # Roamify generates profiles in up to 90 s: a vendor's own allocation time wins over the default.
        limit = (self.allocation_deadline if self.allocation_deadline is not None
                 else max(ALLOCATION_DEADLINE_S, adapter.allocation_seconds))
        deadline = time.monotonic() + limit
        waited = 0.0
        last_error = ""
        while True:
            try:
                order = await adapter.get_order(entry.order_id, entry.vendor_handle)
            except VendorError as exc:
                log.info("poll %s: %s", entry.reference, exc)
                order = None
                last_error = f" (last answer: {exc})"
            if order is not None and order.status is OrderStatus.COMPLETED:
                await self._refuse_mismatch(adapter, entry, order)
                order = _with_entry(order, entry)
                await asyncio.to_thread(self.store.upsert_orders, [order])
                await self._finish(entry, OrderStatus.COMPLETED, f"{count_of(len(order.esims), 'eSIM profile')} allocated")
                return await self._stored(order)
            if order is not None and order.status is OrderStatus.FAILED:
                await self._finish(entry, OrderStatus.FAILED, "vendor reports the order failed")
                raise OrderOutcome(f"{adapter.title} reports order {entry.order_id} failed", await self._get(entry))
            if time.monotonic() >= deadline:
                await asyncio.to_thread(self.store.journal_release, entry.id, self.owner)
                raise OrderOutcome(
                    f"{adapter.title} accepted order {entry.order_id} but its eSIMs are not ready after "
                    f"{int(limit)} s{last_error}. It is paid and kept as ALLOCATING: run 'esimdesk reconcile' "
                    "later to fetch the eSIMs; do not order again.", await self._get(entry))
            wanted = sum(line.quantity for line in order.lines) if order is not None else 0
            ready = f"{len(order.esims)} of {count_of(wanted, 'profile')} ready, " if order is not None and wanted else ""
            self.progress(OrderProgress(entry.reference, "allocating", f"{ready}waiting for profiles ({int(waited)} s)"))
            await asyncio.sleep(self.poll_interval)
            waited += self.poll_interval

    async def _reconcile_one(self, adapter: VendorAdapter, entry: JournalEntry, may_send: bool) -> None:
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
            # Recorded, never sent (the app stopped in between). Never sent from here: the agent may have
            # ordered again by hand since. Past the grace period it is FAILED, never sent.
            if now - entry.created_at > NEVER_SENT_GRACE:
                await self._finish(entry, OrderStatus.FAILED, "never sent and too old to send now; nothing was charged")
            elif entry.last_error != AWAITING_AGENT:
                await self._note(entry, "recorded but never sent: 'esimdesk reconcile --resend' sends it, "
                                        "'--abandon' drops it", error=AWAITING_AGENT)
            return
        # UNCERTAIN, or PENDING with an attempt made by a process that died: the vendor decides.
        if entry.state is OrderStatus.PENDING:
            entry = await self._finish(entry, OrderStatus.UNCERTAIN, "the sending process stopped before the answer")
        await self._settle_uncertain(adapter, entry, may_send)

    async def _settle_uncertain(self, adapter: VendorAdapter, entry: JournalEntry, may_send: bool) -> Order | None:
        """Find out what became of an order whose answer was lost, the safest way the vendor allows.

        Returns the order when it turned out placed (adopted or resent), else ``None`` (FAILED as not
        placed, or left UNCERTAIN for the agent).
        """
        found = await self._look_up(adapter, entry)
        if isinstance(found, Order):
            return await self._adopt(adapter, entry, found, f"found at {adapter.title} under reference {entry.vendor_handle}")
        if found == "absent":
            # A fact, not a guess: asked after the last request could still arrive.
            await self._finish(entry, OrderStatus.FAILED,
                               f"{adapter.title} has no order under reference {entry.vendor_handle}, and the last "
                               f"request (sent {clock(entry.last_sent_at or entry.created_at)}) can no longer reach "
                               "it: not placed, nothing was charged", error="not placed")
            return None
        if isinstance(found, list):  # guessed candidates (an account without referenceId)
            return await self._pick_candidate(adapter, entry, found)
        if adapter.idempotent_orders:
            sent = entry.first_sent_at or entry.created_at
            if may_send and datetime.now(UTC) - sent <= self.resend_window:
                # The vendor's own handle makes this harmless: it answers with the first order if it took it.
                return await self._send_and_settle(adapter, entry, resends=1)
            minutes = int(self.resend_window.total_seconds() // 60)
            why = (f"the answer was lost over {minutes} minutes ago" if may_send else
                   "sync never sends; 'esimdesk reconcile' resends it with the same handle")
            await self._note(entry, f"{why}: the agent decides — 'esimdesk reconcile --resend {entry.reference}' "
                                    f"(harmless: same handle), '--adopt {entry.reference} ORDER_ID' or "
                                    f"'--abandon {entry.reference}'", error=AWAITING_AGENT)
            return None
        if adapter.supports(Capability.ORDER_BY_REFERENCE) or adapter.supports(Capability.FIND_ORDERS):
            # It can be checked, just not yet (too soon after the send, or the look-up failed): later.
            until = self._in_flight_until(adapter, entry)
            if datetime.now(UTC) < until:
                await self._note(entry, f"may still be placed — do not order again until {clock(until)}; "
                                        f"'esimdesk reconcile' asks {adapter.title} again")
            else:
                await self._note(entry, f"{adapter.title} could not confirm it yet; 'esimdesk reconcile' asks again")
            return None
        await self._note(entry, f"{adapter.title} offers no way to check this {entry.kind}; check the vendor's portal, "
                                "then adopt or abandon it", error=AWAITING_AGENT)
        return None

    async def _look_up(self, adapter: VendorAdapter, entry: JournalEntry) -> Order | list[Order] | str | None:
        """What the vendor (or the last sync) says about an entry whose answer was lost.

        An ``Order`` (found), ``"absent"`` (the vendor knows our reference and has none), a list of
        candidates (guessed by package and time), or ``None`` (no way to tell).
        """
        # The last sync may have seen the order carrying our handle (Roumio transactionId, Roamify referenceId).
        known = await asyncio.to_thread(self.store.order_for_reference, entry.vendor, entry.reference, entry.kind)
        if known is not None and known.order_id:
            return known
        quiet = datetime.now(UTC) >= self._in_flight_until(adapter, entry)
        if adapter.supports(Capability.ORDER_BY_REFERENCE):
            try:
                order = await adapter.order_by_reference(entry.vendor_handle, entry.kind)
            except Unsupported:
                pass  # the older API: guess below
            except VendorError as exc:
                log.info("look-up of %s: %s", entry.reference, exc)
                return None
            else:
                if order is not None:
                    return order
                return "absent" if quiet else None
        if adapter.supports(Capability.FIND_ORDERS):
            sent_from = entry.first_sent_at or entry.created_at
            sent_to = entry.last_sent_at or sent_from
            try:
                candidates = await adapter.find_orders(entry.plan_id, entry.quantity, sent_from, sent_to,
                                                       entry.vendor_handle)
            except VendorError as exc:
                log.info("order list for %s: %s", entry.reference, exc)
                return None
            taken = await asyncio.to_thread(self.store.journal_claimed_order_ids, adapter.name)
            free = [o for o in candidates if o.order_id not in taken]
            if free or quiet:
                return free
        return None

    async def _pick_candidate(self, adapter: VendorAdapter, entry: JournalEntry, free: list[Order]) -> Order | None:
        # Never adopted by the time window alone, even a single candidate: the vendor's list cannot show
        # which desk sent an order (another desk may have ordered the same package then). The agent decides.
        if not free:
            await self._finish(entry, OrderStatus.FAILED,
                               f"{adapter.title} lists no order of this package and quantity from the time it was "
                               "sent (on its clock): not placed, nothing was charged", error="not placed")
            return None
        ids = tuple(o.order_id or "?" for o in free)
        said = "1 order" if len(ids) == 1 else f"{len(ids)} orders"
        await self._note(entry, f"{said} of this package and quantity at {adapter.title} from when it was sent "
                                f"({', '.join(ids)}), but {adapter.title} does not show which desk sent which: the "
                                f"agent checks and picks with 'esimdesk reconcile --adopt {entry.reference} ORDER_ID' "
                                "or abandons it", error=AWAITING_AGENT, candidates=ids)
        return None

    async def _adopt(self, adapter: VendorAdapter, entry: JournalEntry, order: Order, cause: str) -> Order | None:
        differs = mismatch(entry, order)
        if differs:  # checked before the entry is given the order's id: a wrong order is never attached
            await self._note(entry, f"{adapter.title} shows order {order.order_id} for this reference, but it is not "
                                    f"what was asked: {differs}; the agent checks and adopts the right order or "
                                    "abandons this one", error=AWAITING_AGENT)
            return None
        claimed = await asyncio.to_thread(lambda: self.store.journal_claim(
            entry.id, self.owner, states=UNDECIDED, lease_seconds=SEND_LEASE_S, steal_from=_dead_owner(entry)))
        if claimed is None:
            return None
        await asyncio.to_thread(lambda: self.store.journal_transition(
            entry.id, OrderStatus.UNCERTAIN, cause, order_id=order.order_id, candidates=()))
        return await self._after_accepted(adapter, await self._get(claimed), order)

    async def _refresh_price(self, adapter: VendorAdapter, entry: JournalEntry) -> str:
        """After a price error: fetch the vendor's current price, cache it, and say it."""
        try:
            plans = [p for p in await adapter.list_plans() if p.plan_id == entry.plan_id]
        except EsimdeskError:
            return ""
        await asyncio.to_thread(self.store.upsert_plans, plans)
        if not plans:
            return f" {adapter.title} no longer lists plan {entry.plan_id}."
        new = plans[0]
        return (f" The price is now {money_str(new.price)} {new.currency} (was {money_str(entry.unit_price)});"
                " order again to accept it.")

    async def _refuse_mismatch(self, adapter: VendorAdapter, entry: JournalEntry, order: Order) -> None:
        """A vendor answer that is not what was asked (another plan or quantity, another desk's handle) is
        never filed as this entry: UNCERTAIN, for the agent, with what differs."""
        differs = mismatch(entry, order)
        if not differs:
            return
        cause = (f"{adapter.title} answered with order {order.order_id}, which is not what was asked: {differs}; "
                 "not filed as this order")
        await self._finish(entry, OrderStatus.UNCERTAIN, cause, error=AWAITING_AGENT)
        raise OrderOutcome(
            f"{cause}. It may be another desk's order under the same reference, and this one may or may not have "
            f"been placed: do NOT order again before checking {adapter.title}'s portal, then run 'esimdesk reconcile "
            f"--adopt {entry.reference} ORDER_ID' with the right order or '--abandon {entry.reference}'.",
            await self._get(entry))

    def _in_flight_until(self, adapter: VendorAdapter, entry: JournalEntry) -> datetime:
        """Until when the entry's last request may still reach the vendor (and be placed)."""
        bound = self.settle_delay if self.settle_delay is not None else adapter.in_flight_seconds
        if entry.in_flight_until is not None:  # what the last send's answer (or its absence) showed
            return entry.in_flight_until
        # Killed mid-request, or an entry from before this was recorded: the bound from the last send.
        sent = entry.last_sent_at or entry.first_sent_at or entry.created_at
        return sent + timedelta(seconds=bound)

    # --- helpers -----------------------------------------------------------------------------
    async def _finish(self, entry: JournalEntry, state: OrderStatus, cause: str, *, order_id: str | None = None,
                      error: str | None = None, release: bool = True,
                      in_flight_until: datetime | None = None) -> JournalEntry:
        updated = await asyncio.to_thread(lambda: self.store.journal_transition(
            entry.id, state, cause, order_id=order_id, error=error, in_flight_until=in_flight_until))
        if release:
            await asyncio.to_thread(self.store.journal_release, entry.id, self.owner)
        return updated

    async def _note(self, entry: JournalEntry, cause: str, *, error: str | None = None,
                    candidates: tuple[str, ...] | None = None) -> JournalEntry:
        """Say why an entry stays where it is — once, not at every reconcile."""
        events = await asyncio.to_thread(lambda: self.store.journal_audit(entry.id))
        if events and events[-1].cause == cause and events[-1].to_state == entry.state.value:
            return entry
        return await asyncio.to_thread(lambda: self.store.journal_transition(
            entry.id, entry.state, cause, error=error, candidates=candidates))

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


def _order_options(activation_date: datetime | None, custom_email: str | None) -> dict:
    """Only the options given: adapters that take none are called exactly as before."""
    out: dict = {}
    if activation_date is not None:
        out["activation_date"] = validate_activation_date(activation_date)
    if custom_email:
        out["custom_email"] = validate_email(custom_email)
    return out


def clock(when: datetime) -> str:
    """A time as the agent reads it: local HH:MM, with UTC beside it (a desk and a vendor may disagree)."""
    return f"{when.astimezone():%H:%M} ({when.astimezone(UTC):%H:%M} UTC)"


def mismatch(entry: JournalEntry, order: Order) -> str | None:
    """What in the vendor's order differs from what the entry asked, in words; None when nothing does.

    Compared only where the vendor's answer says it: the handle it echoes (``Order.handle``), the plans
    and quantity of its lines and how many eSIMs it holds.
    """
    why: list[str] = []
    if order.handle and order.handle != entry.vendor_handle:
        why.append(f"it carries reference {order.handle}, not {entry.vendor_handle}")
    if entry.kind == "order":
        plans = sorted({line.plan_id for line in order.lines if line.plan_id})
        if plans and plans != [entry.plan_id]:
            why.append(f"it is for plan {', '.join(plans)}, not {entry.plan_id}")
        quantity = sum(line.quantity for line in order.lines) if plans else None
        if quantity is not None and quantity != entry.quantity:
            why.append(f"it is for {count_of(quantity, 'eSIM')}, not {entry.quantity}")
        elif len(order.esims) > entry.quantity:
            why.append(f"it holds {count_of(len(order.esims), 'eSIM')}, not {entry.quantity}")
    return "; ".join(why) or None


def _dead_owner(entry: JournalEntry) -> str | None:
    return entry.lease_owner if entry.lease_owner and not lease_is_live(entry) else None


def _with_entry(order: Order, entry: JournalEntry) -> Order:
    """The vendor's answer, labelled with our reference and kind so it lands on the journal's order row."""
    if order.reference == entry.reference and order.kind == entry.kind:
        return order
    return replace(order, reference=entry.reference, kind=entry.kind)
