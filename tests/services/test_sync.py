"""Sync over the sandbox: fills the store, is stable, survives a failing vendor, cancellation and SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from esimdesk.domain.refresh import FINISHED, RefreshPolicy
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all, sync_vendor
from tests.services.helpers import accounts_for, cli, cli_env, open_store, short_factory


def snapshot(store):
    conn = store.conn
    return {
        "plans": conn.execute("SELECT vendor, plan_id, name, price, countries, first_seen FROM plans ORDER BY 1, 2").fetchall(),
        "esims": conn.execute("SELECT vendor, iccid, order_id, activation_code FROM esims ORDER BY 1, 2").fetchall(),
        "orders": conn.execute("SELECT vendor, order_id, reference, created_at FROM orders ORDER BY 1, 2").fetchall(),
    }


async def test_full_sync_fills_the_store_and_a_second_changes_nothing_it_should_not(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    accounts = accounts_for(fresh_sandbox, tmp_path)
    assert {a.vendor for a in accounts} == {"roumio", "roamify", "microesim", "flexiroam"}
    progress = []
    results = await sync_all(store, accounts, short_factory(5), progress=progress.append)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    by = {r.vendor: r for r in results}
    assert by["roumio"].plans > 100 and by["roumio"].esims > 0
    assert by["microesim"].plans > 100
    assert by["flexiroam"].esims > 0
    assert by["roamify"].orders > 0
    roamify_plans = store.plans(vendor="roamify")  # no plan list: the packages seen in past orders
    assert "esim-cambodia-7days-1gb-all" in {p.plan_id for p in roamify_plans}
    assert {p.vendor for p in progress} >= {"roumio", "microesim", "flexiroam"}
    counts = store.counts()
    assert counts["plans"] >= by["roumio"].plans + by["microesim"].plans
    assert store.balances("roumio") and store.balances("microesim")
    japan = store.plans(country="JP")
    assert {p.vendor for p in japan} >= {"roumio", "microesim"}

    before = snapshot(store)
    again = await sync_all(store, accounts, short_factory(5))
    assert all(r.ok for r in again)
    after = snapshot(store)
    assert after == before  # same rows, first_seen kept: upserts, not delete-and-reload
    assert store.counts()["plans"] == counts["plans"]


async def test_one_vendor_failing_keeps_its_cached_rows_and_the_others_sync(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    accounts = accounts_for(fresh_sandbox, tmp_path)
    await sync_all(store, accounts, short_factory(5))
    roumio_before = len(store.plans(vendor="roumio")), len(store.esims(vendor="roumio"))
    fresh_sandbox.sandbox.faults["roumio"].add(Fault("http_500", endpoint="*", times=None))
    results = {r.vendor: r for r in await sync_all(store, accounts, lambda c: short_factory(2)(c) if c.vendor != "roumio"
                                                   else _no_retry_factory(c))}
    assert not results["roumio"].ok and "Roumio" in results["roumio"].error and "HTTP 500" in results["roumio"].error
    assert all(results[v].ok for v in ("roamify", "microesim", "flexiroam"))
    assert (len(store.plans(vendor="roumio")), len(store.esims(vendor="roumio"))) == roumio_before
    fresh_sandbox.sandbox.faults["roumio"].clear()


def _no_retry_factory(cfg):
    from esimdesk.vendors import build_adapter

    adapter = build_adapter(cfg, timeout=2)
    adapter.http.retries = 0
    return adapter


async def test_cancelled_sync_leaves_a_consistent_store(tmp_path):
    config = SandboxConfig(seed=3, plans=3000, esims=3000, allocation_delay=0.2)
    with SandboxServer(config) as server:
        server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=0.3))
        store = open_store(tmp_path)
        task = asyncio.ensure_future(sync_all(store, accounts_for(server, tmp_path), short_factory(5)))
        await asyncio.sleep(1.0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not store.conn.in_transaction
    check = sqlite3.connect(tmp_path / "esimdesk.sqlite3")
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # every plan's country list has its coverage rows: no half-written batch
    orphans = check.execute("SELECT count(*) FROM plans p WHERE p.countries != '' AND NOT EXISTS "
                            "(SELECT 1 FROM coverage c WHERE c.list_id = p.list_id)").fetchone()[0]
    assert orphans == 0
    runs = check.execute("SELECT ok, error FROM sync_runs WHERE vendor = 'roumio'").fetchall()
    assert runs and runs[-1] == (0, "cancelled")


async def test_a_sync_cancelled_twice_still_closes_its_run_before_it_ends(tmp_path):
    """A cancelled gather cancels its children, and sync_all cancels them once more: the second
    cancel must not cut short the writing of the run's closing row."""
    config = SandboxConfig(seed=3, plans=300, esims=300)
    with SandboxServer(config) as server:
        server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=5))
        store = open_store(tmp_path)
        roumio = [c for c in accounts_for(server, tmp_path) if c.vendor == "roumio"]
        task = asyncio.ensure_future(sync_vendor(store, roumio[0], short_factory(10)))
        await asyncio.sleep(0.5)
        # another writer (another vendor's batch, in its worker thread) holds the file for a moment,
        # so the closing row waits for it
        other = sqlite3.connect(tmp_path / "esimdesk.sqlite3", check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        asyncio.get_running_loop().call_later(0.5, other.rollback)
        while not task.done():  # cancel again while it unwinds and while it writes the closing row
            task.cancel()
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await task
        # read at once: the run must be closed by the time the cancellation has propagated
        runs = sqlite3.connect(tmp_path / "esimdesk.sqlite3").execute(
            "SELECT ok, error FROM sync_runs WHERE vendor = 'roumio'").fetchall()
        assert runs == [(0, "cancelled")]


def test_offline_listings_return_what_was_synced_and_sync_reports_errors(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=5, allocation_delay=0.2)) as server:
        env = cli_env(server, home)
        res = subprocess.run(cli("sync", "--json"), env=env, capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert [r["vendor"] for r in summary] == ["roumio", "roamify", "microesim", "flexiroam"]
        assert all(r["ok"] and r["error"] is None for r in summary)
        assert set(summary[0]) == {"vendor", "ok", "plans", "orders", "esims", "error", "seconds"}
    # The sandbox is gone: every vendor is unreachable now.
    plans = subprocess.run(cli("plans", "--country", "JP", "--json"), env=env, capture_output=True, text=True, timeout=60)
    assert plans.returncode == 0, plans.stderr
    rows = json.loads(plans.stdout)
    assert rows and all("JP" in p["countries"] for p in rows)
    assert set(rows[0]) == {"vendor", "plan_id", "name", "countries", "data_mb", "unlimited", "validity_days", "price",
                            "currency", "daily", "topup", "coverage_name"}
    assert "synced" in plans.stderr
    esims = json.loads(subprocess.run(cli("esims", "--json"), env=env, capture_output=True, text=True, timeout=60).stdout)
    assert esims and set(esims[0]) == {"vendor", "iccid", "order_id", "plan_id", "status", "vendor_status",
                                       "activation_code", "data_used_mb", "data_total_mb", "expires_at",
                                       "usage_as_of"}
    hit = subprocess.run(cli("esims", "--search", esims[0]["iccid"][-6:], "--json"), env=env, capture_output=True,
                         text=True, timeout=60)
    assert esims[0]["iccid"] in [e["iccid"] for e in json.loads(hit.stdout)]
    assert json.loads(subprocess.run(cli("orders", "--json"), env=env, capture_output=True, text=True,
                                     timeout=60).stdout) is not None
    before = open_store(home).counts()
    offline = subprocess.run(cli("sync", "--json"), env=env, capture_output=True, text=True, timeout=180)
    assert offline.returncode == 1
    assert "Traceback" not in offline.stderr
    report = json.loads(offline.stdout)
    assert all(not r["ok"] and "cannot reach" in r["error"] for r in report)
    after = open_store(home).counts()
    assert after == before  # nothing in the cache is lost


def test_sigkill_during_a_large_sync_leaves_a_sound_database_with_previous_data(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=9, plans=20000, esims=20000, allocation_delay=0.2)) as server:
        env = cli_env(server, home)
        first = subprocess.run(cli("sync", "--vendor", "microesim"), env=env, capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr
        prev = open_store(home)
        prev_plans = {r[0] for r in prev.conn.execute("SELECT plan_id FROM plans")}
        prev.close()
        assert len(prev_plans) > 1000
        proc = subprocess.Popen(cli("sync"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        # kill once the big sync is writing (roumio plans arriving)
        while time.monotonic() < deadline:
            conn = sqlite3.connect(home / "esimdesk.sqlite3", timeout=10)
            n = conn.execute("SELECT count(*) FROM plans WHERE vendor = 'roumio'").fetchone()[0]
            conn.close()
            if n > 0:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    conn = sqlite3.connect(home / "esimdesk.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    after = {r[0] for r in conn.execute("SELECT plan_id FROM plans WHERE vendor = 'microesim'")}
    assert prev_plans <= after


async def test_microesim_sync_refreshes_the_orders_and_devices_known_locally(fresh_sandbox, tmp_path):
    """MicroESIM keeps no order list: what this desk ordered is refreshed by topupDetail/deviceDetail."""
    from esimdesk.services.orders import OrderService

    store = open_store(tmp_path)
    accounts = accounts_for(fresh_sandbox, tmp_path)
    micro = [a for a in accounts if a.vendor == "microesim"]
    await sync_all(store, micro, short_factory(5))
    assert store.esims(vendor="microesim") == []
    plan = min(store.plans(vendor="microesim"), key=lambda p: (p.price, p.plan_id))
    order = await OrderService(store, micro, short_factory(5), poll_interval=0.1).place_order("microesim", plan.plan_id)
    iccid = order.esims[0].iccid
    fresh_sandbox.config.clock.advance(6 * 3600)  # the customer installs and uses it
    [result] = await sync_all(store, micro, short_factory(5))
    # The eSIM is asked for again (its usage changes); the order, already COMPLETED, is not re-queried.
    assert result.ok and result.esims >= 1 and result.orders == 0
    assert store.esim(iccid, "microesim") is not None
    assert store.orders(vendor="microesim")[0].order_id == order.order_id


async def test_microesim_sync_settles_unfinished_orders_at_once_and_then_leaves_them(tmp_path):
    """A desk's MicroESIM history left unfinished (orders recorded ALLOCATING, e.g. answers lost) is settled
    by the first sync, several requests at a time; the second sync asks for no order again, and for no eSIM
    read moments ago (issue 28: none is due) — only, once they are due again, for the eSIMs (usage)."""
    from datetime import UTC, datetime

    from esimdesk.domain import Order, OrderStatus

    with SandboxServer(SandboxConfig(seed=9, esims=60, allocation_delay=0), vendors=("microesim",)) as server:
        store = open_store(tmp_path)
        known = server.sandbox.vendors["microesim"].known_orders
        now = datetime.now(UTC)
        assert store.upsert_orders([Order("microesim", order_id, None, OrderStatus.ALLOCATING, now)
                                    for order_id in known]) == 61  # the sample top-up and 60 fleet orders
        micro = accounts_for(server, tmp_path)
        [first] = await sync_all(store, micro, short_factory(5))
        assert first.ok and first.orders == 61, first
        assert {o.status.value for o in store.orders(vendor="microesim")} == {"COMPLETED"}
        known = len(store.esims(vendor="microesim"))
        assert known >= 60
        # The eSIMs came with their orders in this sync: none was asked for a second time in it.
        assert first.esims == 0
        [second] = await sync_all(store, micro, short_factory(5))
        assert second.ok and second.orders == 0 and second.esims == 0 and second.refresh.due == 0, second
        due_at_once = RefreshPolicy(refresh_hours=1e-6)  # every eSIM not finished is due again
        finished = {e.iccid for e in store.esims(vendor="microesim") if e.status in FINISHED}
        [third] = await sync_all(store, micro, short_factory(5), policy=due_at_once)
        assert third.ok and third.orders == 0 and third.esims == known - len(finished), third
        # What the refresh found finished (expired, cancelled) is never asked about again.
        finished = {e.iccid for e in store.esims(vendor="microesim") if e.status in FINISHED}
        assert finished
        [fourth] = await sync_all(store, micro, short_factory(5), policy=due_at_once)
        assert fourth.ok and fourth.refresh.planned == fourth.refresh.refreshed == known - len(finished), fourth


def test_debug_logs_of_a_cli_sync_never_show_a_secret(tmp_path):
    with SandboxServer(SandboxConfig(seed=5, allocation_delay=0.2), vendors=("roumio", "microesim")) as server:
        env = cli_env(server, tmp_path / "home", ESIMDESK_LOG_LEVEL="DEBUG")
        res = subprocess.run(cli("sync"), env=env, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    assert "DEBUG" in res.stderr  # the debug log did run
    secrets = [v for k, v in env.items() if k.startswith("ESIMDESK_") and k.endswith(("_KEY", "_TOKEN", "_SECRET", "_SALT"))]
    assert secrets
    for secret in secrets:
        assert secret not in res.stderr and secret not in res.stdout


def _sync_child(home):
    """The /proc folder of the running ``esimdesk sync --progress-lines`` whose data folder is ``home``."""
    from pathlib import Path

    for proc in Path("/proc").iterdir():
        try:
            if b"--progress-lines" not in (proc / "cmdline").read_bytes():
                continue
            if f"ESIMDESK_HOME={home}".encode() in (proc / "environ").read_bytes().split(b"\0"):
                return proc
        except OSError:
            continue
    return None


def _niceness_of_sync_child(home) -> int | None:
    """Its niceness (Linux /proc)."""
    proc = _sync_child(home)
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[16]) if proc else None
    except (OSError, ValueError, IndexError):
        return None


def _autogroup_niceness_of_sync_child(home) -> int | None:
    """The niceness of its scheduling group (Linux autogroup), None without one."""
    proc = _sync_child(home)
    try:
        return int((proc / "autogroup").read_text().split("nice")[1]) if proc else None
    except (OSError, ValueError, IndexError):
        return None


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads the child's priority from /proc")
async def test_the_windows_sync_child_runs_below_the_windows_priority(tmp_path):
    """On a 2-core desk a sync at full speed took the CPU the window needs to paint: the child yields it."""
    from esimdesk.services.sync_process import SYNC_CHILD_NICENESS, sync_in_child

    config = SandboxConfig(seed=5, plans=300, esims=300)
    with SandboxServer(config) as server:
        server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=0.2))
        seen: list[int | None] = []

        group: list[int | None] = []

        def progress(_p):
            if not seen:
                seen.append(_niceness_of_sync_child(tmp_path))
                group.append(_autogroup_niceness_of_sync_child(tmp_path))

        results = await sync_in_child(tmp_path, accounts_for(server, tmp_path), progress=progress)
    assert results and all(r.ok for r in results)
    assert seen == [min(19, os.nice(0) + SYNC_CHILD_NICENESS)]
    if os.path.exists("/proc/sys/kernel/sched_autogroup_enabled") and \
            open("/proc/sys/kernel/sched_autogroup_enabled").read().strip() == "1":
        # The child's session is a scheduling group of its own: its niceness is lowered as a group too.
        assert group == [SYNC_CHILD_NICENESS]


@pytest.mark.skipif(not os.path.isdir("/proc/self") or not hasattr(signal, "SIGSTOP"),
                    reason="stops the child with SIGSTOP and finds it in /proc")
async def test_cancel_stops_the_windows_sync_child_even_when_it_gets_no_cpu(tmp_path, caplog):
    """The child runs below the window's priority: on a busy 2-core machine it once got so little CPU that the
    window's Cancel waited over 15 s for it to notice the interrupt. Here it gets none at all (SIGSTOP): Cancel
    still ends it, by killing it once STOP_GRACE_S has passed, and the data file is sound."""
    from esimdesk.services.sync_process import STOP_GRACE_S, sync_in_child

    config = SandboxConfig(seed=5, plans=300, esims=300)
    with SandboxServer(config) as server:
        server.sandbox.faults["roumio"].add(Fault("latency", endpoint="*", times=None, seconds=1.0))
        stopped: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def progress(_p):
            proc = None if stopped.done() else _sync_child(tmp_path)
            if proc is not None:
                os.kill(int(proc.name), signal.SIGSTOP)
                stopped.set_result(int(proc.name))

        task = asyncio.ensure_future(sync_in_child(tmp_path, accounts_for(server, tmp_path), progress=progress))
        # Waits on the event (the child reported progress and was stopped); the deadline is a safety net only.
        await asyncio.wait({stopped, task}, timeout=120, return_when=asyncio.FIRST_COMPLETED)
        assert stopped.done() and not task.done()
        pid = stopped.result()
        started = time.monotonic()
        with caplog.at_level("INFO", logger="esimdesk.sync"):
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        took = time.monotonic() - started
    assert "killed" in caplog.text  # it could not notice the interrupt: it was killed, not waited for
    assert not os.path.exists(f"/proc/{pid}")  # ended and reaped
    # The grace, then only this process's own work (a kill, reading the pipes' ends): a loaded machine slows
    # that, so the margin is wide; waiting 10 s for the child to notice (as Cancel once did) fails it.
    assert STOP_GRACE_S <= 3 and took < 8, took
    store = open_store(tmp_path)
    try:
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        store.close()
