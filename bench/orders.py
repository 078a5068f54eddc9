"""Orders against the sandbox: time from order to allocated eSIMs, and the fault matrix's outcomes.

Run: python bench/orders.py   (writes bench/results/orders.json)
The sandbox allocates profiles after its demo delay (2 s, like Roumio's "up to 30 s" but shorter);
the time measured is the whole agent wait: validate, journal, send, poll, store.
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

from esimdesk.domain import OrderStatus  # noqa: E402
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.services.config import load_accounts  # noqa: E402
from esimdesk.services.orders import OrderOutcome, OrderService  # noqa: E402
from esimdesk.services.sync import sync_all  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.vendors import build_adapter  # noqa: E402

VENDORS = ("roumio", "roamify", "microesim")
ENDPOINT = {"roumio": "esim/order", "roamify": "api/esim/order", "microesim": "allesim/v1/esimSubscribe"}
FAULTS = {
    "timeout before the vendor recorded": dict(kind="timeout", when="before", seconds=4),
    "timeout after the vendor recorded": dict(kind="timeout", when="after", seconds=4),
    "HTTP 500 before": dict(kind="http_500", when="before"),
    "HTTP 500 after": dict(kind="http_500", when="after"),
    "HTTP 503 after": dict(kind="http_503", when="after"),
    "malformed body after": dict(kind="malformed", when="after"),
    "truncated body after": dict(kind="truncated", when="after"),
    "dropped connection after": dict(kind="drop", when="after"),
    "dropped connection before": dict(kind="drop", when="before"),
}


def factory(timeout):
    return lambda c: build_adapter(c, timeout=timeout)


async def setup(server, home):
    store = SqliteStore(home / "bench.sqlite3")
    accounts = load_accounts(home, env=server.env()).enabled
    await sync_all(store, accounts, factory(10))
    return store, accounts


def plan_for(server, store, vendor):
    if vendor == "roamify":
        return server.sandbox.vendors["roamify"].catalog.package(3).package_id
    return min((p for p in store.plans(vendor=vendor) if not p.daily), key=lambda p: (p.price, p.plan_id)).plan_id


async def latency() -> dict:
    out = {}
    with SandboxServer(SandboxConfig(seed=4, allocation_delay=2.0), vendors=VENDORS) as server:
        home = Path(tempfile.mkdtemp())
        store, accounts = await setup(server, home)
        service = OrderService(store, accounts, factory(10), poll_interval=0.25)
        for vendor in VENDORS:
            plan_id = plan_for(server, store, vendor)
            samples = []
            for _ in range(5):
                t0 = time.perf_counter()
                order = await service.place_order(vendor, plan_id)
                samples.append(time.perf_counter() - t0)
                assert order.status is OrderStatus.COMPLETED
            out[vendor] = {"median_s": round(statistics.median(samples), 2), "min_s": round(min(samples), 2),
                           "max_s": round(max(samples), 2), "allocation_delay_s": 2.0}
    return out


async def fault_matrix() -> dict:
    table: dict = {}
    for label, spec in FAULTS.items():
        row = {}
        with SandboxServer(SandboxConfig(seed=4, allocation_delay=0.3), vendors=VENDORS) as server:
            home = Path(tempfile.mkdtemp())
            store, accounts = await setup(server, home)
            service = OrderService(store, accounts, factory(1.5), poll_interval=0.1, allocation_deadline=15)
            for vendor in VENDORS:
                server.sandbox.faults[vendor].add(Fault(endpoint=ENDPOINT[vendor], **spec))
                try:
                    order = await service.place_order(vendor, plan_for(server, store, vendor))
                    first, ref = order.status.value, order.reference
                except OrderOutcome as outcome:
                    first, ref = outcome.entry.state.value, outcome.entry.reference
                    await service.reconcile(vendor)
                entry = store.journal_get(reference=ref)
                stats = server.sandbox.vendors[vendor].stats()
                row[vendor] = {"after_order": first, "after_reconcile": entry.state.value,
                               "orders_at_vendor": stats["orders"], "order_requests": stats["order_requests"],
                               "how": store.journal_audit(entry.id)[-1].cause[:120]}
        table[label] = row
    return table


def main() -> None:
    result = {"order_to_allocated": asyncio.run(latency()), "fault_matrix": asyncio.run(fault_matrix())}
    save("orders", result)


if __name__ == "__main__":
    main()
