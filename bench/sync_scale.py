"""A whole sync at a reseller's scale, against vendors that answer like vendors (issue 28's measurement).

Run: python bench/sync_scale.py [--scales 10000 100000 300000] [--quick]
     (writes bench/results/sync_scale.json; --quick: bench/results/sync_scale_quick.json)
     python bench/sync_scale.py --refloor   (the floors again from the stored request counts, no sync)

For each scale (eSIMs per vendor; 50,000 plans per vendor) the sandbox answers each request after a
log-normal delay (median 150 ms, sigma 0.6: p99 about 4x) and keeps Roumio's documented 8 requests/s.
The desk starts from a fresh store that already holds the MicroESIM fleet it sold (MicroESIM has no
eSIM list: a desk knows only what it ordered; seeded as the demo seeds it, services/demo.py). Then:

* a FIRST sync of the four vendors together, and a ROUTINE one right after (nothing changed), then two more
  routine ones (``--routine-runs``): ``routine`` is the first in full, ``routine_runs`` each one's headline
  figures and ``routine_median`` their median (one alone varies by a few points of its SQLite share);
* for each: wall seconds per vendor and in all, SQLite seconds and share (per vendor where the call
  names one, and per store method), the requests each vendor got (per path, from the sandbox's
  counters), rows per vendor, the progress reports' last values, when each stage was first and last reported
  (``stage_times_s``: where a vendor's wall went) and every field of each result;
* the floor the vendors impose for the requests made (``FLOOR_FORMULA``) and wall ÷ floor: how far
  the sync is from what the vendors' pace allows.

Only the public ``sync_all`` and the result's fields are read (fields that appear later are picked up
as they come), so the bench keeps working while the sync changes.

The sandbox runs in a process of its own (``SandboxProcess``: multiprocessing, "spawn"), as real vendors
run on other machines: served from a thread of the bench's process, its CPU (about 40 s of a 218 s run)
competed with the desk for Python's GIL, and the wall times measured the simulator as well as the
vendors' latency and the desk. The desk's ``sync_all`` and its store (``TimedStore``) stay in this
process. What the bench needs of the sandbox comes over a pipe: its address and credentials, the rate
limits it enforces, the MicroESIM history the store is seeded with (computed there, the orders built
here by ``seed_demo_history`` itself) and its process's CPU seconds; the request counters come from its
HTTP control API (``/_sandbox/state``), as before. The child ignores Ctrl+C and is stopped by the bench
(or ends when the pipe closes, the bench gone). Since 2026-12-07 each vendor has a process of its own
(``VendorProcesses``): in one process, Roamify's 100,000-eSIM listing (3.7 s to serialise) held up every other
vendor's answers, Flexiroam's chained pages (3 ms each alone) among them. ``sandbox_process`` in the JSON
says which.

``cpu_s`` per sync: ``process`` and ``desk`` are this process's CPU seconds (the desk's sync and the
bench; the same figure now), ``sandbox_process`` the sandbox processes' (all their threads; before the
sandbox had its own process this was ``sandbox_thread``, and ``process`` included it),
``desk_plus_sandbox`` their sum (what ``process`` measured then).

``in_sqlite_s`` is wall time with any thread inside one of SQLite's own calls (a statement, a row fetched, a
backup: every connection the store opens is timed, ``InSqlite``), each second once: SQLite's share in the narrow
sense. ``sqlite_busy_s`` is wall time with any thread in a store method, waits included (for the one writer, and for
Python's GIL while the event loop decodes answers); ``store_cpu_s`` the CPU those threads spent in them
(``time.thread_time``: SQLite's own work and the store's Python, digests and rows built), without the waits.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import math
import multiprocessing
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import RESULTS, save  # noqa: E402

import esimdesk  # noqa: E402
import esimdesk.services.sync as sync_module  # noqa: E402
from esimdesk.sandbox import SandboxConfig, SandboxServer  # noqa: E402
from esimdesk.sandbox.app import simulator_class  # noqa: E402
from esimdesk.services.config import load_accounts  # noqa: E402
from esimdesk.services.demo import seed_demo_history  # noqa: E402
from esimdesk.services.sync import sync_all  # noqa: E402
from esimdesk.store import SqliteStore, integrity  # noqa: E402
from esimdesk.vendors import adapter_class, build_adapter  # noqa: E402
from esimdesk.vendors.paging import PAGES_AHEAD  # noqa: E402

SCALES = (10_000, 100_000, 300_000)
PLANS = 50_000
QUICK = {"esims": 2_000, "plans": 5_000}
LATENCY_MS, LATENCY_SIGMA = 150.0, 0.6
VENDORS = ("roumio", "roamify", "microesim", "flexiroam")
# Requests about one item each (an eSIM's details, events or usage; an order's status), which the sync
# sends several at a time; every other path is a listing page or a single call, sent one after another.
PER_ITEM_PATHS = {
    "roumio": {"esim/usage/query"},
    "roamify": {"api/esim", "api/esim/usage", "api/esim/order"},
    "microesim": {"allesim/v1/topupDetail", "allesim/v1/deviceDetail", "allesim/v1/eventDetail"},
    "flexiroam": set(),
}
# Listing pages a sync reads ahead, PAGES_AHEAD at once (vendors/paging.py): numbered pages, not chained ones.
READ_AHEAD_PATHS = {
    "roumio": {"esim/query"},
    "roamify": {"api/esim/packages"},
    "microesim": {"allesim/v1/esimDataplanListPage"},
    "flexiroam": set(),  # each page needs the last one's page_key
}
FLOOR_FORMULA = (
    "floor_s = max(rate_s, sequential_s, concurrent_s), per vendor and sync, for the requests it made: "
    "rate_s = requests / the vendor's documented limit (Roumio: all requests / 8 per s, enforced by the sandbox); "
    "a vendor that documents none: per-item requests less the burst the desk's pace allows (its rate x "
    "PACE_WINDOW_S, 100 at 20/s; not subtracted before 2026-12-06) / the desk's own pace if the adapter declares "
    "one (requests_per_second; it paces only those), else 0; "
    "sequential_s = sequential requests (chained listing pages and single calls: paths in neither per_item_paths "
    "nor read_ahead_paths) x mean latency: a chain of n answers takes the sum of n draws, whose expectation is "
    "n x the mean (within about 2 % at Flexiroam's 900 pages; the median, used before 2026-12-06, understated "
    "it by exp(sigma^2 / 2) = 1.2x); "
    "concurrent_s = the larger of per-item requests / concurrency (the sync's REFRESH_CONCURRENCY) x mean latency "
    "and read-ahead pages / PAGES_AHEAD x mean latency: a vendor's catalog pages and its per-eSIM requests are "
    "read at the same time (their sum, before 2026-12-06, when they were read one after the other) "
    "(log-normal mean = median x exp(sigma^2 / 2)). Each term alone is a lower bound on the vendor's expected "
    "wall time; wall_over_floor = the vendor's wall seconds / floor_s."
)


class InSqlite:
    """Wall time with any thread inside one of SQLite's own calls (a statement run, each row fetched, a backup),
    each second counted once: SQLite's share of a sync in the narrow sense, without the store's Python around
    the calls (digests compared, rows built) and without waits for the one writer's lock. A call's wait for
    Python's GIL as SQLite hands back (the event loop decoding an answer meanwhile) is counted in."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.seconds, self.calls, self._active, self._since = 0.0, 0, 0, 0.0

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                self._since = time.perf_counter()
            self._active += 1
            self.calls += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                self.seconds += time.perf_counter() - self._since


IN_SQLITE = InSqlite()


class _TimedCursor:
    """A cursor whose row fetches count as SQLite's time (each row is a step of the statement)."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor):
        self._cursor = cursor

    def __iter__(self):
        return self

    def __next__(self):
        with IN_SQLITE:
            return next(self._cursor)

    def fetchone(self):
        with IN_SQLITE:
            return self._cursor.fetchone()

    def fetchmany(self, *a):
        with IN_SQLITE:
            return self._cursor.fetchmany(*a)

    def fetchall(self):
        with IN_SQLITE:
            return self._cursor.fetchall()

    def __getattr__(self, name: str):
        return getattr(self._cursor, name)


class _TimedConnection(integrity.HeldConnection):
    """The store's connection (integrity.connect's factory), its calls into SQLite timed by IN_SQLITE."""

    def execute(self, *a):
        with IN_SQLITE:
            return _TimedCursor(super().execute(*a))

    def executemany(self, *a):
        with IN_SQLITE:
            return _TimedCursor(super().executemany(*a))

    def executescript(self, *a):
        with IN_SQLITE:
            return _TimedCursor(super().executescript(*a))

    def backup(self, *a, **kw):
        with IN_SQLITE:
            return super().backup(*a, **kw)


def _timed_connect(database, **kwargs):
    return sqlite3.connect(database, factory=_TimedConnection, **kwargs)


integrity.connect = _timed_connect  # every connection the desk's store opens in this process


class TimedStore(SqliteStore):
    """Adds up the time spent in the store's methods (from the sync's worker threads), by vendor where the
    call names one (its first argument, or the vendor of the rows it writes), and by method. Only the
    outermost call of a thread counts, so a method calling another is not counted twice. A write that
    waits for the file's write lock while another vendor's thread writes counts its wait: the vendors
    share one file, and that wait is time their sync spends in SQLite."""

    def __init__(self, path):
        super().__init__(path)
        self._timing_lock = threading.Lock()
        self._depth = threading.local()
        self.reset_timing()
        for name, _member in inspect.getmembers(SqliteStore, inspect.isfunction):
            if not name.startswith("_") and name not in ("close", "transaction", "counts"):
                setattr(self, name, self._wrap(name, getattr(self, name)))

    def reset_timing(self) -> None:
        with self._timing_lock:
            self.sqlite_s = 0.0
            # CPU seconds the store's threads spent in its methods (SQLite's own work and the store's Python:
            # digests, rows built): what busy_s is, less the waits for the one writer and for Python's GIL.
            self.cpu_s = 0.0
            self.cpu_by_method: dict[str, float] = defaultdict(float)
            self.by_vendor: dict[str, float] = defaultdict(float)
            self.by_method: dict[str, float] = defaultdict(float)
            # Wall time during which at least one thread was in the store: the sync's time spent in SQLite,
            # each second counted once however many vendors' threads were in it (or waiting for its lock).
            self.busy_s = 0.0
            self._active = 0
            self._busy_since = 0.0

    def _enter(self) -> None:
        with self._timing_lock:
            if self._active == 0:
                self._busy_since = time.perf_counter()
            self._active += 1

    def _leave(self) -> None:
        with self._timing_lock:
            self._active -= 1
            if self._active == 0:
                self.busy_s += time.perf_counter() - self._busy_since

    def add_time(self, name: str, vendor: str, seconds: float, cpu: float = 0.0) -> None:
        with self._timing_lock:
            self.cpu_s += cpu
            self.cpu_by_method[name] += cpu
            self.sqlite_s += seconds
            self.by_vendor[vendor] += seconds
            self.by_method[name] += seconds

    def _wrap(self, name: str, fn):
        def run(*a, **kw):
            if getattr(self._depth, "n", 0):
                return fn(*a, **kw)
            self._depth.n = 1
            self._enter()
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*a, **kw)
            finally:
                self._depth.n = 0
                self._leave()
                self.add_time(name, _vendor_of(a, kw), time.perf_counter() - t0, time.thread_time() - c0)
        return run


def _vendor_of(args: tuple, kwargs: dict) -> str:
    first = kwargs.get("vendor", args[0] if args else None)
    if isinstance(first, str) and first in VENDORS:
        return first
    if isinstance(first, list | tuple) and first and getattr(first[0], "vendor", None) in VENDORS:
        return first[0].vendor
    return "shared"


class VendorProcesses:
    """One sandbox process per vendor (``with VendorProcesses(config) as sb:``), with SandboxProcess's face: real
    vendors are separate servers, so one vendor's large answer (Roamify's 100,000-eSIM listing: 3.7 s to
    serialise) must not hold up another's (a Flexiroam page, 3 ms alone, waited those 3.7 s in one process)."""

    def __init__(self, config: dict[str, Any], vendors: tuple[str, ...] = ("roumio", "roamify", "microesim", "flexiroam")):
        self.config, self.names = config, vendors
        self.parts: list[SandboxProcess] = []

    def __enter__(self) -> VendorProcesses:
        try:
            for vendor in self.names:
                self.parts.append(SandboxProcess(self.config, vendors=(vendor,)).__enter__())
        except BaseException:
            self.stop()
            raise
        self.env = {k: v for part in self.parts for k, v in part.env.items()}
        self.limits = {v: lim for part in self.parts for v, lim in part.limits.items()}
        self.latency = self.parts[0].latency
        self.vendors = sorted(v for part in self.parts for v in part.vendors)
        self.build_s = sum(part.build_s for part in self.parts)
        self.start_s = sum(part.start_s for part in self.parts)
        self.roots = [part.root for part in self.parts]
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        for part in self.parts:
            part.stop()

    def cpu_s(self) -> float:
        return sum(part.cpu_s() for part in self.parts)

    def demo_shim(self) -> Any:
        return next(p for p in self.parts if "microesim" in p.vendors).demo_shim()

    def reset_counters(self) -> None:
        for root in self.roots:
            httpx.post(root + "/_sandbox/state", json={"reset_counters": True}, timeout=60).raise_for_status()

    def state(self) -> dict[str, Any]:
        """Each process's counters, by vendor (each process counts its own vendor only)."""
        merged: dict[str, Any] = {}
        for part in self.parts:
            got = httpx.get(part.root + "/_sandbox/state", timeout=60).json()
            merged.update({k: v for k, v in got.items() if k in part.vendors})
        return merged


def _serve_sandbox(conn, config: dict[str, Any], vendors: tuple[str, ...] | None = None) -> None:
    """The sandbox process: serve the vendors, build their data, say where they are, then answer the bench's
    requests on ``conn`` ("history", "cpu") until it says "stop" or goes away (the pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the whole process group: the bench stops us
    server = None
    try:
        started = time.perf_counter()
        server = SandboxServer(SandboxConfig(**config), vendors=vendors).start()
        t0 = time.perf_counter()
        for sim in server.sandbox.vendors.values():  # build the simulated data before timing the syncs
            sim.materialize()
            for attr in ("catalog", "fleet", "inventory"):
                getattr(sim, attr, None)
        built = time.perf_counter()
        microesim = server.sandbox.vendors.get("microesim")
        handlers = {
            "cpu": time.process_time,  # this process, all its threads
            "history": (lambda: microesim.premade_history()) if microesim is not None else None,
        }
        conn.send(("ready", {
            "pid": os.getpid(), "root": server.root, "env": server.env(),
            "latency": {"latency_ms": server.config.latency_ms, "latency_sigma": server.config.latency_sigma},
            "limits": {v: (lim.limit, lim.per) for v, lim in server.sandbox.limiters.items()},
            "vendors": sorted(server.sandbox.vendors), "build_s": built - t0, "start_s": built - started}))
        while True:
            try:
                request = conn.recv()
            except EOFError:  # the bench is gone
                break
            if request == "stop":
                break
            try:
                handler = handlers.get(request)
                if handler is None:
                    raise ValueError(f"the sandbox process has no answer to {request!r}")
                conn.send(("ok", handler()))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except Exception:
        try:
            conn.send(("error", traceback.format_exc()))
        except OSError:
            pass
    finally:
        if server is not None:
            server.stop()
        conn.close()


class SandboxProcess:
    """``with SandboxProcess(config) as sb:`` the sandbox (``SandboxServer``) in a process of its own, its
    vendors' data built; ``sb.root``, ``sb.env``, ``sb.limits`` (``{vendor: (limit, per_s)}``), ``sb.latency``,
    ``sb.build_s``; ``sb.cpu_s()`` its CPU seconds so far; ``sb.premade_history()`` MicroESIM's
    (``seed_demo_history`` reads it through ``sb.demo_shim()``). Always stopped on leaving the block."""

    def __init__(self, config: dict[str, Any], start_timeout: float = 3600.0, vendors: tuple[str, ...] | None = None):
        self.config, self.start_timeout, self.serves = config, start_timeout, vendors
        self._process = None
        self._conn = None

    def __enter__(self) -> SandboxProcess:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: none of this process's threads
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_sandbox, args=(child, self.config, self.serves),
                                        name="esimdesk-sandbox", daemon=True)
        self._process.start()
        child.close()  # the child's end lives in the child only: its exit closes the pipe
        info = self._answer(self.start_timeout, "ready")
        self.pid: int = info["pid"]
        self.root: str = info["root"]
        self.env: dict[str, str] = info["env"]
        self.latency: dict[str, float] = info["latency"]
        self.limits: dict[str, tuple[int, float]] = {v: tuple(lim) for v, lim in info["limits"].items()}
        self.vendors: list[str] = info["vendors"]
        self.build_s: float = info["build_s"]
        self.start_s: float = info["start_s"]

    def _answer(self, timeout: float, expected: str = "ok") -> Any:
        assert self._conn is not None and self._process is not None
        deadline = time.monotonic() + timeout
        while not self._conn.poll(0.5):
            if not self._process.is_alive():
                raise RuntimeError(f"the sandbox process ended (exit code {self._process.exitcode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox process did not answer in {timeout:g} s")
        kind, payload = self._conn.recv()
        if kind != expected:
            raise RuntimeError(f"the sandbox process failed:\n{payload}")
        return payload

    def ask(self, request: str, timeout: float = 600.0) -> Any:
        assert self._conn is not None
        self._conn.send(request)
        return self._answer(timeout)

    def cpu_s(self) -> float:
        return self.ask("cpu")

    def premade_history(self) -> list[tuple[dict[str, Any], str | None]]:
        return self.ask("history", timeout=3600.0)

    def demo_shim(self) -> Any:
        """What ``seed_demo_history(store, sandbox)`` reads of a sandbox (``.sandbox.vendors["microesim"]
        .premade_history()``), answered by the sandbox process."""
        vendors = {"microesim": SimpleNamespace(premade_history=self.premade_history)} \
            if "microesim" in self.vendors else {}
        return SimpleNamespace(sandbox=SimpleNamespace(vendors=vendors))

    def stop(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None and process.is_alive():
            try:
                conn.send("stop")
            except (OSError, ValueError):
                pass
            process.join(timeout=15)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
        if conn is not None:
            conn.close()


def machine() -> dict[str, Any]:
    model = None
    try:
        model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), None)
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "platform": platform.platform(),
            "python": platform.python_version(), "loadavg_at_start": _loadavg()}


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def code_measured() -> dict[str, Any]:
    """The esimdesk this run imported: its folder, commit and the files changed from it (uncommitted work)."""
    where = Path(esimdesk.__file__).resolve().parent
    out: dict[str, Any] = {"package": str(where)}
    try:
        git = ["git", "-C", str(where.parent)]
        out["commit"] = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                                       check=True).stdout.strip()
        changed = subprocess.run([*git, "status", "--porcelain", "--", "esimdesk"], capture_output=True,
                                 text=True, check=True).stdout.splitlines()
        out["uncommitted_files"] = [line[3:] for line in changed]
    except (OSError, subprocess.CalledProcessError):
        out["commit"] = None
    return out


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def rows_per_vendor(store: SqliteStore) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {v: {"plans": 0, "orders": 0, "esims": 0} for v in VENDORS}
    for table in ("plans", "orders", "esims"):
        for vendor, n in store.conn.execute(f"SELECT vendor, count(*) FROM {table} GROUP BY vendor"):
            out.setdefault(vendor, {"plans": 0, "orders": 0, "esims": 0})[table] = n
    return out


def desk_paces() -> dict[str, float | None]:
    """The pace each adapter declares it holds itself to (requests a second), None where it declares none."""
    out = {}
    for vendor in VENDORS:
        pace = getattr(adapter_class(vendor), "requests_per_second", None)
        out[vendor] = float(pace) if isinstance(pace, int | float) and pace > 0 else None
    return out


def floor_of(vendor: str, by_path: dict[str, int], vendor_limit: tuple[int, float] | None, desk_pace: float | None,
             concurrency: int, mean_s: float) -> dict[str, Any]:
    total = sum(by_path.values())
    per_item = sum(n for path, n in by_path.items() if path in PER_ITEM_PATHS[vendor])
    ahead = sum(n for path, n in by_path.items() if path in READ_AHEAD_PATHS[vendor])
    sequential = total - per_item - ahead
    if vendor_limit is not None:
        rate_s, rate_basis = total * vendor_limit[1] / vendor_limit[0], f"vendor limit {vendor_limit[0]}/{vendor_limit[1]:g}s"
    elif desk_pace is not None:
        # The desk's pace lets a window's worth go at once (services/sync.py, PACE_WINDOW_S), then holds it.
        burst = desk_pace * getattr(sync_module, "PACE_WINDOW_S", 0.0)
        rate_s = max(0.0, per_item - burst) / desk_pace
        rate_basis = f"desk pace {desk_pace:g}/s after a burst of {burst:g} (per-item requests)"
    else:
        rate_s, rate_basis = 0.0, "none"
    terms = {"rate_s": rate_s, "sequential_s": sequential * mean_s,
             "concurrent_s": max(per_item / concurrency, ahead / PAGES_AHEAD) * mean_s}
    return {"requests": total, "sequential_requests": sequential, "per_item_requests": per_item,
            "read_ahead_requests": ahead,
            "rate_basis": rate_basis, **{k: round(v, 2) for k, v in terms.items()},
            "floor_s": round(max(terms.values()), 2), "bound_by": max(terms, key=terms.get)}


def floor_of_all(per_vendor: dict[str, Any], wall: float) -> dict[str, Any]:
    """The four vendors are synced together: the floor of the whole is the largest vendor's."""
    floor_all = max((v["floor"]["floor_s"] for v in per_vendor.values()), default=0.0)
    return {"floor_all_s": floor_all, "wall_over_floor_all": round(wall / floor_all, 2) if floor_all else None}


def run_sync(server: VendorProcesses, store: TimedStore, accounts, label: str) -> dict[str, Any]:
    server.reset_counters()
    store.reset_timing()
    IN_SQLITE.reset()
    progress: dict[str, dict[str, Any]] = defaultdict(dict)
    # When each stage of each vendor was first and last reported (seconds from the start): where a vendor's
    # wall went (a refresh that began late, a catalog that ended late), not only how long it was.
    stage_times: dict[str, dict[str, list[float]]] = defaultdict(dict)
    finished_at: dict[str, float] = {}
    backup_s, backup_made = [0.0], [False]

    t0 = time.perf_counter()

    def on_progress(p) -> None:
        progress[p.vendor][p.stage] = jsonable(p)
        at = round(time.perf_counter() - t0, 2)
        stage_times[p.vendor].setdefault(p.stage, [at, at])[1] = at

    def on_finished(result) -> None:
        finished_at[result.vendor] = time.perf_counter() - t0

    # The rolling backup after a sync is SQLite's work too (a function of the store module, not a method).
    original_backup = getattr(sync_module, "rolling_backup", None)
    if original_backup is not None:
        def timed_backup(*a, **kw):
            b0, c0 = time.perf_counter(), time.thread_time()
            store._enter()
            try:
                made = original_backup(*a, **kw)
                backup_made[0] = made is not None
                return made
            finally:
                store._leave()
                backup_s[0] += time.perf_counter() - b0
                store.add_time("rolling_backup", "shared", time.perf_counter() - b0, time.thread_time() - c0)
        sync_module.rolling_backup = timed_backup
    sandbox_cpu0, cpu0 = server.cpu_s(), time.process_time()
    t0 = time.perf_counter()
    try:
        results = asyncio.run(sync_all(store, accounts, lambda c: build_adapter(c, timeout=60),
                                       progress=on_progress, finished=on_finished))
    finally:
        if original_backup is not None:
            sync_module.rolling_backup = original_backup
    wall = time.perf_counter() - t0
    in_sqlite_s, sqlite_calls = IN_SQLITE.seconds, IN_SQLITE.calls
    cpu, sandbox_cpu1 = time.process_time() - cpu0, server.cpu_s()
    state = server.state()

    median_s = server.latency["latency_ms"] / 1000
    mean_s = median_s * math.exp(server.latency["latency_sigma"] ** 2 / 2)
    concurrency = int(getattr(sync_module, "REFRESH_CONCURRENCY", 8))
    paces = desk_paces()
    rows = rows_per_vendor(store)
    per_vendor: dict[str, Any] = {}
    for r in results:
        if r.vendor not in VENDORS:  # "team" in team mode: not a vendor of the sandbox
            continue
        counted = state[r.vendor]
        floor = floor_of(r.vendor, counted["requests_by_path"], server.limits.get(r.vendor),
                         paces[r.vendor], concurrency, mean_s)
        sqlite_s = store.by_vendor.get(r.vendor, 0.0)
        per_vendor[r.vendor] = {
            "ok": r.ok, "error": r.error,
            "wall_s": round(r.seconds, 2),
            "finished_at_s": round(finished_at.get(r.vendor, 0.0), 2),
            "written": {"plans": r.plans, "orders": r.orders, "esims": r.esims},
            "rows_in_store": rows.get(r.vendor),
            "requests": {"total": counted["requests_total"], "by_path": counted["requests_by_path"],
                         "rate_limited_429": counted["rate_limited"]},
            "sqlite_s": round(sqlite_s, 2),
            "sqlite_share": round(sqlite_s / r.seconds, 3) if r.seconds else None,
            "floor": floor,
            "wall_over_floor": round(r.seconds / floor["floor_s"], 2) if floor["floor_s"] else None,
            "progress_last": dict(progress.get(r.vendor, {})),
            "stage_times_s": dict(stage_times.get(r.vendor, {})),  # [first report, last report] a stage
            "refresh": jsonable(getattr(r, "refresh", None)),  # the refresh planner's summary, once the sync has one
            "result": jsonable(r),  # every field, including any added after this bench was written
        }
    slowest = max((v["wall_s"] for v in per_vendor.values()), default=0.0)
    sandbox_cpu = sandbox_cpu1 - sandbox_cpu0
    return {
        "sync": label,
        "wall_s": round(wall, 2),
        "after_vendors_s": round(wall - slowest, 2),  # exchange rates, statistics, the rolling backup
        "sqlite_s": round(store.sqlite_s, 2),
        "sqlite_share": round(store.sqlite_s / wall, 3),
        # The share of the sync's wall time with SQLite at work (any thread, each second once): issue 28's
        # "SQLite share". sqlite_share above adds the vendors' threads up (waits for the one writer included).
        "sqlite_busy_s": round(store.busy_s, 2),
        "sqlite_busy_share": round(store.busy_s / wall, 3),
        # Wall time with any thread inside SQLite's own calls (statements, rows fetched, backups), each second once
        # (InSqlite): the SQLite share without the store's Python and the writer's lock around the calls.
        "in_sqlite_s": round(in_sqlite_s, 2),
        "in_sqlite_share": round(in_sqlite_s / wall, 3),
        "sqlite_calls": sqlite_calls,
        "sqlite_by_method_s": {k: round(v, 2) for k, v in sorted(store.by_method.items(), key=lambda kv: -kv[1])},
        # The store's CPU (all its threads): SQLite's own work and the store's Python, without the waits.
        "store_cpu_s": round(store.cpu_s, 2),
        "store_cpu_share": round(store.cpu_s / wall, 3),
        "store_cpu_by_method_s": {k: round(v, 2) for k, v in sorted(store.cpu_by_method.items(),
                                                                     key=lambda kv: -kv[1]) if v >= 0.01},
        "sqlite_not_per_vendor_s": round(store.by_vendor.get("shared", 0.0), 2),
        "rolling_backup_s": round(backup_s[0], 2),
        # store/backups.py backup_due: after a sync, a copy when the newest is an hour old or the desk's own
        # work (orders, actions, e-mails) changed since; a routine sync minutes after the first takes none.
        "rolling_backup_made": backup_made[0],
        "cpu_s": {"process": round(cpu, 1), "desk": round(cpu, 1), "sandbox_process": round(sandbox_cpu, 1),
                  "desk_plus_sandbox": round(cpu + sandbox_cpu, 1)},
        "requests_total": sum(v["requests"]["total"] for v in per_vendor.values()),
        **floor_of_all(per_vendor, wall),
        "vendors": per_vendor,
        "all_ok": all(v["ok"] for v in per_vendor.values()),
    }


ROUTINE_RUNS = 3
ROUTINE_MEDIAN_OF = ("wall_s", "in_sqlite_share", "sqlite_busy_share", "store_cpu_share", "wall_over_floor_all")


def routine_summary(run: dict[str, Any]) -> dict[str, Any]:
    """One routine sync's headline figures, and how much of the walks' listings it read."""
    walks = {v: (r["result"].get("walk") or {}) for v, r in run["vendors"].items()}
    return {**{k: run[k] for k in ("wall_s", "in_sqlite_s", "in_sqlite_share", "sqlite_busy_share", "store_cpu_share",
                                   "wall_over_floor_all", "requests_total", "rolling_backup_made", "all_ok")},
            "walk_pages": {v: w.get("pages") for v, w in walks.items() if w},
            "esims_written": {v: r["written"]["esims"] for v, r in run["vendors"].items()}}


def measure(esims: int, plans: int, routine_runs: int = ROUTINE_RUNS) -> dict[str, Any]:
    config = {"seed": 1, "plans": plans, "esims": esims, "allocation_delay": 0.5,
              "latency_ms": LATENCY_MS, "latency_sigma": LATENCY_SIGMA}  # a SandboxConfig's, in the sandbox process
    tmp = Path(tempfile.mkdtemp(prefix="esimdesk-sync-scale-"))
    entry: dict[str, Any] = {"esims_per_vendor": esims, "plans_per_vendor": plans,
                             "measured_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    with VendorProcesses(config) as server:  # each vendor's data built before it says it is ready
        entry["sandbox_build_s"] = round(server.build_s, 2)
        entry["sandbox_process"] = {"start_method": "spawn", "ready_after_s": round(server.start_s, 2),
                                    "processes": "one a vendor (as four vendors' own servers)"}

        store = TimedStore(tmp / "desk.sqlite3")
        t0 = time.perf_counter()
        # The MicroESIM fleet this desk sold: its orders with their eSIMs, as the demo's desk holds them.
        entry["microesim_orders_seeded"] = seed_demo_history(store, server.demo_shim())
        entry["seed_store_s"] = round(time.perf_counter() - t0, 2)
        entry["rows_before"] = rows_per_vendor(store)["microesim"]
        accounts = load_accounts(tmp, env=server.env).enabled
        assert sorted(a.vendor for a in accounts) == sorted(VENDORS), [a.vendor for a in accounts]
        entry["first"] = run_sync(server, store, accounts, "first")
        entry["routine"] = run_sync(server, store, accounts, "routine")
        # More routine syncs, one after another, as a desk runs them: one alone varies by a few points of its
        # SQLite share run to run (the walks read more or fewer pages in their 30 s), their median less.
        runs = [entry["routine"]] + [run_sync(server, store, accounts, "routine")
                                     for _ in range(routine_runs - 1)]
        entry["routine_runs"] = [routine_summary(r) for r in runs]
        entry["routine_median"] = {k: statistics.median(r[k] for r in entry["routine_runs"])
                                   for k in ROUTINE_MEDIAN_OF}
        store.close()
    entry["file_mb"] = round((tmp / "desk.sqlite3").stat().st_size / 1e6, 1)
    shutil.rmtree(tmp, ignore_errors=True)  # a 300,000-eSIM desk file is gigabytes
    entry["machine"]["loadavg_at_end"] = _loadavg()
    return entry


def vendor_limits() -> dict[str, tuple[int, float]]:
    """The limits the sandbox enforces (its simulators' documented ones), as the running sandbox reports them."""
    return {v: simulator_class(v).rate_limit for v in VENDORS if simulator_class(v).rate_limit}


def refloor(path: Path) -> None:
    """The floors of every sync stored in ``path`` again, from its request counts and latency model."""
    result = json.loads(path.read_text())
    model = result["latency_model"]
    mean_s = model["median_ms"] / 1000 * math.exp(model["sigma"] ** 2 / 2)
    limits, paces = vendor_limits(), desk_paces()
    for entry in result["scales"].values():
        for label in ("first", "routine"):
            run = entry.get(label)
            if not run:
                continue
            for vendor, v in run["vendors"].items():
                v["floor"] = floor_of(vendor, v["requests"]["by_path"], limits.get(vendor), paces[vendor],
                                      result["sync_concurrency"], mean_s)
                v["wall_over_floor"] = round(v["wall_s"] / v["floor"]["floor_s"], 2) if v["floor"]["floor_s"] else None
            run.update(floor_of_all(run["vendors"], run["wall_s"]))
    result["floor_formula"] = FLOOR_FORMULA
    result["floors_recomputed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"floors recomputed in {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", type=int, nargs="+", help=f"eSIMs per vendor (default: {' '.join(map(str, SCALES))})")
    p.add_argument("--plans", type=int, help=f"plans per vendor (default {PLANS:,})")
    p.add_argument("--quick", action="store_true",
                   help=f"a smoke run: {QUICK['esims']:,} eSIMs, {QUICK['plans']:,} plans; its own result file")
    p.add_argument("--refloor", action="store_true",
                   help="recompute every stored result's floors from its recorded request counts (FLOOR_FORMULA "
                        "changed), without syncing")
    p.add_argument("--routine-runs", type=int, default=ROUTINE_RUNS,
                   help=f"routine syncs after the first sync, one after another (default {ROUTINE_RUNS}; fewer than "
                        "1 still runs one): 'routine' is the first of them, in full; 'routine_runs' each one's headline "
                        "figures, 'routine_median' their median")
    args = p.parse_args(argv)
    if args.refloor:
        refloor(RESULTS / ("sync_scale_quick.json" if args.quick else "sync_scale.json"))
        return
    scales = args.scales or ([QUICK["esims"]] if args.quick else list(SCALES))
    plans = args.plans or (QUICK["plans"] if args.quick else PLANS)
    name = "sync_scale_quick" if args.quick else "sync_scale"

    mean_ms = LATENCY_MS * math.exp(LATENCY_SIGMA ** 2 / 2)
    result: dict[str, Any] = {
        "what": "first and routine sync of four vendors together at each scale, vendors answering with latency",
        "machine": machine(),
        "code": code_measured(),
        "latency_model": {"distribution": "log-normal per request (SandboxConfig.latency_ms / latency_sigma)",
                          "median_ms": LATENCY_MS, "sigma": LATENCY_SIGMA, "mean_ms": round(mean_ms, 1),
                          "p99_ms": round(LATENCY_MS * math.exp(2.3263 * LATENCY_SIGMA), 1),
                          "applies_to": "every vendor and the ECB; Roumio's 8 requests/s enforced on arrival"},
        "floor_formula": FLOOR_FORMULA,
        "per_item_paths": {v: sorted(p) for v, p in PER_ITEM_PATHS.items()},
        "read_ahead_paths": {v: sorted(p) for v, p in READ_AHEAD_PATHS.items()},
        "pages_ahead": PAGES_AHEAD,
        "sync_concurrency": int(getattr(sync_module, "REFRESH_CONCURRENCY", 8)),
        "desk_paces_per_s": desk_paces(),
        "scales": {},
    }
    # Scales measured before (another run, e.g. the big ones on a quiet machine) are kept beside the new.
    previous = RESULTS / f"{name}.json"
    if previous.exists():
        try:
            result["scales"].update(json.loads(previous.read_text()).get("scales", {}))
        except (ValueError, OSError):
            pass
    for n in scales:
        print(f"sync_scale: {n:,} eSIMs and {plans:,} plans per vendor ...", file=sys.stderr, flush=True)
        result["scales"][str(n)] = measure(n, plans, args.routine_runs)
        save(name, result)  # after each scale: a long run interrupted keeps what it measured


if __name__ == "__main__":
    main()
