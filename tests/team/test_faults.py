"""A push cut off mid-way — the server stopped in the middle of a batch's transaction or between two
batches, the pushing process killed — is resumed without losing or repeating an entry; an unreachable
store keeps the desk working and says since when; bad credentials, URLs and TLS are one sentence."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest

from esimdesk.domain import Event
from esimdesk.services import team_sync
from esimdesk.services.team_config import TeamConfig
from esimdesk.store import team_local as L
from tests.team.helpers import config, desk, outbox_seqs, place_local_orders, server_entries


def test_server_stopped_mid_push_and_restarted_every_entry_arrives_once(pg, team_db, tmp_path):
    a, b = desk(tmp_path, "a"), desk(tmp_path, "b")
    iccids = place_local_orders(a, 120, "A")
    a.set_note("microesim", iccids[0], "Mrs Tanaka, room 12")
    seqs = outbox_seqs(a)
    assert len(seqs) == 120 * 2 + 1  # two audit lines per order, one note

    def stop_inside_third_batch(stage, batch):
        if (stage, batch) == ("before-commit", 3):
            pg.stop("immediate")  # the batch's transaction is open on the server: it is lost with it

    res = team_sync.run(a, config(team_db, "alice"), push_batch=40, fault=stop_inside_third_batch)
    assert not res.ok and res.problem.startswith("team store offline since ")
    pg.start()
    assert [s for _, s in server_entries(team_db)] == seqs[:80]

    def stop_after_fifth(stage, batch):
        if (stage, batch) == ("committed", 2):  # batches 3 and 4 of the whole push
            pg.stop("immediate")

    assert not team_sync.run(a, config(team_db, "alice"), push_batch=40, fault=stop_after_fifth).ok
    pg.start()
    assert [s for _, s in server_entries(team_db)] == seqs[:160]
    a.set_note("microesim", iccids[1], "Mr Sato")  # made while it was away: pushed when it is back
    installed = Event("microesim", iccids[2], "ESIM_INSTALLED", datetime(2026, 11, 29, 6, 0, tzinfo=UTC), "on an iPhone")
    a.add_events([installed])  # MicroESIM's events of an order placed here
    a.add_events([Event("microesim", "8900000000000000001", "ESIM_INSTALLED", installed.occurred_at)])  # not ours
    res = team_sync.run(a, config(team_db, "alice"), push_batch=40)
    assert res.ok, res.problem
    assert [s for _, s in server_entries(team_db)] == outbox_seqs(a) == [*seqs, seqs[-1] + 1, seqs[-1] + 2]
    assert L.offline_since(a) is None

    res = team_sync.run(b, config(team_db, "bob"), pull_batch=33)
    assert res.ok and res.orders == 120 and res.esims == 120
    orders = b.orders()
    assert len(orders) == 120 and len({o.order_id for o in orders}) == 120
    audit = Counter(r[0] for r in b.conn.execute("SELECT reference FROM team_audit"))
    assert set(audit.values()) == {2} and len(audit) == 120
    assert b.esim(iccids[0]).note == "Mrs Tanaka, room 12" and b.esim(iccids[1]).note == "Mr Sato"
    assert b.events("microesim", iccids[2]) == [installed]
    assert {a_ for _, a_ in L.order_origins(b, orders)} == {"alice"}
    trail = team_sync.history(b, "A00007")  # who did what, at the other desk
    assert [(e.from_state, e.to_state) for e in trail] == [(None, "PENDING"), ("PENDING", "COMPLETED")]
    assert all(f"(alice at desk {a.desk_id()})" in e.cause for e in trail)
    assert team_sync.history(a, "A00007") == []  # A's own orders have their journal
    # B's own outbox stayed empty: pulled rows are not pushed back as B's.
    assert outbox_seqs(b) == []
    # Nothing new: a second sync pulls nothing and pushes nothing.
    again = team_sync.run(b, config(team_db, "bob"))
    assert again.ok and again.orders == 0 and len(server_entries(team_db)) == len(outbox_seqs(a))


KILLED = """
import sys, time
from esimdesk.services import team_sync
from esimdesk.services.team_config import TeamConfig
from esimdesk.store import SqliteStore

def fault(stage, batch):
    if (stage, batch) == (sys.argv[4], 2):
        print("now", flush=True)
        time.sleep(120)

store = SqliteStore(sys.argv[1])
team_sync.run(store, TeamConfig(sys.argv[2], sys.argv[3], "alice"), push_batch=25, fault=fault)
"""


@pytest.mark.parametrize("stage", ["before-commit", "committed"])
def test_a_push_killed_mid_way_is_resumed_without_duplicates(pg, team_db, tmp_path, stage):
    a = desk(tmp_path, "a")
    place_local_orders(a, 60, "K")
    url, password = team_db
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(a.path), url, password, stage], stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        assert proc.stdout.readline().strip() == "now"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert len(server_entries(team_db)) == (25 if stage == "before-commit" else 50)
    assert team_sync.run(a, config(team_db, "alice"), push_batch=25).ok
    assert [s for _, s in server_entries(team_db)] == outbox_seqs(a)
    assert len(outbox_seqs(a)) == 120


def test_offline_desk_keeps_working_and_says_since_when(pg, team_db, tmp_path):
    a = desk(tmp_path, "a")
    url, password = team_db
    dead = url.replace(f":{pg.port}/", ":1/")  # nothing listens on port 1
    res = team_sync.run(a, TeamConfig(dead, password, "alice"))
    assert not res.ok and res.problem.startswith("team store offline since ") and "UTC" in res.problem
    since = L.offline_since(a)
    assert team_sync.offline_notice(a).startswith(f"team store offline since {since:%H:%M} UTC")
    place_local_orders(a, 3, "O")  # the desk works on: entries queue in the outbox
    res = team_sync.run(a, TeamConfig(dead, password, "alice"))
    assert L.offline_since(a) == since  # since when it went away, not since the last try
    assert team_sync.run(a, config(team_db, "alice")).ok
    assert team_sync.offline_notice(a) is None and len(server_entries(team_db)) == 6


@pytest.mark.parametrize("change, words", [
    (lambda url, pw: (url, "wrong-" + pw), "refused the user name or password"),
    (lambda url, pw: (url.rsplit("/", 1)[0] + "/nosuchdb", pw), "no such database"),
    (lambda url, pw: (url + "?sslmode=require", pw), "TLS connection failed"),  # the test server has no TLS
    (lambda url, pw: (re.sub(r":\d+/", ":1/", url), pw), "cannot be reached"),  # nothing listens on port 1
    (lambda url, pw: ("postgresql://desk@[::1/x", pw), "not a valid postgresql:// URL"),
])
def test_bad_settings_are_one_sentence_without_the_password(pg, team_db, tmp_path, change, words):
    url, password = change(*team_db)
    res = team_sync.run(desk(tmp_path, "a"), TeamConfig(url, password, "alice"))
    assert not res.ok and words in res.problem, res.problem
    assert "\n" not in res.problem and password not in res.problem and "Traceback" not in res.problem


def test_sslmode_in_the_url_is_honoured(pg, team_db, tmp_path):
    """sslmode=require against a server without TLS must fail (not fall back to plain text)."""
    url, password = team_db
    res = team_sync.run(desk(tmp_path, "a"), TeamConfig(url + "?sslmode=require", password, "alice"))
    assert not res.ok and "SSL" in res.error
    assert team_sync.run(desk(tmp_path, "b"), TeamConfig(url + "?sslmode=prefer", password, "alice")).ok


def test_a_backup_put_back_pushes_its_new_entries_after_the_stores(pg, team_db, tmp_path):
    """A restored (older) data file numbers its new entries after what the store already has from this
    desk; otherwise they would be taken for entries the store holds and never reach the others."""
    import shutil

    a, b = desk(tmp_path, "a"), desk(tmp_path, "b")
    place_local_orders(a, 2, "P")
    assert team_sync.run(a, config(team_db, "alice")).ok
    a.close(every_thread=True)
    shutil.copy(a.path, tmp_path / "backup.sqlite3")  # closed: the WAL is checkpointed into the file
    a = desk(tmp_path, "a")
    place_local_orders(a, 2, "Q")
    assert team_sync.run(a, config(team_db, "alice")).ok
    a.close(every_thread=True)
    for suffix in ("", "-wal", "-shm"):
        if (tmp_path / "a" / f"esimdesk.sqlite3{suffix}").exists():
            (tmp_path / "a" / f"esimdesk.sqlite3{suffix}").unlink()
    shutil.copy(tmp_path / "backup.sqlite3", tmp_path / "a" / "esimdesk.sqlite3")
    a = desk(tmp_path, "a")
    assert len(outbox_seqs(a)) == 4 and len(server_entries(team_db)) == 8
    place_local_orders(a, 1, "R")  # after the restore: local seqs 5 and 6, which the store has as Q's
    assert team_sync.run(a, config(team_db, "alice")).ok
    assert [s for _, s in server_entries(team_db)] == list(range(1, 11)) and outbox_seqs(a) == [1, 2, 3, 4, 9, 10]
    assert team_sync.run(b, config(team_db, "bob")).ok
    refs = sorted(o.reference for o in b.orders())
    assert refs == ["P00000", "P00001", "Q00000", "Q00001", "R00000"]
    place_local_orders(a, 1, "S")  # and what comes next is numbered after them
    assert outbox_seqs(a)[-2:] == [11, 12]


def test_two_processes_of_one_desk_syncing_at_once_push_each_entry_once(pg, team_db, tmp_path):
    """The window and the command line of one desk may sync at the same moment: the desk's lock on the
    server makes one wait for the other, and neither sends an entry the other has sent."""
    import threading

    a, b = desk(tmp_path, "a"), desk(tmp_path, "b")
    place_local_orders(a, 100, "W")
    place_local_orders(b, 50, "X")
    a2, b2 = desk(tmp_path, "a"), desk(tmp_path, "b")  # second processes' stores on the same files
    results = []

    def sync(store, agent):
        results.append(team_sync.run(store, config(team_db, agent), push_batch=13, pull_batch=11))

    threads = [threading.Thread(target=sync, args=args) for args in
               ((a, "alice"), (a2, "alice"), (b, "bob"), (b2, "bob"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 4 and all(r.ok for r in results), [r.problem for r in results]
    for s, agent in ((a, "alice"), (b, "bob")):
        assert team_sync.run(s, config(team_db, agent)).ok
    on_server = server_entries(team_db)
    assert len(on_server) == len(set(on_server)) == len(outbox_seqs(a)) + len(outbox_seqs(b)) == 300
    assert len(a.orders()) == len(b.orders()) == 150
    assert len({o.order_id for o in a.orders()}) == 150
