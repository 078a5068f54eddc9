"""Two desks placing 50 orders each at the same time through the sandbox, syncing with the team store
every 10 orders while the other pushes and pulls too: 100 orders at both desks and in the store, none
twice, none lost, each with its desk's agent."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter

from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services import team_sync
from esimdesk.services.orders import OrderService
from esimdesk.services.sync import sync_all
from esimdesk.store import team_local as L
from tests.services.helpers import accounts_for, short_factory
from tests.team.helpers import config, desk, outbox_seqs, server_entries

N = 50


def test_two_desks_placing_50_orders_each_at_once(pg, team_db, tmp_path):
    with SandboxServer(SandboxConfig(seed=5, allocation_delay=0.2), vendors=("microesim",)) as server:
        desks = {name: desk(tmp_path, name) for name in ("a", "b")}
        agents = {"a": "alice", "b": "bob"}
        placed: dict[str, list] = {"a": [], "b": []}
        failures: list[BaseException] = []
        start = threading.Barrier(2)

        def work(name: str) -> None:
            store = desks[name]
            accounts = accounts_for(server, tmp_path / name)

            async def run() -> None:
                await sync_all(store, accounts, short_factory(5))  # plans (and a first team sync: none configured)
                service = OrderService(store, accounts, short_factory(3), poll_interval=0.05, allocation_deadline=20,
                                       settle_delay=0, resend_pause=0.05)
                plan = min((p for p in store.plans(vendor="microesim") if p.price > 0 and not p.daily),
                           key=lambda p: (p.price, p.plan_id)).plan_id
                start.wait(30)
                for i in range(N):
                    placed[name].append(await service.place_order("microesim", plan, 1))
                    if i % 10 == 9:
                        res = await asyncio.to_thread(team_sync.run, store, config(team_db, agents[name]),
                                                      push_batch=7, pull_batch=9)
                        assert res.ok, res.problem

            try:
                asyncio.run(run())
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in desks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not failures, failures
        for name in ("a", "b", "a"):
            assert team_sync.run(desks[name], config(team_db, agents[name])).ok

    assert all(o.status.value == "COMPLETED" for p in placed.values() for o in p) and len(placed["a"]) == N
    everyone = {(o.vendor, o.order_id) for p in placed.values() for o in p}
    assert len(everyone) == 2 * N
    for name, store in desks.items():
        orders = store.orders()
        keys = Counter((o.vendor, o.order_id) for o in orders)
        assert set(keys) == everyone and set(keys.values()) == {1}, f"desk {name}"
        who = dict(zip([(o.vendor, o.order_id) for o in orders], L.order_origins(store, orders), strict=True))
        assert Counter(agent for _, agent in who.values()) == {"alice": N, "bob": N}
        assert {who[(o.vendor, o.order_id)][1] for o in placed["a"]} == {"alice"}
        assert all(len(o.esims) == 1 and o.esims[0].activation_code for o in orders)
    on_server = Counter(d for d, _ in server_entries(team_db))
    assert on_server == {desks["a"].desk_id(): len(outbox_seqs(desks["a"])),
                         desks["b"].desk_id(): len(outbox_seqs(desks["b"]))}
