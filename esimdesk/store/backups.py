"""Rolling backups of the data file (SQLite's backup API), and putting one back in its place.

``<folder of the data file>/backups/esimdesk-YYYYMMDD-HHMMSS.sqlite3`` (UTC): one after a sync that
brought something when the newest is ``BACKUP_EVERY`` old or an order, top-up, support action or e-mail
was made or moved on since it (``backup_due``), and one per ``esimdesk backup``; the last ``KEEP`` are
kept. Every copy passes ``quick_check`` before it gets its name, so the newest backup — the one a
refusal message points to — is always a healthy one. A restore first keeps the file it replaces as
``backups/replaced-….sqlite3`` (a consistent copy when it is healthy, its raw bytes and log when it is
not), apart from the rolling series so it never becomes "the newest backup" and never pushes a good
backup out.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import secrets
import shutil
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from esimdesk.domain import StoreError
from esimdesk.domain.states import SETTLED
from esimdesk.store.backup_files import (  # noqa: F401 (list_backups, newest_backup: this module's public face)
    BACKUPS_DIR,
    REPLACED,
    SERIES,
    backups_dir,
    list_backups,
    newest_backup,
    series,
)
from esimdesk.store.identifiers import quoted
from esimdesk.store.integrity import (
    BUSY_TIMEOUT_S,
    SQLITE_MAGIC,
    as_store_error,
    connect,
    damaged_error,
    forget_checked,
    open_here,
    os_error,
    quick_check,
    read_header,
    shm_path,
    wal_path,
)
from esimdesk.store.migrations import LATEST, migrate

DATA_FILE = "esimdesk.sqlite3"  # the name open_store gives the data file in its folder
KEEP = 7
IN_USE_WAIT_S = 1.0
# After a sync, a backup when the newest is this old, or sooner when the desk's own work changed since it
# (AGENT_WORK: what no vendor can give back). A full copy after every sync cost a routine sync at 300,000
# eSIMs a vendor 11 s of its 53 s, and kept 7 syncs' worth of backups, half an hour of syncs every 5 min.
BACKUP_EVERY = timedelta(hours=1)
AGENT_WORK = ("journal", "esim_actions", "deliveries")  # orders and top-ups, support actions, e-mails


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
    merged: Merged | None = None  # what of the replaced file was kept in the restored one (None: not readable)

    def to_json(self) -> dict:
        m = self.merged
        return {"data_file": str(self.data_file), "restored_from": str(self.source), "schema": self.restored.schema,
                "orders": self.restored.orders, "journal_entries": self.restored.journal, "previous": self.previous,
                "previous_kept_as": str(self.kept_as) if self.kept_as else None,
                "desk_id": m.desk_id if m else None, "desk_id_from": m.desk_id_from if m else None,
                "kept_from_previous": dict(m.kept) if m else {}, "brought_forward": dict(m.forward) if m else {}}


@dataclass
class Merged:
    """What a restore kept of the file it replaced, and whose identity the restored file has."""

    desk_id: str
    desk_id_from: str  # "previous" (the current desk's, kept) or "new" (no readable file to keep it from)
    kept: dict[str, int]  # rows the backup lacked, copied in: {"orders": 3, "journal entries": 2, ...}
    forward: dict[str, int]  # rows the backup had in an older state, brought to the replaced file's

    def sentences(self) -> list[str]:
        out = []
        kept = [_count(n, what) for what, n in self.kept.items() if n]
        if kept:
            out.append(f"kept {_and(kept)} made after the backup (from the file it replaced)")
        forward = [_count(n, what) for what, n in self.forward.items() if n]
        if forward:
            out.append(f"brought {_and(forward)} forward to their newer state in the file it replaced")
        if self.desk_id_from == "previous":
            out.append(f"this desk keeps its own identity (desk id {self.desk_id})")
        else:
            out.append(f"there was no readable data file to take the desk's identity from: this is a new desk "
                       f"(desk id {self.desk_id})")
        return out


def _count(n: int, what: str) -> str:
    return f"{n} {what if n != 1 else _SINGULAR.get(what, what)}"


_SINGULAR = {"orders": "order", "eSIMs": "eSIM", "journal entries": "journal entry", "support actions": "support action",
             "e-mails": "e-mail"}


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _new_name(folder: Path, prefix: str, now: datetime | None) -> Path:
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d-%H%M%S")
    path, n = folder / f"{prefix}-{stamp}.sqlite3", 0
    while path.exists():
        n += 1
        path = folder / f"{prefix}-{stamp}-{n}.sqlite3"
    return path


def _rotate(folder: Path, pattern: re.Pattern, keep: int) -> list[Path]:
    removed = []
    for old in series(folder, pattern)[:-keep] if keep > 0 else []:
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
            raise damaged_error(data_file, "its copy fails SQLite's quick_check; the copy was not kept")
        os.replace(tmp, final)
    except OSError as exc:
        raise os_error(exc, tmp, f"write the backup {final}") from exc
    finally:
        _remove_db_files(tmp)
    _fsync_dir(folder)
    _rotate(folder, SERIES, keep)
    return final


def backup_due(data_file: Path, now: datetime | None = None) -> bool:
    """A rolling backup is due: there is none, the newest was made ``BACKUP_EVERY`` ago or more, or an
    order, top-up, support action or e-mail was made or moved on since it (each row's ``updated_at``)."""
    newest = newest_backup(data_file)
    made = _made_at(newest) if newest is not None else None
    now = now or datetime.now(UTC)
    if made is None or not timedelta(0) <= now - made < BACKUP_EVERY:  # none, old, or the clock went back
        return True
    since = made.isoformat()  # updated_at is isoformat UTC: compared as text, in time order
    try:
        conn = connect(_uri(data_file, "rw"), uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
            return any(conn.execute(f"SELECT 1 FROM {t} WHERE updated_at >= ? LIMIT 1", (since,)).fetchone()
                       for t in AGENT_WORK if t in tables)
        finally:
            conn.close()
    except sqlite3.Error as exc:  # backup_now says what is wrong, in words
        logging.getLogger("esimdesk.backup").debug("backup due: %s could not be read: %s", data_file, exc)
        return True


def _made_at(backup: Path) -> datetime | None:
    """When a backup of the series was made, from its name (UTC, to the second)."""
    m = SERIES.match(backup.name)
    return datetime.strptime(m[1] + m[2], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if m else None


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
            # A new file no one else reads until it is renamed: written without a rollback journal or a sync
            # per step (a third less time for 1 GB), then synced once.
            dst.execute("PRAGMA journal_mode=OFF")
            dst.execute("PRAGMA synchronous=OFF")
            src.backup(dst)
            dst.execute(f"PRAGMA journal_mode={journal_mode}")
        finally:
            dst.close()
        _fsync_file(target)
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
            missing = _missing_schema(conn, schema)
            if missing:
                raise refuse(f"it says schema {schema} but lacks what schema {schema} has: {_listed(missing)}",
                             "incomplete-schema")
            orders = conn.execute("SELECT count(*) FROM orders").fetchone()[0]
            journal = conn.execute("SELECT count(*) FROM journal").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise as_store_error(exc, source, "read", what="the file") or refuse(str(exc)) from exc
    return DatabaseInfo(source, schema, orders, journal, size)


def _schema_of(conn: sqlite3.Connection, schema: str = "main") -> dict[str, set[str]]:
    """{"table x": its columns, "index y": set(), "trigger z": set()} of one database of ``conn``."""
    out: dict[str, set[str]] = {}
    for kind, name in conn.execute(f"SELECT type, name FROM {schema}.sqlite_schema "
                                   "WHERE type IN ('table', 'index', 'trigger', 'view') AND name NOT LIKE 'sqlite_%'"):
        cols = {r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({quoted(name)})")} if kind == "table" else set()
        out[f"{kind} {name}"] = cols
    return out


@functools.cache
def _expected_schema(version: int) -> dict[str, frozenset[str]]:
    """What a file of schema ``version`` has: a new database made by the migrations up to that version."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(conn, version)
        return {k: frozenset(v) for k, v in _schema_of(conn).items()}
    finally:
        conn.close()


def _missing_schema(conn: sqlite3.Connection, version: int) -> list[str]:
    """Every table, column, index and trigger of schema ``version`` that the file of ``conn`` lacks."""
    have = _schema_of(conn)
    missing = []
    for thing, cols in _expected_schema(version).items():
        if thing not in have:
            missing.append(thing)
        elif cols - have[thing]:
            table = thing.split(" ", 1)[1]
            missing += [f"column {table}.{c}" for c in sorted(cols - have[thing])]
    return missing


def _listed(missing: list[str]) -> str:
    """Tables first (all of them), then columns, then indexes and triggers, within about 15 names."""
    order = {"table": 0, "view": 0, "column": 1, "index": 2, "trigger": 2}
    missing = sorted(missing, key=lambda m: order.get(m.split(" ", 1)[0], 3))
    tables = [m for m in missing if order.get(m.split(" ", 1)[0]) == 0]
    # A missing full-text table's own tables (esims_fts_data, …) go without saying.
    missing = [m for m in missing if not (m.rsplit("_", 1)[0] in tables
                                          and m.rsplit("_", 1)[-1] in ("data", "idx", "docsize", "config", "content"))]
    tables = [m for m in missing if order.get(m.split(" ", 1)[0]) == 0]
    shown = missing[:max(15, len(tables))]
    return ", ".join(shown) + (f" and {len(missing) - len(shown)} more" if len(missing) > len(shown) else "")


# --- restoring ----------------------------------------------------------------------------------
def restore_into_place(data_file: Path, source: Path, *, keep: int = KEEP) -> RestoreResult:
    """Replace the data file with a verified copy of ``source``; works when the data file is damaged.

    1. ``source`` must pass ``verify_database`` (else nothing is touched).
    2. The data file must not be open in another esimdesk (an exclusive lock says so; else refused).
    3. The current file is kept in ``backups/replaced-….sqlite3`` when it has any bytes.
    4. ``source`` is copied with the backup API into a temporary file beside the data file, migrated up to
       this esimdesk's schema, and made current (``_make_current``): it takes the current desk's identity
       and keeps what the current file holds that the backup lacks — a restore loses nothing. A file that
       cannot be merged (two different orders under one reference) is refused: nothing is changed.
    5. The copy is checked, stale ``-wal``/``-shm`` are removed (a log replayed into another file would
       corrupt it) and the temporary file takes the data file's name with ``os.replace`` (atomic).
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
        _copy(_uri(source, "ro"), tmp, journal_mode="DELETE", source_path=source, shown_as=data_file)
        merged = _make_current(tmp, source, data_file, lock, previous)
        if quick_check(tmp):
            raise StoreError(f"the copy of {source} failed quick_check; nothing was changed", path=str(source),
                             reason="damaged")
        kept_as = _keep_previous(data_file, lock, previous, keep, deferred)
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
    return RestoreResult(data_file, source, restored, previous, kept_as, merged)


# --- the restored file made current: the desk's identity, and nothing of the current file lost ---------
# The desk's identity is the current file's: two desks never share an id (an order's handle carries it),
# and the team token proves to the team store that this is the desk that first used the id. With no readable
# current file a new id is made: the backup's may be another desk's, still in use (its data folder copied).
IDENTITY = ("desk_id", "team_token")
# Kept from the current file with its outbox (what this desk has queued for, and pushed to, the team store).
TEAM_STATE = ("team_pushed", "agent", "team_offline_since")


class _Refused(Exception):
    pass


def _make_current(tmp: Path, source: Path, data_file: Path, lock: sqlite3.Connection | None,
                  previous: str) -> Merged:
    """Bring the restored copy ``tmp`` up to date: this esimdesk's schema, the current desk's identity, and
    (when the current file is readable) what it holds that the backup lacks; left in WAL mode, whole."""
    try:
        conn = connect(tmp, isolation_level=None)
        try:
            migrate(conn)  # an older backup: up to this esimdesk's schema before anything is merged into it
        finally:
            conn.close()
        current_schema = None
        if lock is not None and previous == "healthy":
            current_schema = lock.execute("PRAGMA main.user_version").fetchone()[0]
            if current_schema > LATEST:
                raise StoreError(f"the data file {data_file} is from a newer esimdesk (schema {current_schema}, "
                                 f"this one knows {LATEST}), so what it holds cannot be kept; nothing was changed",
                                 path=str(data_file), reason="newer-schema")
        identity = _identity(lock) if lock is not None else {}
        if current_schema is not None:
            merged = _merge(lock, tmp, identity)
        else:
            merged = _reidentify(tmp, identity)
        conn = connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
        return merged
    except _Refused as why:
        raise StoreError(f"{source} cannot be restored without losing what the data file {data_file} holds: "
                         f"{why}; nothing was changed", path=str(source), reason="conflict") from None
    except sqlite3.Error as exc:
        mapped = as_store_error(exc, data_file, "restore into", what="the data file")
        raise mapped or StoreError(f"{source} could not be merged with the data file {data_file} ({exc}); "
                                   "nothing was changed", path=str(source), reason="conflict") from exc


def _identity(conn: sqlite3.Connection) -> dict[str, str]:
    """The current file's identity and team state (meta), or {} when it cannot be read (damaged)."""
    try:
        keys = IDENTITY + TEAM_STATE
        rows = conn.execute(f"SELECT key, value FROM main.meta WHERE key IN ({','.join('?' * len(keys))})",
                            keys).fetchall()
    except sqlite3.Error:
        return {}
    found = dict(rows)
    return found if "desk_id" in found else {}


def _set_meta(conn: sqlite3.Connection, schema: str, values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            conn.execute(f"DELETE FROM {schema}.meta WHERE key = ?", (key,))
        else:
            conn.execute(f"INSERT INTO {schema}.meta (key, value) VALUES (?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))


def _reidentify(tmp: Path, identity: dict[str, str]) -> Merged:
    """No readable current file: its identity when it could still be read (a damaged file's meta), else a new
    desk id. The backup's team outbox is another desk's when the id changed: it is not pushed as this one's."""
    conn = connect(tmp, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        backup_id = conn.execute("SELECT value FROM meta WHERE key = 'desk_id'").fetchone()
        backup_id = backup_id[0] if backup_id else None
        if identity:
            desk_id, origin = identity["desk_id"], "previous"
        else:
            desk_id, origin = _new_desk_id(backup_id), "new"
        _set_meta(conn, "main", {"desk_id": desk_id, "team_token": identity.get("team_token")})
        if desk_id != backup_id:
            conn.execute("DELETE FROM team_outbox")
            _set_meta(conn, "main", {"team_pushed": None, "team_offline_since": None})
        conn.execute("COMMIT")
    finally:
        conn.close()
    return Merged(desk_id, origin, {}, {})


def _new_desk_id(avoid: str | None) -> str:
    while True:
        made = secrets.token_hex(3)  # as migration 3 makes them
        if made != avoid:
            return made


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({quoted(table)})")]


def _common(conn: sqlite3.Connection, table: str, *, without: tuple[str, ...] = ()) -> list[str]:
    """The columns ``table`` has in both files (the current one may be of an older schema), in r's order."""
    ours = set(_columns(conn, "main", table))
    return [c for c in _columns(conn, "r", table) if c in ours and c not in without]


def _has(conn: sqlite3.Connection, schema: str, table: str) -> bool:
    return conn.execute(f"SELECT 1 FROM {schema}.sqlite_schema WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def _merge(lock: sqlite3.Connection, tmp: Path, identity: dict[str, str]) -> Merged:
    """Copy into the restored file (attached as ``r`` to the current file's locked connection) what the
    current file holds that the backup lacks, and the newer state of what both hold; one transaction."""
    lock.execute("ATTACH DATABASE ? AS r", (str(tmp),))
    try:
        lock.execute("BEGIN IMMEDIATE")
        try:
            merged = _merge_rows(lock, identity)
            lock.execute("COMMIT")
        except BaseException:
            if lock.in_transaction:
                lock.execute("ROLLBACK")
            raise
    finally:
        lock.execute("DETACH DATABASE r")
    return merged


def _merge_rows(c: sqlite3.Connection, identity: dict[str, str]) -> Merged:
    c.row_factory = sqlite3.Row
    try:
        backup_id = c.execute("SELECT value FROM r.meta WHERE key = 'desk_id'").fetchone()
        desk_id = identity.get("desk_id") or _new_desk_id(backup_id[0] if backup_id else None)
        origin = "previous" if identity.get("desk_id") else "new"
        # First, so the triggers that stamp this desk's id on what is merged stamp the right one.
        _set_meta(c, "r", {"desk_id": desk_id, "team_token": identity.get("team_token")})
        kept = {"orders": 0, "eSIMs": 0, "journal entries": 0, "support actions": 0, "e-mails": 0}
        forward = {"journal entries": 0, "support actions": 0, "e-mails": 0}
        kept["journal entries"], forward["journal entries"] = _merge_journal(c)
        kept["orders"] = _merge_orders(c)
        kept["eSIMs"] = _merge_esims(c)
        if _has(c, "main", "esim_actions"):
            kept["support actions"], forward["support actions"] = _merge_actions(c)
        if _has(c, "main", "deliveries") and _has(c, "r", "deliveries"):
            kept["e-mails"], forward["e-mails"] = _merge_deliveries(c)
        if _has(c, "main", "refund_requests") and _has(c, "r", "refund_requests"):
            _merge_refunds(c)
        for table in ("usage", "events"):
            cols = ", ".join(_common(c, table))
            c.execute(f"INSERT OR IGNORE INTO r.{table} ({cols}) SELECT {cols} FROM main.{table}")
        if _has(c, "main", "team_outbox"):
            _merge_team(c, identity)
        return Merged(desk_id, origin, kept, forward)
    finally:
        c.row_factory = None


def _further(m: sqlite3.Row, x: sqlite3.Row) -> bool:
    """The current file's row ``m`` is a later state of the backup's ``x`` (never a step back in time)."""
    if m["state"] in SETTLED and x["state"] not in SETTLED:
        return True
    if x["state"] in SETTLED and m["state"] not in SETTLED:
        return False
    return (m["updated_at"] or "") > (x["updated_at"] or "")


def _copy_row(c: sqlite3.Connection, table: str, cols: list[str], rowid: int) -> int:
    names = ", ".join(cols)
    return c.execute(f"INSERT INTO r.{table} ({names}) SELECT {names} FROM main.{table} WHERE id = ?",
                     (rowid,)).lastrowid


def _update_row(c: sqlite3.Connection, table: str, cols: list[str], into: int, src: int) -> None:
    names = ", ".join(cols)
    c.execute(f"UPDATE r.{table} SET ({names}) = (SELECT {names} FROM main.{table} WHERE id = ?) WHERE id = ?",
              (src, into))


def _copy_events(c: sqlite3.Connection, table: str, key: str, src: int, into: int, *, missing_only: bool) -> None:
    """The audit lines of ``src`` (current file) onto ``into`` (restored file), in their order; with
    ``missing_only``, those the restored file does not have yet."""
    cols = [col for col in _common(c, table) if col != key]
    names = ", ".join(cols)
    same = " AND ".join(f"x.{col} IS m.{col}" for col in cols)
    where = f" AND NOT EXISTS (SELECT 1 FROM r.{table} x WHERE x.{key} = ? AND {same})" if missing_only else ""
    params = (src, into) if missing_only else (src,)
    c.execute(f"INSERT INTO r.{table} ({key}, {names}) SELECT {into}, {names} FROM main.{table} m "
              f"WHERE m.{key} = ?{where} ORDER BY m.rowid", params)


def _merge_journal(c: sqlite3.Connection) -> tuple[int, int]:
    """Entries by reference (unique in a file); one the backup has in an older state is moved forward."""
    cols = _common(c, "journal", without=("id",))
    kept = forward = 0
    for m in c.execute("SELECT * FROM main.journal ORDER BY id").fetchall():
        x = c.execute("SELECT * FROM r.journal WHERE reference = ?", (m["reference"],)).fetchone()
        handle = m["handle"] or m["reference"]
        if x is not None and _renamed_apart(c, x, m, handle):
            x = None
        if x is None:
            other = c.execute("SELECT reference FROM r.journal WHERE vendor = ? AND handle = ?",
                              (m["vendor"], handle)).fetchone()
            if other is not None:
                raise _Refused(f"the backup's order '{other[0]}' and this desk's order '{m['reference']}' were "
                               f"sent to {m['vendor']} under the same handle '{handle}'")
            new = _copy_row(c, "journal", cols, m["id"])
            if "agent" in cols:  # the trigger stamped the restored file's agent: the entry keeps its own
                c.execute("UPDATE r.journal SET agent = ? WHERE id = ?", (m["agent"], new))
            _copy_events(c, "journal_events", "journal_id", m["id"], new, missing_only=False)
            kept += 1
            continue
        if (x["vendor"], x["kind"], x["handle"] or x["reference"]) != (m["vendor"], m["kind"], handle):
            raise _Refused(f"the backup and this desk each have a different order under the reference "
                           f"'{m['reference']}' ({x['vendor']} {x['kind']} '{x['handle']}' against {m['vendor']} "
                           f"{m['kind']} '{handle}')")
        if _further(m, x):
            _update_row(c, "journal", cols, x["id"], m["id"])
            _copy_events(c, "journal_events", "journal_id", m["id"], x["id"], missing_only=True)
            forward += 1
    return kept, forward


def _renamed_apart(c: sqlite3.Connection, x: sqlite3.Row, m: sqlite3.Row, handle: str) -> bool:
    """Another desk's backup holds an order under a reference this desk also typed (``shop-17`` at two
    desks: each sent it with its own desk id, ``shop-17-<desk>``). The backup's entry is then named by the
    handle it was sent under — unique to its desk — so both orders are kept, none refused, none dropped."""
    theirs = x["handle"]
    if not theirs or theirs == x["reference"] or theirs == handle:
        return False  # a handle of its own (generated) or the same order: not two desks' typed references
    taken = c.execute("SELECT 1 FROM r.journal WHERE reference = ? UNION ALL SELECT 1 FROM main.journal "
                      "WHERE reference = ?", (theirs, theirs)).fetchone()
    if taken is not None:
        return False
    c.execute("UPDATE r.journal SET reference = ? WHERE id = ?", (theirs, x["id"]))
    c.execute("UPDATE r.orders SET reference = ?, search_text = coalesce(search_text, '') || ' ' || ? "
              "WHERE vendor = ? AND reference = ? AND kind = ?", (theirs, theirs, x["vendor"], x["reference"], x["kind"]))
    logging.getLogger("esimdesk.backup").info("restore: the backup's order '%s' is kept as '%s' (this desk has its "
                                              "own '%s')", x["reference"], theirs, m["reference"])
    return True


def _merge_orders(c: sqlite3.Connection) -> int:
    """Orders by (vendor, order id), or by (vendor, reference, kind) while one side has no order id yet (an
    entry's row before the vendor answered); a row the current file saw later takes its state."""
    cols = _common(c, "orders", without=("id",))
    line_cols = [col for col in _common(c, "order_lines") if col != "order_key"]
    match = """x.vendor = m.vendor AND ((m.order_id IS NOT NULL AND x.order_id = m.order_id)
               OR (m.reference IS NOT NULL AND x.reference = m.reference AND x.kind = m.kind
                   AND (x.order_id IS NULL OR m.order_id IS NULL)))"""
    kept = 0
    for (mid,) in c.execute(f"SELECT id FROM main.orders m WHERE NOT EXISTS (SELECT 1 FROM r.orders x WHERE {match})"
                            ).fetchall():
        new = _copy_row(c, "orders", cols, mid)
        _copy_lines(c, line_cols, mid, new)
        kept += 1
    differs = f"({', '.join('m.' + col for col in cols)}) IS NOT ({', '.join('x.' + col for col in cols)})"
    pairs = c.execute(f"""SELECT m.id, x.id, m.vendor, m.order_id, x.order_id, m.note
                          FROM main.orders m JOIN r.orders x ON {match}
                          WHERE coalesce(m.last_seen, '') >= coalesce(x.last_seen, '') AND {differs}""").fetchall()
    for mid, xid, vendor, order_id, x_order_id, note in pairs:
        if order_id is not None and x_order_id is None:  # the entry's row learnt its id: one row per vendor order
            for (other,) in c.execute("SELECT id FROM r.orders WHERE vendor = ? AND order_id = ? AND id != ?",
                                      (vendor, order_id, xid)).fetchall():
                c.execute("DELETE FROM r.order_lines WHERE order_key = ?", (other,))
                c.execute("DELETE FROM r.orders WHERE id = ?", (other,))
        x_note = c.execute("SELECT note FROM r.orders WHERE id = ?", (xid,)).fetchone()[0] if note is None else None
        _update_row(c, "orders", cols, xid, mid)
        if x_note is not None:  # an agent's note the backup has and the current row lacks is kept
            c.execute("UPDATE r.orders SET note = ? WHERE id = ?", (x_note, xid))
        c.execute("DELETE FROM r.order_lines WHERE order_key = ?", (xid,))
        _copy_lines(c, line_cols, mid, xid)
    return kept


def _copy_lines(c: sqlite3.Connection, cols: list[str], src: int, into: int) -> None:
    names = ", ".join(cols)
    c.execute(f"INSERT INTO r.order_lines (order_key, {names}) SELECT ?, {names} FROM main.order_lines "
              "WHERE order_key = ?", (into, src))


def _merge_esims(c: sqlite3.Connection) -> int:
    """eSIMs by (vendor, ICCID); one the current file saw later (or the same moment: an agent's note) takes
    its state."""
    cols = _common(c, "esims")
    names = ", ".join(cols)
    kept = c.execute(f"""INSERT INTO r.esims ({names}) SELECT {names} FROM main.esims m
                         WHERE NOT EXISTS (SELECT 1 FROM r.esims x WHERE x.vendor = m.vendor AND x.iccid = m.iccid)"""
                     ).rowcount
    differs = f"({', '.join('m.' + col for col in cols)}) IS NOT ({', '.join('x.' + col for col in cols)})"
    c.execute(f"""UPDATE r.esims AS x SET ({names}) = ({', '.join('m.' + col for col in cols)}) FROM main.esims AS m
                  WHERE m.vendor = x.vendor AND m.iccid = x.iccid
                    AND coalesce(m.last_seen, '') >= coalesce(x.last_seen, '') AND {differs}""")
    # Each row now as the current file has it (kept or taken) takes its payload too (by rowid in each file).
    c.execute("""INSERT INTO r.esim_payloads (esim, raw) SELECT x.rowid, p.raw FROM main.esim_payloads AS p
                   JOIN main.esims AS m ON m.rowid = p.esim JOIN r.esims AS x ON x.vendor = m.vendor AND x.iccid = m.iccid
                 WHERE x.row_hash IS m.row_hash AND x.last_seen IS m.last_seen
                   AND p.raw IS NOT (SELECT raw FROM r.esim_payloads WHERE esim = x.rowid)
                 ON CONFLICT (esim) DO UPDATE SET raw = excluded.raw""")
    return kept


def _merge_journaled(c: sqlite3.Connection, table: str, events: str, key: str, same: tuple[str, ...]) -> tuple[int, int]:
    """Rows of a journal ``table`` (with its history lines in ``events``, by ``key``) the backup lacks, matched
    by the columns ``same``, copied; a later state of one it has moves it forward. (kept, moved forward)."""
    cols = _common(c, table, without=("id",))
    match = " AND ".join(f"{col} = ?" for col in same)
    kept = forward = 0
    for m in c.execute(f"SELECT * FROM main.{table} ORDER BY id").fetchall():
        x = c.execute(f"SELECT * FROM r.{table} WHERE {match}", tuple(m[col] for col in same)).fetchone()
        if x is None:
            new = _copy_row(c, table, cols, m["id"])
            _copy_events(c, events, key, m["id"], new, missing_only=False)
            kept += 1
        elif _further(m, x):
            _update_row(c, table, cols, x["id"], m["id"])
            _copy_events(c, events, key, m["id"], x["id"], missing_only=True)
            forward += 1
    return kept, forward


def _merge_actions(c: sqlite3.Connection) -> tuple[int, int]:
    """Support actions by (desk, eSIM, action, when asked)."""
    return _merge_journaled(c, "esim_actions", "esim_action_events", "action_id",
                            ("desk_id", "vendor", "iccid", "action", "created_at"))


def _merge_refunds(c: sqlite3.Connection) -> None:
    """Refund requests as the vendor last showed them (issue 30): the current file's where the backup lacks one
    or saw it earlier. Each sending is a support action, merged above; these rows only mirror the vendor."""
    cols = _common(c, "refund_requests")
    names = ", ".join(cols)
    sets = ", ".join(f"{col} = excluded.{col}" for col in cols if col not in ("vendor", "refund_id"))
    c.execute(f"""INSERT INTO r.refund_requests ({names}) SELECT {names} FROM main.refund_requests WHERE true
                  ON CONFLICT (vendor, refund_id) DO UPDATE SET {sets} WHERE excluded.checked_at > checked_at""")


def _merge_deliveries(c: sqlite3.Connection) -> tuple[int, int]:
    """E-mails to customers by their Message-ID (one per sending); a later state of one moves it forward. A
    restored backup that forgot an e-mail would let it be sent again without the agent's word. The customers'
    addresses follow, the newer of the two files' for each eSIM or order."""
    kept, forward = _merge_journaled(c, "deliveries", "delivery_events", "delivery_id", ("message_id",))
    names = ", ".join(_common(c, "customer_contacts"))
    c.execute(f"""INSERT INTO r.customer_contacts ({names}) SELECT {names} FROM main.customer_contacts WHERE true
                  ON CONFLICT (vendor, kind, ref) DO UPDATE SET email = excluded.email, language = excluded.language,
                      updated_at = excluded.updated_at WHERE excluded.updated_at > updated_at""")
    return kept, forward


def _merge_team(c: sqlite3.Connection, identity: dict[str, str]) -> None:
    """Team mode: what was pulled from other desks (both files'), and this desk's outbox as the current file has
    it (what it queued and what the team store already has of it: the backup's would be pushed again, or be
    another desk's), its journal ids those of the restored file."""
    if _has(c, "main", "team_journal"):
        cols = _common(c, "team_journal")
        names = ", ".join(cols)
        sets = ", ".join(f"{col} = excluded.{col}" for col in cols if col not in ("desk_id", "reference"))
        c.execute(f"""INSERT INTO r.team_journal ({names}) SELECT {names} FROM main.team_journal WHERE true
                      ON CONFLICT (desk_id, reference) DO UPDATE SET {sets} WHERE excluded.seq > seq""")
        cols = ", ".join(_common(c, "team_audit"))
        c.execute(f"INSERT OR IGNORE INTO r.team_audit ({cols}) SELECT {cols} FROM main.team_audit")
        c.execute("""INSERT INTO r.team_cursor (desk_id, seq) SELECT desk_id, seq FROM main.team_cursor WHERE true
                     ON CONFLICT (desk_id) DO UPDATE SET seq = max(seq, excluded.seq)""")
    c.execute("DELETE FROM r.team_outbox")
    c.execute("""INSERT INTO r.team_outbox (seq, kind, made_at, body)
                 SELECT o.seq, o.kind, o.made_at, CASE WHEN o.kind = 'journal' THEN json_set(o.body, '$.journal_id',
                     coalesce((SELECT x.id FROM main.journal mj JOIN r.journal x ON x.reference = mj.reference
                               WHERE mj.id = json_extract(o.body, '$.journal_id')),
                              json_extract(o.body, '$.journal_id'))) ELSE o.body END
                 FROM main.team_outbox o ORDER BY o.seq""")
    top = c.execute("""SELECT max(coalesce((SELECT seq FROM main.sqlite_sequence WHERE name = 'team_outbox'), 0),
                                  coalesce((SELECT max(seq) FROM main.team_outbox), 0))""").fetchone()[0]
    c.execute("DELETE FROM r.sqlite_sequence WHERE name = 'team_outbox'")
    c.execute("INSERT INTO r.sqlite_sequence (name, seq) VALUES ('team_outbox', ?)", (top,))
    _set_meta(c, "r", {key: identity.get(key) for key in TEAM_STATE})


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
    _rotate(folder, REPLACED, keep)
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
    """Tidy a temporary copy and its logs. Best effort: a folder that cannot be written (a read-only
    mount says so even for a file that is not there) made nothing to tidy, and the error that matters
    is the one that stopped the copy."""
    for p in (path, wal_path(path), shm_path(path), path.with_name(path.name + "-journal")):
        try:
            p.unlink()
        except OSError:
            pass


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows flushes only a handle it may write
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def rolling_backup(store: object, *, keep: int = KEEP, now: datetime | None = None) -> Path | None:
    """After a sync: a backup of ``store``'s file (an SQLite store; others are skipped) when one is due
    (``backup_due``). A failure is logged, not raised: the sync itself went well, and the next one tries again."""
    path = getattr(store, "path", None)
    if path is None:
        return None
    try:
        if not backup_due(Path(path), now):
            return None
        return backup_now(Path(path), keep=keep, now=now)
    except (StoreError, OSError) as exc:
        if isinstance(exc, OSError):  # not foreseen by backup_now: still a warning, never the sync's failure
            exc = os_error(exc, Path(exc.filename or backups_dir(Path(path))), f"write a backup in {backups_dir(Path(path))}")
        logging.getLogger("esimdesk.backup").warning("no backup after this sync: %s", exc)
        return None
