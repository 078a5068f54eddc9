"""Demo mode only: give the demo desk the history a real desk would have.

MicroESIM keeps no order list, so a real desk knows its MicroESIM eSIMs only from its own past
orders. The demo desk starts with the sandbox's pre-made MicroESIM orders recorded as if this desk
had placed them, so the Fleet shows MicroESIM eSIMs after the first sync.
"""

from __future__ import annotations

from datetime import UTC, datetime

from esimdesk.domain import Order, OrderStatus
from esimdesk.store import Store


def seed_demo_history(store: Store, sandbox) -> int:
    if sandbox is None or store.orders(vendor="microesim", limit=1):
        return 0
    sim = sandbox.sandbox.vendors.get("microesim")
    known = list(getattr(sim, "known_orders", []))
    now = datetime.now(UTC)
    orders = [Order("microesim", order_id, None, OrderStatus.ALLOCATING, now) for order_id in known]
    return store.upsert_orders(orders)
