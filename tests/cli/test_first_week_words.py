"""Issue 29, points 4-6, over the real command line and the sandbox over HTTP: blank usage says why and the
JSON says what it knows (remaining = total − used, "unlimited" beside a null data_mb); an action given the
wrong vendor names the eSIM's own; every hint printed under --demo says --demo; and right after
`--demo --reset` the demo's MicroESIM history is settled orders with their totals, not 41 ALLOCATING."""

from __future__ import annotations

import json
import subprocess

import pytest

from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.ids import luhn_digit
from tests.cli.test_demo_world import ESIMS, esimdesk
from tests.services.helpers import cli, cli_env

# A valid ICCID (Luhn) that no vendor of the sandbox knows: not in any desk's cache.
UNKNOWN = "8944000000000012345" + luhn_digit("8944000000000012345")


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    """A synced desk over a sandbox with Roumio and Roamify: (server, env)."""
    home = tmp_path_factory.mktemp("first-week")
    with SandboxServer(SandboxConfig(seed=29, plans=150, esims=24, allocation_delay=0.2),
                       vendors=("roumio", "roamify")) as server:
        env = cli_env(server, home)
        res = run(env, "sync")
        assert res.returncode == 0, res.stderr
        yield server, env


def run(env, *args: str) -> subprocess.CompletedProcess:
    res = subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=180)
    assert "Traceback" not in res.stderr, res.stderr
    return res


def ok_json(env, *args: str):
    res = run(env, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


# --- 4: blank usage in words, and what the JSON knows --------------------------------------------

def test_plans_json_says_unlimited_beside_a_null_data_mb(desk):
    _, env = desk
    plans = ok_json(env, "plans")
    assert all(p["unlimited"] is (p["data_mb"] is None) for p in plans)
    assert any(p["unlimited"] for p in plans) and any(not p["unlimited"] for p in plans)


def test_usage_json_gives_what_is_left_where_total_and_used_are_known(desk):
    _, env = desk
    esims = ok_json(env, "esims", "--vendor", "roamify")
    used = [e for e in esims if e["data_used_mb"] is not None and e["data_total_mb"] is not None]
    assert used, "the sandbox's Roamify fleet has installed eSIMs with usage"
    [reading] = ok_json(env, "usage", used[0]["iccid"])
    assert reading["data_used_mb"] is not None and reading["data_total_mb"] is not None
    assert reading["data_remaining_mb"] == max(0, reading["data_total_mb"] - reading["data_used_mb"])
    assert reading["note"] is None


def test_usage_of_a_roamify_esim_not_installed_says_why_it_is_blank(desk):
    _, env = desk
    esims = ok_json(env, "esims", "--vendor", "roamify")
    ready = next(e for e in esims if e["vendor_status"] == "READY")
    res = run(env, "usage", ready["iccid"], "--json")
    assert res.returncode == 0, res.stderr
    [reading] = json.loads(res.stdout)
    assert reading["data_used_mb"] is None and reading["data_remaining_mb"] is None
    assert reading["note"] == "not installed yet: Roamify reports usage once the eSIM is installed"
    table = run(env, "usage", ready["iccid"])
    assert table.returncode == 0
    assert (f"esimdesk usage: eSIM {ready['iccid']} has no usage figures: not installed yet: Roamify reports usage "
            "once the eSIM is installed") in table.stderr


# --- 5: the wrong vendor named, hints under --demo ----------------------------------------------

def test_an_action_given_the_wrong_vendor_names_the_esims_own_vendor(desk):
    server, env = desk
    esim = ok_json(env, "esims", "--vendor", "roumio")[0]
    before = server.sandbox.vendors["roumio"].stats()
    res = run(env, "cancel", esim["iccid"], "--vendor", "roamify")
    assert res.returncode == 1
    assert (f"esimdesk cancel: eSIM {esim['iccid']} is a Roumio eSIM, not a Roamify one: ask Roumio "
            "(--vendor roumio, or no --vendor)") in res.stderr
    assert "sync" not in res.stderr  # the cache has it: a sync would not help
    assert server.sandbox.vendors["roumio"].stats() == before  # nothing was sent
    # An ICCID no vendor of this desk has is still "not in this desk's cache", without --demo outside the demo.
    res = run(env, "cancel", UNKNOWN, "--vendor", "roamify")
    assert res.returncode == 1 and "is not in this desk's cache; run 'esimdesk sync' first" in res.stderr


def test_every_hint_printed_under_demo_says_demo(tmp_path):
    home = tmp_path / "home"
    for command in ("cancel", "usage"):
        res = esimdesk(home, command, UNKNOWN, ok=False)
        assert res.returncode == 1
        assert f"esimdesk {command}: eSIM {UNKNOWN} is not in this desk's cache; run 'esimdesk --demo sync' first" \
            in res.stderr
        assert "'esimdesk sync'" not in res.stderr


def test_hints_in_json_and_tables_under_demo_say_demo_and_nothing_else_changes(capsys):
    from esimdesk.cli import output

    try:
        output.set_demo(True)
        output.print_json({"error": "run 'esimdesk reconcile' later", "reason": "`esimdesk restore FILE`"})
        output.print_table(["why"], [["Do NOT order again: 'esimdesk reconcile --adopt R ORDER_ID'"]])
        output.note("'esimdesk --demo --reset' starts a new demo; 'esimdesk backup' keeps a copy")
        out, err = capsys.readouterr()
        assert "'esimdesk --demo reconcile' later" in out and "`esimdesk --demo restore FILE`" in out
        assert "'esimdesk --demo reconcile --adopt R ORDER_ID'" in out
        assert err == "'esimdesk --demo --reset' starts a new demo; 'esimdesk --demo backup' keeps a copy\n"
        # A hint for the real desk, said so in words (a real desk's backup restored under --demo), stays.
        real = "F belongs to the real desk; restore it without --demo ('esimdesk restore F'); nothing was changed"
        output.note(real)
        assert capsys.readouterr().err == real + "\n"
        output.set_demo(False)
        output.note("run 'esimdesk sync' first")
        assert capsys.readouterr().err == "run 'esimdesk sync' first\n"
    finally:
        output.set_demo(False)


# --- 6: the demo's MicroESIM history right after a reset ---------------------------------------

def test_right_after_a_reset_the_demos_microesim_orders_are_settled_with_their_totals(tmp_path):
    home = tmp_path / "home"
    orders = json.loads(esimdesk(home, "--reset", "orders", "--vendor", "microesim", "--json").stdout)
    assert len(orders) == ESIMS + 1  # the vendor document's sample order and the seeded fleet's
    assert {o["status"] for o in orders} == {"COMPLETED"}
    assert all(o["total"] is not None and float(o["total"]) > 0 and o["currency"] == "HKD" for o in orders)
    assert all(o["esims"] and all(e["iccid"] and e["activation_code"] for e in o["esims"]) for o in orders)
    assert len({o["created_at"] for o in orders}) > 1  # each its vendor's time, not all "now"
    # What each cost is the plan's price times the number ordered, as an order placed here records it.
    plans = {p["plan_id"]: p for p in json.loads(esimdesk(home, "plans", "--vendor", "microesim", "--json").stdout)}
    assert not plans  # never synced: the plan list comes with the first sync
    esims = json.loads(esimdesk(home, "esims", "--vendor", "microesim", "--json").stdout)
    assert {e["order_id"] for e in esims} == {o["order_id"] for o in orders}

    # The first sync settles nothing (nothing is unfinished), keeps each total and brings each eSIM's usage.
    sync = json.loads(esimdesk(home, "sync", "--vendor", "microesim", "--json").stdout)
    assert sync[0]["ok"] and sync[0]["orders"] == 0 and sync[0]["esims"] == len(esims)
    after = json.loads(esimdesk(home, "orders", "--vendor", "microesim", "--json").stdout)
    assert {o["order_id"]: (o["status"], o["total"]) for o in after} == \
        {o["order_id"]: (o["status"], o["total"]) for o in orders}
    plans = {p["plan_id"]: p for p in json.loads(esimdesk(home, "plans", "--vendor", "microesim", "--json").stdout)}
    by_id = {o["order_id"]: o for o in after}
    for e in json.loads(esimdesk(home, "esims", "--vendor", "microesim", "--json").stdout):
        plan = plans.get(e["plan_id"])
        if plan is not None and len(by_id[e["order_id"]]["esims"]) == 1:
            assert by_id[e["order_id"]]["total"] == plan["price"]
