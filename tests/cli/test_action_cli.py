"""The support-action commands as a script runs them (a real process over the sandbox): exit codes, --json,
the refund in `esimdesk balance`, a cancel whose answer is lost, usage with its age."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal

import pytest

from esimdesk.cli.main import main
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from tests.services.helpers import cli, cli_env

NEW_COMMANDS = ("cancel", "suspend", "resume", "revoke", "sms", "usage")


@pytest.fixture
def world(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio", "flexiroam")) as server:
        env = cli_env(server, home)
        res = subprocess.run(cli("sync"), env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        yield server, env


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=120)


def esims(env, vendor_status: str) -> list[str]:
    rows = json.loads(run(env, "esims", "--vendor", "roumio", "--json").stdout)
    return [r["iccid"] for r in rows if r["vendor_status"] == vendor_status and r["iccid"] != "8943108170000775671"]


def balance(env) -> Decimal:
    res = run(env, "balance", "--vendor", "roumio", "--json")
    assert res.returncode == 0, res.stderr
    return Decimal(json.loads(res.stdout)[0]["amount"])


def cancels(server) -> int:
    return sum(a["action"] == "cancel" for a in server.sandbox.vendors["roumio"].stats()["actions"])


def test_cancel_refund_shows_in_balance_and_a_second_cancel_is_refused(world):
    server, env = world
    iccid = esims(env, "GOT_RESOURCE/RELEASED")[0]
    before = balance(env)
    res = run(env, "cancel", iccid, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "COMPLETED" and doc["action"] == "cancel" and doc["vendor_status"].startswith("CANCEL")
    refund = Decimal(doc["refund"])
    assert refund > 0 and doc["currency"] == "USD"
    assert Decimal(doc["balance"]) == before + refund
    assert balance(env) == before + refund  # `esimdesk balance` shows it
    again = run(env, "cancel", iccid, "--json")
    assert again.returncode == 1
    assert json.loads(again.stdout)["status"] == "REFUSED"
    assert again.stderr.strip() == ("esimdesk cancel: cancel refused: this eSIM is cancelled: nothing more can be "
                                    "done with it (Roumio shows it CANCEL/RELEASED); nothing was sent")
    assert cancels(server) == 1
    assert balance(env) == before + refund  # refunded once


def test_each_action_where_allowed_and_refused_with_its_exit_code(world):
    server, env = world
    iccid = esims(env, "IN_USE/ENABLED")[0]
    steps = [
        ("cancel", 1, "installed eSIMs cannot be cancelled: suspend or revoke"),
        ("resume", 1, "only a suspended eSIM can be resumed"),
        ("suspend", 0, "suspended"),
        ("suspend", 1, "this eSIM is already suspended"),
        ("sms", 1, "an SMS reaches only an installed eSIM"),  # suspended: SUSPENDED/ENABLED
        ("resume", 0, "resumed"),
        ("sms", 0, "SMS sent"),
        ("revoke", 0, "revoked"),
        ("revoke", 1, "this eSIM is revoked: nothing more can be done with it"),
        ("suspend", 1, "this eSIM is revoked"),
    ]
    for command, code, words in steps:
        extra = ("--message", "Welcome to Japan") if command == "sms" else ()
        res = run(env, command, iccid, *extra)
        assert res.returncode == code, (command, res.stdout, res.stderr)
        assert words in (res.stdout if code == 0 else res.stderr), (command, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr
    assert server.sandbox.vendors["roumio"].stats()["sms_outbox"][-1]["message"] == "Welcome to Japan"


def test_cancel_whose_answer_is_lost_is_settled_by_status(world):
    server, env = world
    iccid = esims(env, "GOT_RESOURCE/RELEASED")[0]
    before = balance(env)
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/cancel", when="after"))
    res = run(env, "cancel", iccid, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "COMPLETED"
    assert "its answer was lost; the eSIM's status confirms it" in doc["message"]
    assert cancels(server) == 1  # settled by reading the status, never sent twice
    assert balance(env) == before + Decimal(doc["refund"])


def test_usage_shows_its_age(world):
    server, env = world
    iccids = esims(env, "IN_USE/ENABLED")[:2]
    # Roumio's figures are of its last refresh (each two hours): two hours on, that refresh is newer than the
    # sync's reading, which it then replaces (an older one never does: the test below).
    server.config.clock.advance(2 * 3600)
    res = run(env, "usage", *iccids, "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert [r["iccid"] for r in rows] == iccids
    for r in rows:
        assert r["as_of"].endswith(":00:00+00:00") and r["data_used_mb"] is not None
    table = run(env, "usage", iccids[0])
    assert "as of (UTC)" in table.stdout.splitlines()[0]
    listing = json.loads(run(env, "esims", "--search", iccids[0], "--json").stdout)
    assert listing[0]["usage_as_of"] == rows[0]["as_of"]  # the cache keeps the vendor's time


def test_usage_of_a_flexiroam_esim_and_an_unknown_one(world):
    server, env = world
    flexi = json.loads(run(env, "esims", "--vendor", "flexiroam", "--json").stdout)[0]["iccid"]
    res = run(env, "usage", flexi, "8944000000000000001", "--json")
    assert res.returncode == 1
    rows = json.loads(res.stdout)
    assert [r["vendor"] for r in rows] == ["flexiroam"] and rows[0]["as_of"]
    assert "esimdesk usage: eSIM 8944000000000000001 is not in this desk's cache" in res.stderr


def test_flexiroam_offers_no_cancel_in_words(world):
    _, env = world
    flexi = json.loads(run(env, "esims", "--vendor", "flexiroam", "--json").stdout)[0]["iccid"]
    res = run(env, "cancel", flexi)
    assert res.returncode == 1
    assert res.stderr.strip() == "esimdesk cancel: Flexiroam does not offer eSIM cancelling through its API; nothing was sent"


@pytest.mark.parametrize("command", NEW_COMMANDS)
def test_new_subcommands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: esimdesk {command}") and "--demo" in out and "--json" in out


@pytest.mark.parametrize("argv, needle", [
    (["sms", "8944000000000000001", "--message", "x" * 501], "the message has 501 characters; at most 500"),
    (["sms", "8944000000000000001", "--message", "  "], "the message is empty"),
    (["sms", "8944000000000000001"], "--message"),
    (["cancel"], "ICCID"),
    (["usage"], "ICCID"),
])
def test_usage_errors_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert needle in capsys.readouterr().err


def test_an_unsettled_cancel_is_named_by_sync_and_never_resent(world):
    server, env = world
    iccid = esims(env, "GOT_RESOURCE/RELEASED")[0]
    # No answer at all: the request may still be on its way, so the status cannot settle it yet.
    server.sandbox.faults["roumio"].add(Fault("drop", endpoint="esim/cancel", when="before"))
    res = run(env, "cancel", iccid)
    assert res.returncode == 1
    assert "may or may not have been done; do NOT send it again" in res.stderr
    synced = run(env, "sync", "--vendor", "roumio")
    assert synced.returncode == 0, synced.stderr
    assert f"esimdesk sync: Roumio cancel of eSIM {iccid} is still UNCERTAIN" in synced.stderr
    again = run(env, "cancel", iccid)
    assert again.returncode == 1 and "is not confirmed yet; nothing was sent" in again.stderr
    assert cancels(server) == 0


def test_topup_of_a_cancelled_esim_is_refused_in_words_before_anything_is_sent(world):
    """Issue 29 (1): `esimdesk topup` of a cancelled eSIM once reached Roumio, whose answer sent the agent to
    its customer service; the eSIM's state refuses it here, in the words the window's Top up… button shows."""
    server, env = world
    iccid = esims(env, "GOT_RESOURCE/RELEASED")[0]
    sim = server.sandbox.vendors["roumio"]
    location = sim.catalog.find(sim.index[iccid]["plan"])["location"]
    topup = sim.catalog.topups_for(location)[0]["packageCode"]  # a top-up the vendor holds compatible
    assert run(env, "cancel", iccid).returncode == 0
    before = balance(env)
    res = run(env, "topup", "--vendor", "roumio", "--iccid", iccid, "--plan", topup)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip() == ("esimdesk topup: top up refused: this eSIM is cancelled: it can no longer be "
                                  "topped up (Roumio shows it CANCEL/RELEASED); nothing was sent")
    assert sim.stats()["topups"] == 0 and "customer service" not in res.stderr
    assert balance(env) == before


def test_a_usage_check_never_replaces_a_newer_reading(world):
    """Issue 29 (3): the sync read an eSIM's usage as of its own time; Roumio's usage check answers the figures
    of its last refresh (up to two hours older). The older one never replaces the newer, in the output or the
    cache; a newer one does."""
    server, env = world
    iccid = esims(env, "IN_USE/ENABLED")[0]

    def cached() -> dict:
        [row] = json.loads(run(env, "esims", "--search", iccid, "--json").stdout)
        return row

    synced = cached()
    assert synced["usage_as_of"] and synced["data_used_mb"] is not None
    res = run(env, "usage", iccid, "--json")
    assert res.returncode == 0, res.stderr
    [shown] = json.loads(res.stdout)
    assert shown["as_of"] == synced["usage_as_of"] and shown["data_used_mb"] == synced["data_used_mb"]
    table = run(env, "usage", iccid).stdout.splitlines()
    assert synced["usage_as_of"][:16].replace("T", " ") in table[-1]
    after = cached()
    assert (after["usage_as_of"], after["data_used_mb"]) == (synced["usage_as_of"], synced["data_used_mb"])
    # Two hours on, Roumio's refresh is newer than the sync's reading: that reading replaces it.
    server.config.clock.advance(2 * 3600)
    res = run(env, "usage", iccid, "--json")
    assert res.returncode == 0, res.stderr
    [fresh] = json.loads(res.stdout)
    assert fresh["as_of"] > synced["usage_as_of"] and fresh["as_of"].endswith(":00:00+00:00")
    assert fresh["data_used_mb"] >= synced["data_used_mb"]
    now = cached()
    assert (now["usage_as_of"], now["data_used_mb"]) == (fresh["as_of"], fresh["data_used_mb"])
