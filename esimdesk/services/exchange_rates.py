"""Exchange rates that keep themselves (issue 27): fetch the ECB's reference rates and, where a vendor
account quotes rates (Roamify, ``Capability.EXCHANGE_RATES``), its rate of each currency the catalog
prices in, into the agent's currency; keep them in the data file with their dates (``store.save_quotes``:
the newest of each wins). services/currency.py turns them, with the agent's own rates, into the ``Rates``
the views convert with.

Nothing here ever raises for a source that cannot be read: offline, a moved or damaged file, a refused
token each become a sentence in ``RatesRefresh.errors`` and the rates already stored stay, with their
dates (a view then says how old the rate it converts with is). A sync refreshes them once per run when
``due`` (the ECB's were last read more than ``REFRESH_AFTER`` ago, or never): services/sync.py ``sync_all``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from esimdesk.domain import EsimdeskError, VendorConfig, vendor_title
from esimdesk.domain.exchange import Quote
from esimdesk.services.currency import agent_currency, manual_rates
from esimdesk.services.preferences import Rates
from esimdesk.vendors import Capability, VendorAdapter, adapter_class
from esimdesk.vendors.ecb_rates import SOURCE as ECB
from esimdesk.vendors.ecb_rates import EcbRates
from esimdesk.vendors.http import redact

log = logging.getLogger("esimdesk.exchange_rates")

REFRESH_AFTER = timedelta(hours=6)  # the ECB publishes once a working day, about 16:00 CET
TIMEOUT = 15.0

__all__ = ["REFRESH_AFTER", "RatesRefresh", "due", "refresh_rates", "refresh_if_due"]


@dataclass
class RatesRefresh:
    """What one refresh did: the sources that answered ('ecb', 'roamify'), how many quotes were saved, and
    each failure as a sentence (the stored rates of that source are kept)."""

    answered: list[str] = field(default_factory=list)
    quotes: int = 0
    errors: list[str] = field(default_factory=list)
    as_of: dict[str, date] = field(default_factory=dict)  # source -> the newest date it gave

    @property
    def ok(self) -> bool:
        return not self.errors


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def due(store, now: datetime) -> bool:
    """Whether the ECB's rates should be read again: never read on this desk, or more than
    ``REFRESH_AFTER`` ago (a clock moved back past the last read counts as due too)."""
    last = store.quotes_fetched_at(ECB)
    if not last:
        return True
    try:
        then = _utc(datetime.fromisoformat(last))
    except ValueError:
        return True
    elapsed = _utc(now) - then
    return elapsed >= REFRESH_AFTER or elapsed < timedelta(0)


def _kept(store, source: str) -> str:
    """", the rates of 2026-11-27 are kept" (the newest stored date of ``source``), or that none is stored."""
    dates = [q.as_of for q in store.quotes() if q.source == source]
    return f"the rates of {max(dates).isoformat()} are kept" if dates else "no rate of it is stored yet"


def _words(exc: BaseException) -> str:
    if isinstance(exc, EsimdeskError):
        return redact(str(exc))
    log.exception("exchange rates: unexpected error")
    return f"unexpected error ({type(exc).__name__}); see the log"


async def refresh_rates(store, *, ecb: EcbRates | None, vendor: VendorAdapter | None = None,
                        agent_currency: str | None, needed_currencies: Iterable[str],
                        now: datetime) -> RatesRefresh:
    """Read the ECB's latest file (``ecb``; None: skipped) and, when ``vendor`` quotes rates
    (``Capability.EXCHANGE_RATES``) and an ``agent_currency`` is set, its rate of each of
    ``needed_currencies`` into it; save every quote read (``fetched_at`` = ``now``). Never raises for a
    source that fails (cancellation still propagates): its sentence goes into ``errors``."""
    out = RatesRefresh()
    fetched_at = _utc(now).isoformat(timespec="seconds")

    async def keep(source: str, quotes: list[Quote]) -> None:
        out.answered.append(source)
        if quotes:
            out.quotes += await asyncio.to_thread(store.save_quotes, quotes, fetched_at)
            out.as_of[source] = max(q.as_of for q in quotes)

    if ecb is not None:
        try:
            await keep(ECB, await ecb.latest())
        except Exception as exc:  # noqa: BLE001  (offline, or a file that is not the ECB's: in words)
            kept = await asyncio.to_thread(_kept, store, ECB)
            out.errors.append(f"exchange rates: the ECB's reference rates could not be read ({_words(exc)}); "
                              f"{kept}")
    agent = (agent_currency or "").strip().upper()
    needed = sorted({c.strip().upper() for c in needed_currencies if c and c.strip()} - {agent})
    if vendor is not None and agent and needed and vendor.supports(Capability.EXCHANGE_RATES):
        try:
            await keep(vendor.name, await vendor.exchange_rates(needed, agent))
        except Exception as exc:  # noqa: BLE001  (as above: the vendor's sync says the rest)
            kept = await asyncio.to_thread(_kept, store, vendor.name)
            out.errors.append(f"exchange rates: {vendor_title(vendor.name)}'s rates into {agent} could not be read "
                              f"({_words(exc)}); {kept}")
    return out


def _agent_currency(store) -> str:
    """The agent's currency as services/currency.py decides it (Settings, else the computer's locale)."""
    path = getattr(store, "path", None)  # an SqliteStore: settings.json sits beside its data file
    try:
        manual = manual_rates(Path(path).parent) if path else Rates()
    except EsimdeskError:  # a settings file that cannot be read: the sync says so elsewhere
        manual = Rates()
    return agent_currency(manual)


async def refresh_if_due(store, accounts: list[VendorConfig],
                         adapter_factory: Callable[[VendorConfig], VendorAdapter], *,
                         ecb_url: str, now: datetime | None = None) -> RatesRefresh | None:
    """The sync's step (services/sync.py): when the rates are ``due``, refresh them from the ECB at
    ``ecb_url`` (``Accounts.ecb_url``) and, into the agent's currency, from the first account whose vendor
    quotes rates. None when nothing was due. Never raises (but for cancellation)."""
    now = now or datetime.now(UTC)
    try:
        agent = await asyncio.to_thread(_agent_currency, store)
        if not await asyncio.to_thread(due, store, now):
            return None
        needed = await asyncio.to_thread(store.plan_currencies)
        quoting = next((c for c in accounts if Capability.EXCHANGE_RATES in adapter_class(c.vendor).capabilities),
                       None)
        async with EcbRates(ecb_url, timeout=TIMEOUT) as ecb:
            if quoting is None:
                return await refresh_rates(store, ecb=ecb, agent_currency=agent, needed_currencies=needed, now=now)
            async with adapter_factory(quoting) as adapter:
                return await refresh_rates(store, ecb=ecb, vendor=adapter, agent_currency=agent,
                                           needed_currencies=needed, now=now)
    except Exception as exc:  # noqa: BLE001  (a sync never fails for its rates)
        return RatesRefresh(errors=[f"exchange rates: not refreshed ({_words(exc)}); the stored rates are kept"])
