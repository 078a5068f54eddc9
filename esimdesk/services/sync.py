"""Refresh the local store from every enabled vendor, concurrently and independently.

One vendor failing never stops the others and never erases its cached rows: writes are upserts,
rows a vendor stops returning are marked stale (orders and eSIMs are never deleted), and every batch
is its own transaction, so a cancelled or killed sync leaves the previous data intact. Database
writes run in a worker thread so the GUI thread never waits on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiolimiter import AsyncLimiter

from esimdesk.domain import (
    Esim,
    EsimdeskError,
    EsimStatus,
    MalformedResponse,
    NotFound,
    Order,
    Unsupported,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorError,
    VendorRejected,
    VendorTimeout,
    VendorUnavailable,
    vendor_title,
)
from esimdesk.domain.refresh import FleetWalk, RefreshPolicy, plan_unstored
from esimdesk.domain.states import UNFINISHED, status_after_usage
from esimdesk.services.exchange_rates import refresh_if_due
from esimdesk.services.interpreter import set_for_a_sync
from esimdesk.services.plan_sync import sync_plans_incrementally
from esimdesk.services.reachability import network_failure
from esimdesk.services.sync_results import RefreshSummary, SyncProgress, VendorSyncResult, WalkSummary
from esimdesk.services.team_sync import sync_team  # team mode (issue 15); None when not configured
from esimdesk.store import Store
from esimdesk.store.backups import rolling_backup
from esimdesk.vendors import SECRET_NAMES, Capability, VendorAdapter
from esimdesk.vendors.http import redact

log = logging.getLogger("esimdesk.sync")


T = TypeVar("T")
ProgressFn = Callable[[SyncProgress], None]
AdapterFactory = Callable[[VendorConfig], VendorAdapter]


async def sync_all(store: Store, accounts: list[VendorConfig], adapter_factory: AdapterFactory, *,
                   progress: ProgressFn | None = None,
                   finished: Callable[[VendorSyncResult], None] | None = None,
                   ecb_url: str | None = None, notices: list[str] | None = None,
                   policy: RefreshPolicy | None = None) -> list[VendorSyncResult]:
    """Sync every account concurrently; results in the accounts' order. Cancellation propagates.
    ``policy``: what eSIMs asked about one at a time may cost, and in which order (domain/refresh.py).
    ``finished(result)`` as each vendor's sync ends (the window shows a vendor's rows before the slowest is done).
    ``ecb_url``: also refresh the exchange rates when due (services/exchange_rates.py; None: not at all);
    a failure never fails the sync: its sentence is appended to ``notices``.
    Python's full garbage collections wait for its end, and its threads take shorter turns at the GIL
    (services/interpreter.py)."""
    with set_for_a_sync():
        return await _sync_all(store, accounts, adapter_factory, progress=progress, finished=finished,
                               ecb_url=ecb_url, notices=notices, policy=policy)


async def _sync_all(store: Store, accounts: list[VendorConfig], adapter_factory: AdapterFactory, *,
                    progress: ProgressFn | None, finished: Callable[[VendorSyncResult], None] | None,
                    ecb_url: str | None, notices: list[str] | None,
                    policy: RefreshPolicy | None) -> list[VendorSyncResult]:
    # A first sync fills its tables without their sort indexes (store/bulk_load.py). The plans' are built
    # once every catalog is written, while the fleets' requests go on (built after the last vendor, they
    # were 2.7-2.9 s at the end of every first sync, bench/results/sync_scale.json); the rest at the end.
    deferred = await asyncio.to_thread(store.defer_indexes_for_load)
    catalogs_pending = {cfg.vendor for cfg in accounts}
    plan_indexes: list[asyncio.Future] = []

    def catalog_ended(vendor: str) -> None:
        catalogs_pending.discard(vendor)
        if deferred and not catalogs_pending and not plan_indexes:
            plan_indexes.append(asyncio.ensure_future(asyncio.to_thread(store.restore_indexes, ("plans",))))

    async def one(cfg: VendorConfig) -> VendorSyncResult:
        result = await sync_vendor(store, cfg, adapter_factory, progress=progress, policy=policy,
                                   catalog_ended=catalog_ended)
        if finished is not None:
            finished(result)
        return result

    tasks = [asyncio.ensure_future(one(cfg)) for cfg in accounts]
    try:
        results = list(await asyncio.gather(*tasks))
    except asyncio.CancelledError:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        if deferred:
            for built in plan_indexes:  # a failure there is the restore below's to raise, in its words
                await despite_cancels(asyncio.gather(built, return_exceptions=True))
            await despite_cancels(asyncio.to_thread(store.restore_indexes))
    if ecb_url is not None:  # the exchange rates, once per sync when due; never fails the sync
        refreshed = await refresh_if_due(store, accounts, adapter_factory, ecb_url=ecb_url)
        if refreshed is not None and notices is not None:
            notices.extend(refreshed.errors)
    if (team := await sync_team(store)) is not None:
        results.append(team)
    if any(r.ok for r in results):  # a rolling backup (the last 7), in a worker thread: never on the GUI's
        await asyncio.to_thread(store.refresh_statistics)
        await asyncio.to_thread(rolling_backup, store)
    return results


async def sync_vendor(store: Store, config: VendorConfig, adapter_factory: AdapterFactory, *,
                      progress: ProgressFn | None = None, policy: RefreshPolicy | None = None,
                      catalog_ended: Callable[[str], None] | None = None) -> VendorSyncResult:
    """One vendor's sync. ``catalog_ended(vendor)`` once its catalog is written, failed or not synced at all
    (called again as the sync ends: the caller counts each vendor once)."""
    try:
        return await _sync_vendor(store, config, adapter_factory, progress, policy,
                                  catalog_ended or (lambda vendor: None))
    finally:
        if catalog_ended is not None:
            catalog_ended(config.vendor)


async def _sync_vendor(store: Store, config: VendorConfig, adapter_factory: AdapterFactory,
                       progress: ProgressFn | None, policy: RefreshPolicy | None,
                       catalog_ended: Callable[[str], None]) -> VendorSyncResult:
    result = VendorSyncResult(config.vendor)
    started = time.perf_counter()
    # The run's row is written in a worker thread, which a cancel (Ctrl+C) cannot stop: when the cancel
    # lands while it is written, wait for it and mark it finished, so no run is ever left open.
    start = asyncio.ensure_future(asyncio.to_thread(store.start_sync_run, config.vendor))
    try:
        run_id, run_started = await asyncio.shield(start)
    except asyncio.CancelledError:
        run_id, _ = await despite_cancels(start)
        await despite_cancels(asyncio.to_thread(store.finish_sync_run, run_id, ok=False, plans=0, orders=0,
                                                 esims=0, error="cancelled"))
        raise
    report = progress or (lambda p: None)
    try:
        async with adapter_factory(config) as adapter:
            await _sync_with(adapter, store, result, run_started, report, policy or RefreshPolicy(), catalog_ended)
        result.ok = True
        result.reach = "online"
    except asyncio.CancelledError:
        result.error = "cancelled"
        result.problem = f"{vendor_title(config.vendor)}: the sync was cancelled; the cached data is kept"
        await despite_cancels(asyncio.to_thread(store.finish_sync_run, run_id, ok=False, plans=result.plans,
                                                 orders=result.orders, esims=result.esims, error="cancelled"))
        raise
    except EsimdeskError as exc:
        result.error = redact(str(exc))
        result.problem = redact(failure_sentence(config.vendor, exc))
        reached = network_failure(exc)
        result.reach = None if reached is None else "offline" if reached else "online"
    except Exception as exc:  # a bug in one vendor's path must not take the others down
        log.exception("sync of %s failed unexpectedly", config.vendor)
        result.error = f"unexpected error ({type(exc).__name__}); see the log"
        result.problem = (f"{vendor_title(config.vendor)}: the sync failed with an unexpected error ({type(exc).__name__}); "
                          "run it again with ESIMDESK_LOG_LEVEL=DEBUG and report the log")
    result.seconds = time.perf_counter() - started
    await asyncio.to_thread(store.finish_sync_run, run_id, ok=result.ok, plans=result.plans, orders=result.orders,
                            esims=result.esims, error=result.error)
    return result


async def despite_cancels(work: Awaitable[T]) -> T:
    """Await ``work`` to its end even when the task is cancelled again meanwhile (a cancelled gather
    cancels its children, and the caller may cancel them once more): a run's closing row written in
    a worker thread must be on disk before the cancellation goes on, or the run is left open; a sync
    child being stopped is stopped whole (sync_process.py). For callers in an ``except CancelledError``
    that re-raise it right after: a cancel swallowed here is not lost."""
    future = asyncio.ensure_future(work)
    while True:
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if future.done():
                raise


def failure_sentence(vendor: str, exc: EsimdeskError) -> str:
    """Why a vendor's sync failed, in one sentence that starts with its name and says what to do.

    A refused credential reads as a credential problem (which one, and where to set it), never as a
    server failure, and never carries the credential; a 5xx on every try reads as the vendor's server."""
    env = f"ESIMDESK_{vendor.upper()}_"
    if isinstance(exc, VendorAuthError):
        if not exc.about_credentials:  # e.g. this computer's clock, or the network's address
            return f"{vendor_title(vendor)}: access was refused: {exc.message}"
        names = [n.lower() for n in SECRET_NAMES.get(vendor, ("KEY",))]
        which = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        where = ", ".join(env + n for n in SECRET_NAMES.get(vendor, ("KEY",)))
        return f"{vendor_title(vendor)}: the {which} was refused — check File → Accounts (or {where})"
    if isinstance(exc, VendorBusy):
        if (exc.http_status or 0) >= 500 or exc.http_status is None and "server" in exc.message.lower():
            status = f" (HTTP {exc.http_status})" if exc.http_status else ""
            return (f"{vendor_title(vendor)}: the vendor's server is failing{status}, on every try — the cached data is "
                    "kept; try again later")
        return f"{vendor_title(vendor)}: the vendor is busy or asks us to slow down — the cached data is kept; try again shortly"
    if isinstance(exc, VendorUnavailable):
        return (f"{vendor_title(vendor)}: the vendor cannot be reached — check the network, or the vendor's address in "
                f"File → Accounts (or {env}URL)")
    if isinstance(exc, VendorTimeout):
        return f"{vendor_title(vendor)}: {exc.message} — the cached data is kept; try again"
    if isinstance(exc, MalformedResponse):
        return (f"{vendor_title(vendor)}: {exc.message} — check the vendor's address in File → Accounts (or {env}URL), "
                "or try again later")
    if isinstance(exc, VendorError):
        return f"{vendor_title(vendor)}: the sync failed: {exc.message}"
    return f"{vendor_title(vendor)}: the sync failed: {exc}"


async def _sync_with(adapter: VendorAdapter, store: Store, result: VendorSyncResult, run_started: str,
                     report: ProgressFn, policy: RefreshPolicy, catalog_ended: Callable[[str], None]) -> None:
    vendor = adapter.name
    if adapter.supports(Capability.BALANCE):
        report(SyncProgress(vendor, "balance", 0, 1))
        balance = await adapter.get_balance()
        await asyncio.to_thread(store.save_balance, balance)
        report(SyncProgress(vendor, "balance", 1, 1))
    # The catalog and the fleet share nothing but the vendor's pace: read together, a vendor's sync takes
    # the longer of the two, not their sum (a routine 100,000-eSIM sync waited 13-15 s of catalog pages at
    # MicroESIM and Roamify before the first eSIM was asked about: bench/results/sync_scale.json).
    async def catalog() -> None:
        try:
            await _sync_catalog(adapter, store, result, run_started, report)
        finally:
            catalog_ended(vendor)

    await _together(catalog(), _sync_fleet(adapter, store, result, run_started, report, policy))


async def _together(*work: Awaitable[None]) -> None:
    """Run ``work`` concurrently; the first to fail stops the others (awaited: their writes end whole) and its
    error is raised as it is (not in a group: callers map each vendor error to its sentence)."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        for next_done in asyncio.as_completed(tasks):
            await next_done
    except BaseException:
        for t in tasks:
            t.cancel()
        await despite_cancels(asyncio.gather(*tasks, return_exceptions=True))
        raise


async def _sync_catalog(adapter: VendorAdapter, store: Store, result: VendorSyncResult, run_started: str,
                        report: ProgressFn) -> None:
    vendor = adapter.name
    if not adapter.supports(Capability.PLANS):
        return
    # A catalog seen before is compared with the stored one and only what changed is written; a first
    # listing is written page by page as it comes (nothing to compare it with).
    if adapter.incremental_plans and await asyncio.to_thread(store.has_plans, vendor):
        result.plans += await sync_plans_incrementally(
            adapter, store, run_started, lambda n: report(SyncProgress(vendor, "plans", n, None)))
    else:
        async for written in _pipelined(adapter.iter_plans(), store.upsert_plans):
            result.plans += written
            report(SyncProgress(vendor, "plans", result.plans, None))
        # Only a listing that ran to its end may mark the rest stale.
        await asyncio.to_thread(store.mark_stale, "plans", vendor, run_started)
    # The catalog is written whole (its count complete): the window reads it again now, while the fleet goes on.
    report(SyncProgress(vendor, "plans", result.plans, result.plans))


async def _sync_fleet(adapter: VendorAdapter, store: Store, result: VendorSyncResult, run_started: str,
                      report: ProgressFn, policy: RefreshPolicy) -> None:
    vendor = adapter.name
    # Roumio: the orders pass is its eSIM listing grouped by order, so it stores the whole fleet.
    fleet_in_orders = adapter.orders_carry_fleet and adapter.supports(Capability.LIST_ORDERS)
    if adapter.supports(Capability.LIST_ORDERS):
        def write_orders(page: list) -> int:
            if fleet_in_orders:
                result.esims += sum(len(o.esims) for o in page)
            return store.upsert_orders(page)

        if fleet_in_orders and adapter.resumable_orders:
            await _walk_orders(adapter, store, result, report, run_started, policy)
        else:
            async for written in _pipelined(adapter.iter_orders(), write_orders):
                result.orders += written
                report(SyncProgress(vendor, "orders", result.orders, None))
            if fleet_in_orders:
                await asyncio.to_thread(store.mark_stale, "esims", vendor, run_started)
        if not adapter.supports(Capability.PLANS):  # Roamify: its catalog is what was ordered before
            orders = await asyncio.to_thread(lambda: store.orders(vendor, with_raw=True))
            plans = adapter.plans_from_orders(orders)
            result.plans += await asyncio.to_thread(store.upsert_plans, plans)

    if fleet_in_orders:
        pass  # already stored by the orders pass
    elif adapter.supports(Capability.LIST_ESIMS):
        await _list_fleet(adapter, store, result, report, run_started, policy)
    elif adapter.supports(Capability.GET_ESIM):
        # No fleet listing (MicroESIM): the local store is the only record; refresh what we know.
        await _refresh_orders(adapter, store, result, report)
        await _refresh_planned(adapter, store, result, report, policy, None)


# The most rows one write takes when pages come faster than SQLite writes them: larger transactions cost
# fewer index-page writes (an empty file's 100,000 eSIMs: 16.3 s in 500-row writes, 10.4 s in 5,000-row
# ones: bench/store_writes.py); kept to about a second each, so the window's own writes (an order's
# journal entry) and a Ctrl+C never wait long behind one.
WRITE_BATCH_ROWS = 2000


async def _pipelined(pages: AsyncIterator[list], write: Callable[..., T],
                     mark: Callable[[], Any] | None = None) -> AsyncIterator[T]:
    """Write pages in a worker thread while the next ones are fetched: a sync costs about the larger of
    network and SQLite, not their sum. Pages that arrive while a write runs are written together next
    (up to WRITE_BATCH_ROWS): slow pages are written one by one, a fast answer in large transactions, a page
    larger than that in several. Each write is one transaction and is awaited before the next starts, so a
    cancel leaves whole rows (a walk's: whole pages, with where it is).
    ``mark()``: read as a write is handed its rows, given to it as a second argument (where a walk is: the
    page key after the last page of the rows)."""
    pending: asyncio.Future | None = None
    waiting: list = []  # pages fetched while the write before runs

    def start() -> asyncio.Future:
        # At most WRITE_BATCH_ROWS a transaction, so one vendor's big answer (Roumio's catalog: 50,000 plans)
        # never holds the one writer for long while another's pages wait (a walk's next page waits on its
        # write). A walk's rows go whole: where it is (``mark``) is saved with its rows, never ahead of them.
        nonlocal waiting
        rows, waiting = (waiting, []) if mark is not None else (waiting[:WRITE_BATCH_ROWS], waiting[WRITE_BATCH_ROWS:])
        extra = () if mark is None else (mark(),)
        return asyncio.ensure_future(asyncio.to_thread(write, rows, *extra))

    try:
        async for page in pages:
            waiting.extend(page)
            if pending is not None and not pending.done() and len(waiting) < WRITE_BATCH_ROWS:
                continue
            if pending is not None:
                yield await pending
            pending = start()
        if pending is not None:
            yield await pending
        while waiting:
            pending = start()
            yield await pending
        pending = None
    finally:
        if pending is not None and not pending.done():
            # Cancelled mid-way: let the running transaction finish (threads cannot be interrupted).
            await despite_cancels(asyncio.gather(pending, return_exceptions=True))


# Per-eSIM requests in flight at once (MicroESIM's details, Roamify's usage): enough to keep a link with
# 150 ms answers busy at the vendor's pace (the budget's AsyncLimiter), few enough not to flood it.
REFRESH_CONCURRENCY = 8
PACE_WINDOW_S = 5.0
# Answers written (with when they were asked) every this many eSIMs: a cancel loses at most these.
REFRESH_BATCH = 200
# Listed (with the usage known here) as on a device: a vendor whose listing lacks usage reads theirs.
REFRESHED_FOR_USAGE = (EsimStatus.INSTALLED, EsimStatus.ACTIVE, EsimStatus.DEPLETED)


async def _bounded(items: list, fn: Callable[[Any], Any], limit: int) -> AsyncIterator[Any]:
    """``fn(item)`` for every item, at most ``limit`` at once; results as they finish. A cancel
    cancels the requests in flight."""
    it = iter(items)
    pending: set[asyncio.Future] = set()

    def more() -> None:
        for item in it:
            pending.add(asyncio.ensure_future(fn(item)))
            return

    for _ in range(limit):
        more()
    try:
        while pending:
            done, _rest = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                pending.discard(fut)
                more()
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _list_fleet(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn,
                      run_started: str, policy: RefreshPolicy) -> None:
    """The vendor's whole fleet from its listing; where the listing lacks usage (Roamify), the usage of the
    installed eSIMs most needed, within the request budget."""
    vendor = adapter.name
    if adapter.resumable_listing:  # its listing carries usage (tests/vendors/test_contract_all.py)
        await _walk_fleet(adapter, store, result, report, run_started, policy)
        return

    async def write_pages(pages: AsyncIterator[list[Esim]]) -> None:
        async for written in _pipelined(pages, store.upsert_esims):
            result.esims += written
            report(SyncProgress(vendor, "esims", result.esims, None))
        if adapter.listing_complete:  # an answer cut at the vendor's cap says nothing of the eSIMs past it
            await asyncio.to_thread(store.mark_stale, "esims", vendor, run_started)

    if adapter.listing_has_usage:
        await write_pages(adapter.iter_esims())
        return
    # The listing says "installed", not whether data was used: the figures known here keep an eSIM ACTIVE or
    # DEPLETED until its usage is read again (without them it would flip back each sync).
    listed = [e async for page in adapter.iter_esims() for e in page]
    known = await asyncio.to_thread(store.usage_known, vendor, [e.iccid for e in listed])
    listed = [replace(e, status=status_after_usage(e.status, *known[e.iccid]))
              if e.iccid in known and e.data_used_mb is None else e for e in listed]
    installed = {e.iccid: e for e in listed if e.status in REFRESHED_FOR_USAGE and adapter.usage_gap(e) is None}
    # The usage requests go out while the listing is written (100,000 rows: 10-20 s of SQLite that the requests
    # waited for; a first sync's 10,000 waited 15 s behind four catalogs' writes); their answers are written after
    # it, so a listed row never lands over a fresher answer. The plan ranks the eSIMs as the store holds them (one
    # first listed now waits for the next sync's plan), or, in a vendor's first listing, as listed.
    unstored = not await asyncio.to_thread(store.has_esims, vendor)
    listing_written = asyncio.Event()

    async def write_listing() -> None:
        try:
            await write_pages(_in_pages(listed))
        finally:
            listing_written.set()  # the answers are written even when the listing's write stopped half-way

    await _together(write_listing(), _refresh_planned(adapter, store, result, report, policy, installed,
                                                      writes_after=listing_written, unstored=unstored))


async def _in_pages(rows: list) -> AsyncIterator[list]:
    for i in range(0, len(rows), WRITE_BATCH_ROWS):
        yield rows[i:i + WRITE_BATCH_ROWS]


async def _walk_fleet(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn,
                      run_started: str, policy: RefreshPolicy) -> None:
    """A listing whose pages each need the last one's key (Flexiroam): walked a share a sync (``_walk``)."""
    vendor = adapter.name

    def write(batch: list[Esim], walk: FleetWalk | None, cycle_started: str) -> tuple[int, int]:
        return 0, store.upsert_walked_esims(vendor, batch, walk, cycle_started)

    await _walk(adapter, store, result, report, run_started, policy, adapter.walk_esims, write, "esims")


async def _walk_orders(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn,
                       run_started: str, policy: RefreshPolicy) -> None:
    """An orders pass that carries the fleet on numbered pages (Roumio's esim/query at 8/s): walked a share a sync
    (``_walk``), its orders kept whole across a share's edges (walk_orders)."""
    vendor = adapter.name

    def write(rows: list[Order | Esim], walk: FleetWalk | None, cycle_started: str) -> tuple[int, int]:
        orders = store.upsert_walked_orders(vendor, rows, walk, cycle_started)
        return orders, sum(len(r.esims) if isinstance(r, Order) else 1 for r in rows)

    await _walk(adapter, store, result, report, run_started, policy, adapter.walk_orders, write, "orders")
    if result.walk is not None and result.walk.complete and not result.walk.resumed:
        # The whole listing in one sync, as before there was a walk (up to 120,000 eSIMs): `sync --json` keeps its
        # keys (README); a share read is reported as Flexiroam's.
        result.walk = None


async def _walk(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn,
                run_started: str, policy: RefreshPolicy,
                walk_pages: Callable[[str | None], AsyncIterator[tuple[list, str | None]]],
                write: Callable[[list, FleetWalk | None, str], tuple[int, int]], stage: str) -> None:
    """A listing too long for a sync's minute (Flexiroam's chained pages; Roumio's numbered ones at 8/s): a routine
    sync walks from where the last stopped, up to the budget's pages or ``target_seconds``, whichever comes
    first, and saves where it stopped with each write (``write(rows, walk, cycle_started)``, one transaction:
    the orders and eSIMs it wrote); the walk that reaches the last page marks stale what its whole cycle did not list. A
    vendor's first listing is walked whole (until then Fleet shows none of its eSIMs)."""
    vendor = adapter.name
    walk = await asyncio.to_thread(store.fleet_walk, vendor)
    bounded = walk is not None or await asyncio.to_thread(store.has_esims, vendor)
    cycle = [walk.cycle_started if walk else run_started]  # when the walk under way began at the first page
    summary = result.walk = WalkSummary(resumed=walk is not None and walk.key is not None,
                                        budget=policy.budget(adapter.requests_per_second) if bounded else 0)
    deadline = time.monotonic() + policy.target_seconds
    after = [walk.key if walk else None]  # the key of the page after the last one handed to the writer

    async def pages() -> AsyncIterator[list]:
        key = after[0]
        while True:
            try:
                async with contextlib.aclosing(walk_pages(key)) as walked:
                    async for rows, next_key in walked:
                        summary.pages += 1
                        after[0] = next_key
                        summary.complete = next_key is None
                        yield rows
                        if bounded and (summary.pages >= summary.budget or time.monotonic() >= deadline):
                            return
                return
            except (VendorRejected, NotFound, MalformedResponse) as exc:
                if key is None or summary.pages:
                    raise
                # The key an earlier sync stopped at is refused (it may have expired: the document is silent):
                # a new walk from the first page.
                log.info("%s refused the page key an earlier sync stopped at (%s): starting over", vendor, exc)
                key, cycle[0], summary.resumed = None, run_started, False

    def write_and_mark(batch: list, key: str | None) -> tuple[int, int]:
        # With where the walk now is; key None: these rows end with the last page, the cycle is whole.
        return write(batch, None if key is None else FleetWalk(key, cycle[0]), cycle[0])

    async for orders, esims in _pipelined(pages(), write_and_mark, lambda: after[0]):
        result.orders += orders
        result.esims += esims
        summary.esims += esims
        report(SyncProgress(vendor, stage, result.orders if stage == "orders" else result.esims, None))


async def _refresh_orders(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn) -> None:
    """Orders not settled yet, each asked for on its own (a vendor without an order list): few at a time."""
    vendor = adapter.name
    if not adapter.supports(Capability.ORDER_STATUS):
        return
    orders = await asyncio.to_thread(lambda: store.orders(vendor, statuses=UNFINISHED))
    orders = [o for o in orders if o.order_id or o.reference]

    async def order(o):
        try:
            return await adapter.get_order(o.order_id, o.reference)
        except (VendorError, Unsupported) as exc:
            log.info("%s order %s not refreshed: %s", vendor, o.order_id, exc)
            return None

    def write(batch: list[Order], at: datetime) -> int:
        written = store.upsert_orders(batch)
        # Their eSIMs came with them just now: not asked for a second time before their turn comes round.
        store.mark_refreshed(vendor, [e.iccid for o in batch for e in o.esims], at)
        return written

    fresh: list = []
    async for got in _bounded(orders, order, REFRESH_CONCURRENCY):
        if got is not None:
            fresh.append(got)
        if len(fresh) >= 1000:  # large transactions: random index pages are written once per batch
            result.orders += await asyncio.to_thread(write, fresh, datetime.now(UTC))
            fresh = []
            report(SyncProgress(vendor, "orders", result.orders, len(orders)))
    if fresh:
        result.orders += await asyncio.to_thread(write, fresh, datetime.now(UTC))
        report(SyncProgress(vendor, "orders", result.orders, len(orders)))


async def _refresh_planned(adapter: VendorAdapter, store: Store, result: VendorSyncResult, report: ProgressFn,
                           policy: RefreshPolicy, listed: dict[str, Esim] | None, *,
                           writes_after: asyncio.Event | None = None, unstored: bool = False) -> None:
    """Ask the vendor about eSIMs one at a time (domain/refresh.py): those due, the most needed first, as many
    as the budget allows, at the vendor's pace. ``listed``: the candidates as this sync's listing gave them
    (None: every eSIM known here); ``unstored``: none of them is stored yet (ranked as listed). Answers are
    written every REFRESH_BATCH, each batch with when it was asked, so a cancelled or failed sync keeps them
    and the next one goes on with the rest; not before ``writes_after`` is set (the listing they came with is
    being written). A batch is written while the next requests go on (a write waiting its turn at the one
    writer held them all back: MicroESIM's refresh in a first sync took 35 s for its 25 s of pace)."""
    vendor = adapter.name
    now = datetime.now(UTC)
    budget = policy.budget(adapter.requests_per_second, adapter.refresh_requests)
    if unstored and listed is not None:
        plan = plan_unstored(vendor, listed.values(), policy, now, budget)
    else:
        plan = await asyncio.to_thread(store.esims_due, vendor, policy, now, budget,
                                       None if listed is None else listed.keys())
    summary = result.refresh = RefreshSummary(due=plan.due, planned=len(plan.iccids), budget=budget)
    if not plan.iccids:
        return
    # Requests at the vendor's pace on average whatever the answers' speed; PACE_WINDOW_S seconds' worth may
    # go at once (a small fleet's refresh — the demo's 40 MicroESIM eSIMs — is not drawn out by the pace).
    pace = AsyncLimiter(max(adapter.refresh_requests, adapter.requests_per_second * PACE_WINDOW_S), PACE_WINDOW_S)

    def say() -> None:
        report(SyncProgress(vendor, "refresh", summary.refreshed + summary.failed, summary.planned, summary.due))

    async def one(iccid: str):
        await pace.acquire(adapter.refresh_requests)
        try:
            return iccid, await adapter.refresh_esim(iccid, listed.get(iccid) if listed else None)
        except (VendorRejected, NotFound) as exc:  # one eSIM the vendor no longer knows must not stop the rest
            log.info("%s eSIM %s not refreshed: %s", vendor, iccid, exc)
            return iccid, None

    asked: list[str] = []
    esims: list[Esim] = []
    events: list = []
    writing: list[asyncio.Future] = []  # the batch being written (one at a time, in order)

    async def written() -> None:
        if writing:
            try:  # shielded: a cancel lands here, not on the write, which the finally below awaits again
                result.esims += await asyncio.shield(writing[0])
            finally:
                if writing[0].done():
                    writing.pop()

    async def flush() -> None:
        nonlocal asked, esims, events
        if asked:
            if writes_after is not None:
                await writes_after.wait()
            batch, sent, evs = esims, asked, events
            asked, esims, events = [], [], []
            await written()
            writing.append(asyncio.ensure_future(
                asyncio.to_thread(_write_refreshed, store, vendor, batch, evs, sent, now)))

    say()
    try:
        async for iccid, got in _bounded(list(plan.iccids), one, REFRESH_CONCURRENCY):
            asked.append(iccid)
            if got is None:
                summary.failed += 1
            else:
                esims.append(got[0])
                events.extend(got[1])
                summary.refreshed += 1
            # Kept in memory until the listing they came with is written (at most the budget's answers).
            if len(asked) >= REFRESH_BATCH and (writes_after is None or writes_after.is_set()):
                await flush()
                say()
    finally:
        await despite_cancels(flush())  # what was answered is kept, even when cancelled or failing mid-way
        await despite_cancels(written())
    say()


def _write_refreshed(store: Store, vendor: str, esims: list[Esim], events: list, asked: list[str],
                     at: datetime) -> int:
    if events:
        store.add_events(events)
    written = store.upsert_esims(esims) if esims else 0
    store.mark_refreshed(vendor, asked, at)
    return written
