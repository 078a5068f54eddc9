"""A data file of the schema before narrow eSIM rows (16), brought up to this esimdesk's (issue 28).

Run: python bench/data_file_update.py FILE   (FILE: a data file of schema 16, e.g. the one bench/views.py built
before this change; it is copied, never changed) — the run is kept in bench/results/data_file_update.json.

What an agent's first start after the update costs (the step runs once, behind a notice: ui/data_file_update.py),
and what it buys: the same confirmations a routine sync writes (``last_seen`` of each listed eSIM, 500 a
transaction, by vendor and ICCID) timed on the copy before and after, per vendor, and the pages of the eSIM table.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.store.migrations import LATEST  # noqa: E402

_STAMPS = itertools.count()


def _confirm_all(path: Path) -> dict[str, float]:
    """Seconds to confirm every eSIM of each vendor, as a routine sync's _ESIMS_CONFIRM does (500 a statement)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-65536", "wal_autocheckpoint=10000"):
            conn.execute(f"PRAGMA {pragma}")
        out = {}
        for (vendor,) in conn.execute("SELECT DISTINCT vendor FROM esims ORDER BY vendor").fetchall():
            keys = conn.execute("SELECT vendor, iccid FROM esims WHERE vendor = ? ORDER BY rowid", (vendor,)).fetchall()
            seen = f"2026-12-07T12:{next(_STAMPS) % 60:02d}:00+00:00"
            t0 = time.perf_counter()
            for i in range(0, len(keys), 500):
                conn.execute("BEGIN")
                conn.execute("UPDATE esims SET last_seen = ?1 FROM json_each(?2) AS j "
                             "WHERE esims.vendor = json_extract(j.value, '$[0]') "
                             "AND esims.iccid = json_extract(j.value, '$[1]')", (seen, json.dumps(keys[i:i + 500])))
                conn.execute("COMMIT")
            out[vendor] = round(time.perf_counter() - t0, 2)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return out
    finally:
        conn.close()


def _shape(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {"schema": conn.execute("PRAGMA user_version").fetchone()[0],
                "esims": conn.execute("SELECT count(*) FROM esims").fetchone()[0],
                "esims_pages": conn.execute("SELECT count(*) FROM dbstat WHERE name = 'esims'").fetchone()[0],
                "file_mb": round(path.stat().st_size / 2**20)}
    finally:
        conn.close()


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    source = Path(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="esimdesk-update-") as tmp:
        copy = Path(tmp) / "esimdesk.sqlite3"
        shutil.copyfile(source, copy)
        before = _shape(copy)
        if before["schema"] != 16:
            raise SystemExit(f"{source} is of schema {before['schema']}: this measures the step from 16")
        confirm_before = _confirm_all(copy)
        t0 = time.perf_counter()
        SqliteStore(copy).close()  # what the first start does (migrations._v17), behind its notice
        update_s = time.perf_counter() - t0
        after = _shape(copy)
        assert after["schema"] == LATEST
        confirm_after = _confirm_all(copy)
    save("data_file_update", {
        "what": "a schema-16 data file brought up to this esimdesk's on first open; every eSIM confirmed before "
                "and after (a routine sync's statement, 500 a transaction)",
        "source": str(source), "before": before, "after": after, "update_s": round(update_s, 1),
        "confirm_every_esim_s": {"before": confirm_before, "after": confirm_after},
    })


if __name__ == "__main__":
    main()
