"""Issue 26, cases 6-8, as a script meets them (real `esimdesk` processes over the sandbox): an answer that
trickles or never ends stops at the deadline or the size cap with a sentence and exit 1; an order whose
answer trickles after the vendor acted ends UNCERTAIN ("do NOT order again"), never PENDING, never hung;
JSON nested too deeply in sync, order and reconcile, and a key with a zero-width space pasted after it in
balance, order and sync, are one sentence each, never a traceback.

The deadline and the cap are the documented ESIMDESK_ANSWER_DEADLINE / ESIMDESK_ANSWER_MAX_MB, set small
here so each test takes seconds, not the real 60 s."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, Fault, SandboxConfig, SandboxServer
from tests.services.helpers import cli, cli_env

ZWSP = "\u200b"
RUN_LIMIT_S = 60  # the old code never ended these runs: a hung process fails the test here


@pytest.fixture
def world(tmp_path):
    """Roumio alone, synced once (its plans in the local catalog), with a 2-second answer deadline."""
    with SandboxServer(SandboxConfig(seed=7, plans=40, esims=40, allocation_delay=0.3), vendors=("roumio",)) as server:
        env = cli_env(server, tmp_path / "home", ESIMDESK_ANSWER_DEADLINE="2")
        res = run(env, "sync", "--vendor", "roumio")
        assert res.returncode == 0, res.stderr
        yield server, env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=RUN_LIMIT_S)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def a_plan(env) -> str:
    res = run(env, "plans", "--vendor", "roumio", "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)[0]["plan_id"]


def vendor_orders(server) -> tuple[int, int]:
    stats = server.sandbox.vendors["roumio"].stats()
    return stats["orders"], stats["order_requests"]


def no_traceback(res: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in res.stderr and "Error:" not in res.stderr, res.stderr


# --- case 6: bounded in time and in size ---------------------------------------------------------------------
def test_sync_against_a_trickling_answer_ends_at_the_deadline_in_one_sentence(world):
    server, env = world
    # A byte a second: the 20 s per-read timeout never fires, and the answer (64 KiB) would take 18 hours.
    server.sandbox.faults["roumio"].add(Fault("trickle", endpoint="package/list", times=None, seconds=1.0))
    started = time.monotonic()
    res = run(env, "sync", "--vendor", "roumio")
    took = time.monotonic() - started
    assert res.returncode == 1
    assert lines(res.stderr) == ["esimdesk sync: Roumio: no complete answer within 2 s — the cached data is kept; "
                                 "try again"]
    no_traceback(res)
    assert "FAILED" in res.stdout
    assert took < 20, took  # one deadline (not one per retry), then the process ends


def test_sync_against_an_endless_answer_stops_reading_at_the_cap(world):
    server, env = world
    server.sandbox.faults["roumio"].add(Fault("endless", endpoint="package/list", times=None))
    # The command's own peak memory, measured by a parent of its own (ru_maxrss of its only child).
    wrapper = ("import resource, subprocess, sys\n"
               "res = subprocess.run(sys.argv[1:])\n"
               "print('maxrss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
               "sys.exit(res.returncode)\n")
    res = subprocess.run([sys.executable, "-c", wrapper, *cli("sync", "--vendor", "roumio")], env={**env, "ESIMDESK_ANSWER_MAX_MB": "8"},
                         capture_output=True, text=True, timeout=RUN_LIMIT_S)
    *said, rss = lines(res.stderr)
    assert res.returncode == 1
    assert said == ["esimdesk sync: Roumio: the answer passed 8 MiB: not read (no page of a vendor's API is that "
                    "big: check the vendor's address in Settings, or try again later) — check the vendor's address "
                    "in File → Accounts (or ESIMDESK_ROUMIO_URL), or try again later"]
    no_traceback(res)
    maxrss_mb = int(rss.split()[1]) / 1024
    assert maxrss_mb < 400, maxrss_mb  # the old code read on without end (1.1 GB and growing)


def test_an_order_whose_answer_trickles_after_the_vendor_acted_ends_uncertain_in_words(world):
    server, env = world
    plan = a_plan(env)
    before = vendor_orders(server)
    # Roumio takes the order, then its answer trickles; the order command resends the same handle once
    # and that answer trickles too.
    server.sandbox.faults["roumio"].add(Fault("trickle", endpoint="esim/order", when="after", times=None,
                                              seconds=1.0))
    started = time.monotonic()
    res = run(env, "order", "--vendor", "roumio", "--plan", plan, "--reference", "shop-trickle", "--json")
    took = time.monotonic() - started
    assert res.returncode == 1
    no_traceback(res)
    said = " ".join(lines(res.stderr))
    assert "no complete answer within 2 s" in said
    assert "may have been placed" in said and "do not order again" in said.lower()
    doc = json.loads(res.stdout)
    assert doc["status"] == "UNCERTAIN" and doc["reference"] == "shop-trickle"
    assert took < 30, took
    orders, requests = vendor_orders(server)
    assert orders == before[0] + 1 and requests == before[1] + 2  # placed once; the resend named the same handle

    # The vendor answers again: reconcile settles it with the same handle, still one order.
    server.sandbox.faults["roumio"].clear()
    res = run(env, "reconcile", "--json")
    no_traceback(res)
    entries = {e["reference"]: e for e in json.loads(res.stdout)}
    assert entries["shop-trickle"]["status"] in ("ALLOCATING", "COMPLETED"), entries
    assert vendor_orders(server)[0] == before[0] + 1


# --- case 7: JSON nested 100,000 levels deep ---------------------------------------------------------------
def test_deep_json_in_sync_is_a_sentence(world):
    server, env = world
    server.sandbox.faults["roumio"].add(Fault("deep_json", endpoint="package/list", times=None))
    res = run(env, "sync", "--vendor", "roumio")
    assert res.returncode == 1
    assert lines(res.stderr) == ["esimdesk sync: Roumio: answered with JSON nested too deeply to read — check the "
                                 "vendor's address in File → Accounts (or ESIMDESK_ROUMIO_URL), or try again later"]
    no_traceback(res)


def test_deep_json_to_an_order_after_the_vendor_acted_and_then_to_reconcile_is_a_sentence_each(world):
    server, env = world
    faults = server.sandbox.faults["roumio"]
    plan = a_plan(env)
    before = vendor_orders(server)
    faults.add(Fault("deep_json", endpoint="esim/order", when="after", times=None))
    res = run(env, "order", "--vendor", "roumio", "--plan", plan, "--reference", "shop-deep", "--json")
    assert res.returncode == 1
    no_traceback(res)
    said = " ".join(lines(res.stderr))
    assert "answered with JSON nested too deeply to read" in said and "do not order again" in said.lower()
    assert json.loads(res.stdout)["status"] == "UNCERTAIN"
    assert vendor_orders(server)[0] == before[0] + 1
    faults.clear()

    faults.add(Fault("deep_json", endpoint="*", times=None))  # every answer: the look-ups and the resend
    res = run(env, "reconcile", "--json")
    assert res.returncode == 1  # still open: nothing could be read
    no_traceback(res)
    entries = {e["reference"]: e for e in json.loads(res.stdout)}
    assert entries["shop-deep"]["status"] == "UNCERTAIN"
    assert vendor_orders(server)[0] == before[0] + 1


# --- case 8: a key pasted with a zero-width space after it -------------------------------------------------
def test_a_key_with_a_zero_width_space_is_refused_in_words_by_balance_order_and_sync(world):
    server, env = world
    plan = a_plan(env)
    key = SANDBOX_CREDENTIALS["roumio"]["KEY"]
    env = {**env, "ESIMDESK_ROUMIO_KEY": key + ZWSP}
    before = vendor_orders(server)
    refusal = (f"the Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position {len(key) + 1}: "
               "paste it again without it (File → Settings → Vendor accounts, or ESIMDESK_ROUMIO_KEY); nothing was "
               "sent to Roumio")
    for args in (("balance",), ("order", "--vendor", "roumio", "--plan", plan), ("sync", "--vendor", "roumio")):
        res = run(env, *args)
        assert res.returncode == 1, (args, res.stderr)
        no_traceback(res)
        said = lines(res.stderr)
        assert all(line.startswith(f"esimdesk {args[0]}: ") for line in said), said
        assert said[0].endswith((refusal, refusal + " (showing the cached balance)")), said
        assert key not in res.stdout + res.stderr
    assert vendor_orders(server) == before  # nothing reached the vendor
