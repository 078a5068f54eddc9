"""Team mode: push and pull 10,000 orders with their eSIMs; then many desks at once, by measurement.

Run: python bench/team.py   (writes bench/results/team.json; needs Debian's `postgresql` server binaries)

1. One desk pushes 10,000 orders (1–3 eSIMs each, the journal's two audit lines each: 20,000 entries);
   a second desk pulls them into its own file; then finds one by the last 6 digits of an ICCID.
2. Concurrency: P desk processes (P = 1, 2, 4, 8), a fresh database each round, start one sync at the
   same moment; each pushes its own 500 new orders and pulls what the others have pushed by then.
   Per-desk seconds, and the server's CPU seconds (from /proc) per 1,000 entries moved.
3. 100 desks' data: 100 data folders push 100 orders each (8 processes at a time), then a new desk pulls
   all 100 desks; and one more sync of a desk when nothing is new (what every desk pays each sync).
The figure for 100 desks syncing at once (``estimate_100_desks``) is computed from measured rates only:
each desk's push and pull at phase 1's rates, the server's CPU per entry from phase 2. Server and desks
share this machine's 2 cores, so phase 2's wall-clock seconds grow with P from the desks' own CPU too.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))
from _util import save  # noqa: E402

from esimdesk.services import team_sync  # noqa: E402
from esimdesk.services.team_config import TeamConfig  # noqa: E402
from esimdesk.store import SqliteStore  # noqa: E402
from esimdesk.store import team as T  # noqa: E402
from esimdesk.store import team_local as L  # noqa: E402
from tests.team.pg import PgServer, why_not  # noqa: E402

N_ORDERS = 10_000
NOW = "2026-11-29T06:00:00+00:00"


def make_orders(store: SqliteStore, n: int, prefix: str, rng: random.Random) -> int:
    """n COMPLETED orders as the orders engine leaves them (journal, 2 audit lines, order, lines, eSIMs),
    written in one transaction (the outbox triggers fire as they do for real orders); eSIMs made."""
    esims = 0
    with store.transaction() as conn:
        for i in range(n):
            ref = f"{prefix}{i:06d}"
            oid = f"O{prefix}{i:06d}"
            qty = rng.choice((1, 1, 1, 2, 3))
            jid = conn.execute(
                """INSERT INTO journal (vendor, kind, reference, handle, plan_id, quantity, unit_price, currency,
                       state, order_id, attempts, created_at, updated_at)
                   VALUES ('microesim', 'order', ?, ?, 'MX-JP-3GB', ?, '4.50', 'USD', 'COMPLETED', ?, 1, ?, ?)""",
                (ref, ref, qty, oid, NOW, NOW)).lastrowid
            conn.execute("INSERT INTO journal_events VALUES (?, ?, NULL, 'PENDING', 'agent asked')", (jid, NOW))
            conn.execute("INSERT INTO journal_events VALUES (?, ?, 'PENDING', 'COMPLETED', 'allocated')", (jid, NOW))
            key = conn.execute(
                """INSERT INTO orders (vendor, order_id, reference, kind, status, created_at, total, currency,
                       last_seen, search_text) VALUES ('microesim', ?, ?, 'order', 'COMPLETED', ?, ?, 'USD', ?, ?)""",
                (oid, ref, NOW, str(4.5 * qty), NOW, f"{oid} {ref}")).lastrowid
            conn.execute("INSERT INTO order_lines VALUES (?, 0, 'MX-JP-3GB', ?, '4.50', 'Japan 3 GB')", (key, qty))
            for _ in range(qty):
                iccid = "8985" + "".join(rng.choice("0123456789") for _ in range(15))
                conn.execute(
                    """INSERT OR IGNORE INTO esims (vendor, iccid, iccid_rev, order_id, plan_id, status, vendor_status,
                           activation_code, data_total_mb, last_seen) VALUES ('microesim', ?, ?, ?, 'MX-JP-3GB', 'NEW',
                           'success', ?, 3072, ?)""",
                    (iccid, iccid[::-1], oid, f"LPA:1$rsp.example$M{iccid}", NOW))
                esims += 1
    return esims


def _desk(args) -> dict:
    """One desk process: make its orders, wait for the start, sync once (or only push); its seconds and counts."""
    url, password, folder, prefix, n, start_at, push_only = args
    store = SqliteStore(Path(folder) / "esimdesk.sqlite3")
    make_orders(store, n, prefix, random.Random(prefix))
    cfg = TeamConfig(url, password, f"agent-{prefix}")
    while time.time() < start_at:
        time.sleep(0.005)
    t0 = time.perf_counter()
    if push_only:  # filling the store for phase 3: what run() does, less the pull
        with T.connect(cfg.conninfo()) as conn:
            T.migrate(conn)
            desk_id, token = L.identity(store)
            T.register(conn, desk_id, token, cfg.agent)
            T.push(conn, desk_id, lambda after: L.outbox_after(store, after, team_sync.PUSH_BATCH, cfg.agent))
        ok, problem, pulled = True, None, 0
    else:
        res = team_sync.run(store, cfg)
        ok, problem, pulled = res.ok, res.problem, res.orders
    took = time.perf_counter() - t0
    entries = store.conn.execute("SELECT count(*) FROM team_outbox").fetchone()[0]
    store.close()
    return {"ok": ok, "error": problem, "seconds": took, "pulled_orders": pulled, "pushed": entries}


def server_cpu_s(pg: PgServer) -> float:
    """CPU seconds of the server so far: the postmaster, its ended backends (reaped: counted in its
    children's times) and its live ones. Linux /proc; the clock tick is the usual 100 Hz."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
        elif ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def concurrent_round(pg: PgServer, password: str, tmp: Path, p: int, n: int) -> dict:
    """P desks, a database of their own, one sync each at the same moment."""
    db = f"round{p}"
    pg.admin(f"CREATE DATABASE {db} OWNER bench")
    url = pg.url(db, user="bench")
    start_at = time.time() + 3 + 0.5 * p  # every process has made its orders by then
    args = [(url, password, str(tmp / f"r{p}-{i}"), f"R{p}D{i}", n, start_at, False) for i in range(p)]
    with mp.get_context("spawn").Pool(p) as pool:
        pending = pool.map_async(_desk, args)
        while time.time() < start_at - 0.5:
            time.sleep(0.05)
        cpu0 = server_cpu_s(pg)
        out = pending.get()
    cpu = server_cpu_s(pg) - cpu0
    assert all(o["ok"] for o in out), out
    assert all(o["pulled_orders"] <= n * (p - 1) for o in out)
    secs = [o["seconds"] for o in out]
    # Entries through the server: each pushed once, and each pulled by the desks that had not seen it.
    pushed = sum(o["pushed"] for o in out)
    pulled = sum(o["pulled_orders"] for o in out) * 2  # two entries an order
    return {"desks": p, "orders_per_desk": n, "median_s": round(statistics.median(secs), 3),
            "max_s": round(max(secs), 3), "entries_pushed": pushed, "entries_pulled": pulled,
            "server_cpu_s": round(cpu, 2),
            "server_cpu_ms_per_1000_entries": round(1000 * cpu / max(1, pushed + pulled) * 1000, 1)}


def estimate(single: dict, rounds: list[dict]) -> dict:
    """100 desks, each placing 100 orders and then syncing at the same moment (a busy hour at every desk),
    from measured rates only: a desk's own work is its push and its pull of the other 99 desks' orders at
    the single-desk rates of phase 1 (each desk runs on its own computer); the server's work is its CPU
    per entry measured in phase 2's largest round (the most desks at once), times the entries moved."""
    per_desk_s = 200 / single["push_entries_per_s"] + 99 * 100 / single["pull_orders_per_s"]
    cpu_per_entry = rounds[-1]["server_cpu_ms_per_1000_entries"] / 1000 / 1000
    entries = 100 * 200 + 100 * 99 * 100 * 2
    return {"scenario": "100 desks × 100 new orders, all syncing at once",
            "desk_sync_s": round(per_desk_s, 1),
            "server_cpu_s": round(entries * cpu_per_entry, 1),
            "server_cpu_ms_per_1000_entries_used": round(cpu_per_entry * 1e6, 1),
            "entries_moved": entries}


def main() -> None:
    reason = why_not()
    if reason:
        sys.exit(f"bench/team.py: {reason}")
    pg = PgServer().init().start()
    result: dict = {"machine": "2 shared cores; server and desks on the same machine; PostgreSQL 15, fsync off"}
    try:
        pg.admin("CREATE ROLE bench LOGIN PASSWORD 'bench'")
        pg.admin("CREATE DATABASE bench OWNER bench")
        url, password = pg.url("bench", user="bench"), "bench"
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            # 1. 10,000 orders, one desk to another.
            a = SqliteStore(tmp / "a" / "esimdesk.sqlite3")
            esims = make_orders(a, N_ORDERS, "A", random.Random(1))
            entries = a.conn.execute("SELECT count(*) FROM team_outbox").fetchone()[0]
            t0 = time.perf_counter()
            res = team_sync.run(a, TeamConfig(url, password, "alice"))
            push_s = time.perf_counter() - t0
            assert res.ok, res.problem
            b = SqliteStore(tmp / "b" / "esimdesk.sqlite3")
            t0 = time.perf_counter()
            res = team_sync.run(b, TeamConfig(url, password, "bob"))
            pull_s = time.perf_counter() - t0
            assert res.ok and res.orders == N_ORDERS, res
            iccid = b.conn.execute("SELECT iccid FROM esims ORDER BY iccid LIMIT 1 OFFSET 5000").fetchone()[0]
            t0 = time.perf_counter()
            found = b.orders(search=iccid[-6:])
            find_ms = (time.perf_counter() - t0) * 1000
            assert found and any(e.iccid == iccid for o in found for e in o.esims)
            t0 = time.perf_counter()
            assert team_sync.run(b, TeamConfig(url, password, "bob")).ok
            idle_s = time.perf_counter() - t0
            result["ten_thousand"] = {
                "orders": N_ORDERS, "esims": esims, "entries": entries,
                "push_s": round(push_s, 2), "push_entries_per_s": round(entries / push_s),
                "pull_s": round(pull_s, 2), "pull_orders_per_s": round(N_ORDERS / pull_s),
                "find_by_last_6_iccid_digits_ms": round(find_ms, 2), "sync_with_nothing_new_s": round(idle_s, 3),
            }
            print(result["ten_thousand"], flush=True)
            a.close()
            b.close()

            # 2. P desks at once, each in its own process: per-desk seconds and the server's CPU per entry.
            rounds = [concurrent_round(pg, password, tmp, p, 500) for p in (1, 2, 4, 8)]
            result["concurrent"] = rounds
            print(rounds, flush=True)
            result["estimate_100_desks"] = estimate(result["ten_thousand"], rounds)

            # 3. 100 desks' data; a new desk pulls them all; an idle sync among 100 desks.
            url3 = pg.url("bench100", user="bench")
            pg.admin("CREATE DATABASE bench100 OWNER bench")
            args = [(url3, password, str(tmp / f"h{i}"), f"H{i:03d}", 100, 0, True) for i in range(100)]
            t0 = time.perf_counter()
            with mp.get_context("spawn").Pool(8) as pool:
                out = pool.map(_desk, args)
            fill_s = time.perf_counter() - t0
            assert all(o["ok"] for o in out)
            new = SqliteStore(tmp / "new" / "esimdesk.sqlite3")
            t0 = time.perf_counter()
            res = team_sync.run(new, TeamConfig(url3, password, "newcomer"))
            pull100_s = time.perf_counter() - t0
            assert res.ok and res.orders == 100 * 100, res
            t0 = time.perf_counter()
            assert team_sync.run(new, TeamConfig(url3, password, "newcomer")).ok
            idle100_s = time.perf_counter() - t0
            result["hundred_desks"] = {
                "desks": 100, "orders_per_desk": 100,
                "all_100_made_and_pushed_8_at_a_time_s": round(fill_s, 1),
                "new_desk_pulls_all_s": round(pull100_s, 2), "idle_sync_among_100_desks_s": round(idle100_s, 3),
            }
            new.close()
    finally:
        pg.cleanup()
    save("team", result)


if __name__ == "__main__":
    main()
