"""Which vendors answer: learned from the calls the desk makes anyway (sync, orders, top-ups, support
actions, the toolbar's one check on a click), never from a polling loop of its own.

A vendor is offline from the first call that failed for a network reason (it could not be connected to,
its name did not resolve, no answer came in time) until the next call it answers; an answer that says
no (a refused key, an insufficient balance) still means it is reachable. The window reads this to say
"online" / "offline since 14:05" per vendor and to show the offline banner when none answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from esimdesk.domain import (
    VENDOR_TITLES,
    EsimdeskError,
    VendorConfig,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
)
from esimdesk.services.adapters import make_adapter
from esimdesk.services.connection_check import describe_failure
from esimdesk.vendors import Capability, adapter_class

log = logging.getLogger("esimdesk.reachability")

CHECK_TIMEOUT_S = 10.0  # the toolbar's check on a click: per request (retries included, at most twice that)


def network_failure(exc: BaseException | None) -> bool | None:
    """True: the vendor could not be reached (connect error, DNS, timeout); False: it answered (even with a
    refusal); None: no vendor was asked (a check before any call). Services re-raise a vendor's error in
    their own words (``raise ... from None``): the original is still the exception's ``__context__``."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, VendorUnavailable | VendorTimeout | TimeoutError):
            return True
        if isinstance(exc, VendorError):
            return False
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


@dataclass(frozen=True)
class VendorReach:
    vendor: str
    online: bool
    since: datetime  # UTC: when it went offline (or came back)
    reason: str | None = None  # the network failure, as the adapter said it


class Reachability:
    """The last word on each vendor; ``listen(fn)``: ``fn()`` after each change (the window redraws)."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._clock = clock
        self._state: dict[str, VendorReach] = {}
        self._listeners: list[Callable[[], None]] = []

    def listen(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def unlisten(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def get(self, vendor: str) -> VendorReach | None:
        return self._state.get(vendor)

    def answered(self, vendor: str) -> None:
        now = self._state.get(vendor)
        if now is None or not now.online:
            self._set(VendorReach(vendor, True, self._clock()))

    def unreachable(self, vendor: str, reason: str | None = None) -> None:
        now = self._state.get(vendor)
        if now is None or now.online:  # offline *since* the first failure: later ones keep that time
            self._set(VendorReach(vendor, False, self._clock(), reason))

    def note(self, vendor: str | None, exc: BaseException | None) -> None:
        """After a call to ``vendor``: ``exc`` None (it answered) or what it ended in."""
        if not vendor:
            return
        failed = network_failure(exc) if exc is not None else False
        if failed is True:
            self.unreachable(vendor, str(exc))
        elif failed is False:
            self.answered(vendor)

    def note_sync(self, results: Iterable) -> None:
        """Each vendor's sync result (services/sync.py's ``reach``): a cancelled or crashed sync says nothing."""
        for r in results:
            reach = getattr(r, "reach", None) or ("online" if r.ok else None)
            if reach == "online":
                self.answered(r.vendor)
            elif reach == "offline":
                self.unreachable(r.vendor, r.error)

    def offline(self, vendors: Iterable[str]) -> list[VendorReach]:
        return [s for v in vendors if (s := self._state.get(v)) is not None and not s.online]

    def all_offline(self, vendors: Iterable[str]) -> datetime | None:
        """Since when none of ``vendors`` answers (the latest of their times: the moment the last one went),
        or None while one answers or has not been tried yet, or there are none."""
        vendors = list(vendors)
        down = self.offline(vendors)
        if not vendors or len(down) < len(vendors):
            return None
        return max(s.since for s in down)

    def _set(self, state: VendorReach) -> None:
        self._state[state.vendor] = state
        for fn in list(self._listeners):
            try:
                fn()
            except Exception:  # a listener's bug must not turn a vendor's answer into a failure
                log.exception("reachability listener failed")

    async def watch(self, vendor: str | None, work):
        """Await ``work`` (a vendor call), noting whether ``vendor`` answered; its result or error unchanged."""
        try:
            result = await work
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.note(vendor, exc)
            raise
        self.note(vendor, None)
        return result


async def check_vendor(store, config: VendorConfig, reach: Reachability, timeout: float = CHECK_TIMEOUT_S) -> str:
    """One cheap call (the agent clicked the vendor in the toolbar): its balance, stored, or for a vendor
    without one (Flexiroam) the first page of its eSIMs. The outcome in words, never an exception."""
    title = VENDOR_TITLES.get(config.vendor, config.vendor)

    async def probe() -> str:
        async with make_adapter(config, timeout=timeout) as adapter:
            if Capability.BALANCE in adapter_class(config.vendor).capabilities:
                balance = await adapter.get_balance()
                await asyncio.to_thread(store.save_balance, balance)
                return f"{title} answers — balance {balance.amount:,.2f} {balance.currency}"
            async for _page in adapter.iter_esims():
                break
            return f"{title} answers"

    try:
        return await reach.watch(config.vendor, asyncio.wait_for(probe(), timeout * 2))
    except (EsimdeskError, TimeoutError) as exc:
        return describe_failure(config.vendor, config.base_url, exc, timeout)
    except Exception as exc:  # noqa: BLE001 - an adapter's unexpected error is still said in words
        log.exception("checking %s failed unexpectedly", config.vendor)
        return f"{title}: the check failed unexpectedly ({type(exc).__name__})"


def age_words(when: datetime | None, now: datetime | None = None) -> str:
    """'synced just now', 'synced 12 min ago', 'synced 3.5 h ago', 'synced 4 days ago', 'never synced'."""
    if when is None:
        return "never synced"
    seconds = max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 60:
        return "synced just now"
    if seconds < 5400:
        return f"synced {int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"synced {seconds / 3600:.1f} h ago"
    return f"synced {int(seconds // 86400)} days ago"
