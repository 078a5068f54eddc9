"""One support action at a time per eSIM, enforced by the store (issue 26 case 5): while an action on an eSIM
is unfinished (PENDING or UNCERTAIN), a second one is refused — by action_create's own write transaction and
by the data file itself (schema v10's trigger), across threads, processes and any other writer."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from esimdesk.domain import Action, OrderStatus
from esimdesk.domain.states import AWAITING_AGENT
from esimdesk.store import SqliteStore
from esimdesk.store.actions import ActionInProgress
from esimdesk.store.migrations import LATEST, migrate

ICCID = "8910300000000000001"
OTHER = "8910300000000000002"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "esimdesk.sqlite3")
    yield s
    s.close(every_thread=True)


def create(store, action=Action.CANCEL, iccid=ICCID, **kw):
    return store.action_create(vendor="roumio", iccid=iccid, action=action, cause="the agent asked", **kw)


def test_a_second_unfinished_action_is_refused_with_the_first_one(store):
    first = create(store)
    with pytest.raises(ActionInProgress) as refused:
        create(store, Action.REVOKE)
    assert refused.value.entry.id == first.id and refused.value.entry.action is Action.CANCEL
    assert str(refused.value) == "another cancel on this eSIM is in progress"
    assert [e.id for e in store.actions_unfinished("roumio", ICCID)] == [first.id]
    assert [h.entry_id for h in store.esim_history("roumio", ICCID)] == [first.id]  # nothing recorded
    create(store, iccid=OTHER)  # another eSIM is not held up


@pytest.mark.parametrize("end", [OrderStatus.COMPLETED, OrderStatus.FAILED])
def test_a_new_action_starts_once_the_first_is_finished(store, end):
    first = create(store)
    store.action_transition(first.id, OrderStatus.UNCERTAIN, "answer lost")
    with pytest.raises(ActionInProgress):  # a lost answer holds the eSIM until its status settles it
        create(store)
    store.action_transition(first.id, end, "settled by status")
    second = create(store, Action.REVOKE)
    assert second.state is OrderStatus.PENDING and second.id != first.id


def test_a_lost_sms_left_to_the_agent_blocks_nothing(store):
    sms = create(store, Action.SMS, message="hi")
    store.action_transition(sms.id, OrderStatus.UNCERTAIN, "answer lost", error="lost")
    with pytest.raises(ActionInProgress):
        create(store)
    # the words the store and the file's trigger test for
    store.action_transition(sms.id, OrderStatus.UNCERTAIN, "ask the customer", error=AWAITING_AGENT)
    assert create(store).state is OrderStatus.PENDING


def test_the_new_action_is_claimed_by_its_owner_in_the_same_write(store):
    entry = create(store, owner="host:1:abc", lease_seconds=60)
    assert entry.lease_owner == "host:1:abc" and entry.lease_until > time.time() + 50
    assert store.action_claim(entry.id, "host:2:def", lease_seconds=60) is None  # not taken from it
    assert store.action_claim(entry.id, "host:1:abc", lease_seconds=60, sending=True).attempts == 1


def race(store, iccid: str) -> list[object]:
    """A cancel and a revoke of one eSIM from two threads released at the same instant."""
    barrier = threading.Barrier(2)
    got: list[object] = []

    def go(action):
        barrier.wait()
        try:
            got.append(create(store, action, iccid=iccid))
        except ActionInProgress as exc:
            got.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=go, args=(a,)) for a in (Action.CANCEL, Action.REVOKE)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def test_two_threads_at_once_one_is_recorded(store):
    """Each thread has its own SQLite connection, as two processes would: the check and the insert are one write."""
    for round_ in range(8):
        iccid = f"89103000000000001{round_:02d}"
        got = race(store, iccid)
        done = [g for g in got if not isinstance(g, ActionInProgress)]
        refused = [g for g in got if isinstance(g, ActionInProgress)]
        assert len(done) == 1 and len(refused) == 1, got
        assert refused[0].entry.id == done[0].id
        assert len(store.actions_unfinished("roumio", iccid)) == 1


SCRIPT = textwrap.dedent("""
    import sys, time
    from esimdesk.domain import Action
    from esimdesk.store import SqliteStore
    from esimdesk.store.actions import ActionInProgress
    path, iccid, at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = SqliteStore(path)
    time.sleep(max(0.0, at - time.time()))
    try:
        e = store.action_create(vendor="roumio", iccid=iccid, action=Action.CANCEL, cause="the agent asked")
        print("created", e.id)
    except ActionInProgress as exc:
        print("refused", exc.entry.id)
    store.close()
""")


def test_two_processes_at_once_one_is_recorded(tmp_path):
    path = tmp_path / "esimdesk.sqlite3"
    SqliteStore(path).close()
    for round_ in range(3):
        iccid = f"89103000000000002{round_:02d}"
        at = time.time() + 2.5  # both have opened the file and wait for the same instant
        procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(path), iccid, str(at)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert all(p.returncode == 0 for p in procs), outs
        words = sorted(out.split()[0] for out, _ in outs)
        assert words == ["created", "refused"], outs
        ids = {int(out.split()[1]) for out, _ in outs}
        assert len(ids) == 1  # the refused one names the one that was recorded
    check = SqliteStore(path)
    assert len(check.actions_unfinished("roumio")) == 3
    check.close()


def test_the_file_itself_refuses_a_second_unfinished_action(store):
    """Whatever writes the row (another process, an older code path): the trigger refuses it."""
    create(store)
    raw = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.IntegrityError, match="another action on this eSIM is in progress"):
        raw.execute("INSERT INTO esim_actions (vendor, iccid, action, state, desk_id, created_at, updated_at) "
                    "VALUES ('roumio', ?, 'cancel', 'PENDING', 'x', 'now', 'now')", (ICCID,))
    raw.execute("INSERT INTO esim_actions (vendor, iccid, action, state, desk_id, created_at, updated_at) "
                "VALUES ('roumio', ?, 'cancel', 'COMPLETED', 'x', 'now', 'now')", (ICCID,))  # history is fine
    raw.commit()
    raw.close()


def test_migrating_a_file_with_two_unfinished_actions_keeps_both_as_they_are(tmp_path):
    """Duplicates left by the old code are not marked anything (an UNCERTAIN one may have been sent): they stay
    until their eSIM's status settles them; only new ones are refused meanwhile."""
    path = Path(tmp_path / "esimdesk.sqlite3")
    conn = sqlite3.connect(path)
    migrate(conn, 9)
    for state in ("UNCERTAIN", "PENDING"):
        conn.execute("INSERT INTO esim_actions (vendor, iccid, action, state, desk_id, attempts, created_at, "
                     "updated_at) VALUES ('roumio', ?, 'cancel', ?, 'abc123', 1, '2026-01-01T00:00:00+00:00', "
                     "'2026-01-01T00:00:00+00:00')", (ICCID, state))
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    assert store.schema_version == LATEST
    assert [e.state for e in store.actions_unfinished("roumio", ICCID)] == [OrderStatus.UNCERTAIN, OrderStatus.PENDING]
    with pytest.raises(ActionInProgress) as refused:
        create(store)
    assert refused.value.entry.state is OrderStatus.UNCERTAIN  # the oldest names the wait
    store.close()
