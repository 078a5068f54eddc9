"""The desk's memory: one SQLite file (WAL) through Python's ``sqlite3``, behind the ``Store`` interface.

Each thread gets its own connection (one connection is never shared between threads), so sync can
write from a worker thread while the GUI thread reads. Every multi-row write is one transaction.
``close()`` closes every thread's connection, not only the calling thread's: a worker thread's
connection left open keeps the file busy (its -wal and -shm stay) until the garbage collector finds it.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esimdesk.domain import Balance, Esim, Event, Order, OrderStatus, Plan, StoreError, Usage
from esimdesk.domain.refresh import FleetWalk
from esimdesk.store import integrity
from esimdesk.store import rows as R
from esimdesk.store.actions import ActionsMixin
from esimdesk.store.bulk_load import BulkLoadMixin
from esimdesk.store.deliveries import DeliveriesMixin
from esimdesk.store.exchange import ExchangeMixin, convert_plan_row, sort_factors
from esimdesk.store.journal import JournalMixin, merge_order_rows
from esimdesk.store.listings import ListingsMixin
from esimdesk.store.migrations import migrate
from esimdesk.store.refresh import RefreshMixin, save_fleet_walk_in
from esimdesk.store.refunds import RefundsMixin
from esimdesk.store.statistics import analyse, tables_to_analyse

log = logging.getLogger("esimdesk.store")

BUSY_TIMEOUT_MS = 10_000
FEW_HITS = 3000  # a plan search with fewer full-text matches than this starts from the matches
WAL_CHECKPOINT_PAGES = 10_000  # ~40 MB of write-ahead log between checkpoints (see conn)


def _mark_stale(conn: sqlite3.Connection, table: str, vendor: str, before: str) -> int:
    assert table in ("plans", "orders", "esims")
    cur = conn.execute(f"UPDATE {table} SET stale = 1 WHERE vendor = ? AND stale = 0 AND last_seen < ?",
                       (vendor, before))
    return cur.rowcount


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class SqliteStore(JournalMixin, ActionsMixin, DeliveriesMixin, ListingsMixin, ExchangeMixin, RefreshMixin,
                  BulkLoadMixin, RefundsMixin):
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._local = threading.local()
        self._conns = _Connections()
        self._writers = threading.RLock()  # see transaction()
        # Closes what is left open when the store is dropped without close() (no reference back to self).
        weakref.finalize(self, self._conns.close_all)
        # An existing file that is empty, no database or damaged is refused in words; a missing one is a new desk.
        self.opened_as = integrity.ensure_usable(self.path)
        self._opened_stat = self.path.stat()  # the file as checked (or trusted) at open: see close()
        conn = self.conn  # opens and migrates on first use
        self.schema_version = conn.execute("PRAGMA user_version").fetchone()[0]
        self.restore_indexes_left_behind()  # a first sync killed while it loaded without its sort indexes

    # --- connection --------------------------------------------------------------------------
    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.generation != self._conns.generation:  # none yet, or closed by close()
            if conn is not None:
                self._conns.retire(conn)  # this thread's own, from before close(): closed here, safely
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise integrity.os_error(exc, self.path.parent, f"create the data folder {self.path.parent}") from exc
            conn = None
            try:
                # check_same_thread=False only so close() can close it once its thread has ended.
                conn = integrity.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA cache_size=-65536")  # 64 MB: random-ICCID index inserts stay in memory
                # A sync commits a page of rows at a time, each rewriting thousands of index pages: at SQLite's
                # default (a checkpoint, with two fsyncs, every 1,000 pages of log) the first sync of 50,000
                # plans and 64,000 orders spent 17 of its 48 s committing, 10 s at 10,000 pages
                # (bench/store_writes.py). Money's writes checkpoint on their own (transaction(durable=True)).
                conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
                conn.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_PAGES * 4096}")  # then back to ~40 MB
                conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                migrate(conn)
            except BaseException as exc:
                if conn is not None:
                    conn.close()
                mapped = integrity.as_store_error(exc, self.path, "open") if isinstance(exc, sqlite3.Error) else None
                if mapped is None:
                    raise
                raise mapped from exc
            self._local.generation = self._conns.add(conn)
            self._local.conn = conn
        return conn

    def close(self, *, every_thread: bool = False) -> None:
        """Close this thread's connection and those of threads that have ended; a live worker thread's is
        closed by that thread (see ``_Connections``). ``every_thread``: the caller knows no thread is using
        the store (it waited for them), so every connection is closed now — before the file is replaced.
        The store stays usable: a thread that uses it again gets a new connection."""
        self._conns.close_all(every_thread=every_thread)
        self._local.conn = None
        if self._conns.none_open():  # the last one: the log is in the file; our writes need no new check
            integrity.note_own_writes(self.path, self._opened_stat)

    @contextmanager
    def transaction(self, immediate: bool = True, durable: bool = False):
        # This process's writers (a sync writes four vendors from four worker threads) take turns here, in
        # Python, not in SQLite's busy handler: that one is no queue, and a vendor whose writes waited behind
        # the others' large transactions for its 10 s timeout failed its sync ("kept it busy for 10 seconds",
        # found measuring issue 28 at 100,000 eSIMs a vendor). Other processes still meet the busy timeout.
        if not immediate:
            with self._transaction(False, durable) as conn:
                yield conn
            return
        with self._writers, self._transaction(True, durable) as conn:
            yield conn

    @contextmanager
    def _transaction(self, immediate: bool, durable: bool):
        """One transaction: committed when the block ends, rolled back when it raises.

        A full disk, a read-only file or folder, an I/O error or a damaged file raise ``StoreError`` in
        words (the SQLite error chained as its cause); the transaction is then rolled back, nothing written.

        ``durable``: after COMMIT, copy the write-ahead log into the main file and sync it
        (``wal_checkpoint(FULL)``), so the write survives a crash even when the ``-wal`` file is lost
        afterwards (deleted by a cleaner, left behind by a copy). It costs one checkpoint and two syncs
        (0.7 ms against 0.05 ms here, bench/results/backup.json; more on a slow disk), so it is for the
        order journal, not for sync. If the checkpoint fails with a storage error the
        write IS committed (in the log) but ``StoreError(reason="not-durable")`` is raised, so a caller
        that needs the guarantee does not go on as if it held; if another connection's long read keeps the
        checkpoint from finishing within the busy timeout, a warning is logged and the write stays in the log.
        """
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        except sqlite3.Error as exc:
            mapped = integrity.as_store_error(exc, self.path)
            if mapped is None:
                raise
            raise mapped from exc
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:  # SQLite may have rolled back already (disk full)
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # the original error says more
            mapped = integrity.as_store_error(exc, self.path) if isinstance(exc, sqlite3.Error) else None
            if mapped is not None:
                raise mapped from exc
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            mapped = integrity.as_store_error(exc, self.path)
            if mapped is None:
                raise
            raise mapped from exc
        if durable:
            self._checkpoint(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """Everything committed so far into the main file, synced: a lost ``-wal`` loses none of it."""
        try:
            busy, log_frames, copied = conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
        except sqlite3.Error as exc:
            mapped = integrity.as_store_error(exc, self.path)
            if mapped is None:
                raise
            raise StoreError(f"{mapped}; the change was saved in the write-ahead log but not yet in the data file "
                             "itself", path=str(self.path), reason="not-durable") from exc
        if busy or copied < log_frames:
            logging.getLogger(__name__).warning(
                "the data file %s is busy: a committed change stays in its write-ahead log until the next checkpoint",
                self.path)

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(sql, tuple(params)).fetchall()]

    # --- writes (sync) -----------------------------------------------------------------------
    def upsert_plans(self, plans: list[Plan], seen: str | None = None) -> int:
        """Insert or update plans; one the vendor lists as it was (its ``row_hash``) is only confirmed."""
        seen = seen or now_iso()
        with self.transaction() as conn:
            self._write_plans(conn, plans, seen)
        return len(plans)

    def _write_plans(self, conn: sqlite3.Connection, plans: list[Plan], seen: str) -> None:
        plans, again = _first_of_each(plans, lambda p: (p.vendor, p.plan_id))
        have = _stored(conn, "plans", "plan_id", ("stale", *_PLAN_COMPARED), ((p.vendor, p.plan_id) for p in plans))
        new: list[dict[str, Any]] = []
        changed: list[tuple[dict[str, Any], sqlite3.Row]] = []
        confirmed: list[int] = []
        revived: list[int] = []  # confirmed, and listed again after being marked stale
        for plan in plans:
            digest = R.plan_hash(plan)
            old = have.get((plan.vendor, plan.plan_id))
            if old is not None and old["row_hash"] == digest:
                (revived if old["stale"] else confirmed).append(old["rowid"])
                continue
            row = R.plan_row(plan, seen)
            row["row_hash"] = digest
            if old is None:
                new.append(row)
            else:
                changed.append((row, old))
        lists = self._list_ids(conn, {r["countries"] for r in new} | {r["countries"] for r, _ in changed})
        if new or changed:
            factors = sort_factors(conn)
            for row in (*new, *(r for r, _ in changed)):
                row["list_id"] = lists[row["countries"]]
                convert_plan_row(row, factors)
        # New plans PLAN_INSERT_ROWS a statement (one multi-row VALUES): executemany stepped once a plan, each step a
        # hand-over of Python's GIL, and a first sync's 150,000 plans waited 6.1 s in it (3.3 s of CPU) beside the
        # event loop's decoding. (Rows as one JSON array a statement cost 3x the CPU here: a json_extract per
        # column, each parsing the row again.)
        payloads: list[tuple[int, str]] = []  # (row id, the vendor's payload) of new and changed plans that have one
        last = _insert_rows(conn, "plans", _PLAN_COLUMNS, [[row[c] for c in _PLAN_COLUMNS] for row in new],
                            PLAN_INSERT_ROWS)
        if new:  # one run of row ids, the statements' one after another under the one writer
            first = _first_of_sequence(conn, "plans", "rowid", last, len(new), "new plans")
            payloads += [(first + n, row["raw"]) for n, row in enumerate(new) if row["raw"] is not None]
        # A changed plan is rewritten with only the indexed columns whose value changed: every sort index
        # carries some (migrations v4, v9, v11), and SQLite rewrites an index's entry for a column that is
        # set even to the value it had (a changed price must not rewrite the name's index).
        by_set: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, old in changed:
            row["rowid"] = old["rowid"]
            moved = tuple(c for c in _PLAN_COMPARED if row[c] != old[c]) + (("stale",) if old["stale"] else ())
            by_set.setdefault(moved, []).append(row)
        for moved, rows in by_set.items():
            conn.executemany(_plan_update(moved), rows)
        # The vendor's payloads beside their rows (migrations._v20), by row id: a new or changed plan's written (one
        # as stored is left), a changed plan's that the vendor no longer gives removed. (Found by their key
        # instead, a first sync's 150,000 took 0.8 s.)
        payloads += [(old["rowid"], r["raw"]) for r, old in changed if r["raw"] is not None]
        _insert_rows(conn, "plan_payloads", ("plan", "raw"), payloads, PAYLOAD_ROWS, _PAYLOAD_KEPT_IF_SAME)
        _by_rowids(conn, "DELETE FROM plan_payloads WHERE plan IN " + _ROWIDS, seen,
                   [old["rowid"] for r, old in changed if r["raw"] is None])
        _by_rowids(conn, "UPDATE plans SET last_seen = ?1 WHERE rowid IN " + _ROWIDS, seen, confirmed)
        _by_rowids(conn, "UPDATE plans SET last_seen = ?1, stale = 0 WHERE rowid IN " + _ROWIDS, seen, revived)
        if again:  # a plan listed twice in one answer: the later entry is written over the earlier
            self._write_plans(conn, again, seen)

    def has_plans(self, vendor: str) -> bool:
        return self.conn.execute("SELECT 1 FROM plans WHERE vendor = ? LIMIT 1", (vendor,)).fetchone() is not None

    def plans_to_write(self, vendor: str, plans: list[Plan]) -> tuple[list[Plan], bool]:
        """What a catalog sync must write of the vendor's complete listing ``plans``: those new, changed since
        they were written (their digest, the payload included) or listed again after being marked stale; and
        whether a plan of the vendor's is gone from the listing. The stored digests come back as one JSON object
        (plan id: digest, "-" a stale plan's) and are compared here: for 50,000 plans 0.07-0.10 s in SQLite where
        the listing's digests joined to the table in SQLite took 0.19-0.27 s; read a row a plan, they were as many
        hand-overs of Python's GIL, each waiting beside the event loop's decoding."""
        stored = json.loads(self.conn.execute(_PLAN_DIGESTS, (vendor,)).fetchone()[0])
        changed = [p for p in plans if stored.get(p.plan_id) != R.plan_hash(p).hex().upper()]
        listed = {p.plan_id for p in plans}
        return changed, any(digest != "-" and plan_id not in listed for plan_id, digest in stored.items())

    @staticmethod
    def _list_ids(conn: sqlite3.Connection, lists: set[str]) -> dict[str, int]:
        """The id of each country list, creating (with its coverage rows) the ones not seen before."""
        ids: dict[str, int] = {}
        for chunk in _chunks(sorted(lists)):
            # One JSON object, not a row a list: each row fetched was a hand-over of Python's GIL.
            q = f"SELECT json_group_object(countries, id) FROM country_lists WHERE countries IN ({_marks(chunk)})"
            ids.update(json.loads(conn.execute(q, chunk).fetchone()[0]))
        for countries in sorted(lists - ids.keys()):
            list_id = conn.execute("INSERT INTO country_lists (countries) VALUES (?)", (countries,)).lastrowid
            conn.executemany("INSERT OR IGNORE INTO coverage VALUES (?, ?)",
                             [(c, list_id) for c in countries.split(",") if c])
            ids[countries] = list_id
        return ids

    def mark_stale(self, table: str, vendor: str, before: str) -> int:
        """Rows the vendor no longer returned in a complete listing: flagged, never deleted."""
        with self.transaction() as conn:
            return _mark_stale(conn, table, vendor, before)

    def upsert_walked_esims(self, vendor: str, esims: list[Esim], walk: FleetWalk | None, cycle_started: str) -> int:
        """A walked listing's page(s) and where the walk now is, in one transaction: the saved key is never
        ahead of the rows written, and costs no turn of its own at the one writer (a first sync's 901
        Flexiroam pages waited 31 s for it). ``walk`` None: these rows end the cycle: what it did not list
        since ``cycle_started`` is marked stale, and the next walk starts at the first page."""
        with self.transaction() as conn:
            self._write_esims(conn, esims, now_iso())
            if walk is None:
                _mark_stale(conn, "esims", vendor, cycle_started)
            save_fleet_walk_in(conn, vendor, walk)
        return len(esims)

    def upsert_esims(self, esims: list[Esim], seen: str | None = None, *, keep_missing: bool = True) -> int:
        """Insert or update eSIMs; a usage sample is added when the used volume changed. A reading never
        replaces a newer one: usage figures older than the row's ``usage_as_of`` leave it as it is. An eSIM the
        vendor lists as it was (its ``row_hash``) is only confirmed: ``last_seen``, and ``usage_as_of`` when the
        figures are as of the fetch (the vendor gave no time): the same figures, confirmed now."""
        seen = seen or now_iso()
        with self.transaction() as conn:
            self._write_esims(conn, esims, seen)
        return len(esims)

    def _write_esims(self, conn: sqlite3.Connection, esims: list[Esim], seen: str) -> None:
        esims, again = _first_of_each(esims, lambda e: (e.vendor, e.iccid))
        digests = [R.esim_hash(e) for e in esims]
        # The batch's digests go to SQLite, which confirms the rows stored with the same one and returns only the
        # others (new, or changed): an unchanged row is never fetched. Fetched, each row was a step of SQLite and
        # a hand-over of Python's GIL and back, waiting beside the event loop's decoding (a routine sync at
        # 100,000 eSIMs a vendor fetched ~190,000 unchanged rows).
        batch = json.dumps([[e.vendor, e.iccid, digest.hex().upper(),
                             # Its figures are as of the fetch (the vendor gave no time): confirmed now.
                             e.usage_as_of is None and (e.data_used_mb is not None or e.data_remaining_mb is not None)]
                            for e, digest in zip(esims, digests, strict=True)])
        # Place -> the stored row's rowid and compared columns (None: no row yet), of each entry not stored as listed.
        have: dict[int, dict[str, Any] | None] = {}
        revived: list[int] = []  # rows marked stale, listed again (as they were, or changed)
        for k, rowid, stale, as_stored, *stored in json.loads(conn.execute(_ESIMS_NOT_AS_STORED, (batch,)).fetchone()[0]):
            if stale:
                revived.append(rowid)
            if not as_stored:
                have[k] = None if rowid is None else dict(zip(("rowid", *_ESIM_COMPARED), (rowid, *stored), strict=True))
        if len(have) < len(esims):
            # Its figures are the ones stored (a digest is kept only while they are: see _ESIM_ALWAYS).
            conn.execute(_ESIMS_CONFIRM, (seen, batch))
        # Only these rows' "stale" is set (as the plans' revived): a column set, even to the value it had, rewrites
        # each index holding it, and the refresh's planning index does (migrations._v18).
        _by_rowids(conn, "UPDATE esims SET last_seen = ?1, stale = 0 WHERE rowid IN " + _ROWIDS, seen, revived)
        new: list[dict[str, Any]] = []
        by_set: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        samples = []
        payloads = []  # (vendor, ICCID, the vendor's payload) of the new and changed, kept beside their rows
        for i, e in enumerate(esims):
            if i not in have:
                continue  # confirmed above
            old = have[i]
            row = R.esim_row(e, seen)
            row["i"] = i  # its digest: the batch's digests' 16 bytes at i * 16
            if row["raw"] is not None:  # an answer without one leaves the stored one (as coalesce() a column)
                payloads.append((e.vendor, e.iccid, row["raw"]))
            if old is None:
                new.append(row)
            else:
                row["rowid"] = old["rowid"]
                # Only the indexed columns that may change are set (see _write_plans): a coalesced one when
                # the answer has a value other than the stored one.
                moved = tuple(c for c in _ESIM_COMPARED if row[c] is not None and row[c] != old[c])
                by_set.setdefault(moved, []).append(row)
            # Each sample with the vendor's time for it where it gave one (the chart places it there).
            if e.data_used_mb is not None and (old is None or old["data_used_mb"] != e.data_used_mb):
                samples.append((e.vendor, e.iccid, seen, e.data_used_mb, e.data_total_mb, R.iso(e.usage_as_of)))
        # Each statement takes many rows (one step of SQLite, see _ROWIDS): executemany stepped once a row, and at
        # 100,000 eSIMs a vendor a routine sync's ~32,000 changed usage figures waited 5 s in it for Python's GIL
        # (0.7 s of it SQLite's work). New rows as the plans' (_write_plans), ESIM_INSERT_ROWS a statement: taken
        # as one JSON array, each of the 20 columns a json_extract that parsed the row again (a first sync's
        # 40,000 eSIMs: 1.3 s). Changed rows as one JSON array, with their digests as one blob: a few columns each.
        _insert_rows(conn, "esims", _ESIM_INSERTED,
                     [(*(row[c] for c in _ESIM_COLUMNS), 0, digests[row["i"]]) for row in new], ESIM_INSERT_ROWS)
        digest_blob = b"".join(digests)
        for moved, rows in by_set.items():
            conn.execute(_esim_update(moved), (json.dumps(rows), digest_blob))
        if payloads:  # after the inserts: a new row's is found by its key
            conn.execute(_PAYLOADS_PUT, (json.dumps(payloads),))
        if samples:
            conn.execute("""INSERT OR IGNORE INTO usage (vendor, iccid, observed_at, data_used_mb, data_total_mb, as_of)
                   SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),
                       json_extract(value, '$[3]'), json_extract(value, '$[4]'), json_extract(value, '$[5]')
                   FROM json_each(?)""", (json.dumps(samples),))
        if again:  # an eSIM listed twice in one answer: the later entry is written over the earlier
            self._write_esims(conn, again, seen)

    def upsert_orders(self, orders: list[Order], seen: str | None = None) -> int:
        """Insert or update orders (matched by vendor order id, else by our reference), their lines and eSIMs,
        in one transaction. An order the vendor lists as it was (its ``row_hash``) is only confirmed: its lines
        are left as they are.

        Batched: one look-up per 500 orders, not one per order; a re-sync of 60,000 orders is seconds.
        A vendor that reuses ids never makes this raise: an order id listed twice in one answer is one row
        (the later entry wins); an answer that would give a row an order id another of our orders has, or
        a second order id to a reference that already names one, is logged in words and kept apart.
        """
        seen = seen or now_iso()
        with self.transaction() as conn:
            self._write_orders(conn, orders, seen)
        return len(orders)

    def upsert_walked_orders(self, vendor: str, rows: list[Order | Esim], walk: FleetWalk | None,
                             cycle_started: str) -> int:
        """A share of an orders pass that carries the fleet (Roumio's walk_orders): its orders, the eSIMs of an
        order it holds in part (their rows only: the order's lines stay as they are), and where the walk now is,
        in one transaction (as upsert_walked_esims). The vendor may list an order's eSIMs pages apart
        (roumio.py walk_orders), so an order given with fewer eSIMs than are stored for it is one the share saw
        in part: only its eSIMs are written. ``walk`` None: the cycle is whole; what it did not list since
        ``cycle_started`` is marked stale."""
        seen = now_iso()
        orders = [r for r in rows if isinstance(r, Order)]
        loose = [r for r in rows if isinstance(r, Esim)]
        with self.transaction() as conn:
            held = json.loads(conn.execute(
                # "+vendor": through the order id's index. By the vendor's (the planner's choice without statistics,
                # and in a first sync) each page read every eSIM of the vendor stored so far. One JSON object: a row
                # an order was a hand-over of Python's GIL each (1.5 s a routine sync at 100,000 eSIMs a vendor).
                "SELECT json_group_object(order_id, n) FROM (SELECT order_id, count(*) AS n FROM esims "
                "WHERE order_id IN (SELECT value FROM json_each(?)) AND +vendor = ? GROUP BY order_id)",
                (json.dumps([o.order_id for o in orders if o.order_id]), vendor)).fetchone()[0])
            in_part = [o for o in orders if held.get(o.order_id, 0) > len(o.esims)]
            self._write_orders(conn, [o for o in orders if held.get(o.order_id, 0) <= len(o.esims)], seen)
            self._write_esims(conn, loose + [e for o in in_part for e in o.esims], seen)
            if walk is None:
                _mark_stale(conn, "esims", vendor, cycle_started)
            save_fleet_walk_in(conn, vendor, walk)
        return len(orders)

    def _write_orders(self, conn: sqlite3.Connection, orders: list[Order], seen: str) -> None:
        orders = _one_per_order_id(self._with_journal_references(orders))
        # (vendor, order id) -> [row id, its reference]; (vendor, reference, kind) -> [row id, its order id].
        # Both are kept up to date through the batch, so no later order of it collides with an earlier one.
        by_oid: dict[tuple[str, str], list] = {}
        # Orders stored as listed (their digest, with the reference as listed) and no other row of theirs holding
        # that reference: confirmed, their rows never read into Python (compared in SQLite, as _write_esims does).
        # The rest are looked up and decided below, as they always were.
        listed = [R.order_hash(o, o.reference) for o in orders]  # each digest with its reference as listed
        as_stored = self._orders_as_stored(conn, orders, listed)
        for i, key in as_stored.items():
            by_oid[(orders[i].vendor, orders[i].order_id)] = [key, orders[i].reference]
        digests: dict[int, bytes | None] = {}  # row id -> the row's row_hash
        for vendor, ids in _group((o.vendor, o.order_id) for i, o in enumerate(orders)
                                  if o.order_id and i not in as_stored).items():
            for r in _stored(conn, "orders", "order_id", ("id", "reference"), ((vendor, i) for i in ids)).values():
                by_oid[(vendor, r["order_id"])] = [r["id"], r["reference"]]
                digests[r["id"]] = r["row_hash"]
        by_ref: dict[tuple[str, str, str], list] = {}
        for vendor, refs in _group((o.vendor, o.reference) for i, o in enumerate(orders)
                                   if o.reference and i not in as_stored).items():
            # "+vendor": through the reference index; the vendor's (the planner's guess without statistics)
            # read every order of the vendor for each chunk (5 s a sync of 64,000 orders).
            for _, r in _stored_rows(conn, "orders", "reference", ("kind", "id", "order_id"),
                                     ((vendor, ref) for ref in refs), vendor_column="+vendor"):
                by_ref[(vendor, r["reference"], r["kind"])] = [r["id"], r["order_id"]]
                digests[r["id"]] = r["row_hash"]
        keys: list[int | None] = []
        updates = []
        confirmed: list[int] = []
        rewritten: set[int] = set()  # rows inserted or updated by this batch: their lines are written
        # New orders' rows, inserted together (_NewOrders); until then each is known by a provisional key (< 0).
        # An entry that finds one of them (an order listed again, a reference carried twice) has them inserted
        # first, so what it decides is decided on rows as stored, as when each went in at once.
        pending = _NewOrders()

        def insert_pending() -> None:
            real = pending.insert(conn)
            if not real:
                return
            for found in (*by_oid.values(), *by_ref.values()):
                found[0] = real.get(found[0], found[0])
            for provisional, key in real.items():
                digests[key] = digests.pop(provisional)
                rewritten.discard(provisional)
                rewritten.add(key)
            keys[:] = [real.get(k, k) if k is not None else None for k in keys]

        for i, order in enumerate(orders):
            if i in as_stored:
                keys.append(as_stored[i])
                confirmed.append(as_stored[i])
                continue
            reference = order.reference  # the one the row is written with
            vendor, oid = order.vendor, order.order_id
            held = by_oid.get((vendor, oid)) if oid else None
            mine = by_ref.get((vendor, order.reference, order.kind)) if order.reference else None
            if (held is not None and held[0] < 0) or (mine is not None and mine[0] < 0):
                insert_pending()
            if mine is not None and oid and mine[1] and mine[1] != oid:
                # Our reference already names another vendor order: this is a second one carrying it.
                log.warning("%s lists order %s with reference %s, which is already %s order %s here; "
                            "%s is kept as an order of its own, without the reference", vendor, oid,
                            order.reference, vendor, mine[1], oid)
                mine, reference = None, None
            if held is not None and mine is not None and held[0] != mine[0]:
                if held[1] is not None:
                    log.warning("%s gives order %s to reference %s, but here %s is the order of reference "
                                "%s; both are kept as they were (ask %s which order is whose)", vendor, oid,
                                order.reference, oid, held[1], vendor)
                    keys.append(None)
                    continue
                # Imported on its own before, now known as a journal entry's order: one row, the entry's.
                merge_order_rows(conn, vendor, oid, order.reference, order.kind)
                held = None
                digests[mine[0]] = None  # the merge changed it: written in full
            key = mine[0] if mine is not None else held[0] if held is not None else None
            digest = listed[i] if reference == order.reference else R.order_hash(order, reference)
            if key is not None and digests.get(key) == digest:
                confirmed.append(key)  # its row is never built: 0.4 s a sync of 64,000 orders
            else:
                row = {**R.order_row(order, seen), "reference": reference, "row_hash": digest}
                if key is None:
                    key = pending.add(row)
                    if reference:
                        by_ref[(vendor, reference, order.kind)] = [key, oid]
                else:
                    # The earliest time wins: adapters fall back to "now" when a vendor gives no time.
                    updates.append((row["order_id"], reference, row["status"], row["total"], row["currency"],
                                    row["created_at"], row["raw"], seen, row["search_text"], digest, key))
                    if mine is not None:
                        mine[1] = mine[1] or oid
                digests[key] = digest  # a second entry of this row in the batch is compared with this one
                rewritten.add(key)
            if oid:
                by_oid[(vendor, oid)] = [key, (held[1] if held is not None else None) or reference]
            keys.append(key)
        insert_pending()
        # The search text as an insert writes it, with the agent's note where there is one: an order seen
        # again does not rewrite its full-text entry (it did, with a trailing space, on every sync).
        conn.executemany(
            """UPDATE orders SET order_id=coalesce(?, order_id), reference=coalesce(reference, ?),
                   status=?, total=coalesce(?, total), currency=coalesce(?, currency),
                   created_at=min(created_at, ?), raw=coalesce(?, raw), last_seen=?, stale=0,
                   search_text=? || coalesce(' ' || note, ''), row_hash=? WHERE id=?""",
            updates,
        )
        _by_rowids(conn, "UPDATE orders SET last_seen = ?1, stale = 0 WHERE id IN " + _ROWIDS, seen, confirmed)
        kept = [(k, o) for k, o in zip(keys, orders, strict=True) if k is not None]
        # One row's lines once (the last entry's); a confirmed order's lines are the ones it has.
        with_lines = list({k: (k, o) for k, o in kept if o.lines and k in rewritten}.values())
        old: dict[tuple[int, int], Any] = {}
        for chunk in _chunks([k for k, _ in with_lines]):
            for r in conn.execute(f"SELECT * FROM order_lines WHERE order_key IN ({_marks(chunk)})", chunk):
                old[(r["order_key"], r["line"])] = r
        conn.executemany("DELETE FROM order_lines WHERE order_key = ?", [(k,) for k, _ in with_lines])

        def line(key: int, i: int, ln) -> tuple:
            # A vendor answer without prices or names keeps the ones recorded when we ordered.
            prev = old.get((key, i))
            price = str(ln.unit_price) if ln.unit_price is not None else (prev["unit_price"] if prev else None)
            return (key, i, ln.plan_id or (prev["plan_id"] if prev else ""), ln.quantity, price,
                    ln.name or (prev["name"] if prev else None))

        # Many a statement, as new orders (executemany: a step of SQLite and a hand-over of the GIL a line).
        lines = [line(k, i, ln) for k, o in with_lines for i, ln in enumerate(o.lines)]
        _insert_rows(conn, "order_lines", _LINE_COLUMNS, lines, ORDER_INSERT_ROWS)
        # In the same transaction: one commit a page, and the page is written whole or not at all.
        self._write_esims(conn, [e for _, o in kept for e in o.esims], seen)

    @staticmethod
    def _orders_as_stored(conn: sqlite3.Connection, orders: list[Order], digests: list[bytes]) -> dict[int, int]:
        """Place in ``orders`` -> row id, of each order stored with ``digests``' (its reference as listed) whose
        reference names no other row of its vendor and kind: what the look-ups in _write_orders would only
        confirm. Answered as one row, however many."""
        batch = [[i, o.vendor, o.order_id, o.reference, o.kind, digest.hex().upper()]
                 for i, (o, digest) in enumerate(zip(orders, digests, strict=True)) if o.order_id]
        if not batch:
            return {}
        found = conn.execute(_ORDERS_AS_STORED, (json.dumps(batch),)).fetchone()[0]
        return {i: key for i, key in json.loads(found)}

    def _with_journal_references(self, orders: list[Order]) -> list[Order]:
        """Vendor listings carry the handle we sent (desk-unique); rows are keyed by the journal's reference."""
        wanted = _group((o.vendor, o.reference) for o in orders if o.reference)
        names: dict[tuple[str, str], str] = {}
        for vendor, handles in wanted.items():
            names.update({(vendor, h): r for h, r in self.journal_handles(vendor, handles).items() if h != r})
        if not names:
            return orders
        return [replace(o, reference=names[(o.vendor, o.reference)]) if (o.vendor, o.reference) in names else o
                for o in orders]

    def save_balance(self, balance: Balance) -> None:
        observed = R.iso(balance.observed_at) or now_iso()
        with self.transaction() as conn:  # through transaction(): a full disk is words, not a traceback
            conn.execute("INSERT INTO balances (vendor, amount, currency, observed_at) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (vendor) DO UPDATE SET amount=excluded.amount, currency=excluded.currency, "
                         "observed_at=excluded.observed_at",
                         (balance.vendor, str(balance.amount), balance.currency, observed))

    def add_events(self, events: list[Event]) -> int:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                [(e.vendor, e.iccid, e.kind, R.iso(e.occurred_at) or "", e.detail, R.dumps(e.raw)) for e in events],
            )
        return len(events)

    def set_note(self, vendor: str, iccid: str, note: str) -> None:
        """An agent's note on an eSIM (e.g. the customer's name): searchable, kept across syncs."""
        with self.transaction() as conn:
            # search_text of an eSIM is its note only: ICCIDs, order ids and plan words have their own indexes.
            conn.execute("UPDATE esims SET note = ?, search_text = ? WHERE vendor = ? AND iccid = ?",
                         (note, note, vendor, iccid))

    # --- sync runs ---------------------------------------------------------------------------
    def start_sync_run(self, vendor: str) -> tuple[int, str]:
        started = now_iso()
        with self.transaction() as conn:
            run_id = conn.execute("INSERT INTO sync_runs (vendor, started_at) VALUES (?, ?)", (vendor, started)).lastrowid
        return run_id, started

    def finish_sync_run(self, run_id: int, *, ok: bool, plans: int, orders: int, esims: int, error: str | None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sync_runs SET finished_at=?, ok=?, plans=?, orders=?, esims=?, error=? WHERE id=?",
                         (now_iso(), int(ok), plans, orders, esims, error, run_id))

    def last_sync(self, vendor: str | None = None) -> datetime | None:
        q = "SELECT max(finished_at) FROM sync_runs WHERE ok = 1" + (" AND vendor = ?" if vendor else "")
        value = self.conn.execute(q, (vendor,) if vendor else ()).fetchone()[0]
        return R.from_iso(value)

    # --- reads -------------------------------------------------------------------------------
    def plans(self, vendor: str | None = None, country: str | None = None, search: str | None = None,
              limit: int | None = None, include_stale: bool = False) -> list[Plan]:
        """Cheapest first; a country filter goes through the small coverage table to indexed country lists."""
        where, params = [], []
        base, order = f"SELECT {R.PLAN_COLS} FROM plans p", " ORDER BY p.price_sort, p.vendor, p.plan_id"
        if country:
            # "+" keeps the planner on the price index (which carries the country list): see migrations.
            where.append("+p.list_id IN (SELECT list_id FROM coverage WHERE country = ?)")
            params.append(country.upper())
        if vendor:
            where.append("p.vendor = ?")
            params.append(vendor)
        if not include_stale:
            where.append("p.stale = 0")
        head: list[Any] = []
        if search and " " not in search.strip():
            # A pasted plan id finds exactly that plan (ids are not in the text index).
            exact = self._all(f"SELECT {R.PLAN_COLS} FROM plans p WHERE p.plan_id = ?"
                              + "".join(f" AND {w}" for w in where) + order, [search.strip(), *params])
            if exact:
                return [R.row_plan(r) for r in exact]
        if search:
            long_words = [w for w in search.split() if len(w) >= 3]
            match = _fts_quote(" ".join(long_words)) if long_words else None
            hits = (self.conn.execute("SELECT count(*) FROM plans_fts WHERE plans_fts MATCH ?", (match,)).fetchone()[0]
                    if match else None)
            if hits is not None and hits <= FEW_HITS:
                # Few matches: start from them (SQLite would otherwise walk the whole price index).
                base = (f"SELECT {R.PLAN_COLS} FROM (SELECT rowid AS r FROM plans_fts WHERE plans_fts MATCH ?) hits "
                        "CROSS JOIN plans p ON p.rowid = hits.r")
                head = [match]
                short = " ".join(w for w in search.split() if len(w) < 3)
                if short:
                    clause, args = self._words_clause("plans", "p", short)
                    where.append(clause)
                    params.extend(args)
            else:  # many matches: walk the price index and stop after a page
                clause, args = self._text_clause("plans", "p", search)
                where.append(clause)
                params.extend(args)
        sql = base + (" WHERE " + " AND ".join(where) if where else "") + order
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [R.row_plan(r) for r in self._all(sql, [*head, *params])]

    def plan_raw(self, vendor: str, plan_id: str) -> dict[str, Any] | None:
        """The vendor's payload of a plan as last synced (for its adapter to read: services, never the ui)."""
        row = self.conn.execute("SELECT raw FROM plans JOIN plan_payloads ON plan = plans.rowid WHERE vendor = ? "
                                "AND plan_id = ?", (vendor, plan_id)).fetchone()
        if row is None or not row[0]:
            return None
        try:
            raw = json.loads(row[0])
        except ValueError:
            return None
        return raw if isinstance(raw, dict) else None

    def plan(self, vendor: str, plan_id: str) -> Plan | None:
        rows = self._all("SELECT * FROM plans WHERE vendor = ? AND plan_id = ?", (vendor, plan_id))
        return R.row_plan(rows[0]) if rows else None

    def _text_clause(self, table: str, alias: str, text: str) -> tuple[str, list[Any]]:
        """Search as agents type it, each kind of text through an index.

        Plans and orders: trigram FTS5 over their words (names, countries by code and name, ids,
        references). eSIMs: ICCID "last digits" (or whole) as a prefix range on the reversed ICCID,
        order id by equality, plan words through the plans' index, agent notes through a small FTS5.
        Typed text is taken literally: NUL characters count as nothing, ``%``, ``_`` and ``\\`` as themselves.
        """
        text = _clean_search(text).strip()
        digits = text.replace(" ", "")
        if table == "esims":
            if digits.isdigit():
                # Digits are the ICCID's last digits (as many as typed: "8" finds a tenth of the fleet through
                # the reversed-ICCID index, as fast as "004211"), or a whole order id.
                return (f"(({alias}.iccid_rev >= ? AND {alias}.iccid_rev < ?) OR {alias}.order_id = ?)",
                        [*R.suffix_range(digits), digits])
            note_clause, note_params = self._words_clause("esims", alias, text)
            if not any(len(w) >= 3 for w in text.split()):
                # One or two letters name no plan or country worth listing every eSIM of (the letters of
                # "japan" as it is typed): an order id or the agent's notes only, through their indexes.
                return f"({alias}.order_id = ? OR {note_clause})", [text, *note_params]
            plan_clause, plan_params = self._words_clause("plans", "p2", text)
            return (f"({alias}.order_id = ? OR ({alias}.vendor, {alias}.plan_id) IN "
                    f"(SELECT p2.vendor, p2.plan_id FROM plans p2 WHERE {plan_clause}) OR {note_clause})",
                    [text, *plan_params, *note_params])
        return self._words_clause(table, alias, text)

    @staticmethod
    def _words_clause(table: str, alias: str, text: str) -> tuple[str, list[Any]]:
        # The trigram index needs 3 characters a word; shorter words ("JP") fall back to LIKE.
        words = _clean_search(text).split()
        long_words = [w for w in words if len(w) >= 3]
        clauses, params = [], []
        if long_words:
            clauses.append(f"{alias}.rowid IN (SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ?)")
            params.append(_fts_quote(" ".join(long_words)))
        for w in words:
            if len(w) < 3:
                if table == "esims":  # through the partial index of the few eSIMs with a note (migration v4)
                    clauses.append(f"{alias}.rowid IN (SELECT rowid FROM esims WHERE search_text != '' "
                                   "AND search_text LIKE ? ESCAPE '\\')")
                else:  # plans and orders: tested in the index of their default order (migration v4)
                    clauses.append(f"{alias}.search_text LIKE ? ESCAPE '\\'")
                params.append(_like_contains(w))
        return "(" + " AND ".join(clauses or ["1"]) + ")", params

    def esims(self, vendor: str | None = None, status: str | None = None, search: str | None = None,
              limit: int | None = None, order_id: str | None = None) -> list[Esim]:
        where, params = [], []
        for col, val in (("vendor", vendor), ("status", status), ("order_id", order_id)):
            if val:
                where.append(f"e.{col} = ?")
                params.append(val)
        if search:
            clause, args = self._text_clause("esims", "e", search)
            where.append(clause)
            params.extend(args)
        sql = f"SELECT {R.ESIM_COLS} FROM esims e" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.vendor, e.iccid"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [R.row_esim(r) for r in self._all(sql, params)]

    def esim(self, iccid: str, vendor: str | None = None) -> Esim | None:
        rows = self._all("SELECT * FROM esims WHERE iccid = ?" + (" AND vendor = ?" if vendor else ""),
                         (iccid, vendor) if vendor else (iccid,))
        return R.row_esim(rows[0]) if rows else None

    def orders(self, vendor: str | None = None, search: str | None = None, limit: int | None = None,
               statuses: Iterable[OrderStatus] | None = None, with_raw: bool = False) -> list[Order]:
        """Newest first. ``with_raw``: include the vendor's payload, to re-derive data without a download.

        A search is tried as what agents paste most, each through an index: a whole order id or
        reference, then an ICCID (or its last digits) of the order's eSIMs; only then as free text.
        """
        where, params = [], []
        if vendor:
            where.append("o.vendor = ?")
            params.append(vendor)
        if statuses:
            st = [s.value for s in statuses]
            where.append(f"o.status IN ({_marks(st)})")
            params.extend(st)

        def run(extra: str | None, args: list[Any]) -> list[dict[str, Any]]:
            clauses = where + ([extra] if extra else [])
            cols = "o.*" if with_raw else R.ORDER_COLS
            sql = f"SELECT {cols} FROM orders o" + (" WHERE " + " AND ".join(clauses) if clauses else "")
            sql += " ORDER BY o.created_at DESC" + (f" LIMIT {int(limit)}" if limit else "")
            return self._all(sql, [*params, *args])

        if not search:
            return self._hydrate_orders(run(None, []), with_raw)
        text = search.strip()
        rows = run(R.ORDER_NAMED, [text] * 3)
        digits = text.replace(" ", "")
        if not rows and digits.isdigit() and len(digits) >= 4:
            rows = run("o.order_id IN (SELECT order_id FROM esims WHERE iccid_rev >= ? AND iccid_rev < ?)",
                       list(R.suffix_range(digits)))
        if not rows:
            clause, args = self._order_text_clause(text)
            rows = run(clause, args)
        return self._hydrate_orders(rows, with_raw)

    def _order_text_clause(self, text: str) -> tuple[str, list[Any]]:
        """Words of an order (its ids, reference, plans) or of its eSIMs' notes: the customer note the agent
        kept when ordering finds the order. The notes' subquery is not correlated: SQLite reads the few
        noted eSIMs once, then tests each order against that list."""
        clause, args = self._text_clause("orders", "o", text)
        notes, note_args = self._words_clause("esims", "noted", text)
        return (f"({clause} OR o.order_id IN (SELECT noted.order_id FROM esims noted WHERE {notes}))",
                [*args, *note_args])

    def order_for_reference(self, vendor: str, reference: str, kind: str = "order") -> Order | None:
        """The order row of a journal reference, if a vendor listing has given it an order id."""
        rows = self._all("SELECT * FROM orders WHERE vendor = ? AND reference = ? AND kind = ? AND order_id IS NOT NULL",
                         (vendor, reference, kind))
        found = self._hydrate_orders(rows)
        return found[0] if found else None

    def order(self, vendor: str, order_id: str) -> Order | None:
        found = self._hydrate_orders(self._all("SELECT * FROM orders WHERE vendor = ? AND order_id = ?", (vendor, order_id)))
        return found[0] if found else None

    def _hydrate_orders(self, rows: list[dict[str, Any]], with_raw: bool = False) -> list[Order]:
        if not rows:
            return []
        keys = [r["id"] for r in rows]
        lines: dict[int, list[dict[str, Any]]] = {}
        esims: dict[tuple[str, str], list[Esim]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for ln in self._all(f"SELECT * FROM order_lines WHERE order_key IN ({marks}) ORDER BY line", chunk):
                lines.setdefault(ln["order_key"], []).append(ln)
        wanted = {(r["vendor"], r["order_id"]) for r in rows if r["order_id"]}
        for chunk in _chunks(sorted({oid for _, oid in wanted})):
            q = f"SELECT {R.ESIM_COLS} FROM esims e WHERE e.order_id IN ({_marks(chunk)}) ORDER BY e.iccid"
            for er in self._all(q, chunk):
                if (er["vendor"], er["order_id"]) in wanted:
                    esims.setdefault((er["vendor"], er["order_id"]), []).append(R.row_esim(er))
        orders = [R.row_order(r, lines.get(r["id"], []), esims.get((r["vendor"], r["order_id"]), []), with_raw)
                  for r in rows]
        return self._with_typed_references(orders)

    def _with_typed_references(self, orders: list[Order]) -> list[Order]:
        """Another desk's orders (team mode) with the reference their agent typed (see ``Order.typed_reference``):
        one index seek per 500 orders, nothing outside team mode."""
        if self.conn.execute("SELECT 1 FROM team_journal LIMIT 1").fetchone() is None:
            return orders
        typed: dict[tuple[str, str, str], str] = {}
        for chunk in _chunks(sorted({o.reference for o in orders if o.reference})):
            q = f"SELECT handle, vendor, kind, reference FROM team_journal WHERE handle IN ({_marks(chunk)})"
            typed.update({(h, v, k): r for h, v, k, r in self.conn.execute(q, chunk)})
        return [replace(o, typed_reference=typed[key]) if (key := (o.reference, o.vendor, o.kind)) in typed
                and typed[key] != o.reference else o for o in orders]

    def balances(self, vendor: str | None = None) -> list[Balance]:
        rows = self._all("SELECT * FROM balances" + (" WHERE vendor = ?" if vendor else "") + " ORDER BY vendor",
                         (vendor,) if vendor else ())
        return [Balance(r["vendor"], R.dec(r["amount"]), r["currency"], R.from_iso(r["observed_at"])) for r in rows]

    def usage(self, vendor: str, iccid: str) -> list[Usage]:
        rows = self._all("SELECT * FROM usage WHERE vendor = ? AND iccid = ? ORDER BY observed_at", (vendor, iccid))
        return [Usage(r["vendor"], r["iccid"], R.from_iso(r["observed_at"]), r["data_used_mb"], r["data_total_mb"],
                      as_of=R.from_iso(r["as_of"]), data_remaining_mb=r["data_remaining_mb"]) for r in rows]

    def events(self, vendor: str, iccid: str) -> list[Event]:
        rows = self._all("SELECT * FROM events WHERE vendor = ? AND iccid = ? ORDER BY occurred_at", (vendor, iccid))
        return [Event(r["vendor"], r["iccid"], r["kind"], R.from_iso(r["occurred_at"] or None), r["detail"] or "")
                for r in rows]

    def counts(self) -> dict[str, int]:
        return {t: self.conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("plans", "orders", "esims", "balances", "events", "journal")}

    def refresh_statistics(self) -> list[str]:
        """What SQLite's planner knows of the data, after a sync wrote much of it. Without it the planner
        guesses, e.g. walks the expiry index over 190,000 eSIMs for a search that the reversed-ICCID index
        answers with 20 (0.5 s instead of 1 ms). Only the tables with an index whose statistics are missing or
        out of date (store/statistics.py), sampled (analysis_limit): 0.02-0.06 s for all of a 300,000-a-vendor
        file's (the full-text index's own tables, whose one key leaves the planner no choice, were most of the
        1.9 s analysing the whole file took after a first sync). Returns the tables analysed."""
        due = tables_to_analyse(self.conn)
        if due:
            with self.transaction() as conn:
                analyse(conn, due)
        return sorted(due)


class _Connections:
    """The connections a store opened, one per thread, so that ``close()`` closes them all — each safely.

    A connection is closed only by its own thread or once that thread has ended: closing one while its
    thread runs a query crashes the process (the window closing while a view's query is still in a
    worker thread). A live thread's connection is closed by that thread at its next use of the store,
    or when the thread ends; until then it holds its locks, and nothing in this process reads the file
    around SQLite (integrity.read_header checks), so it harms nothing.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: list[tuple[sqlite3.Connection, threading.Thread]] = []
        self.generation = 0  # +1 at each close_all: a thread's older connection is closed

    def add(self, conn: sqlite3.Connection) -> int:
        with self._lock:
            self._open.append((conn, threading.current_thread()))
            return self.generation

    def close_all(self, every_thread: bool = False) -> None:
        me = threading.current_thread()

        def closable(owner: threading.Thread) -> bool:
            return every_thread or owner is me or not owner.is_alive()

        with self._lock:
            items = self._open
            self.generation += 1
            self._open = [(c, t) for c, t in items if not closable(t)]
        for conn, owner in items:
            if closable(owner):
                _close_quietly(conn)

    def none_open(self) -> bool:
        with self._lock:
            return not self._open

    def retire(self, conn: sqlite3.Connection) -> None:
        """The owning thread closes its connection from before a close_all."""
        with self._lock:
            self._open = [(c, t) for c, t in self._open if c is not conn]
        _close_quietly(conn)


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass  # closing never fails for a reason worth raising at close time


def _one_per_order_id(orders: list[Order]) -> list[Order]:
    """One entry per (vendor, order id): a vendor that lists an order twice in one answer is logged, the later
    entry kept (with the earlier one's reference when it has none); orders without an id pass as they are."""
    at: dict[tuple[str, str], int] = {}
    out: list[Order | None] = []
    for order in orders:
        if order.order_id:
            key = (order.vendor, order.order_id)
            if key in at:
                earlier = out[at[key]]
                # The same order handed again with more of its eSIMs (Roumio's list: vendors/roumio.py) is
                # no surprise; another entry under the id is.
                again_whole = earlier is not None and bool(earlier.esims) and \
                    {e.iccid for e in earlier.esims} < {e.iccid for e in order.esims}
                log.log(logging.DEBUG if again_whole else logging.WARNING,
                        "%s listed order %s twice in one answer; the later entry is kept", *key)
                if order.reference is None and earlier is not None and earlier.reference is not None:
                    order = replace(order, reference=earlier.reference)
                out[at[key]] = None
            at[key] = len(out)
        out.append(order)
    return [o for o in out if o is not None]


# Each in an index: compared with the stored value, set only when it changed (see _write_plans).
_PLAN_COMPARED = ("name", "countries", "list_id", "data_mb", "validity_days", "price_sort", "currency", "daily",
                  "topup", "search_text", "total_mb", "price_per_gb_sort")


@functools.cache
def _plan_update(moved: tuple[str, ...]) -> str:
    """The UPDATE of a changed plan whose indexed columns ``moved`` changed ("stale": it is listed again)."""
    sets = [f"{c} = :{c}" for c in moved if c != "stale"] + ["stale = 0"] * ("stale" in moved)
    if {"currency", "price_sort", "price_per_gb_sort"} & set(moved):  # its converted prices with them
        sets += ["price_conv = :price_conv", "per_gb_conv = :per_gb_conv"]
    sets += ["price = :price", "region = :region", "coverage_name = :coverage_name",
             "last_seen = :last_seen", "row_hash = :row_hash"]
    return f"UPDATE plans SET {', '.join(sets)} WHERE rowid = :rowid"


# An eSIM's indexed columns, each set as a sync sets it. coalesce(): a partial answer (e.g. an order's eSIM list
# without usage) never erases known values; usage figures older than the row's leave it as it is.
_ESIM_SET = {
    "order_id": "order_id = coalesce(:order_id, order_id)",
    "plan_id": "plan_id = coalesce(:plan_id, plan_id)",
    "status": "status = :status",
    "vendor_status": "vendor_status = :vendor_status",
    "data_used_mb": """data_used_mb = CASE WHEN julianday(:usage_as_of) < julianday(usage_as_of) THEN data_used_mb
                           ELSE coalesce(:data_used_mb, data_used_mb) END""",
    "data_total_mb": "data_total_mb = coalesce(:data_total_mb, data_total_mb)",
    "expires_at": "expires_at = coalesce(:expires_at, expires_at)",
}
_ESIM_COMPARED = tuple(_ESIM_SET)
# The rest, in no index. The digest is kept only when the row now holds what the answer says: not when its
# usage figures were older than the stored ones (then the next sync with that answer writes it in full again).
_ESIM_ALWAYS = """activation_code = coalesce(:activation_code, activation_code),
    installed_at = coalesce(:installed_at, installed_at), qr_url = coalesce(:qr_url, qr_url),
    install_url = coalesce(:install_url, install_url), vendor_ref = coalesce(:vendor_ref, vendor_ref),
    last_seen = :last_seen,
    usage_as_of = CASE WHEN (:data_used_mb IS NOT NULL OR :data_remaining_mb IS NOT NULL)
        AND (usage_as_of IS NULL OR julianday(:usage_as_of) >= julianday(usage_as_of)) THEN :usage_as_of
        ELSE usage_as_of END,
    data_remaining_mb = CASE WHEN julianday(:usage_as_of) < julianday(usage_as_of) THEN data_remaining_mb
        ELSE coalesce(:data_remaining_mb, data_remaining_mb) END,
    device_name = coalesce(:device_name, device_name), device_imei = coalesce(:device_imei, device_imei),
    row_hash = CASE WHEN julianday(:usage_as_of) < julianday(usage_as_of) THEN NULL ELSE :row_hash END"""


# A batch of orders as _orders_as_stored gives it to SQLite ([place, vendor, order id, reference, kind, digest in
# upper-case hex] an order): [place, row id] of each stored as listed, its reference no other row's.
_ORDERS_AS_STORED = """SELECT json_group_array(json_array(json_extract(j.value, '$[0]'), o.id))
    FROM json_each(?1) AS j JOIN orders AS o
        ON o.vendor = json_extract(j.value, '$[1]') AND o.order_id = json_extract(j.value, '$[2]')
    WHERE hex(o.row_hash) = json_extract(j.value, '$[5]')
        AND NOT EXISTS (SELECT 1 FROM orders AS other WHERE other.reference = json_extract(j.value, '$[3]')
            AND +other.vendor = o.vendor AND other.kind = o.kind AND other.id != o.id)"""
# A vendor's stored plans as plans_to_write compares them: plan id -> its digest in upper-case hex ("" none kept,
# "-" the plan is marked stale: written again when listed).
_PLAN_DIGESTS = """SELECT json_group_object(plan_id, CASE WHEN stale THEN '-' ELSE coalesce(hex(row_hash), '') END)
    FROM plans WHERE vendor = ?"""
# A batch of eSIMs as _write_esims gives it to SQLite: a JSON array of [vendor, ICCID, the digest in upper-case
# hex (SQLite's hex()), whether its usage figures are as of the fetch]. Each entry is found by the (vendor, ICCID)
# key, entry by entry.
_BATCH_ROW = """esims.vendor = json_extract(j.value, '$[0]') AND esims.iccid = json_extract(j.value, '$[1]')"""
# The entries with no row yet (rowid null), stored with another digest (or none) or marked stale, with what the
# write compares: [place, rowid, stale, whether stored as listed, compared...] each, as one JSON array (one row,
# whatever their number).
_ESIMS_NOT_AS_STORED = f"""SELECT json_group_array(json_array(j.key, esims.rowid, esims.stale,
        hex(esims.row_hash) IS json_extract(j.value, '$[2]'), {', '.join(f'esims.{c}' for c in _ESIM_COMPARED)}))
    FROM json_each(?1) AS j LEFT JOIN esims ON {_BATCH_ROW}
    WHERE esims.rowid IS NULL OR esims.row_hash IS NULL OR hex(esims.row_hash) != json_extract(j.value, '$[2]')
        OR esims.stale"""
# A confirmation writes last_seen in the eSIM's own row (no index holds it), found by its key in the same statement.
# Measured on 100,000 eSIMs, 500 a transaction: 1.9 s by vendor and ICCID while the row held the vendor's payload
# (1.5 s by rowid, but the rowids then came back to Python a row each); 0.37 s since it is kept beside the row
# (migrations._v17); 0.13 s in a narrow side table (0.37 s with the index an ORDER BY needs). The row it is, because Roumio gives no time for its usage figures: a confirmed
# eSIM's usage_as_of moves on each sync, and that is in the row (so most of a Roumio fleet's rows are written either
# way); and last_seen stays a column every reader (mark_stale, the Fleet's "checked" time, a restore's merge) reads
# as before. A per-run TEMP table of what was seen cannot work: each page is written by whichever worker thread runs
# it, each with its own connection, and TEMP tables are per connection.
_ESIMS_CONFIRM = f"""UPDATE esims SET last_seen = ?1, usage_as_of = CASE
        WHEN json_extract(j.value, '$[3]') AND (usage_as_of IS NULL OR julianday(?1) >= julianday(usage_as_of))
        THEN ?1 ELSE usage_as_of END
    FROM json_each(?2) AS j WHERE {_BATCH_ROW} AND hex(esims.row_hash) = json_extract(j.value, '$[2]')"""


def _from_batch(sql: str) -> str:
    """``sql``'s ``:name`` parameters as the fields of a batch's JSON entry ``j``; ``:row_hash`` as the entry's digest
    (16 bytes at its ``i`` * 16 of the blob ``?2``)."""
    return re.sub(r":(\w+)", lambda m: "substr(?2, json_extract(j.value, '$.i') * 16 + 1, 16)" if m[1] == "row_hash"
                  else f"json_extract(j.value, '$.{m[1]}')", sql)


_PLAN_COLUMNS = ("vendor", "plan_id", "name", "countries", "list_id", "data_mb", "validity_days", "price", "price_sort",
                 "currency", "daily", "topup", "region", "first_seen", "last_seen", "stale", "search_text",
                 "total_mb", "price_per_gb_sort", "coverage_name", "price_conv", "per_gb_conv", "row_hash")
PLAN_INSERT_ROWS = 100  # new plans a statement (2,300 parameters), where SQLite allows as many
PAYLOAD_ROWS = 500  # plans' payloads a statement (row id and payload: 1,000 parameters)
_PAYLOAD_KEPT_IF_SAME = " ON CONFLICT (plan) DO UPDATE SET raw = excluded.raw WHERE raw IS NOT excluded.raw"


def _rows_a_statement(conn: sqlite3.Connection, columns: int, wanted: int) -> int:
    """``wanted`` rows of ``columns`` parameters each a statement, or as many as the SQLite this runs on takes: its
    limit is 32,766 parameters by default since 3.32, and 999 before (Ubuntu 20.04's 3.31, under a Python 3.11)."""
    return max(1, min(wanted, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // columns))


def _insert_rows(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list, wanted: int,
                 suffix: str = "") -> int | None:
    """Insert ``rows`` (each its values in ``columns``' order) ``wanted`` a statement (``_rows_a_statement``), each
    statement one multi-row VALUES and ``suffix``: executemany steps SQLite once a row, and each step hands Python's
    GIL over and back (see ``_ROWIDS``). The last row's row id, or None when there were none."""
    last = None
    for chunk in _chunks(rows, _rows_a_statement(conn, len(columns), wanted)):
        last = conn.execute(_values_insert(table, columns, len(chunk)) + suffix, [v for row in chunk for v in row]).lastrowid
    return last


@functools.cache
def _values_insert(table: str, columns: tuple[str, ...], rows: int) -> str:
    """An INSERT of ``rows`` rows of ``columns`` in one statement: one step of SQLite for them all."""
    one = f"({', '.join('?' * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([one] * rows)}"


_ESIM_COLUMNS = ("vendor", "iccid", "iccid_rev", "order_id", "plan_id", "status", "vendor_status", "activation_code",
                 "data_used_mb", "data_total_mb", "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref",
                 "last_seen", "usage_as_of", "data_remaining_mb", "device_name", "device_imei")
_ESIM_INSERTED = (*_ESIM_COLUMNS, "stale", "row_hash")  # a new eSIM's row: its columns, not stale, its digest
ESIM_INSERT_ROWS = 100  # new eSIMs a statement (2,200 parameters), where SQLite allows as many
# The vendor's payloads of a batch's new and changed eSIMs ([vendor, ICCID, payload] each), kept beside their rows
# (migrations._v17), each row found by its key; one as stored is not written again (a status that moved, the
# payload the same). ("WHERE true": SQLite's upsert after a SELECT needs a WHERE to parse.)
_PAYLOADS_PUT = f"""INSERT INTO esim_payloads (esim, raw)
    SELECT esims.rowid, json_extract(j.value, '$[2]') FROM json_each(?1) AS j JOIN esims ON {_BATCH_ROW} WHERE true
    ON CONFLICT (esim) DO UPDATE SET raw = excluded.raw WHERE raw IS NOT excluded.raw"""


@functools.cache
def _esim_update(moved: tuple[str, ...]) -> str:
    sets = ", ".join([*(_ESIM_SET[c] for c in moved), _ESIM_ALWAYS])
    return _from_batch(f"UPDATE esims SET {sets} FROM json_each(?1) AS j WHERE esims.rowid = :rowid")


class _NewOrders:
    """New orders' rows of a batch, inserted ``ORDER_INSERT_ROWS`` a statement (one multi-row VALUES): one statement
    an order was a step of SQLite and a hand-over of Python's GIL each, 6,229 of them (1.0 s) in a first sync at
    10,000 eSIMs a vendor. Each row is known by a provisional key until it is inserted."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []  # every row added; provisional key -n: the n-th
        self.inserted = 0  # how many of them are in the table

    def add(self, row: dict[str, Any]) -> int:
        self.rows.append(row)
        return -len(self.rows)

    def insert(self, conn: sqlite3.Connection) -> dict[int, int]:
        """Insert the rows not yet inserted; their provisional key -> row id (``_first_of_sequence``)."""
        real: dict[int, int] = {}
        if self.inserted == len(self.rows):
            return real
        columns = tuple(self.rows[self.inserted])  # every row's: R.order_row's, with its reference and digest
        rows = self.rows[self.inserted:]
        last = _insert_rows(conn, "orders", columns, [[row[c] for c in columns] for row in rows], ORDER_INSERT_ROWS)
        first = _first_of_sequence(conn, "orders", "id", last, len(rows), "new orders")
        real.update({-(self.inserted + n + 1): first + n for n in range(len(rows))})
        self.inserted += len(rows)
        return real


ORDER_INSERT_ROWS = 100  # orders (14 parameters each) or lines (6) a statement, where SQLite allows as many
_LINE_COLUMNS = ("order_key", "line", "plan_id", "quantity", "unit_price", "name")  # an order line's, in line()'s order


def _first_of_sequence(conn: sqlite3.Connection, table: str, rowid: str, last: int, rows: int, what: str) -> int:
    """The row id of the first of the ``rows`` rows just inserted into ``table`` (by one statement or several in a
    row), the last being ``last``: SQLite gives rows inserted in order under the one writer each one more than the
    largest before it, so they are ``rows`` in a row. They are counted, so a table at the largest rowid (where
    SQLite picks ids at random) stops the page in words instead of misplacing what goes by row id."""
    first = last - rows + 1
    if conn.execute(f"SELECT count(*) FROM {table} WHERE {rowid} BETWEEN ? AND ?", (first, last)).fetchone()[0] != rows:
        raise StoreError(f"{what} were given row ids out of sequence; nothing of this page was saved")
    return first


def _first_of_each(items: list, key) -> tuple[list, list]:
    """(the first entry of each key, the entries after it): a batch written as the first, then the rest."""
    keys: set = set()
    first, again = [], []
    for item in items:
        k = key(item)
        if k in keys:
            again.append(item)
        else:
            keys.add(k)
            first.append(item)
    return first, again


def _group(pairs) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for vendor, key in pairs:
        out.setdefault(vendor, []).append(key)
    return out


# Many rows in one statement, read from a JSON array with json_each: SQLite steps once for the whole batch.
# executemany (and a cursor's rows) step once a row, and each step hands Python's GIL over and back: beside a
# busy thread (the sync's event loop decoding answers) each hand-back waited up to the 5 ms switch interval.
# Measured on 100,000 confirmations: 1.2 s alone either way; beside a busy thread 538 s row by row, 1.2 s as one.
_ROWIDS = "(SELECT value FROM json_each(?2))"


def _by_rowids(conn: sqlite3.Connection, sql: str, seen: str, rowids: list[int]) -> None:
    """``sql`` (``?1`` the time, ``?2`` the JSON array of row ids: ``_ROWIDS``) once per WRITE_CHUNK rows."""
    for chunk in _chunks(rowids, WRITE_CHUNK):
        conn.execute(sql, (seen, json.dumps(chunk)))


def _stored_rows(conn: sqlite3.Connection, table: str, key: str, cols, pairs, *,
                 vendor_column: str = "vendor") -> Iterator[tuple[str, sqlite3.Row]]:
    """(vendor, row) for each stored row (its rowid, ``key``, row_hash and ``cols``) whose ``key`` is one of
    these, 500 keys a query. (Read as one JSON aggregate a chunk instead, the rows cost more CPU in json than
    the GIL's hand-overs they saved: measured in a 100,000-eSIM sync.)"""
    for vendor, keys in _group(pairs).items():
        for chunk in _chunks(keys):
            q = (f"SELECT rowid, {key}, row_hash, {', '.join(cols)} FROM {table} WHERE {vendor_column} = ? "
                 f"AND {key} IN ({_marks(chunk)})")
            for row in conn.execute(q, (vendor, *chunk)):
                yield vendor, row


def _stored(conn: sqlite3.Connection, table: str, key: str, cols, pairs) -> dict[tuple[str, str], sqlite3.Row]:
    """(vendor, key) -> the stored row of these rows (``key`` unique per vendor): _stored_rows."""
    return {(vendor, row[key]): row for vendor, row in _stored_rows(conn, table, key, cols, pairs)}


WRITE_CHUNK = 2000  # rows a statement of _by_rowids takes


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _marks(items) -> str:
    return ",".join("?" * len(items))


def _clean_search(text: str) -> str:
    """Search text without NUL characters: SQLite ends a LIKE pattern or an FTS5 string at a NUL (a LIKE
    would match everything, a MATCH fail), so a NUL typed or pasted into a search box counts as nothing."""
    return text.replace("\x00", "")


def _like_contains(word: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching ``word`` anywhere, its ``%``, ``_`` and ``\\`` literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fts_quote(text: str) -> str:
    """Each word as a quoted FTS5 string, so agents' punctuation never becomes query syntax (NULs dropped:
    FTS5 would end the string there). Inside an FTS5 string ``%`` and ``_`` are plain characters."""
    words = [w.replace('"', '""') for w in _clean_search(text).split() if w]
    return " ".join(f'"{w}"' for w in words) or '""'


def open_store(home: Path, name: str = "esimdesk.sqlite3") -> SqliteStore:
    return SqliteStore(home / name)

