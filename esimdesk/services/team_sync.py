"""Team mode's part of a sync: push this desk's new entries to the team store, pull every other desk's.

Runs in a worker thread (psycopg's blocking API there; the GUI's event loop never waits). The result
has the vendors' shape, vendor "team". When the store cannot be reached the desk goes on from its local
file: the result says "team store offline since HH:MM", the entries made meanwhile stay queued in the
outbox and go with the next sync that reaches it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from esimdesk.domain import ConfigError, EsimdeskError, JournalEvent
from esimdesk.services.config import load_settings, save_settings
from esimdesk.services.currency import PUBLISH_KEY, RULES_KEY
from esimdesk.services.sync_results import VendorSyncResult
from esimdesk.services.team_config import TeamConfig, load_team_config
from esimdesk.store import team_local as L
from esimdesk.store.rows import from_iso

log = logging.getLogger("esimdesk.team")

PUSH_BATCH = 500
PULL_BATCH = 1000


async def sync_team(store, home: Path | None = None) -> VendorSyncResult | None:
    """None when no team store is configured (the app then works exactly as without team mode)."""
    if home is None and not hasattr(store, "path"):
        return None
    home = home or Path(store.path).parent
    try:
        config = load_team_config(home)
    except ConfigError as exc:
        result = VendorSyncResult("team", error=str(exc))
        result.problem = f"team: {exc}"
        return result
    if config is None:
        return None
    return await asyncio.to_thread(run, store, config, home=home)


def run(store, config: TeamConfig, *, push_batch: int = PUSH_BATCH, pull_batch: int = PULL_BATCH,
        fault: Callable[[str, int], None] | None = None, home: Path | None = None) -> VendorSyncResult:
    from esimdesk.store import team as T  # psycopg: a quarter of a second to import, so only when syncing

    result = VendorSyncResult("team")
    started = time.perf_counter()
    try:
        L.set_agent(store, config.agent)
        conninfo = config.conninfo()
        with T.connect(conninfo) as conn:
            try:
                T.migrate(conn)
                desk_id, token = L.identity(store)
                T.register(conn, desk_id, token, config.agent)
                T.push(conn, desk_id, lambda after: next_batch(store, conn, desk_id, after, push_batch, config.agent),
                       fault, lambda seq: L.set_pushed(store, seq))
                result.orders, result.esims = pull(store, conn, desk_id, pull_batch)
                share_price_rules(store, conn, config.agent, home or Path(store.path).parent)
            except T.TeamStoreError:
                raise
            except Exception as exc:  # psycopg's errors mid-way: a dropped connection, a stopped server
                import psycopg  # only when syncing (see run; store.team loaded it)

                if isinstance(exc, psycopg.Error):
                    raise T.explain(exc) from None
                raise
        result.ok = True
        L.mark_online(store)
    except EsimdeskError as exc:  # the team store's, the settings' or the local file's, in words
        reason = getattr(exc, "reason", "config")
        result.error = str(exc)
        if reason == "offline":
            since = L.mark_offline(store)
            result.problem = offline_sentence(since, str(exc))
        else:
            result.problem = f"team: {exc}"
    except Exception as exc:  # a bug here must not take the vendors' sync results down with it
        log.exception("team sync failed unexpectedly")
        result.error = f"unexpected error ({type(exc).__name__}); see the log"
        result.problem = (f"team: the sync failed with an unexpected error ({type(exc).__name__}); run it again "
                          "with ESIMDESK_LOG_LEVEL=DEBUG and report the log")
    result.seconds = time.perf_counter() - started
    return result


def share_price_rules(store, conn, agent: str, home: Path) -> None:
    """Price rules saved at this desk since its last team sync go to the team store (the last desk to save
    wins); then the team's rules are kept in this desk's file, so every desk quotes one price, offline too."""
    from esimdesk.store import team as T  # psycopg: only when syncing (see run)

    settings = load_settings(home)
    if settings.get(PUBLISH_KEY):
        T.publish_setting(conn, "price_rules", settings.get(RULES_KEY) or [], agent)
        settings = load_settings(home)  # as it is now: the agent may have saved again meanwhile
        settings.pop(PUBLISH_KEY, None)
        save_settings(home, settings)
    found = T.team_setting(conn, "price_rules")
    if found is not None:
        L.set_team_rules(store, *found)


def next_batch(store, conn, desk_id: str, after: int, limit: int, agent: str) -> list:
    """The entries to push after the store's ``after``. When the store has more of this desk than this
    file knows it pushed, either the last push was cut off after its commit (the same entries: go on),
    or this file is older than the one that pushed them (a backup put back): this file's entries from
    where the two differ are numbered after the store's, so none is skipped as already there."""
    from esimdesk.store import team as T  # psycopg: only when syncing (see run)

    mine = L.pushed(store)
    if after > mine:
        theirs = T.signatures(conn, desk_id, mine, after)
        ours = L.signatures(store, mine, after)
        first = next((a[0] for a, b in zip(ours, theirs, strict=False) if a != b), None)
        if first is None and len(ours) < len(theirs):
            first = ours[-1][0] + 1 if ours else mine + 1
        if first is not None:
            log.warning("this data file is behind the team store (a backup put back?): its entries from %d on are "
                        "pushed after the store's %d", first, after)
            L.renumber_from(store, first, after)
        L.set_pushed(store, after)
    return L.outbox_after(store, after, limit, agent)


def offline_sentence(since, detail: str = "") -> str:
    hhmm = since.strftime("%H:%M") if since else "now"
    return (f"team store offline since {hhmm} UTC — working from this desk's local cache; what is done meanwhile "
            "is pushed when it is back" + (f" ({detail})" if detail else ""))


def pull(store, conn, desk_id: str, batch: int) -> tuple[int, int]:
    """Every other desk's entries after this desk's cursor for it; (orders, eSIMs) written."""
    from esimdesk.store import team as T  # psycopg: only when syncing (see run)

    orders = esims = 0
    have = L.cursors(store)
    for other, last in sorted(T.heads(conn).items()):
        if other == desk_id:
            continue
        after = have.get(other, 0)
        while after < last:
            entries = T.fetch(conn, other, after, batch)
            if not entries:
                break
            o, e = L.apply_pulled(store, other, entries)
            orders, esims = orders + o, esims + e
            after = entries[-1][0]
    return orders, esims


def offline_label(store) -> str | None:
    """The status bar's short form: "team store offline since HH:MM UTC", or None while it is reachable."""
    since = L.offline_since(store)
    return f"team store offline since {since:%H:%M} UTC" if since else None


def offline_notice(store) -> str | None:
    """"team store offline since HH:MM …" while the last sync could not reach it, else None (status bar)."""
    since = L.offline_since(store)
    return offline_sentence(since) if since else None


def origins(home: Path, store, rows: list, listing: str) -> list[tuple[str, str]] | None:
    """(desk id, agent) for each order or eSIM of a listing, or None when this desk is in no team (no team
    store configured and nothing pulled): the listings then look exactly as before team mode."""
    try:
        config = load_team_config(home)
    except ConfigError:
        config = None
    if config is None and not L.has_other_desks(store):
        return None
    found = L.order_origins(store, rows) if listing == "orders" else L.esim_origins(store, rows)
    me = store.desk_id()
    agent = config.agent if config else ""
    # This desk's lines made before its first team sync carry no agent yet: they are this desk's agent's.
    return [(desk, who or (agent if desk == me else "")) for desk, who in found]


def order_names(store, orders: list) -> list[tuple[str | None, str | None]]:
    """(reference as the agent typed it, the handle the vendor was sent) of each order: one name for an order
    at every desk of a team (store/team_local.py)."""
    return L.order_names(store, orders)


def history(store, reference: str) -> list:
    """Another desk's order (by its reference or handle): its audit trail, each line saying who did it."""
    return [JournalEvent(from_iso(r["at"]), r["from_state"], r["to_state"],
                         f"{r['cause']} ({r['agent'] or 'an agent'} at desk {r['desk_id']})")
            for r in L.team_audit(store, reference)]
