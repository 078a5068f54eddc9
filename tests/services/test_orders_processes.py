"""Orders across processes: SIGKILL mid-order then reconcile, and the same order fired from two processes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from tests.services.helpers import cli, cli_env, open_store


@pytest.fixture
def synced_home(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=13, allocation_delay=0.3), vendors=("roumio", "microesim")) as server:
        env = cli_env(server, home)
        res = subprocess.run(cli("sync"), env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        store = open_store(home)
        plan = min((p for p in store.plans(vendor="roumio") if not p.daily), key=lambda p: (p.price, p.plan_id))
        store.close()
        yield server, env, home, plan


def journal_row(home, reference):
    conn = sqlite3.connect(home / "esimdesk.sqlite3", timeout=10)
    conn.row_factory = sqlite3.Row
    row = conn.execute("SELECT * FROM journal WHERE reference = ?", (reference,)).fetchone()
    conn.close()
    return row


def test_sigkill_between_journal_write_and_answer_then_reconcile_completes_once(synced_home):
    server, env, home, plan = synced_home
    # The vendor takes 2 s to answer: the process is killed while its request is in flight.
    server.sandbox.faults["roumio"].add(Fault("latency", endpoint="esim/order", seconds=2.0))
    proc = subprocess.Popen(cli("order", "--vendor", "roumio", "--plan", plan.plan_id, "--reference", "KILL-1"),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = journal_row(home, "KILL-1")
        if row is not None and row["attempts"] == 1:
            break
        time.sleep(0.02)
    else:
        pytest.fail("the order was never recorded in the journal")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    row = journal_row(home, "KILL-1")
    assert row["state"] == "PENDING" and row["attempts"] == 1  # intent kept, answer never seen

    res = subprocess.run(cli("reconcile", "--json"), env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    [entry] = json.loads(res.stdout)
    assert entry["reference"] == "KILL-1" and entry["status"] == "COMPLETED"
    time.sleep(2.5)  # let the killed process's request finish at the vendor too
    assert server.sandbox.vendors["roumio"].stats()["orders"] == 1, "no duplicate at the vendor"
    orders = json.loads(subprocess.run(cli("orders", "--search", "KILL-1", "--json"), env=env, capture_output=True,
                                       text=True, timeout=60).stdout)
    assert [o["status"] for o in orders] == ["COMPLETED"] and len(orders[0]["esims"]) == 1


@pytest.mark.parametrize("vendor", ["roumio", "microesim"])
def test_same_order_from_two_processes_at_once_is_one_order(synced_home, vendor):
    server, env, home, plan = synced_home
    if vendor == "microesim":
        store = open_store(home)
        plan = min(store.plans(vendor="microesim"), key=lambda p: (p.price, p.plan_id))
        store.close()
    args = cli("order", "--vendor", vendor, "--plan", plan.plan_id, "--reference", f"TWICE-{vendor}", "--json")
    procs = [subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 1], outs
    loser_err = next(err for p, (out, err) in zip(procs, outs, strict=True) if p.returncode == 1)
    assert "already used" in loser_err or "another esimdesk window" in loser_err
    assert "Traceback" not in loser_err
    assert server.sandbox.vendors[vendor].stats()["orders"] == 1
    assert server.sandbox.vendors[vendor].stats()["order_requests"] == 1


def test_order_command_prints_the_order_with_its_esims(synced_home):
    server, env, home, plan = synced_home
    res = subprocess.run(cli("order", "--vendor", "roumio", "--plan", plan.plan_id, "--quantity", "2", "--json"),
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert set(doc) == {"vendor", "order_id", "reference", "status", "created_at", "total", "currency", "esims"}
    assert doc["status"] == "COMPLETED" and len(doc["esims"]) == 2
    assert doc["total"] == f"{plan.price * 2:.2f}" and doc["currency"] == "USD"
    assert all(e["activation_code"].startswith("LPA:1$") for e in doc["esims"])


def test_order_command_with_a_lost_answer_says_money_may_be_spent(synced_home):
    server, env, home, plan = synced_home
    # times=2: the send and the command's one resend with the same transactionId both lose their answers.
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/order", when="after", times=2))
    res = subprocess.run(cli("order", "--vendor", "roumio", "--plan", plan.plan_id), env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 1
    assert "money may have been spent" in res.stderr and "reconcile" in res.stderr
    assert "Traceback" not in res.stderr
    again = subprocess.run(cli("reconcile"), env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr + again.stdout
    assert server.sandbox.vendors["roumio"].stats()["orders"] == 1


def test_topup_with_invalid_iccid_is_one_sentence(synced_home):
    server, env, home, plan = synced_home
    res = subprocess.run(cli("topup", "--vendor", "roumio", "--iccid", "8985224628000111311", "--plan", "X"), env=env,
                         capture_output=True, text=True, timeout=60)
    # A mistyped ICCID is a wrong command line (issue 29, 7): the usage line, then one sentence; exit 2.
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("usage: esimdesk topup") and "ICCID" in lines[-1]
    assert [line for line in lines if "error:" in line] == [lines[-1]]  # one sentence, after the usage
    assert "Traceback" not in res.stderr
