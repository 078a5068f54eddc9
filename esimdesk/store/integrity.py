"""Is the data file safe to open? Refuse a damaged one in words; never recreate it silently.

An existing file that is empty, is not an SQLite database or fails ``PRAGMA quick_check`` is refused
with one sentence naming it and the newest backup. A missing file is a new desk, created whole under
a temporary name and linked into place, so no other process ever sees a half-made (0-byte) file and
a crash while creating it leaves nothing that would be refused later.

What the check costs, and when it runs (measured by ``bench/backup.py``): the header checks read 100
bytes, every open (a whole store open without quick_check: 0.7 ms). ``quick_check`` reads the whole file — 0.11 s
warm, more from a cold disk, on a 70 MB desk with 50,000 plans and 100,000 eSIMs, 20 times a cached
look-up (bench/results/store_lookups.json) — so it does not run on every command. It runs
when the header looks wrong (a size that is no whole number of pages, fewer pages than the header
counts with no write-ahead log to hold the rest), when the file is not the one the last passing check
saw (size, modification time and inode, kept in the sidecar ``<file>.checked``), and at least once a
day. esimdesk's own writes change the file too: the last connection to close records the file as it
left it (``note_own_writes``), so a sync does not cost the next start a read of the whole file (seconds
at a reseller's size). Damage done outside SQLite while the desk is closed changes the modification
time, so it is caught by the next open; damage while it is open, or that keeps size and time (bit rot),
waits for the daily check.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import stat
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

from esimdesk.domain import StoreError
from esimdesk.store.backup_files import backups_dir, newest_backup
from esimdesk.store.migrations import LATEST, migrate

SQLITE_MAGIC = b"SQLite format 3\x00"
RECHECK_AFTER_S = 24 * 3600
BUSY_TIMEOUT_S = 10.0
CHECKED_SUFFIX = ".checked"

# SQLite primary result codes (the low byte of an extended code).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26
STORAGE_CODES = {_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB}


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def shm_path(path: Path) -> Path:
    return path.with_name(path.name + "-shm")


def checked_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKED_SUFFIX)


# --- files this process has open through SQLite -------------------------------------------------
# SQLite's locks are POSIX advisory (fcntl) locks, and they belong to the process: closing ANY file
# descriptor of the data file in this process (``open(path).read()`` of its header, a file copy) drops
# every lock this process's connections hold on it, while they go on as if they still held them. The
# next esimdesk (the CLI beside the window) that closes its connection then believes it is the last
# one: it checkpoints, deletes the -wal and -shm, and this process's connections keep using the old
# (deleted) shared-memory index: "database disk image is malformed", disk I/O errors, lost writes
# (https://www.sqlite.org/howtocorrupt.html, 2.2). So every SQLite connection the store code opens
# goes through ``connect`` (which counts it here until it is closed), and a raw read of a data file
# (``read_header``) happens only while no connection of this process has that file open.
_held: dict[tuple[int, int], int] = {}  # (st_dev, st_ino) -> connections of this process open on it
# Also held during a raw read, so no connection opens (registers) meanwhile. Re-entrant: a connection
# collected by the garbage collector inside a locked block releases its count from ``__del__``.
_held_lock = threading.RLock()


def _file_key(path: Path | str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None  # missing (a new file), ":memory:", a name the system refuses
    return st.st_dev, st.st_ino


def _hold(key: tuple[int, int] | None) -> None:
    if key is not None:
        with _held_lock:
            _held[key] = _held.get(key, 0) + 1


def _release(key: tuple[int, int] | None) -> None:
    if key is not None:
        with _held_lock:
            left = _held.get(key, 0) - 1
            if left > 0:
                _held[key] = left
            else:
                _held.pop(key, None)


def open_here(path: Path | str) -> bool:
    """True while a connection of this process (opened with ``connect``) has the file ``path`` open."""
    key = _file_key(path)
    with _held_lock:
        return key is not None and key in _held


def read_header(path: Path | str, size: int = 100) -> bytes | None:
    """The first ``size`` bytes of ``path`` through a plain file descriptor, or None when a connection
    of this process has the file open (closing that descriptor would drop the connection's locks).
    Raises ``OSError`` when the file cannot be read."""
    with _held_lock:  # no connection of this process opens the file while the descriptor is open
        key = _file_key(path)
        if key is not None and key in _held:
            return None
        with open(path, "rb") as f:
            return f.read(size)


def behind(path: Path) -> bool:
    """Whether the data file at ``path`` is of an older schema than this esimdesk's, read from its header (no
    connection opened). False when there is none, another connection of this process has it open, or its
    header is not SQLite's: opening it says what is wrong. The header may lag a write-ahead log not yet
    checkpointed: then True, and the open finds nothing left to do."""
    try:
        header = read_header(path) if path.is_file() else None
    except OSError:
        return False
    if header is None or len(header) < 64 or not header.startswith(b"SQLite format 3\x00"):
        return False
    return 0 < int.from_bytes(header[60:64], "big") < LATEST


class HeldConnection(sqlite3.Connection):
    """An ``sqlite3.Connection`` counted in this process's open files until it is closed (or collected)."""

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        # Counted after SQLite opened the file (so it exists) and before any statement takes a lock.
        self._held_key = _file_key(_plain(str(database)) if kwargs.get("uri") else database)
        _hold(self._held_key)

    def close(self) -> None:
        try:
            super().close()
        finally:
            key, self._held_key = getattr(self, "_held_key", None), None
            _release(key)

    def __del__(self) -> None:  # dropped without close(): closed now, then no longer counted
        try:
            self.close()
        except Exception:  # noqa: BLE001  (interpreter shutdown, a closed database)
            pass


def connect(database: Path | str, **kwargs) -> sqlite3.Connection:
    """``sqlite3.connect`` for the store code: the file counts as open in this process (``open_here``)
    until the connection is closed, so no raw read of it drops the connection's locks."""
    return sqlite3.connect(database, factory=HeldConnection, **kwargs)


# --- opening ------------------------------------------------------------------------------------
def ensure_usable(path: Path) -> str:
    """Make sure ``path`` can be opened as the desk's data file, or raise ``StoreError``.

    Returns ``"new"`` (created now, empty desk), ``"checked"`` (quick_check ran and passed) or
    ``"unchanged"`` (the header is sound and the file is the one the last passing check saw).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, path.parent, f"create the data folder {path.parent}") from exc
    try:
        st = path.stat()
    except FileNotFoundError:
        _create_new(path)
        return "new"
    except OSError as exc:
        raise os_error(exc, path, f"read the data file {path}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"the data file {path} is not a file; nothing was changed", path=str(path),
                         reason="not-a-database")
    suspicious = _header_suspicious(path, st)
    if not suspicious and _recently_checked(path, st):
        return "unchanged"
    findings = quick_check(path)
    if findings:
        raise damaged_error(path, "it fails SQLite's quick_check: " + _first_finding(findings), "damaged")
    _record_checked(path)
    return "checked"


def _header_suspicious(path: Path, st: os.stat_result) -> bool:
    """Refuse what the first 100 bytes already condemn; True when the header asks for a full check."""
    if st.st_size == 0:
        raise damaged_error(path, "empty", "empty")
    try:
        header = read_header(path)
    except OSError as exc:
        raise os_error(exc, path, f"read the data file {path}") from exc
    if header is None:
        return False  # open through SQLite in this process (so a database, checked when first opened)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise damaged_error(path, "not an SQLite database", "not-a-database")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise damaged_error(path, "its header is broken", "damaged")
    if st.st_size % page_size:
        return True  # cut off in the middle of a page
    pages = int.from_bytes(header[28:32], "big")
    header_count_valid = header[24:28] == header[92:96]  # SQLite's own rule for trusting the page count
    if header_count_valid and pages * page_size > st.st_size:
        try:
            wal_bytes = wal_path(path).stat().st_size
        except OSError:
            wal_bytes = 0
        return wal_bytes == 0  # shorter than its header says, and no log that could hold the rest
    return False


def quick_check(path: Path, *, uri: bool = False) -> list[str]:
    """SQLite's ``PRAGMA quick_check`` of the file: ``[]`` when healthy, else its findings.

    Damage SQLite reports as an error (not a database, malformed image) is a finding too. Failures
    that say nothing about the content (cannot open, read-only folder, busy) raise ``StoreError``.
    ``uri``: ``path`` is an SQLite URI (e.g. ``file:/x?mode=ro``).
    """
    target = str(path)
    try:
        conn = connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=uri)
    except sqlite3.Error as exc:
        raise as_store_error(exc, _plain(target), "open") or StoreError(str(exc)) from exc
    try:
        rows = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if _code(exc) in (_CORRUPT, _NOTADB):
            return [str(exc)]
        raise as_store_error(exc, _plain(target), "open") or StoreError(str(exc)) from exc
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def _plain(target: str) -> Path:
    """The file a path or an SQLite ``file:`` URI names (for messages)."""
    if not target.startswith("file:"):
        return Path(target)
    path = unquote(urlsplit(target).path)
    return Path(path[1:] if len(path) > 2 and path[0] == "/" and path[2] == ":" else path)  # /C:/x on Windows


def _first_finding(findings: list[str]) -> str:
    lines = [ln for f in findings for ln in str(f).splitlines() if ln.strip() and not ln.startswith("***")]
    text = lines[0] if lines else "unknown damage"
    return text if len(text) <= 120 else text[:117] + "..."


def _fingerprint(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _recently_checked(path: Path, st: os.stat_result) -> bool:
    try:
        seen = json.loads(checked_path(path).read_text())
        return seen["file"] == _fingerprint(st) and 0 <= time.time() - float(seen["checked_at"]) < RECHECK_AFTER_S
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _record_checked(path: Path, checked_at: float | None = None) -> None:
    """Remember the file as it is now (after the check's connection closed). Best effort: a read-only
    folder only means the next open checks again."""
    try:
        fingerprint = _fingerprint(path.stat())
        side = checked_path(path)
        tmp = side.with_name(f".{side.name}.{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps({"file": fingerprint, "checked_at": time.time() if checked_at is None
                                   else checked_at}))
        os.replace(tmp, side)
    except OSError:
        pass


def note_own_writes(path: Path, opened: os.stat_result) -> None:
    """After this process wrote the file through SQLite (and closed its connections): the file as it is now
    is the one that was checked, changed only by SQLite, so the next open need not read it whole again (a
    quick_check of a full-size desk is seconds before the window shows). Only when the file is still the one
    this process opened and nobody else changed it since (same inode, the sidecar still of that open), and
    the day's recheck keeps its date: damage from outside is still caught at the next open or within a day."""
    try:
        seen = json.loads(checked_path(path).read_text())
        now = path.stat()
        if now.st_ino != opened.st_ino or seen["file"] != _fingerprint(opened):
            return
        if not wal_path(path).exists() or wal_path(path).stat().st_size == 0:
            _record_checked(path, float(seen["checked_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass


def forget_checked(path: Path) -> None:
    """The next open runs quick_check (after a restore replaced the file)."""
    try:
        checked_path(path).unlink()
    except OSError:
        pass


def _create_new(path: Path) -> None:
    """A new desk: built whole under a temporary name (WAL, current schema), then linked into place.

    A log left beside a missing file means a desk was there: refused, not replayed into a new file.
    """
    wal, shm = wal_path(path), shm_path(path)
    try:
        wal_bytes = wal.stat().st_size
    except FileNotFoundError:
        wal_bytes = None
    if wal_bytes:
        raise StoreError(
            f"the data file {path} is missing but its write-ahead log {wal} is there, so a desk was here; "
            f"nothing was changed. {_restore_advice(path, move=str(wal))}", path=str(path), reason="orphaned-wal")
    for stale in (wal, shm):
        _unlink(stale)
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{threading.get_ident()}")
    _remove_db_files(tmp)
    try:
        try:
            conn = connect(tmp, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                migrate(conn)
                # Everything into the file itself, checked: the checkpoint close() would run fails silently on
                # a full disk and would leave a file missing pages, linked into place as the desk.
                busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if busy or copied < frames:
                    raise sqlite3.OperationalError("database or disk is full")
            finally:
                conn.close()  # last connection: the file is whole
        except sqlite3.Error as exc:
            raise as_store_error(exc, path, "create") or StoreError(str(exc)) from exc
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another esimdesk created the desk a moment ago: use that one
        except OSError:
            if not path.exists():  # no hard links on this filesystem
                os.replace(tmp, path)
    except OSError as exc:
        raise os_error(exc, path, f"create the data file {path}") from exc
    finally:
        _remove_db_files(tmp)


def _remove_db_files(path: Path) -> None:
    for p in (path, wal_path(path), shm_path(path), path.with_name(path.name + "-journal")):
        _unlink(p)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


# --- errors in words ----------------------------------------------------------------------------
def damaged_error(path: Path, detail: str, reason: str = "damaged") -> StoreError:
    """The refusal: one sentence naming the file and the newest backup."""
    return StoreError(f"the data file {path} is damaged ({detail}); nothing was changed. {_restore_advice(path)}",
                      path=str(path), reason=reason)


def _restore_advice(path: Path, move: str | None = None) -> str:
    newest = newest_backup(path)
    thing = move or "the file"
    if newest is not None:
        return f"Restore the newest backup with 'esimdesk restore {_quoted(newest)}', or move {thing} away to start an empty desk"
    return f"There is no backup in {backups_dir(path)}; move {thing} away (keep it for repair) to start an empty desk"


def _quoted(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def _code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF
    text = str(exc).lower()  # Python < 3.11 or an error raised without a code: SQLite's own wording
    for needle, primary in (("disk is full", _FULL), ("readonly", _READONLY), ("disk i/o", _IOERR),
                            ("unable to open", _CANTOPEN), ("malformed", _CORRUPT), ("not a database", _NOTADB),
                            ("locked", _BUSY)):
        if needle in text:
            return primary
    return None


def is_storage_error(exc: BaseException) -> bool:
    """An SQLite error about the file or the disk (not about a statement or a constraint)."""
    return isinstance(exc, sqlite3.Error) and _code(exc) in STORAGE_CODES


def as_store_error(exc: sqlite3.Error, path: Path, doing: str = "write to",
                   what: str = "the data file") -> StoreError | None:
    """``exc`` in words (``"cannot write to the data file …: the disk is full"``), or None when it is
    not about the file or the disk (a constraint, a statement). ``doing``: ``"write to"``, ``"open"``,
    ``"read"``, ``"create"``…; ``what``: how to call ``path``."""
    code = _code(exc)
    if code not in STORAGE_CODES:
        return None
    path = Path(path)
    if code in (_CORRUPT, _NOTADB):
        if what == "the data file":
            return damaged_error(path, f"SQLite says: {exc}", "damaged")
        return StoreError(f"{what} {path} is damaged (SQLite says: {exc})", path=str(path), reason="damaged")
    head = f"cannot {doing} {what} {path}"
    if code in (_BUSY, _LOCKED):
        return StoreError(f"{head}: another esimdesk kept it busy for {BUSY_TIMEOUT_S:g} seconds; try again",
                          path=str(path), reason="busy")
    if code == _FULL or _disk_full(path):
        return StoreError(f"{head}: the disk is full", path=str(path), reason="disk-full")
    read_only = _read_only_words(path)
    if read_only or code in (_READONLY, _PERM):
        return StoreError(f"{head}: {read_only or 'it is open read-only'}", path=str(path), reason="read-only")
    if code == _CANTOPEN:
        return StoreError(f"{head}: the system refused to open it or a file beside it (permissions, or a folder "
                          "that is gone)", path=str(path), reason="io-error")
    return StoreError(f"{head}: the disk reported an input/output error (full, removed, failing, or a network "
                      "drive that went away?)", path=str(path), reason="io-error")


def os_error(exc: OSError, path: Path, action: str) -> StoreError:
    """An ``OSError`` on the data folder or a file in it, in words: ``"cannot {action}: {why}"``, where
    ``action`` names what was tried, e.g. ``"create the data folder /x"``."""
    path = Path(path)
    if exc.errno == errno.ENOSPC or _disk_full(path):
        why, reason = "the disk is full", "disk-full"
    elif exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        why, reason = _read_only_words(path) or "permission denied", "read-only"
    else:
        why, reason = exc.strerror or str(exc), "io-error"
    return StoreError(f"cannot {action}: {why}", path=str(path), reason=reason)


def _existing(path: Path) -> Path | None:
    for p in (path, *path.parents):
        if p.exists():
            return p
    return None


def _disk_full(path: Path) -> bool:
    where = _existing(path)
    try:
        return where is not None and shutil.disk_usage(where if where.is_dir() else where.parent).free < 64 * 1024
    except OSError:
        return False


def _read_only_words(path: Path) -> str | None:
    """Why writing there cannot work, from the system's point of view (root on a read-only mount too)."""
    folder = path.parent if not path.is_dir() else path
    if path.exists() and not path.is_dir() and not os.access(path, os.W_OK):
        return "the file is read-only"
    existing = _existing(folder)
    if existing is not None and not os.access(existing, os.W_OK):
        return "the folder is read-only" if existing == folder else f"the folder {existing} is read-only"
    return None
