"""Roamify through its adapter over real HTTP against the sandbox: the figures issue 20 cares about.

Run: python bench/roamify.py   (writes bench/results/roamify.json; about a minute)

Measures, on SandboxConfig(plans=28000, esims=1000), Roamify's real catalog size (roamify-more.md §3):
  * the whole paged catalog (``iter_plans`` until a short page) at pageSize 500 (ours) and 50 (Roamify's
    default): seconds and requests;
  * a catalog sync into a fresh store, then the same sync again with nothing changed (incremental:
    it writes no row), then one after Roamify repriced everything;
  * the fleet pull (``iter_esims``: one listing plus usage per installed eSIM);
  * one order of 5 eSIMs to COMPLETED with every ICCID and LPA code (apply by referenceId; the
    sandbox takes allocation_delay seconds to generate profiles).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

from esimdesk.domain import OrderStatus, VendorConfig  # noqa: E402
from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID  # noqa: E402
from esimdesk.services.sync import sync_vendor  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.vendors.roamify import RoamifyAdapter  # noqa: E402

N_PLANS, N_ESIMS, DELAY = 28_000, 1_000, 0.5


def config(server: SandboxServer) -> VendorConfig:
    return VendorConfig("roamify", server.urls["roamify"], dict(SANDBOX_CREDENTIALS["roamify"]))


async def catalog(server: SandboxServer, page_size: int) -> dict:
    async with RoamifyAdapter(config(server), timeout=60, page_size=page_size) as a:
        t0 = time.perf_counter()
        pages = [len(p) async for p in a.iter_plans()]
        return {"page_size": page_size, "plans": sum(pages), "pages": len(pages),
                "seconds": round(time.perf_counter() - t0, 2)}


def plan_changes(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*), max(last_seen) FROM plans").fetchone()


async def syncs(server: SandboxServer) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "esimdesk.sqlite3"
        store = SqliteStore(path)
        factory = lambda cfg: RoamifyAdapter(cfg, timeout=60)  # noqa: E731
        for name in ("first", "nothing_changed", "all_repriced"):
            if name == "all_repriced":
                server.sandbox.vendors["roamify"].catalog.seed += 1
            before = plan_changes(path)
            t0 = time.perf_counter()
            result = await sync_vendor(store, config(server), factory)
            out[name] = {"seconds": round(time.perf_counter() - t0, 2), "ok": result.ok, "plans": result.plans,
                         "esims": result.esims, "plan_rows_rewritten": before != plan_changes(path)}
        store.close()
    return out


async def fleet_and_order(server: SandboxServer) -> dict:
    async with RoamifyAdapter(config(server), timeout=60) as a:
        t0 = time.perf_counter()
        esims = [e async for page in a.iter_esims() for e in page]
        fleet = {"esims": len(esims), "with_usage": sum(e.data_used_mb is not None for e in esims),
                 "seconds": round(time.perf_counter() - t0, 2)}
        t0 = time.perf_counter()
        placed = await a.place_order(SAMPLE_PACKAGE_ID, 5, "bench-roamify-1")
        polls = 0
        while True:
            polls += 1
            got = await a.get_order(placed.order_id)
            if got.status is OrderStatus.COMPLETED:
                break
            await asyncio.sleep(0.2)
        order = {"esims": len(got.esims), "all_have_lpa": all(e.activation_code for e in got.esims),
                 "polls": polls, "seconds": round(time.perf_counter() - t0, 2), "allocation_delay": DELAY}
    return {"fleet": fleet, "order_of_5": order}


async def main() -> dict:
    cfg = SandboxConfig(plans=N_PLANS, esims=N_ESIMS, allocation_delay=DELAY)
    with SandboxServer(cfg, vendors=("roamify",)) as server:
        t0 = time.perf_counter()
        _ = server.sandbox.vendors["roamify"].catalog.listed(0)  # lazy tables built before timing the pulls
        build = round(time.perf_counter() - t0, 2)
        pulls = [await catalog(server, 500), await catalog(server, 50)]
        return {"config": {"plans": N_PLANS, "esims": N_ESIMS, "allocation_delay": DELAY},
                "sandbox_build_s": build, "catalog_pull": pulls, "sync": await syncs(server),
                **await fleet_and_order(server)}


if __name__ == "__main__":
    save("roamify", asyncio.run(main()))
