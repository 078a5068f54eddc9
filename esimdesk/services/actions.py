"""Support actions on one eSIM — cancel (refund), suspend, resume, revoke, SMS — as safe as orders.

1. validate (known eSIM, an account, the vendor offers the action, an SMS of 1–500 characters);
2. settle any earlier action of this eSIM whose answer was lost (by reading its status), and refuse to
   go on while one stays unknown or another action on it is in progress (one action at a time per eSIM,
   enforced by the store: ``ActionInProgress``);
3. read the eSIM's status live and refuse, in words, what its state does not allow (nothing is sent);
4. record the intent in the journal (durably, claimed by this process in the same write; refused by the
   store while another action on the eSIM is unfinished) and count the attempt — then send once;
5. a refusal (Roumio 200002) is FAILED with the vendor's words; a lost answer is UNCERTAIN and is
   settled by reading the eSIM's status, never by sending again; an SMS (no trace in the status) waits
   for the agent.

Reuses the order journal's machinery (services/orders.py): the same states, process owner and leases,
the rule of what a vendor certainly did not take (``not_taken``), the durable store transaction and the
desk id. Every step leaves a line in the eSIM's history: what, when, from which desk.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from esimdesk.domain import (
    SMS_MAX_CHARS,
    Action,
    ActionEntry,
    ActionEvent,
    Balance,
    Esim,
    EsimdeskError,
    InvalidInput,
    OrderStatus,
    StoreError,
    Unsupported,
    Usage,
    ValidationError,
    VendorConfig,
    VendorError,
    money_str,
    validate_iccid,
    vendor_title,
)
from esimdesk.domain.actions import DONE_WORDS, REFUND_ACTIONS
from esimdesk.domain.refunds import RefundStatus
from esimdesk.domain.states import AWAITING_AGENT, action_is_open
from esimdesk.services.orders import (
    SEND_LEASE_S,
    SETTLE_DELAY_S,
    AdapterFactory,
    lease_is_live,
    not_taken,
    process_owner,
)
from esimdesk.store import Store
from esimdesk.store.actions import ActionInProgress
from esimdesk.vendors import Capability, VendorAdapter, adapter_class

log = logging.getLogger("esimdesk.actions")

SETTLE_PAUSE_S = 1.0  # between a lost answer and reading the eSIM's status to settle it


@dataclass(frozen=True)
class ActionProgress:
    iccid: str
    action: Action
    message: str


@dataclass(frozen=True)
class ActionResult:
    entry: ActionEntry
    esim: Esim | None  # the eSIM as the vendor shows it afterwards
    message: str  # one sentence for the agent
    balance: Balance | None = None  # after a refund

    def to_json(self) -> dict:
        e = self.entry
        return {
            "vendor": e.vendor, "iccid": e.iccid, "action": e.action.value, "status": e.state.value,
            "esim_status": self.esim.status.value if self.esim else None,
            "vendor_status": self.esim.vendor_status if self.esim else None,
            "refund": money_str(e.amount) if e.action is Action.CANCEL and e.state is OrderStatus.COMPLETED else None,
            "currency": e.currency, "balance": money_str(self.balance.amount) if self.balance else None,
            "desk": e.desk_id, "message": self.message,
        }


class ActionOutcome(EsimdeskError):
    """An action that was refused, not done, or whose result is not known yet; ``entry`` says where it
    stands (None: nothing was recorded or sent), the message what happened and what to do."""

    def __init__(self, message: str, entry: ActionEntry | None, *, slowed_down: bool = False):
        super().__init__(message)
        self.entry = entry
        self.slowed_down = slowed_down  # the vendor asked us to slow down and its status shows nothing done


SLOW_DOWN_PAUSE_S = 1.0  # before the one send again after "slow down" (Roumio counts 8 requests a second)


@dataclass(frozen=True)
class UsageReport:
    readings: list[Usage]
    problems: list[str]  # one sentence per eSIM or vendor whose usage could not be read


def in_progress_words(other: ActionEntry | None) -> str:
    """The refusal of a second action while ``other`` is unfinished on the same eSIM; its start in the
    agent's local time."""
    if other is None:
        return "another action on this eSIM is in progress: nothing was sent"
    since = other.created_at.astimezone().strftime("%H:%M")
    return (f"another {other.action.value} on this eSIM is in progress since {since} (desk {other.desk_id}): "
            "nothing was sent")


def consequence(esim: Esim, action: Action, refund: Decimal | None, currency: str | None) -> str:
    """The confirmation's words: what the action does, in money and reversibility."""
    who = vendor_title(esim.vendor)
    if action is Action.CANCEL:
        money = (f"refunds {money_str(refund)} {currency} to the {who} balance" if refund is not None
                 else f"refunds the price paid to the {who} balance")
        return (f"Cancel eSIM {esim.iccid}: {money}. The eSIM can never be installed afterwards; "
                "this cannot be undone.")
    if action is Action.SUSPEND:
        return (f"Suspend eSIM {esim.iccid}: its data service stops until it is resumed. Nothing is charged "
                "or refunded; it can be undone with Resume.")
    if action is Action.RESUME:
        return f"Resume eSIM {esim.iccid}: its data service comes back. Nothing is charged."
    if action is Action.REVOKE:
        paid = f" ({money_str(refund)} {currency} paid)" if refund is not None else ""
        return (f"Revoke eSIM {esim.iccid}: the profile is deleted for good and nothing is refunded{paid}. "
                "This cannot be undone.")
    return (f"Send an SMS to eSIM {esim.iccid}. No charge is shown by {who}'s API; a sent SMS cannot be "
            "called back.")


class ActionService:
    def __init__(self, store: Store, accounts: list[VendorConfig], adapter_factory: AdapterFactory, *,
                 settle_pause: float = SETTLE_PAUSE_S, settle_delay: float = SETTLE_DELAY_S,
                 progress: Callable[[ActionProgress], None] | None = None):
        self.store = store
        self.accounts = {c.vendor: c for c in accounts}
        self.adapter_factory = adapter_factory
        self.settle_pause = settle_pause
        self.settle_delay = settle_delay
        self.progress = progress or (lambda p: None)
        self.owner = process_owner()

    # --- what the window asks before anything is sent --------------------------------------------
    def availability(self, esim: Esim) -> dict[Action, str | None]:
        """Each action -> None (allowed in the eSIM's state as last seen) or why not, in words."""
        cls = adapter_class(esim.vendor)
        out: dict[Action, str | None] = {}
        for action in Action:
            reason = cls.refusal(esim, action)
            if reason is None and esim.vendor not in self.accounts:
                reason = f"no {vendor_title(esim.vendor)} account is configured on this desk"
            out[action] = reason
        return out

    async def price_of(self, esim: Esim) -> tuple[Decimal | None, str | None]:
        """What the eSIM cost (the refund of a cancel): the order's line price, else the plan's."""
        def look() -> tuple[Decimal | None, str | None]:
            if esim.order_id:
                order = self.store.order(esim.vendor, esim.order_id)
                if order is not None:
                    for line in order.lines:
                        if line.unit_price is not None and line.plan_id == esim.plan_id:
                            return line.unit_price, order.currency
            plan = self.store.plan(esim.vendor, esim.plan_id) if esim.plan_id else None
            return (plan.price, plan.currency) if plan else (None, None)

        return await asyncio.to_thread(look)

    async def history(self, vendor: str, iccid: str) -> list[ActionEvent]:
        return await asyncio.to_thread(self.store.esim_history, vendor, iccid)

    # --- the agent's word ----------------------------------------------------------------------------
    async def run(self, iccid: str, action: Action, message: str | None = None,
                  vendor: str | None = None) -> ActionResult:
        action = Action(action)
        if action is Action.SMS:
            message = (message or "").strip()
            if not message:
                raise InvalidInput("the SMS is empty; write the message to send")
            if len(message) > SMS_MAX_CHARS:
                raise InvalidInput(f"the SMS has {len(message)} characters; at most {SMS_MAX_CHARS} can be sent")
        esim = await self._cached(iccid, vendor)
        config = self.accounts.get(esim.vendor)
        if config is None:
            raise ValidationError(f"no {vendor_title(esim.vendor)} account is configured on this desk")
        async with self.adapter_factory(config) as adapter:
            if action not in adapter.actions:
                raise ActionOutcome(f"{adapter.refusal(esim, action)}; nothing was sent", None)
            await self._settle_esim(adapter, esim)
            fresh = await self._read(adapter, esim, action)
            why = adapter.refusal(fresh, action)
            if why is not None:
                raise ActionOutcome(f"{action.value} refused: {why} ({vendor_title(esim.vendor)} shows it "
                                    f"{fresh.vendor_status}); nothing was sent", None)
            amount, currency = await self.price_of(fresh)
            entry = await self._record(fresh, action, message, amount, currency)
            try:
                return await self._send(adapter, entry, fresh, message)
            except ActionOutcome as outcome:
                if not outcome.slowed_down:
                    raise
            # Asked to slow down (HTTP 429), and the eSIM's status showed it unchanged: sent once more
            # after a pause, as a new journaled action. A send the status proved not done, never a blind retry.
            await asyncio.sleep(SLOW_DOWN_PAUSE_S)
            entry = await self._record(fresh, action, message, amount, currency)
            return await self._send(adapter, entry, fresh, message)

    async def settle(self, vendor: str | None = None) -> list[ActionEntry]:
        """Settle every action whose answer was lost, by reading each eSIM's status; never sends."""
        entries = await asyncio.to_thread(self.store.actions_unfinished, vendor)
        out: list[ActionEntry] = []
        by_vendor: dict[str, list[ActionEntry]] = {}
        for e in entries:
            by_vendor.setdefault(e.vendor, []).append(e)
        for v, items in by_vendor.items():
            config = self.accounts.get(v)
            if config is None:
                out.extend(items)
                continue
            done: list[ActionEntry] = []
            try:
                async with self.adapter_factory(config) as adapter:
                    for entry in items:
                        try:
                            done.append(await self._settle_one(adapter, entry))
                        except EsimdeskError as exc:  # one eSIM's trouble must not stop the others
                            log.info("settling action %s: %s", entry.id, exc)
                            done.append(entry)
            except EsimdeskError as exc:  # e.g. the account's settings are incomplete
                log.info("settling %s actions: %s", v, exc)
            seen = {e.id for e in done}
            out.extend(done + [e for e in items if e.id not in seen])
        return out

    async def usage(self, iccids: list[str]) -> UsageReport:
        """Fresh usage, each vendor with its own call (Roumio usage check, MicroESIM deviceDetail,
        Flexiroam list-inventory by ICCID), stored with its age; per-eSIM problems in words."""
        problems: list[str] = []
        by_vendor: dict[str, list[Esim]] = {}
        for iccid in iccids:
            try:
                esim = await self._cached(iccid, None)
            except InvalidInput:  # a mistyped ICCID: the command is wrong, nothing is asked
                raise
            except ValidationError as exc:
                problems.append(str(exc))
                continue
            by_vendor.setdefault(esim.vendor, []).append(esim)
        readings: list[Usage] = []
        for v, esims in by_vendor.items():
            config = self.accounts.get(v)
            if config is None:
                problems.append(f"no {vendor_title(v)} account is configured on this desk")
                continue
            cls = adapter_class(v)
            if Capability.GET_ESIM not in cls.capabilities and cls.usage is VendorAdapter.usage:
                problems.append(f"{vendor_title(v)} does not offer usage through its API")
                continue
            try:
                async with self.adapter_factory(config) as adapter:
                    got = await adapter.usage(esims)
            except Unsupported:
                problems.append(f"{vendor_title(v)} does not offer usage through its API")
                continue
            except EsimdeskError as exc:
                problems.append(str(exc))
                continue
            seen = {u.iccid for u in got}
            problems += [f"{vendor_title(v)} gave no usage for eSIM {e.iccid}" for e in esims if e.iccid not in seen]
            readings += got
        if readings:
            readings = await asyncio.to_thread(self._keep_newest, readings)
        return UsageReport(readings, problems)

    def _keep_newest(self, readings: list[Usage]) -> list[Usage]:
        """Store the readings, then answer with what the cache holds where it is newer: a vendor's usage check
        may be older than a sync's reading (Roumio's figures are of its last refresh), and a reading never
        replaces a newer one, in the cache or in what the agent is shown."""
        self.store.record_usage(readings)
        out = []
        for u in readings:
            kept = self.store.esim(u.iccid, u.vendor)
            if kept is not None and kept.usage_as_of is not None and kept.usage_as_of > u.when:
                u = Usage(u.vendor, u.iccid, kept.usage_as_of, kept.data_used_mb, kept.data_total_mb,
                          as_of=kept.usage_as_of, data_remaining_mb=kept.data_remaining_mb)
            out.append(u)
        return out

    # --- steps -----------------------------------------------------------------------------------------
    async def _cached(self, iccid: str, vendor: str | None) -> Esim:
        text = iccid.strip()
        esim = await asyncio.to_thread(self.store.esim, text, vendor)
        if esim is None:
            validate_iccid(text)  # a mistyped ICCID is said as such (ValidationError)
            other = await asyncio.to_thread(self.store.esim, text, None) if vendor else None
            if other is not None:  # the agent named the wrong vendor: say whose it is, not "sync first"
                raise ValidationError(f"eSIM {text} is a {vendor_title(other.vendor)} eSIM, not a "
                                      f"{vendor_title(vendor)} one: ask {vendor_title(other.vendor)} "
                                      f"(--vendor {other.vendor}, or no --vendor)")
            raise ValidationError(f"eSIM {text} is not in this desk's cache; run 'esimdesk sync' first")
        return esim

    async def _read(self, adapter: VendorAdapter, esim: Esim, action: Action) -> Esim:
        if not adapter.supports(Capability.GET_ESIM):
            return esim
        self.progress(ActionProgress(esim.iccid, action, f"reading eSIM {esim.iccid}'s status"))
        try:
            fresh = await adapter.get_esim(esim.iccid)
        except VendorError as exc:
            raise ActionOutcome(f"{exc}. The eSIM's current status could not be read, so nothing was sent", None) \
                from None
        await asyncio.to_thread(self.store.upsert_esims, [fresh])
        return fresh

    async def _record(self, esim: Esim, action: Action, message: str | None, amount: Decimal | None,
                      currency: str | None) -> ActionEntry:
        cause = f"the agent asked to {action.value} it" + (f": “{message}”" if message else "")
        try:
            return await asyncio.to_thread(lambda: self.store.action_create(
                vendor=esim.vendor, iccid=esim.iccid, action=action, message=message, amount=amount,
                currency=currency, cause=cause, owner=self.owner, lease_seconds=SEND_LEASE_S))
        except ActionInProgress as exc:  # another window or process recorded one first: one at a time
            raise ActionOutcome(in_progress_words(exc.entry), None) from None
        except StoreError as exc:
            raise ActionOutcome(f"{exc}. The action could not be recorded, so nothing was sent to "
                                f"{vendor_title(esim.vendor)}", None) from None

    async def _send(self, adapter: VendorAdapter, entry: ActionEntry, esim: Esim, message: str | None) -> ActionResult:
        who = vendor_title(entry.vendor)
        claimed = await asyncio.to_thread(lambda: self.store.action_claim(
            entry.id, self.owner, lease_seconds=SEND_LEASE_S, sending=True))
        if claimed is None:
            raise ActionOutcome(f"this {entry.action.value} is being handled by another esimdesk window; "
                                "nothing was sent from here", entry)
        self.progress(ActionProgress(entry.iccid, entry.action, f"sending {entry.action.value} to {who}"))
        try:
            await adapter.esim_action(esim, entry.action, message)
        except VendorError as exc:
            if not_taken(exc):
                failed = await self._finish(claimed, OrderStatus.FAILED, f"{who} refused: {exc.message}",
                                            error=str(exc))
                raise ActionOutcome(f"{who} refused to {entry.action.value} eSIM {entry.iccid}: {exc.message}"
                                    f"{_hint(entry.action, exc)}. Nothing was changed", failed) from None
            until = datetime.now(UTC) + (timedelta(0) if exc.http_status is not None
                                         else timedelta(seconds=self.settle_delay))
            lost = await self._finish(claimed, OrderStatus.UNCERTAIN, f"answer lost: {exc}", error=str(exc),
                                      in_flight_until=until)
            await asyncio.sleep(self.settle_pause)
            settled = await self._settle_one(adapter, lost)
            if settled.state is OrderStatus.COMPLETED:
                return await self._completed(adapter, settled, " (its answer was lost; the eSIM's status confirms it)")
            if settled.state is OrderStatus.FAILED:
                slowed = entry.action is not Action.SMS and exc.http_status == 429
                raise ActionOutcome(f"{exc}. {who} shows the eSIM unchanged: the {entry.action.value} was not "
                                    "done and nothing changed; ask again if it is still wanted", settled,
                                    slowed_down=slowed) from None
            again = ("do NOT send it again: ask the customer whether it arrived" if entry.action is Action.SMS else
                     "do NOT send it again: run the same command in a minute; it reads the status first and "
                     "never sends twice")
            raise ActionOutcome(f"{exc}. The {entry.action.value} may or may not have been done; {again}",
                                settled) from None
        done = await self._finish(claimed, OrderStatus.COMPLETED, f"{who} carried it out")
        return await self._completed(adapter, done, "")

    async def _completed(self, adapter: VendorAdapter, entry: ActionEntry, how: str) -> ActionResult:
        who = vendor_title(entry.vendor)
        after = None
        try:
            after = await adapter.get_esim(entry.iccid) if adapter.supports(Capability.GET_ESIM) else None
            if after is not None:
                await asyncio.to_thread(self.store.upsert_esims, [after])
        except VendorError as exc:  # done is done: the next sync shows the new status
            log.info("status after %s: %s", entry.action.value, exc)
        balance = None
        words = f"eSIM {entry.iccid}: {DONE_WORDS[entry.action]}{how}"
        if entry.action is Action.CANCEL:
            try:
                balance = await adapter.get_balance()
                await asyncio.to_thread(self.store.save_balance, balance)
            except EsimdeskError as exc:
                log.info("balance after a cancel: %s", exc)
            refund = (f"{money_str(entry.amount)} {entry.currency}" if entry.amount is not None else "the price paid")
            words += f"; {refund} refunded to the {who} balance"
            if balance is not None:
                words += f" (now {money_str(balance.amount)} {balance.currency})"
        return ActionResult(entry, after, words, balance)

    async def _settle_esim(self, adapter: VendorAdapter, esim: Esim) -> None:
        """An earlier action of this eSIM whose answer was lost is settled first; while it stays unknown,
        nothing new is sent (it might be the same request twice). While another window or process is
        sending or settling one (it holds its lease), nothing new is sent either: one action at a time.
        A lost SMS left to the agent blocks nothing (its status never tells)."""
        open_ = [e for e in await asyncio.to_thread(self.store.actions_unfinished, esim.vendor, esim.iccid)
                 if action_is_open(e)]
        for entry in open_:
            settled = await self._settle_one(adapter, entry)
            if not action_is_open(settled):
                continue
            if lease_is_live(settled) and settled.lease_owner != self.owner:
                raise ActionOutcome(in_progress_words(settled), None)
            raise ActionOutcome(
                f"an earlier {settled.action.value} of eSIM {esim.iccid} (desk {settled.desk_id}, "
                f"{settled.created_at:%Y-%m-%d %H:%M} UTC) is not confirmed yet; nothing was sent. "
                "Try again in a minute", settled)

    async def _settle_one(self, adapter: VendorAdapter, entry: ActionEntry) -> ActionEntry:
        """Read the eSIM's status and decide a lost answer by it; never send."""
        if lease_is_live(entry) and entry.lease_owner != self.owner:
            return entry  # another window is sending or settling it right now
        dead = entry.lease_owner if entry.lease_owner and not lease_is_live(entry) else None
        claimed = await asyncio.to_thread(lambda: self.store.action_claim(
            entry.id, self.owner, lease_seconds=SEND_LEASE_S, steal_from=dead))
        if claimed is None:
            return await asyncio.to_thread(self.store.action_get, entry.id)
        who = vendor_title(entry.vendor)
        if claimed.attempts == 0:  # recorded, never sent (the process stopped in between)
            return await self._finish(claimed, OrderStatus.FAILED, "never sent; nothing was changed",
                                      error="never sent")
        if claimed.state is OrderStatus.PENDING:
            claimed = await self._finish(claimed, OrderStatus.UNCERTAIN, "the sending process stopped before the "
                                         "answer", release=False)
        if claimed.action in REFUND_ACTIONS:
            return await self._settle_refund(adapter, claimed)
        if claimed.action is Action.SMS:
            return await self._note(claimed, "an SMS leaves no trace in the eSIM's status: ask the customer whether "
                                             "it arrived; it is never sent again by itself", error=AWAITING_AGENT)
        try:
            now = await adapter.get_esim(claimed.iccid)
        except VendorError as exc:
            log.info("settling action %s: %s", claimed.id, exc)
            return await self._release(claimed)
        await asyncio.to_thread(self.store.upsert_esims, [now])
        done = adapter.expected_after(claimed.action, now)
        if done:
            return await self._finish(claimed, OrderStatus.COMPLETED,
                                      f"{who} shows it done ({now.vendor_status}): the lost answer was a success")
        quiet = claimed.in_flight_until is None or datetime.now(UTC) >= claimed.in_flight_until
        if done is False and quiet:
            return await self._finish(claimed, OrderStatus.FAILED,
                                      f"{who} shows it not done ({now.vendor_status}): nothing changed",
                                      error="not done")
        return await self._release(claimed)

    async def _settle_refund(self, adapter: VendorAdapter, entry: ActionEntry) -> ActionEntry:
        """A refund request (or its withdrawal) whose answer was lost, decided by the vendor's requests; never
        sent again. A request: done when the eSIM has an open one, or one made since ours was sent; not done
        when none shows once the request can no longer arrive. A withdrawal: done when the request is CANCELLED,
        not done when it is still open (once quiet) or was decided meanwhile."""
        who = vendor_title(entry.vendor)
        sent = entry.first_sent_at or entry.created_at
        try:
            if entry.action is Action.REFUND:
                listed = await adapter.list_refunds(entry.iccid)
            else:
                listed = [await adapter.get_refund(entry.message or "")]
        except VendorError as exc:
            log.info("settling refund action %s: %s", entry.id, exc)
            return await self._release(entry)
        await asyncio.to_thread(self.store.save_refunds, listed)
        quiet = entry.in_flight_until is None or datetime.now(UTC) >= entry.in_flight_until
        if entry.action is Action.REFUND:
            since = sent - timedelta(minutes=5)  # the vendor's clock may be behind ours
            found = next((r for r in listed if r.is_open or (r.created_at is not None and r.created_at >= since)), None)
            if found is not None:
                await asyncio.to_thread(self.store.save_refunds, [found], ours=True)
                return await self._finish(entry, OrderStatus.COMPLETED, f"{who} shows refund request {found.refund_id} "
                                          f"({found.vendor_status}): the lost answer was a success")
            if quiet:
                return await self._finish(entry, OrderStatus.FAILED, f"{who} shows no refund request for this eSIM: "
                                          "nothing was requested", error="not done")
            return await self._release(entry)
        now = listed[0]
        if now.status is RefundStatus.CANCELLED:
            return await self._finish(entry, OrderStatus.COMPLETED, f"{who} shows refund request {now.refund_id} "
                                      "CANCELLED: the lost answer was a success")
        if not now.is_open or quiet:
            return await self._finish(entry, OrderStatus.FAILED, f"{who} shows refund request {now.refund_id} "
                                      f"{now.vendor_status}: it was not withdrawn", error="not done")
        return await self._release(entry)

    # --- journal helpers ----------------------------------------------------------------------------
    async def _finish(self, entry: ActionEntry, state: OrderStatus, cause: str, *, error: str | None = None,
                      in_flight_until: datetime | None = None, release: bool = True) -> ActionEntry:
        done = await asyncio.to_thread(lambda: self.store.action_transition(
            entry.id, state, cause, error=error, in_flight_until=in_flight_until))
        if release:
            await asyncio.to_thread(self.store.action_release, entry.id, self.owner)
        return done

    async def _note(self, entry: ActionEntry, cause: str, *, error: str | None = None) -> ActionEntry:
        """Say why an entry stays where it is — once, not at every settling."""
        history = await asyncio.to_thread(self.store.esim_history, entry.vendor, entry.iccid)
        mine = [h for h in history if h.entry_id == entry.id]
        if mine and mine[-1].cause == cause:
            return await self._release(entry)
        return await self._finish(entry, entry.state, cause, error=error)

    async def _release(self, entry: ActionEntry) -> ActionEntry:
        await asyncio.to_thread(self.store.action_release, entry.id, self.owner)
        return await asyncio.to_thread(self.store.action_get, entry.id)


def _hint(action: Action, exc: VendorError) -> str:
    if exc.code == "200002" and action is Action.SMS:
        return " (an SMS needs an installed profile and a plan that takes SMS)"
    if exc.code == "200002":
        return " (its status changed since it was last read: sync and look again)"
    return ""
