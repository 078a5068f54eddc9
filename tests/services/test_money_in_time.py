"""Issue 26, orders across time: a request that reaches the vendor late, an order told failed that was placed,
adopting the wrong order, the older Roamify API's guesses, two desks that share an identity.

Each test runs the real CLI against the sandbox over HTTP on 127.0.0.1, with real SQLite data folders.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.sandbox import Fault
from tests.services import test_money_safety as safety
from tests.services.test_money_safety import (
    LOOKUPS,
    ORDER_ENDPOINT,
    cheap_plan,
    journal,
    ledger,
    roamify_package,
    run,
)

world = safety.world  # the same world: one vendor world, two desks with their catalogs synced


def audit(home, reference):
    conn = sqlite3.connect(home / "esimdesk.sqlite3", timeout=10)
    rows = conn.execute("""SELECT e.to_state, e.cause FROM journal_events e JOIN journal j ON j.id = e.journal_id
                           WHERE j.reference = ? ORDER BY e.rowid""", (reference,)).fetchall()
    conn.close()
    return rows


def time_passes(home, reference, seconds):
    """``seconds`` pass for one entry: every time it recorded about its sends moves back (a test cannot wait)."""
    conn = sqlite3.connect(home / "esimdesk.sqlite3", timeout=10)
    with conn:
        for col in ("first_sent_at", "last_sent_at", "in_flight_until", "created_at"):
            row = conn.execute(f"SELECT {col} FROM journal WHERE reference = ?", (reference,)).fetchone()
            if row and row[0]:
                moved = datetime.fromisoformat(row[0]) - timedelta(seconds=seconds)
                conn.execute(f"UPDATE journal SET {col} = ? WHERE reference = ?", (moved.isoformat(), reference))
    conn.close()


def wait_for(check, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError("timed out waiting")


# --- case 1: a request that reaches Roamify late is never called "not placed" ----------------------
def test_roamify_order_delivered_late_is_never_told_failed_and_is_filed_when_it_lands(world):
    """Issue 26, case 1: the request reaches Roamify after the desk stopped waiting. A reconcile 53 s later
    found no order under our referenceId and recorded FAILED ("nothing was charged"); then Roamify booked it.
    Now: UNCERTAIN, "do not order again until HH:MM", and the sync after the late booking files it."""
    server, (desk, _) = world
    server.sandbox.faults["roamify"].add(Fault("late", endpoint=ORDER_ENDPOINT["roamify"], seconds=24))
    res = run(server, desk, "order", "--vendor", "roamify", "--plan", roamify_package(server))
    assert res.returncode == 1 and "do NOT order again" in res.stderr, res.stderr
    assert "may still reach Roamify until" in res.stderr, res.stderr
    [entry] = journal(desk)
    assert entry["state"] == "UNCERTAIN"
    assert ledger(server, "roamify") == [], "the request is still on its way"

    time_passes(desk, entry["reference"], 53)
    res = run(server, desk, "reconcile", "--json")
    [row] = json.loads(res.stdout)
    assert row["status"] == "UNCERTAIN", row  # Roamify's "none" is no proof while the request may still arrive
    assert "do not order again until" in row["reason"], row

    wait_for(lambda: len(ledger(server, "roamify")) == 1)  # the late request lands and Roamify charges
    [booked] = ledger(server, "roamify")
    res = run(server, desk, "sync")
    assert res.returncode == 0, res.stderr
    assert "was placed after all" in res.stderr, res.stderr
    [entry] = journal(desk)
    assert entry["order_id"] == booked["order_id"] and entry["state"] in ("COMPLETED", "ALLOCATING")
    assert "FAILED" not in [state for state, _ in audit(desk, entry["reference"])]
    assert len(ledger(server, "roamify")) == 1


def test_roamify_none_counts_only_after_the_in_flight_bound(world):
    """The same look-up past the bound (3 minutes from the last send) is a fact: FAILED, nothing charged."""
    server, (desk, _) = world
    faults = server.sandbox.faults["roamify"]
    faults.add(Fault("timeout", endpoint=ORDER_ENDPOINT["roamify"], when="before", seconds=25))  # never booked
    res = run(server, desk, "order", "--vendor", "roamify", "--plan", roamify_package(server))
    assert res.returncode == 1
    [entry] = journal(desk)
    time_passes(desk, entry["reference"], 120)
    run(server, desk, "reconcile")
    assert journal(desk)[0]["state"] == "UNCERTAIN"
    time_passes(desk, entry["reference"], 61)
    res = run(server, desk, "reconcile", "--json")
    [row] = json.loads(res.stdout)
    assert row["status"] == "FAILED" and "can no longer reach" in row["reason"], row
    assert ledger(server, "roamify") == []


# --- nothing the vendor made stays unknown ---------------------------------------------------------
def test_sync_files_an_order_recorded_as_failed_and_says_so_loudly(world):
    """The agent abandoned an order as not placed; Roamify had booked it. The next sync files it under its
    entry (one row, never a second) and says so on stderr."""
    server, (desk, _) = world
    faults = server.sandbox.faults["roamify"]
    faults.add(Fault("drop", endpoint=ORDER_ENDPOINT["roamify"], when="after"))
    faults.add(Fault("http_503", endpoint=LOOKUPS, times=12))
    res = run(server, desk, "order", "--vendor", "roamify", "--plan", roamify_package(server))
    assert res.returncode == 1
    faults.clear()
    [entry] = journal(desk)
    assert run(server, desk, "reconcile", "--abandon", entry["reference"]).returncode == 0
    assert journal(desk)[0]["state"] == "FAILED"
    [booked] = ledger(server, "roamify")

    res = run(server, desk, "sync")
    assert res.returncode == 0, res.stderr
    assert "an order you were told had failed was placed" in res.stderr, res.stderr
    assert booked["order_id"] in res.stderr
    [entry] = journal(desk)
    assert entry["state"] in ("COMPLETED", "ALLOCATING") and entry["order_id"] == booked["order_id"]
    listed = json.loads(run(server, desk, "orders", "--vendor", "roamify", "--json").stdout)
    assert [o["reference"] for o in listed if o["order_id"] == booked["order_id"]] == [entry["reference"]]
    again = run(server, desk, "sync")
    assert "was placed" not in again.stderr, "said once, not at every sync"


# --- case 3: adopting checks what was asked ----------------------------------------------------------
@pytest.mark.parametrize("other", ["another plan", "another quantity"])
def test_adopt_refuses_another_desks_order_that_is_not_what_was_asked(world, other):
    server, (desk1, desk2) = world
    plan = cheap_plan(desk1, "roumio")
    server.sandbox.faults["roumio"].add(Fault("http_500", endpoint=ORDER_ENDPOINT["roumio"], when="before", times=2))
    res = run(server, desk1, "order", "--vendor", "roumio", "--plan", plan)
    assert res.returncode == 1
    [mine] = journal(desk1)
    assert mine["state"] == "UNCERTAIN"
    if other == "another plan":
        theirs = run(server, desk2, "order", "--vendor", "roumio", "--plan", cheap_plan(desk2, "roumio", skip=1), "--json")
    else:
        theirs = run(server, desk2, "order", "--vendor", "roumio", "--plan", plan, "--quantity", "2", "--json")
    assert theirs.returncode == 0, theirs.stderr
    order_id = json.loads(theirs.stdout)["order_id"]

    res = run(server, desk1, "reconcile", "--adopt", mine["reference"], order_id)
    assert res.returncode == 1, res.stdout
    assert "not what reference" in res.stderr and "nothing was changed" in res.stderr, res.stderr
    assert ("not " + plan) in res.stderr if other == "another plan" else "2 eSIMs, not 1" in res.stderr
    assert "carries reference" in res.stderr  # Roumio's transactionId is desk 2's, not ours
    [mine] = journal(desk1)
    assert mine["state"] == "UNCERTAIN" and mine["order_id"] is None


# --- case 4: the older Roamify API never adopts another desk's order by time -----------------------
def test_roamify_older_api_never_adopts_the_other_desks_order_by_time(world):
    server, (desk1, desk2) = world
    server.sandbox.config.update({"roamify_reference_ids": False})
    package = roamify_package(server)
    faults = server.sandbox.faults["roamify"]
    faults.add(Fault("drop", endpoint=ORDER_ENDPOINT["roamify"], when="before"))  # desk 1's request dies first
    faults.add(Fault("http_503", endpoint=LOOKUPS, times=12))
    assert run(server, desk1, "order", "--vendor", "roamify", "--plan", package).returncode == 1
    faults.clear()
    theirs = run(server, desk2, "order", "--vendor", "roamify", "--plan", package, "--json")
    assert theirs.returncode == 0, theirs.stderr
    [booked] = ledger(server, "roamify")

    res = run(server, desk1, "reconcile", "--json")
    [row] = json.loads(res.stdout)
    assert row["status"] == "UNCERTAIN" and row["awaiting_agent"], row
    assert row["order_id"] is None and row["candidates"] == [booked["order_id"]], row
    assert "does not show which desk" in row["reason"]
    assert len(ledger(server, "roamify")) == 1


# --- case 2: the vendor's answer is compared with the ask -------------------------------------------
def test_an_answer_for_another_plan_under_a_colliding_handle_is_never_completed(world):
    """Two desks with one identity (an old restore copied it) type the same reference: Roumio answers the
    second with the first desk's order. Desk C's order for another plan must not come back as desk A's."""
    server, (desk_a, desk_c) = world
    for home in (desk_a, desk_c):  # the state an old restore left: both desks with one desk id
        conn = sqlite3.connect(home / "esimdesk.sqlite3")
        with conn:
            conn.execute("UPDATE meta SET value = 'desk-copied' WHERE key = 'desk_id'")
        conn.close()
    first = run(server, desk_a, "order", "--vendor", "roumio", "--plan", cheap_plan(desk_a, "roumio"),
                "--reference", "TICKET-7")
    assert first.returncode == 0, first.stderr
    res = run(server, desk_c, "order", "--vendor", "roumio", "--plan", cheap_plan(desk_c, "roumio", skip=1),
              "--reference", "TICKET-7")
    assert res.returncode == 1, res.stdout
    assert "not what was asked" in res.stderr and "do NOT order again" in res.stderr, res.stderr
    [entry] = journal(desk_c)
    assert entry["state"] == "UNCERTAIN" and entry["last_error"] == "awaiting the agent"
    assert len(ledger(server, "roumio")) == 1


def test_clock_is_local_with_utc():
    from esimdesk.services.orders import clock

    assert clock(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)).endswith("(03:04 UTC)")
