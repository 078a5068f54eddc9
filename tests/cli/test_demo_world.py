"""One demo world per demo data folder (issue 19, item 1), over the real CLI: every `esimdesk --demo`
command is its own process with its own in-process sandbox, and they all play the same vendor world.

A fresh demo home: sync, two orders in a row per ordering vendor (separate commands), two more syncs
(nothing grows by itself, nothing of ours changes), a top-up of an eSIM ordered in an earlier command,
`orders` lists each placed order once, `--demo --reset` starts over; and the standalone sandbox's
`--state FILE` keeps an order across a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from esimdesk.sandbox.roumio_catalog import build_catalog

ORDERING = ("roumio", "roamify", "microesim")
PLANS, ESIMS = 120, 16  # smaller than the demo's default: the same world, faster commands


def demo_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env.update(ESIMDESK_HOME=str(home), ESIMDESK_SANDBOX_ALLOCATION="0.3", ESIMDESK_SANDBOX_PLANS=str(PLANS),
               ESIMDESK_SANDBOX_ESIMS=str(ESIMS), PYTHONUNBUFFERED="1")
    return env


def esimdesk(home: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([sys.executable, "-m", "esimdesk", "--demo", *args], env=demo_env(home),
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    if ok:
        assert res.returncode == 0, f"esimdesk --demo {' '.join(args)}: exit {res.returncode}\n{res.stderr}"
    return res


def as_json(res: subprocess.CompletedProcess):
    return json.loads(res.stdout)


def cheapest(home: Path, vendor: str, **want) -> dict:
    plans = [p for p in as_json(esimdesk(home, "plans", "--vendor", vendor, "--json"))
             if all(p.get(k) == v for k, v in want.items())]
    assert plans, f"no {vendor} plan in the demo's catalog"
    return min(plans, key=lambda p: (float(p["price"]), p["plan_id"]))


def mine(order: dict) -> dict:
    """What must not change about one of our orders from one sync to the next."""
    return {"order_id": order["order_id"], "status": order["status"], "total": order["total"],
            "currency": order["currency"], "iccids": sorted(e["iccid"] for e in order["esims"])}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The command sequence of the issue, once; the tests below read what it left."""
    home = tmp_path_factory.mktemp("demo-world")
    seen: dict = {"home": home}
    esimdesk(home, "sync")
    seen["after_first_sync"] = as_json(esimdesk(home, "orders", "--json"))
    plans = {"roumio": cheapest(home, "roumio", topup=True), "roamify": cheapest(home, "roamify"),
             "microesim": cheapest(home, "microesim")}
    placed: dict[str, list[dict]] = {}
    for vendor in ORDERING:
        placed[vendor] = [as_json(esimdesk(home, "order", "--vendor", vendor, "--plan", plans[vendor]["plan_id"],
                                           "--json")) for _ in range(2)]
    seen["plans"], seen["placed"] = plans, placed
    seen["after_orders"] = as_json(esimdesk(home, "orders", "--json"))
    esimdesk(home, "sync")
    esimdesk(home, "sync")
    seen["after_syncs"] = as_json(esimdesk(home, "orders", "--json"))
    seen["esims"] = as_json(esimdesk(home, "esims", "--json"))
    return seen


def test_two_orders_in_a_row_per_vendor_both_succeed_with_different_ids(world):
    for vendor in ORDERING:
        first, second = world["placed"][vendor]
        assert first["order_id"] and second["order_id"], (vendor, first, second)
        assert first["order_id"] != second["order_id"], vendor
        assert first["reference"] != second["reference"]
        assert first["status"] == second["status"] == "COMPLETED", vendor
    # Roumio's numbers: B, the clock's minute (yymmddHHMM), then the world's own sequence, which only grows.
    a, b = (o["order_id"] for o in world["placed"]["roumio"])
    assert len(a) == len(b) == 17 and int(b[11:]) > int(a[11:])
    # Ordered eSIMs are new ones, never a sample order's.
    for vendor in ("roumio", "microesim"):
        iccids = [e["iccid"] for o in world["placed"][vendor] for e in o["esims"]]
        assert len(iccids) == 2 == len(set(iccids)), vendor


def test_syncs_do_not_grow_the_order_list_by_themselves(world):
    count = len(world["after_first_sync"])
    assert len(world["after_orders"]) == count + 6
    assert len(world["after_syncs"]) == count + 6


def test_syncs_keep_each_ordered_orders_status_total_and_esims(world):
    by_ref = {o["reference"]: o for o in world["after_syncs"] if o["reference"]}
    for vendor in ORDERING:
        for placed in world["placed"][vendor]:
            synced = by_ref[placed["reference"]]
            assert synced["vendor"] == vendor
            assert mine(synced) == mine(placed), vendor
    # Each ordered eSIM still belongs to our order, not to a sample order of a new sandbox.
    owner = {e["iccid"]: e["order_id"] for e in world["esims"]}
    for vendor in ("roumio", "microesim"):
        for placed in world["placed"][vendor]:
            for esim in placed["esims"]:
                assert owner[esim["iccid"]] == placed["order_id"], (vendor, esim["iccid"])


def test_orders_lists_each_placed_order_once(world):
    listed = world["after_syncs"]
    for vendor in ORDERING:
        for placed in world["placed"][vendor]:
            assert [o["reference"] for o in listed if o["order_id"] == placed["order_id"]] == [placed["reference"]]
    ids = [(o["vendor"], o["order_id"]) for o in listed if o["order_id"]]
    assert len(ids) == len(set(ids))


def test_topup_of_an_esim_ordered_in_an_earlier_command(world):
    home, plan = world["home"], world["plans"]["roumio"]
    [esim] = world["placed"]["roumio"][0]["esims"]
    catalog = build_catalog(1, PLANS)  # the world's catalog follows from its seed alone
    topup = catalog.topups_for(catalog.find(plan["plan_id"])["location"])[0]["packageCode"]
    res = as_json(esimdesk(home, "topup", "--vendor", "roumio", "--iccid", esim["iccid"], "--plan", topup, "--json"))
    assert res["status"] == "COMPLETED" and res["vendor"] == "roumio"
    esimdesk(home, "sync", "--vendor", "roumio")
    [after] = as_json(esimdesk(home, "esims", "--search", esim["iccid"], "--json"))
    assert after["order_id"] == world["placed"]["roumio"][0]["order_id"]
    [listed] = as_json(esimdesk(home, "orders", "--search", res["reference"], "--json"))
    assert listed["status"] == "COMPLETED"


def test_reset_starts_the_demo_over(tmp_path):
    home = tmp_path / "home"
    esimdesk(home, "sync", "--vendor", "roumio")
    plan = cheapest(home, "roumio")
    placed = as_json(esimdesk(home, "order", "--vendor", "roumio", "--plan", plan["plan_id"], "--json"))
    assert (home / "demo" / "sandbox-state.json").exists()
    res = esimdesk(home, "--reset", "orders", "--json")
    assert "esimdesk --demo --reset: removing esimdesk.sqlite3" in res.stderr
    assert "backups/" in res.stderr and "sandbox-state.json" in res.stderr
    orders = as_json(res)
    # Nothing placed or synced is left: only the demo's own MicroESIM history (no reference, never ours).
    assert not [o for o in orders if o["reference"] or o["vendor"] != "microesim"]
    assert placed["order_id"] not in {o["order_id"] for o in orders}
    # The new world has no order of the old one.
    esimdesk(home, "sync", "--vendor", "roumio")
    assert placed["reference"] not in {o["reference"] for o in as_json(esimdesk(home, "orders", "--json"))}


def test_reset_without_demo_is_a_usage_error(tmp_path):
    res = subprocess.run([sys.executable, "-m", "esimdesk", "--reset", "orders"], env=demo_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "--reset" in res.stderr and "--demo" in res.stderr
    assert not (tmp_path / "demo").exists()


def standalone(state: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk.sandbox", "--plans", "50", "--esims", "10",
                             "--allocation-delay", "0.1", "--state", str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    exports: dict[str, str] = {}
    for line in proc.stdout:
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exports[key] = value
        if line.startswith("Ctrl+C"):
            break
    return proc, exports


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_standalone_sandbox_keeps_an_order_across_a_restart(tmp_path):
    state = tmp_path / "world.json"
    proc, env = standalone(state)
    try:
        url, key = env["ESIMDESK_ROUMIO_URL"], {"Authorization": env["ESIMDESK_ROUMIO_KEY"]}
        body = httpx.post(url + "/esim/order", headers=key,
                          json={"transactionId": "kept-1", "packageInfoList": [{"packageCode": "CKH003"}]}).json()
        order_no = body["obj"]["orderNo"]
    finally:
        stop(proc)
    assert state.exists()
    proc, env = standalone(state)
    try:
        url, key = env["ESIMDESK_ROUMIO_URL"], {"Authorization": env["ESIMDESK_ROUMIO_KEY"]}
        again = httpx.post(url + "/esim/order", headers=key,
                           json={"transactionId": "kept-1", "packageInfoList": [{"packageCode": "CKH003"}]}).json()
        assert again["obj"]["orderNo"] == order_no  # the same transaction: the order the first run took
        found = httpx.post(url + "/esim/query", headers=key,
                           json={"orderNo": order_no, "pager": {"pageSize": 5, "pageNum": 1}}).json()
        assert found["success"] and found["obj"]["esimList"][0]["orderNo"] == order_no
    finally:
        stop(proc)
