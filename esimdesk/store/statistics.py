"""Which tables' planner statistics (``sqlite_stat1``) are out of date after a sync, and their analysis.

The statistics SQLite's planner reads are counts: a table's rows, and how many of them share each prefix of an
index's key. A routine sync rewrites figures (usage, status, last seen) but seldom adds rows, so analysing every
table after every sync wrote much the same counts again: 0.3-0.4 s of each routine sync at 300,000 eSIMs a vendor
(bench/results/sync_scale.json, "refresh_statistics"). A table is analysed again only when one of its indexes has
no statistics (new, rebuilt after a bulk load, never analysed) or when it grew by a tenth (and by 100 rows) since it last was.

How much a large table grew is read from its largest rowid (the end of its B-tree: orders, eSIMs and usage
samples are appended and never deleted; counting a large desk's 1.2 million eSIMs reads a whole index, 0.1 s), as
it was at the last analysis (kept in ``meta``): not from the statistics' own row counts, which ``analysis_limit``'s
sampling estimates (5.1 million for an index of 774,000 eSIMs, measured). A table without rowids is counted.
"""

from __future__ import annotations

import json
import sqlite3

from esimdesk.store.identifiers import quoted

DRIFT = 10  # analysed again when its rows grew by 1/DRIFT since it last was,
AT_LEAST = 100  # and by this many: how a table of a few rows is read does not depend on how few
# meta key: {table: [its largest rowid (or its rows), [its indexes an analysis left without statistics]] when it
# was last analysed}. An empty index gets none (a partial one over no row yet: the eSIMs' notes): that is no reason
# to analyse its table again after every sync.
MARKS = "statistics_marks"
COUNTED_UP_TO = 10_000  # a table with rowids up to this is counted (under a millisecond), a larger one is not


def tables_to_analyse(conn: sqlite3.Connection) -> dict[str, int]:
    """The tables whose statistics are missing or out of date, each with its mark now (see ``analyse``)."""
    stored = conn.execute("SELECT value FROM meta WHERE key = ?", (MARKS,)).fetchone()
    marks: dict[str, list] = json.loads(stored[0]) if stored else {}
    due = {}
    for table, without in _without_statistics(conn).items():
        mark = _mark(conn, table)
        if mark == 0:
            continue  # empty: an empty table's indexes get no statistics, there is nothing to know
        last = marks.get(table)
        grew = mark - last[0] if last is not None else 0
        if last is None or not without <= set(last[1]) or (grew * DRIFT >= last[0] and grew >= AT_LEAST):
            due[table] = mark
    return due


def analyse(conn: sqlite3.Connection, due: dict[str, int]) -> None:
    """Each table's statistics anew, from a sample (analysis_limit) of each index; its mark kept. In the
    caller's transaction."""
    conn.execute("PRAGMA analysis_limit=1000")
    for table in due:
        conn.execute(f"ANALYZE {quoted(table)}")
    without = _without_statistics(conn)
    kept = {table: [mark, sorted(without[table])] for table, mark in due.items()}
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, json_patch(coalesce((SELECT value FROM meta "
                 "WHERE key = ?), '{}'), ?))", (MARKS, MARKS, json.dumps(kept)))


def _without_statistics(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Each table with an index: its indexes without statistics."""
    has_stats = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is not None
    tables: dict[str, set[str]] = {}
    for table, index, analysed in conn.execute(
            "SELECT tbl_name, name, " + ("EXISTS (SELECT 1 FROM sqlite_stat1 WHERE idx = name)" if has_stats else "0")
            + " FROM sqlite_master WHERE type = 'index' AND tbl_name NOT LIKE 'sqlite%' ORDER BY tbl_name"):
        tables.setdefault(table, set())
        if not analysed:
            tables[table].add(index)
    return tables


def _mark(conn: sqlite3.Connection, table: str) -> int:
    """Its rows, counted while that is cheap (a few thousand: ``meta`` is rewritten by ``INSERT OR REPLACE``, whose
    rowids only climb), else its largest rowid."""
    try:
        largest = conn.execute(f"SELECT max(rowid) FROM {quoted(table)}").fetchone()[0] or 0
    except sqlite3.OperationalError:  # WITHOUT ROWID
        largest = None
    if largest is not None and largest > COUNTED_UP_TO:
        return largest
    return conn.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0]
