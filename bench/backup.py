"""Backups and integrity checks at 50,000 plans and 100,000 eSIMs.

Run: python bench/backup.py   (writes bench/results/backup.json)
Times ``PRAGMA quick_check`` (what decides whether it may run at every start: see store/integrity.py),
a store open that skips it (file unchanged since the last check) and one that runs it, a rolling
backup (backup API + quick_check of the copy), a restore, and a journal-sized commit with and
without ``durable=True``. The store is built in-process as in bench/store_lookups.py.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save, timed  # noqa: E402
from store_lookups import N_ESIMS, N_PLANS, make_esims, make_plans  # noqa: E402

from esimdesk.store import SqliteStore, integrity  # noqa: E402
from esimdesk.store.backups import backup_now, list_backups, restore_into_place  # noqa: E402


def main() -> None:
    rng = random.Random(42)
    plans = make_plans(rng)
    esims = make_esims(rng, plans)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "esimdesk.sqlite3"
        store = SqliteStore(path)
        for i in range(0, len(plans), 500):
            store.upsert_plans(plans[i:i + 500])
        for i in range(0, len(esims), 500):
            store.upsert_esims(esims[i:i + 500])
        store.close()

        def open_close() -> str:
            s = SqliteStore(path)
            s.close()
            return s.opened_as

        def open_checked() -> None:
            integrity.forget_checked(path)
            assert open_close() == "checked"

        def open_unchanged() -> None:
            assert open_close() == "unchanged"

        open_close()  # records the check
        made: list[Path] = []

        def backup() -> None:
            made.append(backup_now(path))

        t0 = time.perf_counter()
        restored = restore_into_place(path, backup_now(path))
        restore_s = time.perf_counter() - t0
        assert restored.previous == "healthy"

        store = SqliteStore(path)
        counter = iter(range(10**6))

        def commit(durable: bool) -> None:
            with store.transaction(durable=durable) as conn:
                conn.execute("INSERT INTO balances VALUES (?, '1.00', 'USD', '2026-11-29T03:15:00+00:00')",
                             (f"bench-{next(counter)}",))

        result = {
            "rows": {"plans": N_PLANS, "esims": N_ESIMS},
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "quick_check": timed(lambda: integrity.quick_check(path), repeat=5, warmup=1),
            "open_with_quick_check": timed(open_checked, repeat=5, warmup=1),
            "open_unchanged_header_only": timed(open_unchanged, repeat=25),
            "backup_now_with_check": timed(backup, repeat=5, warmup=1),
            "restore_s": round(restore_s, 3),
            "commit_ms": timed(lambda: commit(False), repeat=50, warmup=5),
            "commit_durable_ms": timed(lambda: commit(True), repeat=50, warmup=5),
        }
        store.close()
        result["backups_kept"] = len(list_backups(path))
        result["backup_mb"] = round(made[-1].stat().st_size / 1e6, 1)
    save("backup", result)


if __name__ == "__main__":
    main()
