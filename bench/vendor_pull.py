"""Vendor pulls through the adapters, over real HTTP against the sandbox.

Run: python bench/vendor_pull.py   (writes bench/results/vendor_pull.json; takes a few minutes)

Measures, on SandboxConfig(plans=50000, esims=1000, allocation_delay=0.5):
  * a full catalog pull (``iter_plans`` to the end) for every vendor that offers PLANS;
  * 200 Roumio ``get_esim`` look-ups fired at once, paced by the adapter's client-side 8 req/s limit,
    with the 429s the sandbox's own limiter had to answer (must be 0);
and, on a second sandbox with 100,000 eSIMs, the full inventory pull (``iter_esims``) for Flexiroam and
Roumio (pages of 500 under the limit). Each simulator builds its data lazily; that build is triggered and
timed before the pull so the pull measures the adapter and HTTP, not data generation.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

from esimdesk.domain import VendorConfig  # noqa: E402
from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.vendors import Capability, build_adapter  # noqa: E402

N_PLANS, N_ESIMS, N_ESIMS_BIG = 50_000, 1_000, 100_000
N_LOOKUPS = 200
TIMEOUT = 60.0  # a 50,000-plan answer is one large body


def adapter(server: SandboxServer, vendor: str):
    config = VendorConfig(vendor, server.urls[vendor], dict(SANDBOX_CREDENTIALS[vendor]))
    return build_adapter(config, timeout=TIMEOUT)


def timed_build(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return round(time.perf_counter() - t0, 2)


async def pull(pages_of) -> dict[str, Any]:
    """Drain an async page iterator: seconds, items, pages, items per second."""
    t0 = time.perf_counter()
    items = pages = 0
    async for page in pages_of:
        pages += 1
        items += len(page)
    seconds = time.perf_counter() - t0
    return {
        "seconds": round(seconds, 2),
        "items": items,
        "pages": pages,
        "per_second": round(items / seconds),
    }


async def catalog_pulls(server: SandboxServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for vendor in server.sandbox.vendors:
        async with adapter(server, vendor) as a:
            if not a.supports(Capability.PLANS):
                out[vendor] = "no plan list (Capability.PLANS not offered)"
                continue
            cold = await pull(a.iter_plans())
            warm = sorted([await pull(a.iter_plans()) for _ in range(3)], key=lambda r: r["seconds"])[1]
            out[vendor] = {
                "plans": warm["items"],
                "pages": warm["pages"],
                "seconds": warm["seconds"],  # median of three pulls after the first
                "plans_per_second": warm["per_second"],
                "first_pull_seconds": cold["seconds"],
            }
    return out


async def roumio_lookups(server: SandboxServer) -> dict[str, Any]:
    sim = server.sandbox.vendors["roumio"]
    iccids = random.Random(42).sample([r["iccid"] for r in sim.fleet], N_LOOKUPS)
    limiter = server.sandbox.limiters["roumio"]
    refused_before = limiter.refused
    async with adapter(server, "roumio") as a:
        t0 = time.perf_counter()
        esims = await asyncio.gather(*(a.get_esim(i) for i in iccids))
        seconds = time.perf_counter() - t0
    assert [e.iccid for e in esims] == iccids
    return {
        "lookups": N_LOOKUPS,
        "concurrent": True,
        "seconds": round(seconds, 2),
        "requests_per_second": round(N_LOOKUPS / seconds, 2),
        "client_limit": "1 request per 0.14 s (Roumio allows 8 per second)",
        "http_429_drawn": limiter.refused - refused_before,
    }


async def inventory_pull(server: SandboxServer, vendor: str) -> dict[str, Any]:
    async with adapter(server, vendor) as a:
        result = await pull(a.iter_esims())
    return {
        "esims": result["items"],
        "pages": result["pages"],
        "seconds": result["seconds"],
        "esims_per_second": result["per_second"],
    }


async def main_async() -> dict[str, Any]:
    result: dict[str, Any] = {}
    config = SandboxConfig(plans=N_PLANS, esims=N_ESIMS, allocation_delay=0.5)
    with SandboxServer(config) as server:
        roumio = server.sandbox.vendors["roumio"]
        result["sandbox_build_s"] = {
            "roumio_catalog_50k": timed_build(lambda: roumio.catalog),
            "roumio_fleet_1k": timed_build(lambda: roumio.index),
        }
        result["catalog_pull"] = await catalog_pulls(server)
        result["roumio_get_esim_200_concurrent"] = await roumio_lookups(server)
        result["roumio_429_whole_run_50k_server"] = server.sandbox.limiters["roumio"].refused

    big = SandboxConfig(esims=N_ESIMS_BIG, allocation_delay=0.5)
    with SandboxServer(big, vendors=("roumio", "flexiroam")) as server:
        roumio = server.sandbox.vendors["roumio"]
        result["sandbox_build_s"]["roumio_fleet_100k"] = timed_build(lambda: roumio.index)
        result["inventory_pull_100k"] = {
            # list-inventory is asked for chip_type=esim: the account's physical SIMs are not listed.
            "flexiroam": {
                **await inventory_pull(server, "flexiroam"),
                "inventory_items_incl_psim": len(server.sandbox.vendors["flexiroam"].inventory),
            },
            "roumio": await inventory_pull(server, "roumio"),
        }
        result["inventory_pull_100k"]["roumio"]["http_429_drawn"] = server.sandbox.limiters["roumio"].refused
    return result


def main() -> None:
    result = {
        "config": {"plans": N_PLANS, "esims": N_ESIMS, "esims_big": N_ESIMS_BIG, "allocation_delay": 0.5},
        **asyncio.run(main_async()),
    }
    save("vendor_pull", result)


if __name__ == "__main__":
    main()
