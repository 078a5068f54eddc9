"""Rolling backups of the data file (SQLite's backup API), and putting one back in its place.

``<folder of the data file>/backups/esimdesk-YYYYMMDD-HHMMSS.sqlite3`` (UTC): one after each sync that
brought something and one per ``esimdesk backup``; the last ``KEEP`` are kept. Every copy passes
``quick_check`` before it gets its name, so the newest backup — the one a refusal message points to —
is always a healthy one. A restore first keeps the file it replaces as ``backups/replaced-….sqlite3``
(a consistent copy when it is healthy, its raw bytes and log when it is not), apart from the rolling
series so it never becomes "the newest backup" and never pushes a good backup out.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from esimdesk.domain import StoreError
from esimdesk.store.integrity import (
    BUSY_TIMEOUT_S,
    SQLITE_MAGIC,
    as_store_error,
    connect,
    forget_checked,
    open_here,
    os_error,
    quick_check,
    read_header,
    shm_path,
    wal_path,
)

DATA_FILE = "esimdesk.sqlite3"  # the name open_store gives the data file in its folder
BACKUPS_DIR = "backups"
KEEP = 7
IN_USE_WAIT_S = 1.0
_SERIES = re.compile(r"^esimdesk-(\d{8})-(\d{6})(?:-(\d+))?\.sqlite3$")
_REPLACED = re.compile(r"^replaced-(\d{8})-(\d{6})(?:-(\d+))?\.sqlite3$")


@dataclass(frozen=True)
class DatabaseInfo:
    """A file that passed ``verify_database``."""

    path: Path
    schema: int
    orders: int
    journal: int
    bytes: int


@dataclass(frozen=True)
class RestoreResult:
    data_file: Path
    source: Path
    restored: DatabaseInfo
    previous: str  # what was in place before: "healthy", "damaged", "empty" or "missing"
    kept_as: Path | None  # where the replaced file was kept (None: there was nothing to keep)

    def to_json(self) -> dict:
        return {"data_file": str(self.data_file), "restored_from": str(self.source), "schema": self.restored.schema,
                "orders": self.restored.orders, "journal_entries": self.restored.journal, "previous": self.previous,
                "previous_kept_as": str(self.kept_as) if self.kept_as else None}


# --- listing ------------------------------------------------------------------------------------
def backups_dir(data_file: Path) -> Path:
    return Path(data_file).parent / BACKUPS_DIR


def list_backups(data_file: Path) -> list[Path]:
    """The rolling series, oldest first."""
    return _series(backups_dir(data_file), _SERIES)


def newest_backup(data_file: Path) -> Path | None:
    found = list_backups(data_file)
    return found[-1] if found else None


def _series(folder: Path, pattern: re.Pattern) -> list[Path]:
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    keyed = []
    for name in names:
        m = pattern.match(name)
        if m:
            keyed.append(((m[1], m[2], int(m[3] or 0)), folder / name))
    return [p for _, p in sorted(keyed)]


def _new_name(folder: Path, prefix: str, now: datetime | None) -> Path:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    path, n = folder / f"{prefix}-{stamp}.sqlite3", 0
    while path.exists():
        n += 1
        path = folder / f"{prefix}-{stamp}-{n}.sqlite3"
    return path


def _rotate(folder: Path, pattern: re.Pattern, keep: int) -> list[Path]:
    removed = []
    for old in _series(folder, pattern)[:-keep] if keep > 0 else []:
        try:
            old.unlink()
            removed.append(old)
        except OSError:
            pass  # a backup we could not delete is still a backup
    return removed


# --- backing up ---------------------------------------------------------------------------------
def backup_now(data_file: Path, *, keep: int = KEEP, now: datetime | None = None) -> Path:
    """Copy the data file (a consistent snapshot, while others read and write) into the rolling series.

    The copy is a rollback-journal file (no -wal beside it) and passed quick_check. Raises
    ``StoreError`` when there is no data file, it cannot be read, or the backups folder cannot be written.
    """
    data_file = Path(data_file)
    if not data_file.is_file():
        raise StoreError(f"there is no data file at {data_file} to back up", path=str(data_file), reason="missing")
    folder = _made_backups_dir(data_file)
    final = _new_name(folder, "esimdesk", now)
    tmp = folder / f".{final.name}.partial-{os.getpid()}-{threading.get_ident()}"
    try:
        # read-write, not ?mode=ro: a read-only connection cannot tidy the -wal/-shm it makes when it closes
        _copy(_uri(data_file, "rw"), tmp, journal_mode="DELETE", source_path=data_file, shown_as=final)
        findings = quick_check(tmp)
        if findings:
            from esimdesk.store.integrity import damaged_error

            raise damaged_error(data_file, "its copy fails SQLite's quick_check; the copy was not kept")
        os.replace(tmp, final)
    except OSError as exc:
        raise os_error(exc, tmp, f"write the backup {final}") from exc
    finally:
        _remove_db_files(tmp)
    _fsync_dir(folder)
    _rotate(folder, _SERIES, keep)
    return final


def _made_backups_dir(data_file: Path) -> Path:
    """The backups folder, created if need be; a folder that cannot be made is a StoreError in words."""
    folder = backups_dir(data_file)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, folder, f"create the backups folder {folder}") from exc
    return folder


def _uri(path: Path, mode: str) -> str:
    return f"{Path(path).absolute().as_uri()}?mode={mode}"


def _copy(source_uri: str, target: Path, *, journal_mode: str, source_path: Path,
          source: sqlite3.Connection | None = None, shown_as: Path | None = None) -> None:
    """SQLite's backup API from ``source_uri`` (or the open ``source``) into a new file ``target``
    (called ``shown_as`` in messages: the name it will have)."""
    _remove_db_files(target)
    src = None
    try:
        src = source or connect(source_uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        src.execute("SELECT count(*) FROM sqlite_schema").fetchone()  # opening errors name the source
    except sqlite3.Error as exc:
        if src is not None and source is None:
            src.close()
        raise as_store_error(exc, source_path, "read", what=_what(source_path)) or StoreError(str(exc)) from exc
    try:
        dst = connect(target, isolation_level=None)
        try:
            src.backup(dst)
            dst.execute(f"PRAGMA journal_mode={journal_mode}")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        mapped = as_store_error(exc, shown_as or target, "write", what="the copy")
        if mapped is not None and mapped.reason == "damaged":  # a page of the source could not be read
            mapped = as_store_error(exc, source_path, "read", what=_what(source_path))
        raise mapped or StoreError(str(exc)) from exc
    finally:
        if source is None:
            src.close()


def _what(path: Path) -> str:
    return "the data file" if path.parent.name != BACKUPS_DIR else "the backup"


# --- checking a file to restore -----------------------------------------------------------------
def verify_database(source: Path) -> DatabaseInfo:
    """``source`` is a healthy esimdesk database: quick_check passes, its schema is not newer than this
    esimdesk's, and it has the order journal. Opened read-only. Raises ``StoreError`` saying why not."""
    from esimdesk.store.migrations import LATEST

    source = Path(source)

    def refuse(why: str, reason: str = "not-esimdesk") -> StoreError:
        return StoreError(f"{source} is not a healthy esimdesk database ({why}); nothing was changed",
                          path=str(source), reason=reason)

    if not source.exists():
        raise refuse("there is no such file", "missing")
    if not source.is_file():
        raise refuse("it is not a file")
    try:
        size = source.stat().st_size
        header = read_header(source)  # None: open through SQLite in this process, so a database
    except OSError as exc:
        raise os_error(exc, source, f"read {source}") from exc
    if size == 0:
        raise refuse("it is empty", "empty")
    if header is not None and not header.startswith(SQLITE_MAGIC):
        raise refuse("it is not an SQLite database", "not-a-database")
    findings = quick_check(_uri(source, "ro"), uri=True)
    if findings:
        raise refuse("it fails SQLite's quick_check", "damaged")
    try:
        conn = connect(_uri(source, "ro"), uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            schema = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
            if schema < 1 or "journal" not in tables or "orders" not in tables:
                raise refuse("it has no esimdesk order journal")
            if schema > LATEST:
                raise refuse(f"it is from a newer esimdesk: schema {schema}, this one knows {LATEST}", "newer-schema")
            orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
            journal = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise as_store_error(exc, source, "read", what="the file") or refuse(str(exc)) from exc
    return DatabaseInfo(source, schema, orders, journal, size)


# --- restoring ----------------------------------------------------------------------------------
def restore_into_place(data_file: Path, source: Path, *, keep: int = KEEP) -> RestoreResult:
    """Replace the data file with a verified copy of ``source``; works when the data file is damaged.

    1. ``source`` must pass ``verify_database`` (else nothing is touched).
    2. The data file must not be open in another esimdesk (an exclusive lock says so; else refused).
    3. The current file is kept in ``backups/replaced-….sqlite3`` when it has any bytes.
    4. ``source`` is copied with the backup API into a temporary file beside the data file (WAL, checked),
       stale ``-wal``/``-shm`` are removed (a log replayed into another file would corrupt it) and the
       temporary file takes the data file's name with ``os.replace`` (atomic).
    """
    data_file = Path(data_file).absolute()
    source = Path(source).absolute()
    if source == data_file or (data_file.exists() and source.exists() and source.samefile(data_file)):
        raise StoreError(f"{source} is the data file itself; nothing was changed", path=str(source),
                         reason="not-esimdesk")
    restored = verify_database(source)
    lock, previous = _lock(data_file)
    tmp = data_file.with_name(f".{data_file.name}.restore-{os.getpid()}-{threading.get_ident()}")
    deferred: list[int] = []  # descriptors of the data file, closed only after the lock (see _copy_bytes)
    try:
        kept_as = _keep_previous(data_file, lock, previous, keep, deferred)
        _copy(_uri(source, "ro"), tmp, journal_mode="WAL", source_path=source, shown_as=data_file)
        if quick_check(tmp):
            raise StoreError(f"the copy of {source} failed quick_check; nothing was changed", path=str(source),
                             reason="damaged")
        if lock is not None:
            lock.close()
            lock = None
        _close_all(deferred)
        for stale in (wal_path(data_file), shm_path(data_file)):
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
        os.replace(tmp, data_file)
    except OSError as exc:
        raise os_error(exc, data_file, f"replace the data file {data_file}") from exc
    finally:
        if lock is not None:
            lock.close()
        _close_all(deferred)
        _remove_db_files(tmp)
    _fsync_dir(data_file.parent)
    forget_checked(data_file)
    return RestoreResult(data_file, source, restored, previous, kept_as)


def _lock(data_file: Path) -> tuple[sqlite3.Connection | None, str]:
    """An exclusive lock on the current data file (held until closed) and what state it is in."""
    try:
        size = data_file.stat().st_size
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        raise os_error(exc, data_file, f"read the data file {data_file}") from exc
    if size == 0:
        return None, "empty"
    if open_here(data_file):  # this process has it open (a store): in use, and no raw read may touch it
        raise _in_use(data_file)
    try:
        header = read_header(data_file)
    except OSError as exc:
        raise os_error(exc, data_file, f"read the data file {data_file}") from exc
    if header is None:
        raise _in_use(data_file)
    if not header.startswith(SQLITE_MAGIC):
        return None, "damaged"
    conn = connect(_uri(data_file, "rw"), uri=True, timeout=IN_USE_WAIT_S, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")  # kept after COMMIT in exclusive locking mode
        conn.execute("COMMIT")
        state = "healthy" if conn.execute("PRAGMA quick_check").fetchall() == [("ok",)] else "damaged"
        return conn, state
    except sqlite3.Error as exc:
        mapped = as_store_error(exc, data_file, "lock")
        conn.close()
        if mapped is not None and mapped.reason == "damaged":
            return None, "damaged"
        if mapped is not None and mapped.reason == "busy":
            raise _in_use(data_file) from exc
        raise mapped or StoreError(str(exc)) from exc


def _in_use(data_file: Path) -> StoreError:
    return StoreError(f"the data file {data_file} is in use by another esimdesk (the window, or a command "
                      "still running); close it and try again; nothing was changed",
                      path=str(data_file), reason="in-use")


def _keep_previous(data_file: Path, lock: sqlite3.Connection | None, previous: str, keep: int,
                   deferred: list[int]) -> Path | None:
    if previous in ("missing", "empty"):
        return None
    folder = _made_backups_dir(data_file)
    target = _new_name(folder, "replaced", None)
    try:
        if previous == "healthy" and lock is not None:
            tmp = folder / f".{target.name}.partial"
            try:
                _copy("", tmp, journal_mode="DELETE", source_path=data_file, source=lock, shown_as=target)
                os.replace(tmp, target)
            finally:
                _remove_db_files(tmp)
        else:  # damaged: its bytes as they are, with its log, for whoever tries to repair it
            if lock is not None:  # closing a descriptor of the file now would drop the lock
                _copy_bytes(data_file, target, deferred)
            else:
                shutil.copyfile(data_file, target)
            if wal_path(data_file).exists():  # SQLite locks the data file and -shm, never the -wal
                shutil.copyfile(wal_path(data_file), wal_path(target))
    except OSError as exc:
        raise os_error(exc, target, f"keep the current data file as {target}") from exc
    _rotate(folder, _REPLACED, keep)
    return target


# --- small file helpers -------------------------------------------------------------------------
def _copy_bytes(source: Path, target: Path, deferred: list[int]) -> None:
    """Copy ``source`` while this process holds an SQLite lock on it: its descriptor is not closed
    here but added to ``deferred``, to be closed after the lock (closing any descriptor of a file
    drops all of the process's POSIX locks on it, see integrity.py)."""
    fd = os.open(source, os.O_RDONLY)
    deferred.append(fd)
    with open(target, "wb") as out:
        while chunk := os.read(fd, 1 << 20):
            out.write(chunk)


def _close_all(fds: list[int]) -> None:
    while fds:
        try:
            os.close(fds.pop())
        except OSError:
            pass


def _remove_db_files(path: Path) -> None:
    for p in (path, wal_path(path), shm_path(path), path.with_name(path.name + "-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); Windows has no directory handles to sync."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def rolling_backup(store: object, *, keep: int = KEEP) -> Path | None:
    """After a sync: a backup of ``store``'s file (an SQLite store; others are skipped). A failure is
    logged, not raised: the sync itself went well, and the next one tries again."""
    path = getattr(store, "path", None)
    if path is None:
        return None
    try:
        return backup_now(Path(path), keep=keep)
    except StoreError as exc:
        import logging

        logging.getLogger("esimdesk.backup").warning("no backup after this sync: %s", exc)
        return None
