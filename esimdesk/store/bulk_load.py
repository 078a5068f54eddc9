"""A first sync's bulk load without the window's sort indexes in its way.

The tables carry a dozen indexes each for the window's sorts (store/listings.py). Filling an empty table
through them costs several times the rows' own writes: 100,000 eSIMs in 2,000-row transactions took 8.4 s
with them and 2.4 s without, and building them afterwards 0.5 s. So a sync that finds a table empty (or a
desk that has never finished a sync) drops that table's secondary indexes first and builds them again once the
table's load is over: the plans' as soon as every vendor's catalog is written (while the fleet's requests go on), the rest when it ends (cancelled
too). The plans' full-text index is set aside the same way (its triggers dropped, the index rebuilt whole
with the sort indexes). Their statements are kept in ``meta`` meanwhile: a sync killed half-way leaves them
there, and the next open builds them. Unique indexes stay (they keep the rows right, not fast), and those
the load's own writes look rows up by. The indexes the window's queries name go too: a query names one only
while it is there (store/listings.py ``_indexed_by``), and meanwhile gets the same rows without it.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3

log = logging.getLogger("esimdesk.store")

BULK_TABLES = ("plans", "orders", "esims")
# Tables whose full-text index a bulk load also sets aside: a plan's words (its name and every country it
# covers) are hundreds of trigrams; an order's (its ids) and an eSIM's (a note, mostly none) a few, and an
# agent may look an order up by its reference while a first sync runs.
FULL_TEXT_DEFERRED = ("plans",)
# Indexes the window's queries name (``INDEXED BY`` in store/listings.py). They stayed through a bulk load once,
# as a query naming a missing index fails; kept up row by row, the plans' three made a first catalog's inserts
# and commits 3.5x as long (150,000 plans: 4.4 s against 1.2 s, their builds after it 1.0 s). Now a query names
# one only while it is there (tests/store/test_bulk_load.py checks the list against the sources).
NAMED_BY_QUERIES = frozenset({"plans_by_list", "plans_sort_price", "plans_vendor_cheapest", "orders_sort_created"})
# Indexes the load's own writes look rows up by, page after page: without them each page of a vendor's listing
# read every row stored before it (an order's eSIMs already held, our references), and a first sync grew with
# the square of the fleet (at 300,000 eSIMs a vendor, 114 s of CPU in Roumio's pages).
LOOKED_UP_BY_WRITES = frozenset({"esims_order_id", "orders_reference"})
KEPT = LOOKED_UP_BY_WRITES
_KEY = "deferred_indexes"


# A bulk load's entry in ``meta``: one statement (an index), or statements built in one transaction (a table's
# full-text triggers and the rebuild of its index: no row may be written between them).
Deferred = str | list[str]


class BulkLoadMixin:
    def defer_indexes_for_load(self, tables: tuple[str, ...] = BULK_TABLES) -> int:
        """Set aside, for each of ``tables`` a sync is about to fill, its secondary indexes (each dropped) and, for
        the plans, its full-text index's triggers; how many entries are set aside (an index, or a full-text index).
        A table is filled when it holds no row, or on a desk that has never finished a sync: what it holds then is
        what the agent ordered before it (MicroESIM's eSIMs, which no listing gives), and the sync brings in every
        vendor's listing. (A first sync at 10,000 eSIMs a vendor wrote its 30,000 new eSIMs through the dozen indexes
        of the 10,000 held: 1.0 s, against 0.55 s with the indexes built after.)

        The full-text triggers cost a catalog's load more than its rows: a trigram per three characters of each
        plan's words, 2.1 s of 3.95 s for 50,000 plans in a row's trigger, against 0.5 s filled whole at the end
        (``_full_text_refill``). Meanwhile a word search finds nothing new (the index is filled whole once the
        plans are in)."""
        with self.transaction() as conn:
            deferred = _deferred(conn)
            synced = conn.execute("SELECT 1 FROM sync_runs WHERE ok = 1 LIMIT 1").fetchone() is not None
            for table in tables:
                if synced and conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
                    continue
                for name, sql in conn.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'", (table,)).fetchall():
                    if name in KEPT:
                        continue
                    deferred.append(sql)
                    conn.execute(f'DROP INDEX "{name}"')
                if table not in FULL_TEXT_DEFERRED:
                    continue
                triggers = conn.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? AND name IN (?, ?, ?) "
                    "ORDER BY name", (table, f"{table}_ai", f"{table}_ad", f"{table}_au")).fetchall()
                if triggers:
                    deferred.append([sql for _, sql in triggers] + _full_text_refill(table))
                    for name, _ in triggers:
                        conn.execute(f'DROP TRIGGER "{name}"')
            if deferred:
                _save_deferred(conn, deferred)
        return len(deferred)

    def restore_indexes(self, tables: tuple[str, ...] | None = None) -> int:
        """Build what a bulk load set aside (of ``tables``; None: of every table); how many entries. One entry a
        transaction, taken out of ``meta`` in it: the one writer is held a fraction of a second at a time (the
        plans' full-text rebuild about a second at 150,000), not the 2.8 s of a catalog's dozen indexes in one (a
        sync's other writes and the window's go on between them), and a kill half-way leaves the rest for the
        next open."""
        built = 0
        while True:
            with self.transaction() as conn:
                entries = _deferred(conn)
                todo = [e for e in entries if tables is None or _table_of(e) in tables]
                if not todo:
                    return built
                for sql in [todo[0]] if isinstance(todo[0], str) else todo[0]:
                    # IF NOT EXISTS: a migration since may have made it again
                    conn.execute(sql.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                                 .replace("CREATE TRIGGER ", "CREATE TRIGGER IF NOT EXISTS ", 1))
                _save_deferred(conn, [e for e in entries if e != todo[0]])
            built += 1

    def restore_indexes_left_behind(self) -> int:
        """At open: the indexes of a bulk load that never ended (a killed sync), built again. Only read when
        there are none: no write lock taken at every open."""
        if not _deferred(self.conn):
            return 0
        built = self.restore_indexes()
        log.info("built again %d indexes a sync that did not end had set aside", built)
        return built


def _full_text_refill(table: str) -> list[str]:
    """The statements that fill ``table``'s full-text index again from its rows, read in rowid order. FTS5's
    'rebuild' reads them through whichever index covers the words (the plans' price order carries them), and FTS5
    writes a segment out each time a rowid comes lower than the one before: 150,000 plans took 1.9 s that way,
    0.6 s in rowid order. (Entries a killed sync saved with 'rebuild' still build the same index.)"""
    return [f"INSERT INTO {table}_fts ({table}_fts) VALUES ('delete-all')",
            f"INSERT INTO {table}_fts (rowid, search_text) SELECT rowid, search_text FROM {table} NOT INDEXED "
            "WHERE search_text != '' ORDER BY rowid"]


def _deferred(conn: sqlite3.Connection) -> list[Deferred]:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_KEY,)).fetchone()
    return json.loads(row[0]) if row else []


def _save_deferred(conn: sqlite3.Connection, entries: list[Deferred]) -> None:
    if entries:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_KEY, json.dumps(entries)))
    else:
        conn.execute("DELETE FROM meta WHERE key = ?", (_KEY,))


def _table_of(entry: Deferred) -> str | None:
    """The table an entry is for: the first ``ON table`` of its first statement (``CREATE INDEX name ON table
    (...)``, ``CREATE TRIGGER name AFTER INSERT ON table ...``), as sqlite_master keeps them."""
    found = re.search(r'\bON\s+"?(\w+)"?', entry if isinstance(entry, str) else entry[0], re.IGNORECASE)
    return found.group(1) if found else None
