"""The store's sync writes alone (issue 28): how long SQLite takes to take in a vendor's listing.

Run: python bench/store_writes.py [LABEL]   (a few minutes) — the run is kept in bench/results/store_writes.json
under LABEL ("latest" by default) beside the runs already there (e.g. "before" and "after" a change).

The rows are a vendor's, made the way a sync makes them: the sandbox's simulators give the payloads and
the adapters' own parsers turn them into plans, orders and eSIMs (no HTTP: only the store is timed). Each
listing is written in the pages a sync writes (one call, one transaction a page), then ``mark_stale``,
three times into one file: into an empty file, again with nothing changed, again with 1 % changed.

  * ``roumio``: 50,000 plans (``upsert_plans``, 500 a call), then ~64,000 orders carrying 100,000 eSIMs
    (``upsert_orders``, a 500-eSIM page a call: Roumio's fleet is its order listing);
  * ``fleet``: the same 100,000 eSIMs as a fleet listing (``upsert_esims``, 500 a call) into a file of
    their own (Flexiroam, Roamify); and into an empty file again at 5,000 a call (what larger transactions
    would save a first sync);
  * ``roamify_catalog``: Roamify's 28,000 plans into the same file, through the incremental catalog sync
    (``plan_sync.py``), first and with nothing changed, and through ``upsert_plans`` as a full sync writes them.

``changes`` is ``conn.total_changes`` over the step: the rows SQLite wrote (triggers' included).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import RESULTS, save  # noqa: E402

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig  # noqa: E402
from esimdesk.sandbox.roamify_catalog import RoamifyCatalog  # noqa: E402
from esimdesk.sandbox.roamify_packages import countries, packages_page  # noqa: E402
from esimdesk.sandbox.roumio import RoumioSandbox  # noqa: E402
from esimdesk.sandbox.roumio_catalog import public  # noqa: E402
from esimdesk.services.plan_sync import sync_plans_incrementally  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.vendors.roamify_catalog import CountryMap, parse_packages  # noqa: E402
from esimdesk.vendors.roumio import RoumioAdapter, esim_from, plan_from  # noqa: E402

PLANS, ESIMS, ROAMIFY_PLANS, PAGE = 50_000, 100_000, 28_000, 500


def as_sent(obj):
    """What the adapter would get over HTTP: the payload through JSON (no shared objects with the simulator)."""
    return json.loads(json.dumps(obj))


def roumio_rows():
    sim = RoumioSandbox(SandboxConfig(seed=1, plans=PLANS, esims=ESIMS), dict(SANDBOX_CREDENTIALS["roumio"]))
    plans = [plan_from(as_sent(public(p))) for p in sim.catalog.base]
    now = sim.now()
    esims = [esim_from(as_sent(sim.view(r, now))) for r in sim.fleet if now >= r["ready"]]
    return plans, esims


def orders_of(esims):
    """Roumio's ``iter_orders``: each 500-eSIM page grouped by order, an order split across pages completed
    first."""
    pages, pending = [], {}
    for i in range(0, len(esims), PAGE):
        page = esims[i:i + PAGE]
        for e in page:
            pending.setdefault(e.order_id or "", []).append(e)
        last = page[-1].order_id
        done = [o for o in pending if o != last]
        if done:
            pages.append([RoumioAdapter._order_from(o, None, pending.pop(o)) for o in done if o])
    if pending:
        pages.append([RoumioAdapter._order_from(o, None, es) for o, es in pending.items() if o])
    for page in pages:  # the creation time as the vendor gives it, not "now" (the adapter's fallback)
        for o in page:
            assert o.created_at is not None
    return pages


def changed_plan(p):
    price = p.price + Decimal("0.10")
    return replace(p, price=price, raw={**p.raw, "price": int(price * 100)})


def changed_esim(e):
    used = (e.data_used_mb or 0) + 7
    return replace(e, data_used_mb=used, raw={**e.raw, "orderUsage": used})


def one_percent(items, change):
    return [change(x) if i % 100 == 37 else x for i, x in enumerate(items)]


def pages_of(items, size=PAGE):
    return [items[i:i + size] for i in range(0, len(items), size)]


class Step:
    """Times store calls and counts the rows they wrote."""

    def __init__(self, store: SqliteStore):
        self.store, self.seconds, self.calls = store, 0.0, 0
        self.changes0 = store.conn.total_changes

    def __call__(self, fn, *args, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1

    def result(self, rows: int, **extra) -> dict:
        return {"rows": rows, "seconds": round(self.seconds, 2), "calls": self.calls,
                "changes": self.store.conn.total_changes - self.changes0, **extra}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def write_plans(store, plans, vendor):
    step, start = Step(store), now_iso()
    for page in pages_of(plans):
        step(store.upsert_plans, page)
    stale = step(store.mark_stale, "plans", vendor, start)
    return step.result(len(plans), stale=stale)


def write_orders(store, order_pages, vendor):
    step, start = Step(store), now_iso()
    for page in order_pages:
        step(store.upsert_orders, page)
    stale = step(store.mark_stale, "esims", vendor, start)
    return step.result(sum(map(len, order_pages)), esims=sum(len(o.esims) for p in order_pages for o in p),
                       stale=stale)


def write_fleet(store, esims, vendor, size=PAGE):
    step, start = Step(store), now_iso()
    for page in pages_of(esims, size):
        step(store.upsert_esims, page)
    stale = step(store.mark_stale, "esims", vendor, start)
    return step.result(len(esims), stale=stale)


def roumio(tmp: Path, plans, esims) -> dict:
    store = SqliteStore(tmp / "roumio.sqlite3")
    out = {}
    runs = {"empty_file": (plans, esims), "unchanged": (plans, esims),
            "one_percent_changed": (one_percent(plans, changed_plan), one_percent(esims, changed_esim))}
    for name, (ps, es) in runs.items():
        out[name] = {"plans": write_plans(store, ps, "roumio"), "orders": write_orders(store, orders_of(es), "roumio")}
    store.close()
    return out


def fleet(tmp: Path, esims) -> dict:
    store = SqliteStore(tmp / "fleet.sqlite3")
    out = {}
    for name, es in (("empty_file", esims), ("unchanged", esims),
                     ("one_percent_changed", one_percent(esims, changed_esim))):
        out[name] = write_fleet(store, es, "roumio")
    store.close()
    store = SqliteStore(tmp / "fleet_5000.sqlite3")
    out["empty_file_5000_a_call"] = write_fleet(store, esims, "roumio", size=5000)
    store.close()
    return out


class _Listing:
    """The part of a Roamify adapter the incremental catalog sync uses: its pages."""

    name = "roamify"

    def __init__(self, plans):
        self._plans = plans

    async def iter_plans(self):
        for page in pages_of(self._plans):
            yield page


def roamify_plans() -> list:
    catalog = RoamifyCatalog(1, ROAMIFY_PLANS)
    cmap = CountryMap(as_sent(countries(catalog))["countries"])
    plans, seen, page = [], set(), 1
    while True:
        got = [p for p in parse_packages(as_sent(packages_page(catalog, {"page": str(page), "pageSize": str(PAGE)})),
                                         cmap) if p.plan_id not in seen]
        if not got:
            return plans
        seen.update(p.plan_id for p in got)
        plans.extend(got)
        page += 1


def counting(store: SqliteStore, names: tuple[str, ...]) -> dict:
    """Counts the rows the store's ``names`` wrote, in whichever thread they run (the sync calls them in
    worker threads, each with its own connection)."""
    box = {"changes": 0}

    def counted(fn):
        def run(*args, **kw):
            before = store.conn.total_changes
            try:
                return fn(*args, **kw)
            finally:
                box["changes"] += store.conn.total_changes - before
        return run

    for name in names:
        setattr(store, name, counted(getattr(store, name)))
    return box


def roamify_catalog(path: Path) -> dict:
    """In the desk's file (Roumio's rows already there), as a sync writes Roamify's catalog."""
    plans = roamify_plans()
    store = SqliteStore(path)
    out = {}
    box = counting(store, ("upsert_plans", "mark_stale"))
    for name in ("first", "nothing_changed"):
        box["changes"] = 0
        t0 = time.perf_counter()
        n = asyncio.run(sync_plans_incrementally(_Listing(plans), store, now_iso(), lambda n: None))
        out[f"incremental_{name}"] = {"rows": n, "seconds": round(time.perf_counter() - t0, 2),
                                      "changes": box["changes"]}
    # A full sync's path (a vendor without the incremental one, or a plan gone): every plan written again.
    out["full_listing_nothing_changed"] = write_plans(store, plans, "roamify")
    store.close()
    return out


def main(label: str) -> None:
    t0 = time.perf_counter()
    plans, esims = roumio_rows()
    result: dict = {"scale": {"plans": len(plans), "esims": len(esims), "page": PAGE},
                    "rows_built_s": round(time.perf_counter() - t0, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        result["roumio"] = roumio(Path(tmp), plans, esims)
        result["roamify_catalog"] = roamify_catalog(Path(tmp) / "roumio.sqlite3")
        result["file_mb"] = round((Path(tmp) / "roumio.sqlite3").stat().st_size / 1e6, 1)
        result["fleet"] = fleet(Path(tmp), esims)
    path = RESULTS / "store_writes.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[label] = result
    save("store_writes", runs)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "latest")
