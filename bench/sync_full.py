"""Full sync from the sandbox at 50,000 plans and 100,000 eSIMs per vendor, then look-ups on that store.

Run: python bench/sync_full.py   (writes bench/results/sync_full.json; takes about a minute)
Reports per vendor the wall time and how much of it was SQLite (the rest is the network and parsing),
then the agent's look-ups on the synced file (target: < 20 ms at the median).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save, timed  # noqa: E402

from esimdesk.sandbox import SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.services.config import load_accounts  # noqa: E402
from esimdesk.services.sync import sync_all  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.vendors import build_adapter  # noqa: E402

WRITES = ("upsert_plans", "upsert_esims", "upsert_orders", "mark_stale", "save_balance")


class TimedStore(SqliteStore):
    """Adds up the time spent in each write, per thread-safe counter (sync writes from worker threads)."""

    def __init__(self, path):
        super().__init__(path)
        self.sqlite_s = 0.0
        self._lock = threading.Lock()
        for name in WRITES:
            setattr(self, name, self._wrap(getattr(super(), name)))

    def _wrap(self, fn):
        def run(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                with self._lock:
                    self.sqlite_s += time.perf_counter() - t0
        return run


def main() -> None:
    config = SandboxConfig(seed=1, plans=50_000, esims=100_000, allocation_delay=0.5)
    tmp = Path(tempfile.mkdtemp())
    result: dict = {"scale": {"plans_per_vendor": 50_000, "esims_per_vendor": 100_000}}
    with SandboxServer(config) as server:
        t0 = time.perf_counter()
        for sim in server.sandbox.vendors.values():  # build the simulated data before timing the sync
            for attr in ("catalog", "fleet", "inventory"):
                getattr(sim, attr, None)
        accounts = load_accounts(tmp, env=server.env()).enabled
        result["sandbox_build_s"] = round(time.perf_counter() - t0, 2)
        per_vendor = {}
        for cfg in accounts:  # one vendor at a time: each vendor's own cost, network vs SQLite
            store = TimedStore(tmp / f"{cfg.vendor}.sqlite3")
            t0 = time.perf_counter()
            [r] = asyncio.run(sync_all(store, [cfg], lambda c: build_adapter(c, timeout=60)))
            wall = time.perf_counter() - t0
            per_vendor[cfg.vendor] = {"ok": r.ok, "error": r.error, "plans": r.plans, "orders": r.orders,
                                      "esims": r.esims, "wall_s": round(wall, 2), "sqlite_s": round(store.sqlite_s, 2),
                                      "sqlite_share": round(store.sqlite_s / wall, 2)}
            store.close()
        result["one_vendor_at_a_time"] = per_vendor
        store = TimedStore(tmp / "all.sqlite3")
        t0 = time.perf_counter()
        results = asyncio.run(sync_all(store, accounts, lambda c: build_adapter(c, timeout=60)))
        wall = time.perf_counter() - t0
        result["all_vendors_concurrently"] = {"wall_s": round(wall, 2), "sqlite_s": round(store.sqlite_s, 2),
                                              "ok": all(r.ok for r in results),
                                              "rows": store.counts()}
        t0 = time.perf_counter()
        results = asyncio.run(sync_all(store, accounts, lambda c: build_adapter(c, timeout=60)))
        result["second_sync_wall_s"] = round(time.perf_counter() - t0, 2)
        store.close()

    path = tmp / "all.sqlite3"
    store = SqliteStore(path)
    iccid = store.conn.execute("SELECT iccid FROM esims WHERE vendor = 'roumio' LIMIT 1 OFFSET 77777").fetchone()[0]
    order_id, reference = store.conn.execute(
        "SELECT order_id, reference FROM orders WHERE vendor = 'roumio' LIMIT 1 OFFSET 44444").fetchone()

    def cold_open():
        s = SqliteStore(path)
        s.plans(country="JP", limit=1)
        s.close()

    result["lookups_on_synced_store"] = {
        "plan_filter_country_JP": timed(lambda: store.plans(country="JP", limit=500)),
        "iccid_suffix_6": timed(lambda: store.esims(search=iccid[-6:])),
        "iccid_full": timed(lambda: store.esims(search=iccid)),
        "free_text_plans_japan_5gb": timed(lambda: store.plans(search="japan 5GB", limit=500)),
        "free_text_esims_country": timed(lambda: store.esims(search="portugal", limit=500)),
        "orders_by_reference": timed(lambda: store.orders(search=reference, limit=500)),
        "orders_by_order_id": timed(lambda: store.orders(search=order_id, limit=500)),
        "orders_newest_500": timed(lambda: store.orders(limit=500)),
        "orders_broad_text_matching_all_60k_limit500": timed(lambda: store.orders(search="seed", limit=500), repeat=5),
        "cold_open_and_first_query": timed(cold_open, repeat=10),
    }
    assert store.esims(search=iccid[-6:]), "suffix search must find the ICCID"
    result["file_mb"] = round(path.stat().st_size / 1e6, 1)
    save("sync_full", result)


if __name__ == "__main__":
    main()
