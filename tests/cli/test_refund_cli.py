"""`esimdesk refund`, `esimdesk refunds` and `esimdesk sms` for Roamify eSIMs as a script runs them (a real
process over the sandbox, issue 30): exit codes, --json, the open request shown on a second request, cancel,
the vendor's decision after a refresh, the listing offline, and usage errors (exit 2)."""

from __future__ import annotations

import json
import subprocess

import httpx
import pytest

from esimdesk.sandbox import SandboxConfig, SandboxServer
from tests.services.helpers import cli, cli_env

CONSEQUENCE = "Roamify support decides; nothing is refunded until they approve; the eSIM keeps working"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("refund-cli") / "home"
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as server:
        env = cli_env(server, home)
        res = subprocess.run(cli("sync"), env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        esims = json.loads(run(env, "esims", "--vendor", "roamify", "--json").stdout)
        yield server, env, [e["iccid"] for e in esims if e["vendor_status"] == "INSTALLED"]


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=120)


def test_refund_then_second_refused_then_decided_then_listed(world):
    server, env, iccids = world
    iccid = iccids[0]
    res = run(env, "refund", iccid, "--reason", "not_working", "--notes", "no data", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["action"] == "refund" and doc["status"] == "COMPLETED" and CONSEQUENCE in doc["message"]
    refund = doc["refund"]
    assert refund["status"] == "PENDING" and refund["open"] and refund["reason"] == "NOT_WORKING"

    again = run(env, "refund", iccid, "--reason", "OTHER", "--json")
    assert again.returncode == 1
    assert again.stderr.startswith("esimdesk refund: refund refused: Roamify already has an open refund request")
    refused = json.loads(again.stdout)
    assert refused["status"] == "REFUSED" and refused["refund"]["refund_id"] == refund["refund_id"]

    httpx.post(f"{server.root}/_sandbox/refunds", json={"refund_id": refund["refund_id"], "decision": "reject",
                                                        "reason": "used abroad"})
    listed = run(env, "refunds", "--vendor", "roamify", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = next(r for r in json.loads(listed.stdout) if r["refund_id"] == refund["refund_id"])
    assert mine["status"] == "REJECTED" and mine["rejection_reason"] == "used abroad" and not mine["open"]
    table = run(env, "refunds")
    assert table.returncode == 0 and "REJECTED" in table.stdout and "used abroad" in table.stdout


def test_cancel_the_open_request(world):
    _, env, iccids = world
    iccid = iccids[1]
    asked = json.loads(run(env, "refund", iccid, "--reason", "DUPLICATE", "--json").stdout)
    res = run(env, "refund", iccid, "--cancel")
    assert res.returncode == 0, res.stderr
    assert f"Refund request {asked['refund']['refund_id']} for eSIM {iccid} cancelled" in res.stdout
    again = run(env, "refund", iccid, "--cancel", "--json")
    assert again.returncode == 1 and "has no open refund request" in again.stderr
    assert json.loads(again.stdout)["status"] == "REFUSED"


def test_sms_to_a_roamify_esim(world):
    server, env, iccids = world
    res = run(env, "sms", iccids[2], "--message", "Welcome!", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["action"] == "sms" and json.loads(res.stdout)["status"] == "COMPLETED"
    assert server.sandbox.vendors["roamify"].stats()["sms_outbox"][-1]["message"] == "Welcome!"


def test_usage_errors_exit_2(world):
    _, env, iccids = world
    for argv, needle in ((("refund", iccids[0]), "one of the arguments --reason --cancel is required"),
                         (("refund", iccids[0], "--reason", "bored"), "'bored' is not a refund reason"),
                         (("refund", iccids[0], "--reason", "OTHER", "--cancel"), "not allowed with argument")):
        res = run(env, *argv)
        assert res.returncode == 2 and needle in res.stderr and res.stderr.startswith("usage: esimdesk refund")


def test_refunds_offline_are_listed_as_last_seen(world, tmp_path):
    server, env, iccids = world
    assert run(env, "refund", iccids[3], "--reason", "OTHER").returncode == 0  # an open one to ask about
    offline = dict(env, ESIMDESK_ROAMIFY_URL="http://127.0.0.1:9/roamify")  # nobody listens there
    res = run(offline, "refunds", "--json")
    assert res.returncode == 0
    shown = json.loads(res.stdout)  # the stored requests, as last seen
    assert any(r["iccid"] == iccids[3] and r["status"] == "PENDING" for r in shown)
    assert "as last seen" in res.stderr
