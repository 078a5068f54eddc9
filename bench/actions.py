"""Support actions (issue 21), over real HTTP against the sandbox, through ActionService and a real store.

Run: python bench/actions.py   (writes bench/results/actions.json; about a minute)

Measures, on SandboxConfig(esims=400):
  * "Refresh usage" for 100 Roumio eSIMs: Roumio's usage check takes 10 eSIMs a request, so 10 requests
    under the client-side 8 req/s limit — against the naive 100 one-by-one ``esim/query`` look-ups;
  * the same for 100 Flexiroam eSIMs (``list-inventory`` searched by ICCID, one request each);
  * one agent action end to end (status read, journal, send, status read after, balance after a cancel):
    cancel, suspend and resume, medians of 10;
and the 429s the sandbox's own limiter had to answer (must be 0).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

from esimdesk.domain import Action  # noqa: E402
from esimdesk.sandbox import SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.services.actions import ActionService  # noqa: E402
from esimdesk.services.config import load_accounts  # noqa: E402
from esimdesk.services.sync import sync_all  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.vendors import build_adapter  # noqa: E402

N = 100
REPEAT = 10


def factory(cfg):
    return build_adapter(cfg, timeout=30)


async def main() -> dict:
    home = Path(tempfile.mkdtemp(prefix="esimdesk-bench-actions-"))
    with SandboxServer(SandboxConfig(seed=3, esims=400, allocation_delay=0.2),
                       vendors=("roumio", "flexiroam")) as server:
        accounts = load_accounts(home, env=server.env()).enabled
        store = SqliteStore(home / "esimdesk.sqlite3")
        await sync_all(store, accounts, factory)
        svc = ActionService(store, accounts, factory)
        out: dict = {"esims_in_sandbox": 400, "n": N}

        roumio = [e for e in store.esims(vendor="roumio") if e.vendor_ref][:N]
        t = time.perf_counter()
        report = await svc.usage([e.iccid for e in roumio])
        out["roumio_usage_check_100_s"] = round(time.perf_counter() - t, 2)
        out["roumio_usage_check_readings"] = len(report.readings)
        out["roumio_usage_check_requests"] = -(-N // 10)
        async with factory(next(c for c in accounts if c.vendor == "roumio")) as adapter:
            t = time.perf_counter()
            await asyncio.gather(*(adapter.get_esim(e.iccid) for e in roumio))
            out["roumio_one_by_one_query_100_s"] = round(time.perf_counter() - t, 2)

        flexi = store.esims(vendor="flexiroam")[:N]
        t = time.perf_counter()
        report = await svc.usage([e.iccid for e in flexi])
        out["flexiroam_usage_100_s"] = round(time.perf_counter() - t, 2)
        out["flexiroam_usage_readings"] = len(report.readings)

        new = [e for e in store.esims(vendor="roumio") if e.vendor_status == "GOT_RESOURCE/RELEASED"]
        active = [e for e in store.esims(vendor="roumio") if e.vendor_status == "IN_USE/ENABLED"]
        times: dict[str, list[float]] = {"cancel": [], "suspend": [], "resume": []}
        for i in range(min(REPEAT, len(new), len(active))):
            for action, esim in ((Action.CANCEL, new[i]), (Action.SUSPEND, active[i]), (Action.RESUME, active[i])):
                t = time.perf_counter()
                await svc.run(esim.iccid, action)
                times[action.value].append((time.perf_counter() - t) * 1000)
        for name, samples in times.items():
            out[f"{name}_end_to_end_median_ms"] = round(statistics.median(samples), 1)
        out["roumio_429_drawn"] = server.sandbox.limiters["roumio"].refused
        store.close()
        return out


if __name__ == "__main__":
    save("actions", asyncio.run(main()))
