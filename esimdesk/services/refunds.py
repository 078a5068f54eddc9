"""Refund requests (issue 30; Roamify): asked for like a support action, decided later by the vendor's support.

A request is journaled as a support action (``Action.REFUND``, its message "REASON: notes"): the eSIM's
earlier lost actions are settled first; the eSIM's requests are read live (an open one, or one already
refunded, refuses a new one in words, nothing sent); the intent is recorded durably and claimed, then sent
once. A refusal is FAILED with the vendor's words (Roamify's 409 shows the open request); a lost answer is
UNCERTAIN and settled by listing the eSIM's requests (services/actions.py ``_settle_refund``), never by
sending again. Withdrawing an open request (``Action.CANCEL_REFUND``, its message the refund id) goes the
same way. Every request the vendor shows is kept in ``refund_requests`` for the window and ``esimdesk
refunds`` offline; ``refresh`` asks again about the open ones only (cheap: one read each).

The money moves only when the vendor approves: every sentence here says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from esimdesk.domain import (
    Action,
    ActionEntry,
    Esim,
    EsimdeskError,
    InvalidInput,
    OrderStatus,
    ValidationError,
    VendorError,
    money_str,
    vendor_title,
)
from esimdesk.domain.refunds import (
    REFUND_NOTES_MAX,
    REFUND_REASONS,
    RefundAlreadyOpen,
    RefundRequest,
    RefundStatus,
    refund_consequence,
)
from esimdesk.services.actions import ActionOutcome, ActionProgress, ActionService
from esimdesk.services.orders import SEND_LEASE_S, not_taken
from esimdesk.vendors import Capability, VendorAdapter, adapter_class


class RefundOutcome(ActionOutcome):
    """A refund request (or its withdrawal) refused, not done or not known yet; ``refund``: the request the
    vendor shows for the eSIM where it matters (the open one a second request met)."""

    def __init__(self, message: str, entry: ActionEntry | None, refund: RefundRequest | None = None):
        super().__init__(message, entry)
        self.refund = refund


@dataclass(frozen=True)
class RefundResult:
    entry: ActionEntry
    refund: RefundRequest | None
    message: str

    def to_json(self) -> dict:
        e, r = self.entry, self.refund
        return {"vendor": e.vendor, "iccid": e.iccid, "action": e.action.value, "status": e.state.value,
                "refund": refund_json(r) if r else None, "desk": e.desk_id, "message": self.message}


def refund_json(r: RefundRequest) -> dict:
    return {"vendor": r.vendor, "refund_id": r.refund_id, "iccid": r.iccid, "status": r.vendor_status,
            "open": r.is_open, "reason": r.reason, "rejection_reason": r.rejection_reason,
            "amount": money_str(r.amount) if r.amount is not None else None, "currency": r.currency,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "updated_at": r.updated_at.isoformat() if r.updated_at else None,
            "checked_at": r.checked_at.isoformat() if r.checked_at else None, "desk": r.desk_id}


def reason_code(text: str | None) -> str:
    code = (text or "").strip().upper().replace("-", "_").replace(" ", "_")
    if code not in REFUND_REASONS:
        raise InvalidInput(f"unknown refund reason '{text}': one of {', '.join(REFUND_REASONS)}")
    return code


class RefundService(ActionService):
    # --- what the window asks before anything is sent --------------------------------------------
    def refund_availability(self, esim: Esim, requests: list[RefundRequest]) -> dict[Action, str | None]:
        """Request refund… and Cancel request: None (allowed) or why not, from the eSIM and its stored requests."""
        cls = adapter_class(esim.vendor)
        absent = cls.absent_reason(Capability.REFUNDS)
        if absent is None and esim.vendor not in self.accounts:
            absent = f"no {vendor_title(esim.vendor)} account is configured on this desk"
        if absent is not None:
            return {Action.REFUND: absent, Action.CANCEL_REFUND: absent}
        open_ = next((r for r in requests if r.is_open), None)
        refunded = next((r for r in requests if r.status is RefundStatus.REFUNDED), None)
        ask = cls.refusal(esim, Action.REFUND)
        if ask is None and open_ is not None:
            ask = f"a refund request is open ({open_.vendor_status}): wait for the decision or cancel it"
        elif ask is None and refunded is not None:
            ask = "this eSIM was refunded already"
        return {Action.REFUND: ask,
                Action.CANCEL_REFUND: None if open_ is not None else "no open refund request to cancel"}

    async def stored(self, vendor: str | None = None, iccid: str | None = None) -> list[RefundRequest]:
        return await asyncio.to_thread(self.store.refunds, vendor, iccid)

    async def _save(self, refunds: list[RefundRequest], ours: bool = False) -> None:
        if refunds:
            await asyncio.to_thread(lambda: self.store.save_refunds(refunds, ours=ours))

    # --- the agent's word ----------------------------------------------------------------------------
    async def request(self, iccid: str, reason: str, notes: str | None = None,
                      vendor: str | None = None) -> RefundResult:
        code = reason_code(reason)
        notes = (notes or "").strip() or None
        if notes and len(notes) > REFUND_NOTES_MAX:
            raise InvalidInput(f"the notes have {len(notes)} characters; at most {REFUND_NOTES_MAX}")
        esim = await self._cached(iccid, vendor)
        async with self._adapter(esim) as adapter:
            await self._settle_esim(adapter, esim)
            listed = await self._requests_of(adapter, esim, Action.REFUND)
            who = vendor_title(esim.vendor)
            open_ = next((r for r in listed if r.is_open), None)
            if open_ is not None:
                raise RefundOutcome(f"refund refused: {who} already has an open {open_.words()}; nothing was sent",
                                    None, open_)
            refunded = next((r for r in listed if r.status is RefundStatus.REFUNDED), None)
            if refunded is not None:
                raise RefundOutcome(f"refund refused: eSIM {esim.iccid} was refunded already ({refunded.words()}); "
                                    "nothing was sent", None, refunded)
            amount, currency = await self.price_of(esim)
            entry = await self._record(esim, Action.REFUND, code + (f": {notes}" if notes else ""), amount, currency)
            return await self._send_request(adapter, entry, esim, code, notes)

    async def cancel(self, iccid: str, vendor: str | None = None, refund_id: str | None = None) -> RefundResult:
        """Withdraw the eSIM's open request (or ``refund_id``)."""
        esim = await self._cached(iccid, vendor)
        async with self._adapter(esim) as adapter:
            await self._settle_esim(adapter, esim)
            listed = await self._requests_of(adapter, esim, Action.CANCEL_REFUND)
            target = next((r for r in listed if (r.refund_id == refund_id if refund_id else r.is_open)), None)
            if target is None or not target.is_open:
                last = f" (its last: {target.words()})" if target else ""
                raise RefundOutcome(f"cancel refused: eSIM {esim.iccid} has no open refund request{last}; nothing "
                                    "was sent", None, target)
            entry = await self._record(esim, Action.CANCEL_REFUND, target.refund_id, target.amount, target.currency)
            return await self._send_cancel(adapter, entry, target)

    async def refresh(self, vendor: str | None = None, iccid: str | None = None) -> tuple[list[RefundRequest], list[str]]:
        """Ask the vendor again: one eSIM's requests (``iccid``), or every stored open request (one read each).
        Answers what is stored afterwards, and a sentence per vendor or request that could not be read."""
        problems: list[str] = []
        if iccid:
            esim = await self._cached(iccid, vendor)
            try:
                async with self._adapter(esim) as adapter:
                    await self._save(await adapter.list_refunds(esim.iccid))
            except EsimdeskError as exc:
                problems.append(str(exc))
            return await self.stored(esim.vendor, esim.iccid), problems
        open_ = await asyncio.to_thread(lambda: self.store.refunds(vendor, open_only=True))
        by_vendor: dict[str, list[RefundRequest]] = {}
        for r in open_:
            by_vendor.setdefault(r.vendor, []).append(r)
        for v, items in by_vendor.items():
            config = self.accounts.get(v)
            if config is None:
                problems.append(f"no {vendor_title(v)} account is configured on this desk: its requests are as last seen")
                continue
            try:
                async with self.adapter_factory(config) as adapter:
                    for r in items:
                        await self._save([await adapter.get_refund(r.refund_id)])
            except EsimdeskError as exc:
                problems.append(f"{exc}; {vendor_title(v)}'s refund requests are shown as last seen")
        return await self.stored(vendor), problems

    # --- steps -----------------------------------------------------------------------------------------
    def _adapter(self, esim: Esim):
        config = self.accounts.get(esim.vendor)
        if config is None:
            raise ValidationError(f"no {vendor_title(esim.vendor)} account is configured on this desk")
        cls = adapter_class(esim.vendor)
        if Capability.REFUNDS not in cls.capabilities:
            raise RefundOutcome(f"{cls.absent_reason(Capability.REFUNDS)}; nothing was sent", None)
        return self.adapter_factory(config)

    async def _requests_of(self, adapter: VendorAdapter, esim: Esim, action: Action) -> list[RefundRequest]:
        self.progress(ActionProgress(esim.iccid, action, f"reading eSIM {esim.iccid}'s refund requests"))
        try:
            listed = await adapter.list_refunds(esim.iccid)
        except VendorError as exc:
            raise RefundOutcome(f"{exc}. The eSIM's refund requests could not be read, so nothing was sent",
                                None) from None
        await self._save(listed)
        return listed

    async def _claim(self, entry: ActionEntry) -> ActionEntry:
        claimed = await asyncio.to_thread(lambda: self.store.action_claim(
            entry.id, self.owner, lease_seconds=SEND_LEASE_S, sending=True))
        if claimed is None:
            raise RefundOutcome(f"this {entry.action.value} is being handled by another esimdesk window; nothing "
                                "was sent from here", entry)
        return claimed

    async def _lost(self, adapter: VendorAdapter, claimed: ActionEntry, exc: VendorError) -> ActionEntry:
        """Record a lost answer (UNCERTAIN) and settle it by the vendor's requests at once, never by sending."""
        until = datetime.now(UTC) + (timedelta(0) if exc.http_status is not None
                                     else timedelta(seconds=self.settle_delay))
        lost = await self._finish(claimed, OrderStatus.UNCERTAIN, f"answer lost: {exc}", error=str(exc),
                                  in_flight_until=until)
        await asyncio.sleep(self.settle_pause)
        return await self._settle_one(adapter, lost)

    async def _send_request(self, adapter: VendorAdapter, entry: ActionEntry, esim: Esim, code: str,
                            notes: str | None) -> RefundResult:
        who = vendor_title(entry.vendor)
        claimed = await self._claim(entry)
        self.progress(ActionProgress(entry.iccid, entry.action, f"sending the refund request to {who}"))
        try:
            refund = await adapter.request_refund(esim, code, notes)
        except RefundAlreadyOpen as exc:
            if exc.refund is not None:
                await self._save([exc.refund])
            failed = await self._finish(claimed, OrderStatus.FAILED, f"{who} refused: {exc.message}", error=str(exc))
            shown = f": {exc.refund.words()}" if exc.refund else ""
            raise RefundOutcome(f"{who} refused the refund request for eSIM {entry.iccid}: {exc.message}{shown}. "
                                "Nothing new was requested", failed, exc.refund) from None
        except VendorError as exc:
            if not_taken(exc):
                failed = await self._finish(claimed, OrderStatus.FAILED, f"{who} refused: {exc.message}", error=str(exc))
                raise RefundOutcome(f"{who} refused the refund request for eSIM {entry.iccid}: {exc.message}. "
                                    "Nothing was requested", failed) from None
            settled = await self._lost(adapter, claimed, exc)
            if settled.state is OrderStatus.COMPLETED:
                mine = next(iter(await asyncio.to_thread(
                    lambda: self.store.refunds(entry.vendor, entry.iccid, open_only=True))), None)
                return self._requested(settled, mine, " (its answer was lost; its request list shows it)")
            if settled.state is OrderStatus.FAILED:
                raise RefundOutcome(f"{exc}. {who} shows no refund request for this eSIM: nothing was requested; "
                                    "ask again if it is still wanted", settled) from None
            raise RefundOutcome(f"{exc}. The refund request may or may not have reached {who}; do NOT send it "
                                "again: run the same command in a minute; it reads the eSIM's requests first and "
                                "never sends twice", settled) from None
        await self._save([refund], ours=True)
        done = await self._finish(claimed, OrderStatus.COMPLETED,
                                  f"{who} took refund request {refund.refund_id} ({refund.vendor_status})")
        return self._requested(done, refund, "")

    def _requested(self, entry: ActionEntry, refund: RefundRequest | None, how: str) -> RefundResult:
        which = f" ({refund.refund_id}, {refund.vendor_status})" if refund else ""
        return RefundResult(entry, refund, f"Refund requested for eSIM {entry.iccid}{which}{how}: "
                                           f"{refund_consequence(entry.vendor)}.")

    async def _send_cancel(self, adapter: VendorAdapter, entry: ActionEntry, target: RefundRequest) -> RefundResult:
        who = vendor_title(entry.vendor)
        claimed = await self._claim(entry)
        self.progress(ActionProgress(entry.iccid, entry.action, f"withdrawing refund request {target.refund_id}"))
        try:
            after = await adapter.cancel_refund(target.refund_id)
        except VendorError as exc:
            if not_taken(exc):
                failed = await self._finish(claimed, OrderStatus.FAILED, f"{who} refused: {exc.message}", error=str(exc))
                raise RefundOutcome(f"{who} refused to cancel refund request {target.refund_id}: {exc.message}. "
                                    "Nothing was changed", failed, target) from None
            settled = await self._lost(adapter, claimed, exc)
            now = await asyncio.to_thread(self.store.refund, entry.vendor, target.refund_id)
            if settled.state is OrderStatus.COMPLETED:
                return RefundResult(settled, now, f"Refund request {target.refund_id} for eSIM {entry.iccid} "
                                                  "cancelled (its answer was lost; the request shows it): nothing "
                                                  "is refunded; the eSIM keeps working.")
            if settled.state is OrderStatus.FAILED:
                raise RefundOutcome(f"{exc}. {who} shows refund request {target.refund_id} "
                                    f"{now.vendor_status if now else 'unchanged'}: it was not withdrawn", settled,
                                    now) from None
            raise RefundOutcome(f"{exc}. The withdrawal may or may not have reached {who}; run the same command in "
                                "a minute: it reads the request first", settled, now) from None
        await self._save([after])
        done = await self._finish(claimed, OrderStatus.COMPLETED,
                                  f"{who} shows refund request {after.refund_id} {after.vendor_status}")
        return RefundResult(done, after, f"Refund request {after.refund_id} for eSIM {entry.iccid} cancelled: "
                                         "nothing is refunded; the eSIM keeps working.")
