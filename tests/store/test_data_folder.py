"""The data folder refuses rather than forgets (issue 18, items 7 and 8), on real SQLite files.

Damaged files (0 bytes, not a database, a page overwritten, cut short) are refused in words naming the
file and the newest backup, and left as they were; write failures are sentences; a durable commit
survives its -wal being deleted after a SIGKILL; rolling backups keep 7; restore puts one back.

Read-only and full disks are made real, not monkeypatched. Tests run as root here, where chmod does
not stop writes: the child process then runs as root *without capabilities* (``setpriv
--bounding-set=-all``), for which the permission bits hold as for any user (without root, chmod alone
does it). A full disk is a tiny tmpfs mounted in a private mount namespace (``unshare --mount``),
gone with the child; the test is skipped where mounting is not permitted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from esimdesk.domain import Balance, Order, OrderStatus, StoreError
from esimdesk.store import SqliteStore, integrity
from esimdesk.store.backups import (
    AGENT_WORK,
    KEEP,
    backup_now,
    list_backups,
    newest_backup,
    restore_into_place,
    rolling_backup,
    verify_database,
)
from esimdesk.store.migrations import LATEST

REPO = Path(__file__).resolve().parents[2]


# --- helpers ------------------------------------------------------------------------------------
def make_desk(path: Path, orders: int = 3) -> Path:
    """A real desk with some history: orders (with their search rows) and a balance."""
    store = SqliteStore(path)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    store.upsert_orders([Order("roumio", f"B{i:04d}", f"shop-{i}", OrderStatus.COMPLETED, t0 + timedelta(minutes=i),
                               Decimal("5.70"), "USD") for i in range(orders)])
    store.save_balance(Balance("roumio", Decimal("100.00"), "USD", t0))
    store.close()
    return path


def order_ids(path: Path) -> list[str]:
    store = SqliteStore(path)
    try:
        return sorted(o.order_id for o in store.orders())
    finally:
        store.close()


def refused(path: Path) -> StoreError:
    with pytest.raises(StoreError) as info:
        SqliteStore(path)
    return info.value


def assert_one_sentence(err: StoreError, path: Path) -> None:
    text = str(err)
    assert "\n" not in text and str(path) in text and "nothing was changed" in text


def snapshot(path: Path) -> tuple[int, bytes]:
    return path.stat().st_size, path.read_bytes()


def corrupt_root_page(path: Path, table: str) -> int:
    """Overwrite the root page of ``table`` with garbage; its size and the header stay as they were."""
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    assert not integrity.wal_path(path).exists()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)
    return root


def py(code: str, *, prefix: tuple[str, ...] = (), **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([*prefix, sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=env, cwd=str(REPO), **kw)


def unprivileged() -> tuple[str, ...]:
    """A prefix under which chmod holds: nothing for a normal user, root without capabilities for root."""
    if os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a read-only folder hold")
    return ("setpriv", "--bounding-set=-all", "--inh-caps=-all")


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "desk"
    path.mkdir()
    return path


# --- refusing damaged files ---------------------------------------------------------------------
def test_missing_file_is_a_new_desk_made_whole(home):
    path = home / "esimdesk.sqlite3"
    store = SqliteStore(path)
    assert store.opened_as == "new" and store.schema_version == LATEST
    store.close()
    assert path.read_bytes()[:16] == integrity.SQLITE_MAGIC
    assert sorted(p.name for p in home.iterdir()) == ["esimdesk.sqlite3"]  # no temporary file left behind


def test_zero_byte_database_is_refused_and_left_untouched(home):
    path = make_desk(home / "esimdesk.sqlite3")
    backup = backup_now(path)
    path.write_bytes(b"")  # truncated to zero bytes
    err = refused(path)
    assert err.reason == "empty" and err.path == str(path)
    assert_one_sentence(err, path)
    assert "damaged (empty)" in str(err) and f"'esimdesk restore {backup}'" in str(err)
    assert path.stat().st_size == 0 and not integrity.wal_path(path).exists()


def test_zero_byte_database_without_backups_says_so(home):
    path = home / "esimdesk.sqlite3"
    path.write_bytes(b"")
    err = refused(path)
    assert "There is no backup in" in str(err) and str(home / "backups") in str(err)
    assert path.stat().st_size == 0


@pytest.mark.parametrize("content", [b"hello, I am not a database\n" * 40, b"SQLite", os.urandom(8192)])
def test_garbage_file_is_refused(home, content):
    path = home / "esimdesk.sqlite3"
    path.write_bytes(content)
    err = refused(path)
    assert err.reason == "not-a-database" and "not an SQLite database" in str(err)
    assert_one_sentence(err, path)
    assert path.read_bytes() == content


def test_file_failing_quick_check_is_refused(home):
    path = make_desk(home / "esimdesk.sqlite3", orders=200)
    backup_now(path)
    corrupt_root_page(path, "journal")
    before = snapshot(path)
    err = refused(path)
    assert err.reason == "damaged" and "quick_check" in str(err) and "esimdesk restore" in str(err)
    assert_one_sentence(err, path)
    assert snapshot(path) == before


def test_file_cut_short_is_refused(home):
    path = make_desk(home / "esimdesk.sqlite3", orders=300)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2 + 100)  # mid-page, and fewer pages than the header counts
    err = refused(path)
    assert err.reason == "damaged"
    assert path.stat().st_size == size // 2 + 100


def test_log_left_without_its_file_is_refused_not_replayed(home):
    path = make_desk(home / "esimdesk.sqlite3")
    integrity.wal_path(path).write_bytes(b"\x37\x7f\x06\x82" + bytes(60))  # a -wal with content, no database
    path.unlink()
    err = refused(path)
    assert err.reason == "orphaned-wal" and not path.exists()


def test_quick_check_runs_when_the_file_changed_and_daily_otherwise(home):
    path = make_desk(home / "esimdesk.sqlite3")
    states = []
    for _ in range(3):
        store = SqliteStore(path)
        states.append(store.opened_as)
        store.close()
    assert states == ["checked", "unchanged", "unchanged"]  # look-ups leave the file as it was

    store = SqliteStore(path)
    store.save_balance(Balance("roamify", Decimal("1.00"), "USD"))  # our own write changes the file
    store.close()
    # ... through SQLite, closed cleanly: the file is the checked one plus our writes, not read whole again
    # (a quick_check of a full-size desk is seconds before the window shows).
    assert SqliteStore(path).opened_as == "unchanged"

    time.sleep(0.02)  # a later modification time (coarse file-system clocks)
    other = sqlite3.connect(path)  # another program changes it while the desk is closed: checked again
    other.execute("INSERT INTO balances VALUES ('other', '1', 'USD', '2026-11-29T03:15:00+00:00')")
    other.commit()
    other.close()
    assert SqliteStore(path).opened_as == "checked"

    side = integrity.checked_path(path)
    seen = json.loads(side.read_text())
    side.write_text(json.dumps({**seen, "checked_at": time.time() - integrity.RECHECK_AFTER_S - 60}))
    assert SqliteStore(path).opened_as == "checked"  # a day later: checked again even if unchanged


def test_damage_outside_sqlite_is_caught_after_a_passing_check(home):
    path = make_desk(home / "esimdesk.sqlite3", orders=200)
    SqliteStore(path).close()  # checked and recorded
    time.sleep(0.02)  # a later modification time than the record (coarse file-system clocks)
    corrupt_root_page(path, "orders")
    assert refused(path).reason == "damaged"


# --- write failures are words -------------------------------------------------------------------
def test_sqlite_errors_in_words_on_a_real_read_only_connection(home):
    path = make_desk(home / "esimdesk.sqlite3")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as info:
        conn.execute("INSERT INTO balances VALUES ('x', '1', 'USD', '2026-11-29T03:15:00+00:00')")
    conn.close()
    err = integrity.as_store_error(info.value, path)
    assert err.reason == "read-only" and str(err).startswith(f"cannot write to the data file {path}: ")
    assert integrity.as_store_error(sqlite3.IntegrityError("UNIQUE constraint failed"), path) is None


def test_constraint_errors_stay_what_they_are(home):
    store = SqliteStore(home / "esimdesk.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction() as conn:
            conn.execute("INSERT INTO balances VALUES ('x', '1', 'USD', '2026-11-29T03:15:00+00:00')")
            conn.execute("INSERT INTO balances VALUES ('x', '1', 'USD', '2026-11-29T03:15:00+00:00')")
    assert store.balances() == []  # rolled back
    store.close()


def _writable_again(*paths: Path) -> None:
    for p in paths:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_read_only_folder_is_a_sentence_at_open(home):
    path = make_desk(home / "esimdesk.sqlite3")
    home.chmod(0o555)
    try:
        res = py(f"""
            from esimdesk.domain import StoreError
            from esimdesk.store import SqliteStore
            try:
                SqliteStore({str(path)!r})
            except StoreError as exc:
                print(exc.reason, exc, sep="|")
            """, prefix=unprivileged())
    finally:
        _writable_again(home)
    assert res.returncode == 0, res.stderr
    reason, message = res.stdout.strip().split("|")
    assert reason == "read-only" and message == f"cannot open the data file {path}: the folder is read-only"


def test_read_only_file_reads_but_refuses_writes_in_words(home):
    path = make_desk(home / "esimdesk.sqlite3")
    path.chmod(0o444)
    try:
        res = py(f"""
            from decimal import Decimal
            from esimdesk.domain import Balance, StoreError
            from esimdesk.store import SqliteStore
            store = SqliteStore({str(path)!r})
            print(len(store.orders()))
            try:
                store.save_balance(Balance("roamify", Decimal("1.00"), "USD"))
            except StoreError as exc:
                print(exc.reason, exc, sep="|")
            """, prefix=unprivileged())
    finally:
        _writable_again(path)
    assert res.returncode == 0, res.stderr
    count, failure = res.stdout.strip().splitlines()
    assert count == "3"
    assert failure == f"read-only|cannot write to the data file {path}: the file is read-only"


def _in_tiny_filesystem(folder: Path, code: str, size_kb: int) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("a full disk needs a private tmpfs mount (root, unshare)")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs -o size=64k tmpfs {folder}"], capture_output=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"mounting is not permitted here: {probe.stderr.decode().strip()}")
    mount = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
             f'mount -t tmpfs -o size={size_kb}k tmpfs "$0" && exec "$@"', str(folder))
    return py(code, prefix=mount)


def test_disk_full_is_a_sentence_and_the_desk_still_opens(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    res = _in_tiny_filesystem(folder, f"""
        import json
        from decimal import Decimal
        from esimdesk.domain import Balance, StoreError
        from esimdesk.store import SqliteStore
        from esimdesk.store.backups import backup_now
        path = {str(folder / "esimdesk.sqlite3")!r}
        store = SqliteStore(path)
        store.save_balance(Balance("roumio", Decimal("100.00"), "USD"))
        out = {{}}
        try:
            with store.transaction() as conn:
                conn.execute("INSERT INTO balances VALUES ('big', ?, 'USD', '2026-11-29T03:15:00+00:00')", ("9" * 3_000_000,))
        except StoreError as exc:
            out["write"] = [exc.reason, str(exc)]
        try:
            backup_now(path)
        except StoreError as exc:
            out["backup"] = [exc.reason, str(exc)]
        store.close()
        out["after"] = [b.vendor for b in SqliteStore(path).balances()]
        print(json.dumps(out))
        """, size_kb=1600)  # the empty schema (~450 KB) is built with its log beside it (~960 KB), and more
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    path = folder / "esimdesk.sqlite3"
    assert out["write"] == ["disk-full", f"cannot write to the data file {path}: the disk is full"]
    assert out["backup"][0] == "disk-full" and "the disk is full" in out["backup"][1]
    assert out["after"] == ["roumio"]  # the failed write left nothing half done


# --- durable commits ----------------------------------------------------------------------------
def _write_and_die(path: Path, durable: bool) -> None:
    res = py(f"""
        import os, signal
        from esimdesk.store import SqliteStore
        store = SqliteStore({str(path)!r})
        with store.transaction(durable={durable}) as conn:
            conn.execute("INSERT INTO balances VALUES ('journal-entry', '1', 'USD', '2026-11-29T03:15:00+00:00')")
        os.kill(os.getpid(), signal.SIGKILL)  # before any close could checkpoint
        """)
    assert res.returncode == -signal.SIGKILL, res.stderr


@pytest.mark.parametrize("also_shm", [False, True])
def test_durable_commit_survives_a_deleted_wal_after_sigkill(home, also_shm):
    path = make_desk(home / "esimdesk.sqlite3")
    _write_and_die(path, durable=True)
    assert integrity.wal_path(path).exists()  # the crash left its log behind ...
    integrity.wal_path(path).unlink()  # ... and something deleted it
    if also_shm:
        integrity.shm_path(path).unlink()
    store = SqliteStore(path)
    assert "journal-entry" in [b.vendor for b in store.balances()]
    store.close()


def test_without_durable_the_same_commit_lives_only_in_the_wal(home):
    # Deterministic: a small commit stays in the -wal (no auto-checkpoint below 1000 pages) and
    # SIGKILL leaves no close to checkpoint it. This is what durable=True is for.
    path = make_desk(home / "esimdesk.sqlite3")
    _write_and_die(path, durable=False)
    integrity.wal_path(path).unlink()
    store = SqliteStore(path)
    assert "journal-entry" not in [b.vendor for b in store.balances()]
    store.close()


def test_durable_commit_returns_normally_and_keeps_the_data(home):
    store = SqliteStore(home / "esimdesk.sqlite3")
    with store.transaction(durable=True) as conn:
        conn.execute("INSERT INTO balances VALUES ('x', '1', 'USD', '2026-11-29T03:15:00+00:00')")
    assert [b.vendor for b in store.balances()] == ["x"]
    with pytest.raises(RuntimeError):
        with store.transaction(durable=True) as conn:
            conn.execute("INSERT INTO balances VALUES ('y', '1', 'USD', '2026-11-29T03:15:00+00:00')")
            raise RuntimeError("changed my mind")
    assert [b.vendor for b in store.balances()] == ["x"]
    store.close()


# --- backups ------------------------------------------------------------------------------------
def test_backups_rotate_to_the_last_seven(home):
    path = make_desk(home / "esimdesk.sqlite3")
    t0 = datetime(2026, 11, 29, 3, 15, tzinfo=UTC)
    made = [backup_now(path, now=t0 + timedelta(hours=i)) for i in range(KEEP + 3)]
    kept = list_backups(path)
    assert kept == made[-KEEP:] and len(kept) == 7
    assert newest_backup(path) == made[-1] and made[-1].name == "esimdesk-20261129-121500.sqlite3"
    assert not any(p.exists() for p in made[:3])


def test_backups_in_the_same_second_keep_their_order(home):
    path = make_desk(home / "esimdesk.sqlite3")
    t0 = datetime(2026, 11, 29, 3, 15, tzinfo=UTC)
    made = [backup_now(path, now=t0) for _ in range(3)]
    assert [p.name for p in made] == ["esimdesk-20261129-031500.sqlite3", "esimdesk-20261129-031500-1.sqlite3",
                                      "esimdesk-20261129-031500-2.sqlite3"]
    assert list_backups(path) == made


def test_a_backup_is_a_whole_checked_file_without_a_log(home):
    path = make_desk(home / "esimdesk.sqlite3")
    store = SqliteStore(path)  # open (its -wal present) while the backup is taken
    store.save_balance(Balance("roamify", Decimal("2.00"), "USD"))
    made = backup_now(path)
    store.close()
    assert sorted(p.name for p in made.parent.iterdir()) == [made.name]
    info = verify_database(made)
    assert info.orders == 3 and info.schema == LATEST
    conn = sqlite3.connect(made)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert {r[0] for r in conn.execute("SELECT vendor FROM balances")} == {"roumio", "roamify"}
    conn.close()


async def test_a_successful_sync_leaves_a_backup(tmp_path, sandbox_config):
    from esimdesk.services.sync import sync_all
    from esimdesk.vendors import build_adapter

    path = tmp_path / "esimdesk.sqlite3"
    store = SqliteStore(path)
    results = await sync_all(store, [sandbox_config("flexiroam")], lambda cfg: build_adapter(cfg, timeout=5))
    assert results[0].ok, results[0].error
    assert len(list_backups(path)) == 1
    assert verify_database(list_backups(path)[0]).schema == LATEST
    # The next sync, minutes later with no order placed: the newest backup is still good enough.
    again = await sync_all(store, [sandbox_config("flexiroam")], lambda cfg: build_adapter(cfg, timeout=5))
    assert again[0].ok and len(list_backups(path)) == 1
    assert rolling_backup(object()) is None  # a store without a file: nothing to back up
    store.close()


def test_a_backup_after_a_sync_when_the_newest_is_an_hour_old_or_the_desks_own_work_changed(tmp_path):
    path = make_desk(tmp_path / "esimdesk.sqlite3")
    store = SqliteStore(path)
    t0 = datetime.now(UTC)
    first = rolling_backup(store, now=t0 - timedelta(minutes=10))
    assert first is not None  # none yet
    assert rolling_backup(store, now=t0) is None  # 10 minutes old, nothing of the desk's own since
    store.journal_create(vendor="roumio", kind="order", reference="shop-new", plan_id="P1", quantity=1,
                         unit_price=Decimal("5.70"), currency="USD")
    t1 = datetime.now(UTC) + timedelta(seconds=1)  # names are to the second: made after the order
    second = rolling_backup(store, now=t1)
    assert second is not None  # an order recorded since the newest backup
    with sqlite3.connect(second) as conn:
        assert conn.execute("SELECT count(*) FROM journal WHERE reference = 'shop-new'").fetchone()[0] == 1
    assert rolling_backup(store, now=t1 + timedelta(minutes=59)) is None
    entry = store.journal_get(reference="shop-new")
    time.sleep(1.1)  # the second backup's name is one second after the order: what follows is after it
    store.journal_transition(entry.id, OrderStatus.FAILED, "refused by the vendor")  # the order moved on
    assert rolling_backup(store, now=t1 + timedelta(minutes=59)) is not None
    t2 = t1 + timedelta(minutes=59)
    assert rolling_backup(store, now=t2 + timedelta(minutes=59)) is None
    assert rolling_backup(store, now=t2 + timedelta(hours=1)) is not None  # an hour old
    assert rolling_backup(store, now=t0 - timedelta(days=1)) is not None  # the clock went back: none to trust
    assert len(list_backups(path)) == 5
    # Support actions and e-mails are looked at the same way: each table is there with its updated_at.
    for table in AGENT_WORK:
        assert "updated_at" in {r[1] for r in store.conn.execute(f"PRAGMA table_info({table})")}, table
    store.close()


# --- restore ------------------------------------------------------------------------------------
def test_restore_brings_the_history_back_into_a_damaged_desk(home):
    path = make_desk(home / "esimdesk.sqlite3", orders=5)
    good = backup_now(path)
    corrupt_root_page(path, "orders")
    damaged = path.read_bytes()
    result = restore_into_place(path, good)
    assert result.previous == "damaged" and result.kept_as is not None
    assert result.kept_as.read_bytes() == damaged  # the damaged bytes are kept for repair, apart from the series
    assert list_backups(path) == [good] and newest_backup(path) == good
    assert result.restored.orders == 5
    assert order_ids(path) == [f"B{i:04d}" for i in range(5)]


def test_restore_over_a_healthy_desk_keeps_it_as_a_consistent_copy(home):
    path = make_desk(home / "esimdesk.sqlite3", orders=2)
    old = backup_now(path)
    store = SqliteStore(path)
    store.upsert_orders([Order("roumio", "B9999", "late", OrderStatus.COMPLETED, datetime.now(UTC))])
    store.close()
    result = restore_into_place(path, old)
    assert result.previous == "healthy"
    assert verify_database(result.kept_as).orders == 3
    # Restore loses nothing (issue 26): the order made after the backup is merged into the restored file.
    assert order_ids(path) == ["B0000", "B0001", "B9999"] and result.merged.kept["orders"] == 1


def test_restore_into_an_empty_or_missing_data_file(home):
    path = make_desk(home / "esimdesk.sqlite3")
    good = backup_now(path)
    path.write_bytes(b"")
    assert restore_into_place(path, good).previous == "empty"
    path.unlink()
    result = restore_into_place(path, good)
    assert result.previous == "missing" and result.kept_as is None
    assert len(order_ids(path)) == 3


def test_restore_removes_a_stale_log_of_the_replaced_file(home):
    path = make_desk(home / "esimdesk.sqlite3")
    good = backup_now(path)
    path.write_bytes(b"garbage" * 1000)
    integrity.wal_path(path).write_bytes(os.urandom(4096))
    integrity.shm_path(path).write_bytes(os.urandom(32768))
    restore_into_place(path, good)
    assert not integrity.wal_path(path).exists() and not integrity.shm_path(path).exists()
    store = SqliteStore(path)
    assert store.opened_as == "checked" and len(store.orders()) == 3
    store.close()


@pytest.mark.parametrize("kind", ["text", "empty", "no-journal", "newer", "damaged", "missing"])
def test_restore_refuses_what_is_not_a_healthy_esimdesk_database(home, kind, tmp_path):
    path = make_desk(home / "esimdesk.sqlite3")
    before = snapshot(path)
    source = tmp_path / f"{kind}.sqlite3"
    if kind == "text":
        source.write_text("id,name\n1,hello\n")
    elif kind == "empty":
        source.write_bytes(b"")
    elif kind == "no-journal":
        conn = sqlite3.connect(source)
        conn.execute("CREATE TABLE notes (x)")
        conn.close()
    elif kind == "newer":
        shutil.copyfile(backup_now(path), source)
        conn = sqlite3.connect(source)
        conn.execute(f"PRAGMA user_version = {LATEST + 1}")
        conn.close()
    elif kind == "damaged":
        shutil.copyfile(make_desk(tmp_path / "other.sqlite3", orders=200), source)
        corrupt_root_page(source, "orders")
    with pytest.raises(StoreError) as info:
        restore_into_place(path, source)
    assert "nothing was changed" in str(info.value) and str(source) in str(info.value)
    assert snapshot(path) == before
    assert not (home / "backups").exists() or all(p.name.startswith("esimdesk-") for p in (home / "backups").iterdir())


def test_restore_refuses_while_another_esimdesk_has_the_file_open(home):
    path = make_desk(home / "esimdesk.sqlite3")
    good = backup_now(path)
    holder = SqliteStore(path)
    try:
        with pytest.raises(StoreError) as info:
            restore_into_place(path, good)
        assert info.value.reason == "in-use" and "close it and try again" in str(info.value)
    finally:
        holder.close()
    assert len(order_ids(path)) == 3

