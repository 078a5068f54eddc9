"""This process's SQLite locks on the data file survive everything the store code does in it.

SQLite's locks are POSIX advisory locks, owned by the process: closing any descriptor of the file in
the process (a header read with ``open()``) drops all of them, and a connection left open in a worker
thread keeps the file in use after ``close()``. Together they let another esimdesk (the CLI) that
closes its connection believe it is the last one: it checkpoints and deletes the -wal and -shm while
this process still reads through the old shared-memory index, and this process then gets "database
disk image is malformed" (tests/services/test_money_safety.py failed that way when the garbage
collector happened not to run). The garbage collector is off in these tests, so they do not depend on it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from esimdesk.domain import StoreError
from esimdesk.store import SqliteStore, integrity
from esimdesk.store.backups import backup_now, restore_into_place

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX advisory locks")

ROUNDS = 20
# SQLite's SHARED lock range (PENDING_BYTE + 2, 510 bytes): an open WAL connection that has read holds
# a read lock on it, and a connection that closes takes a write lock on it to know it is the last one.
SHARED_FIRST, SHARED_SIZE = 0x40000000 + 2, 510

_PROBE = textwrap.dedent("""
    import fcntl, os, sys
    fd = os.open(sys.argv[1], os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, int(sys.argv[3]), int(sys.argv[2]))
    except OSError:
        sys.exit(1)
    sys.exit(0)
""")

_WRITER = textwrap.dedent("""
    import sys
    from esimdesk.store import SqliteStore
    for line in sys.stdin:
        n = int(line)
        store = SqliteStore(sys.argv[1])
        for i in range(n):
            with store.transaction(durable=i % 2 == 0) as conn:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"child-{i}", "c" * 3000))
        store.close()  # the last connection of this process: it checkpoints when no other process reads
        print("done", flush=True)
""")


@pytest.fixture
def no_gc():
    """Connections dropped without close() stay open until the collector runs: here, never."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def another_process_can_lock(path) -> bool:
    """Whether another process gets the write lock a closing connection takes to know it is the last one."""
    res = subprocess.run([sys.executable, "-c", _PROBE, str(path), str(SHARED_FIRST), str(SHARED_SIZE)])
    return res.returncode == 0


def use_in_worker_thread(store: SqliteStore) -> None:
    worker = threading.Thread(target=store.counts)
    worker.start()
    worker.join()


def test_opening_the_file_again_keeps_the_locks_of_the_store_open_in_this_process(tmp_path, no_gc):
    path = tmp_path / "esimdesk.sqlite3"
    store = SqliteStore(path)
    try:
        store.counts()
        assert not another_process_can_lock(path)
        for _ in range(ROUNDS):
            SqliteStore(path).close()  # its header check must not touch the file behind SQLite's back
            assert not another_process_can_lock(path)
            store.counts()
    finally:
        store.close()
    assert another_process_can_lock(path)  # closed: nothing of this process holds the file


def test_the_header_is_read_raw_only_while_no_connection_of_this_process_has_the_file(tmp_path, no_gc):
    path = tmp_path / "esimdesk.sqlite3"
    SqliteStore(path).close()
    assert integrity.read_header(path).startswith(integrity.SQLITE_MAGIC)
    store = SqliteStore(path)
    store.counts()
    assert integrity.open_here(path)
    assert integrity.read_header(path) is None
    store.close()
    assert not integrity.open_here(path)
    assert integrity.quick_check(path) == []  # its own connection counts while it runs, then no longer
    assert not integrity.open_here(path)


def test_close_closes_the_connections_of_every_thread(tmp_path, no_gc):
    path = tmp_path / "esimdesk.sqlite3"
    store = SqliteStore(path)
    for _ in range(ROUNDS):
        use_in_worker_thread(store)
        asyncio.run(asyncio.to_thread(store.counts))  # how sync and the window use it
        store.counts()
        store.close()
        assert not integrity.open_here(path)
        assert another_process_can_lock(path)
    # the last connection closed, so the log was checkpointed and removed
    assert not integrity.wal_path(path).exists()
    assert store.counts()["journal"] == 0  # still usable after close(): a new connection
    store.close()


@pytest.mark.parametrize("left_open", ["worker-connection", "whole-store"])
def test_another_process_closing_last_never_breaks_what_this_process_reads(tmp_path, no_gc, left_open):
    """The money-safety tests' sequence: this process syncs (worker threads), opens the store again,
    the CLI writes and exits, this process writes with a plain connection, the CLI again, then a read."""
    path = tmp_path / "esimdesk.sqlite3"
    store = SqliteStore(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=env)

    def child_writes(n: int) -> None:
        child.stdin.write(f"{n}\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "done"

    try:
        for r in range(ROUNDS):
            use_in_worker_thread(store)
            store.counts()
            if left_open == "worker-connection":
                store.close()
            SqliteStore(path).close()  # like cheap_plan(): the store opened again in this process
            child_writes(20)
            conn = sqlite3.connect(path, timeout=10)  # like age_entry(): a plain write from this process
            with conn:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"parent-{r}", "p" * 3000))
            conn.close()
            child_writes(3)
            conn = sqlite3.connect(path, timeout=10)
            try:
                assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)], f"round {r}"
                keys = {k for (k,) in conn.execute("SELECT key FROM meta")}
            finally:
                conn.close()
            assert {f"parent-{i}" for i in range(r + 1)} <= keys, f"round {r}: a write of this process was lost"
            assert {f"child-{i}" for i in range(20)} <= keys
    finally:
        child.stdin.close()
        child.wait(timeout=30)
        store.close()
    assert child.returncode == 0


def test_restore_refuses_a_file_open_in_this_process_without_dropping_its_locks(tmp_path, no_gc):
    """Refused at once (no raw read of its header, no wait for a lock this process itself holds)."""
    path = tmp_path / "esimdesk.sqlite3"
    SqliteStore(path).close()
    backup = backup_now(path)
    store = SqliteStore(path)
    try:
        store.counts()
        with pytest.raises(StoreError) as err:
            restore_into_place(path, backup)
        assert err.value.reason == "in-use"
        assert not another_process_can_lock(path)
    finally:
        store.close()


def test_close_while_a_worker_thread_queries_never_crashes_and_its_thread_closes_it(tmp_path):
    """The window closes while a view's query still runs in a worker thread: close() must not pull the
    connection from under it (that crashed the process). Run in a child: a crash is an exit status."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(f"""
        import threading, time
        from esimdesk.store import SqliteStore
        from esimdesk.store import integrity
        store = SqliteStore({str(tmp_path / "esimdesk.sqlite3")!r})
        started, result = threading.Event(), []
        def slow_query():
            conn = store.conn
            started.set()
            q = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000000) SELECT count(*) FROM n"
            result.append(conn.execute(q).fetchone()[0])
            result.append(store.counts()["journal"])  # its next use: the old connection is retired here
        worker = threading.Thread(target=slow_query)
        worker.start()
        started.wait()
        time.sleep(0.05)
        store.close()  # while the query runs
        worker.join()
        store.close()
        print(result, integrity.open_here(store.path))
        """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[3000000, 0] False"
