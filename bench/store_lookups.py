"""Store look-ups at 50,000 plans and 100,000 eSIMs (target: every lookup < 20 ms at the median).

Run: python bench/store_lookups.py   (writes bench/results/store_lookups.json)
     python bench/store_lookups.py --order-digits   (that case alone: an order id typed in Orders at
     160,000 orders, 1 to 12 digits; printed, and written to bench/results/store_lookups_order_digits.json)
Data is generated in-process (same shapes the adapters produce) so this measures SQLite, not HTTP;
bench/sync_full.py measures the full sync from the sandbox.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save, timed  # noqa: E402

from esimdesk.domain import Esim, EsimStatus, ListingQuery, Order, OrderStatus, Plan  # noqa: E402
from esimdesk.sandbox.countries import COUNTRIES, REGIONS  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402

N_PLANS, N_ESIMS = 50_000, 100_000
# The Orders tab at the views benchmark's size: MicroESIM's numeric ids (one run of 100,000, as the sandbox
# numbers them) and Roumio's "B…" ones, a few minutes apart, mixed in time.
N_NUMERIC_ORDERS, N_LETTER_ORDERS = 100_000, 60_000


def make_plans(rng: random.Random) -> list[Plan]:
    plans = []
    regions = list(REGIONS.items())
    for i in range(N_PLANS):
        if i % 10 == 0:
            name, codes = regions[i % len(regions)]
            countries = tuple(codes)
        else:
            countries = (COUNTRIES[i % len(COUNTRIES)],)
            name = countries[0]
        gb = rng.choice([1, 3, 5, 10, 20])
        plans.append(Plan(["roumio", "microesim"][i % 2], f"P{i:06d}", f"{name} {gb}GB {7 * (1 + i % 4)} Days",
                          countries, gb * 1024, 7 * (1 + i % 4), Decimal(rng.randint(200, 9000)) / 100, "USD"))
    return plans


def make_esims(rng: random.Random, plans: list[Plan]) -> list[Esim]:
    now = datetime.now(UTC)
    out = []
    for i in range(N_ESIMS):
        iccid = f"89{rng.randrange(10**17, 10**18)}"
        plan = plans[i % len(plans)]
        out.append(Esim(plan.vendor, iccid, rng.choice(list(EsimStatus)), "IN_USE/ENABLED", order_id=f"B{i // 2:09d}",
                        plan_id=plan.plan_id, activation_code=f"LPA:1$smdp.example$M{i:08d}",
                        data_used_mb=rng.randint(0, 5000), data_total_mb=plan.data_mb,
                        expires_at=now + timedelta(days=rng.randint(-30, 60))))
    return out


def make_orders(rng: random.Random) -> tuple[list[Order], list[Esim]]:
    start = datetime(2024, 8, 1, tzinfo=UTC)
    orders, esims = [], []
    for i in range(N_NUMERIC_ORDERS):
        order_id = f"2024010100000001{i:08d}"
        orders.append(Order("microesim", order_id, None, OrderStatus.COMPLETED,
                            start + timedelta(minutes=rng.randrange(1_200_000)), Decimal("4.50"), "USD"))
        esims.append(Esim("microesim", f"89852{rng.randrange(10**13, 10**14)}", EsimStatus.ACTIVE, "IN_USE",
                          order_id=order_id))
    for i in range(N_LETTER_ORDERS):
        orders.append(Order("roumio", f"B26{i:012d}", f"seed-B26{i:012d}", OrderStatus.COMPLETED,
                            start + timedelta(minutes=rng.randrange(1_200_000)), Decimal("9.00"), "USD"))
    return orders, esims


def order_digits() -> dict:
    """A numeric order id typed into Orders, key by key (1 to 12 digits): its first rows (what paints) and its
    count (taken after the paint), newest first as the tab opens, at 160,000 orders."""
    rng = random.Random(7)
    orders, esims = make_orders(rng)
    target = orders[77_777].order_id
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "orders.sqlite3")
        for i in range(0, len(orders), 2000):
            store.upsert_orders(orders[i:i + 2000])
        for i in range(0, len(esims), 2000):
            store.upsert_esims(esims[i:i + 2000])
        store.conn.execute("PRAGMA optimize")
        out: dict = {"orders": len(orders), "typed": target}
        for n in range(1, 13):
            q = ListingQuery("orders", text=target[:n], sort="created", descending=True)
            head = store.listing_head(q, 100)
            out[f"{n:02d}_digits"] = {
                "text": target[:n], "rows": store.listing_count(q)[0],
                "head": timed(lambda q=q: store.listing_head(q, 100), repeat=9),
                "count": timed(lambda q=q, t=head.total: store.listing_count(q, t), repeat=9)}
        store.close()
    return out


def main() -> None:
    if "--order-digits" in sys.argv[1:]:
        save("store_lookups_order_digits", order_digits())
        return
    rng = random.Random(42)
    plans = make_plans(rng)
    esims = make_esims(rng, plans)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite3"
        store = SqliteStore(path)
        t0 = time.perf_counter()
        for i in range(0, len(plans), 500):
            store.upsert_plans(plans[i:i + 500])
        plans_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, len(esims), 500):
            store.upsert_esims(esims[i:i + 500])
        esims_write = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(0, len(esims), 500):
            store.upsert_esims(esims[i:i + 500])
        esims_rewrite = time.perf_counter() - t0
        store.conn.execute("PRAGMA optimize")
        store.close()

        def cold_open():
            s = SqliteStore(path)
            s.conn.execute("SELECT count(*) FROM esims WHERE rowid = 1").fetchone()
            s.close()

        store = SqliteStore(path)
        target = esims[77_777].iccid
        result = {
            "rows": {"plans": N_PLANS, "esims": N_ESIMS},
            "write_s": {"plans_50k": round(plans_write, 2), "esims_100k_insert": round(esims_write, 2),
                        "esims_100k_resync_upsert": round(esims_rewrite, 2)},
            "plan_filter_country_JP_limit200": timed(lambda: store.plans(country="JP", limit=200)),
            "plan_filter_country_JP_all": timed(lambda: store.plans(country="JP")),
            "iccid_suffix_6_digits": timed(lambda: store.esims(search=target[-6:])),
            "iccid_full": timed(lambda: store.esims(search=target)),
            "free_text_plan_name_limit200": timed(lambda: store.plans(search="Japan 5GB", limit=200)),
            "free_text_esim_country_limit200": timed(lambda: store.esims(search="portugal", limit=200)),
            "free_text_order_id": timed(lambda: store.esims(search="B000038888")),
            "cold_open": timed(cold_open, repeat=10),
            "file_mb": round(path.stat().st_size / 1e6, 1),
        }
        assert store.esims(search=target[-6:]), "suffix search must find the target"
        store.close()
    save("store_lookups", result)


if __name__ == "__main__":
    main()
