"""A randomised soak of order money safety: the real CLI, one long-lived sandbox, two desks, lost answers.

Run:  python bench/soak_orders.py                 (>= 300 asks; writes bench/results/soak_orders.json)
      python bench/soak_orders.py --smoke         (30 asks; writes bench/results/soak_orders_smoke.json)
      python bench/soak_orders.py --asks 500 --seed 7 --keep   (keep the desks' data folders to inspect)

One sandbox process (``python -m esimdesk.sandbox``) serves the vendors for the whole run. Two data
folders (two ``ESIMDESK_HOME``s) are two desks on the same vendor accounts. For each of the three
ordering vendors (Roumio, Roamify, MicroESIM) a worker thread plays agents, one scenario at a time:

- the vendor's clock is set -300..+300 s off the desks' (``/_sandbox/clock``);
- a fault may hit the order request, before or after the vendor acts (500, HTML page, dropped
  connection, no answer, truncated or malformed body, the vendor's busy code, 429, 503);
- one desk orders, or two desks order at once or one after the other, sometimes with the same
  ``--reference`` typed at both, each its own plan and quantity;
- an order process may be killed with SIGKILL at a random moment;
- then the agent behaves as told: an order that the desk says may have been placed (or a desk whose
  process died) is reconciled (``esimdesk reconcile --vendor V``, sometimes with a fault on the
  vendor's look-up), and only an order the desk says was not placed is typed again by hand;
  now and then someone runs ``esimdesk sync`` (which must never send an order).

Afterwards every fault is cleared and each desk runs ``esimdesk reconcile`` to settle. Then the
vendors' ledgers (``/_sandbox/orders``: every order created through the API in this run) are compared
with the desks' journals (read-only SQLite): a vendor order is *known* when its order id or its
handle (Roumio transactionId, MicroESIM custom_order_no, Roamify referenceId) is in some journal.

Results: ``asked`` (order commands the agents ran), ``intents`` (orders the customers wanted; typing
an order again after the desk said "not placed" is the same intent), ``placed`` (vendor orders),
``duplicated`` (vendor orders beyond one per intent), ``lost`` (vendor orders no journal knows) and
``awaiting_agent`` (journal entries left for the agent to decide after the settle). The run is good
when ``placed <= asked`` and ``duplicated == lost == 0``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

VENDORS = ("roumio", "roamify", "microesim")
ORDER_ENDPOINT = {"roumio": "esim/order", "roamify": "api/esim/order", "microesim": "allesim/v1/esimSubscribe"}
# What a reconcile reads to find a lost order (Roamify's look-up shares the order path, GET vs POST).
LOOKUP_ENDPOINTS = {
    "roumio": ("esim/query",),
    "roamify": ("api/esim/order", "api/esim/orders"),
    "microesim": ("allesim/v1/topupDetail",),
}
FAULT_KINDS = ("http_500", "html", "drop", "timeout", "truncated", "malformed", "busy", "http_429", "http_503")
OPEN_STATES = {"PENDING", "ALLOCATING", "UNCERTAIN"}
PLANS_PER_VENDOR = 6


# --- the sandbox process ---------------------------------------------------------------------------
class SandboxProcess:
    def __init__(self, seed: int, allocation_delay: float):
        self.args = [sys.executable, "-m", "esimdesk.sandbox", "--plans", "300", "--esims", "20",
                     "--seed", str(seed), "--allocation-delay", str(allocation_delay)]
        self.proc: subprocess.Popen[str] | None = None
        self.root = ""
        self.env: dict[str, str] = {}

    def start(self) -> SandboxProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=_clean_env())
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("esimdesk sandbox on "):
                self.root = line.split()[3]
            elif line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                self.env[key] = value
            elif line.startswith("Ctrl+C"):
                break
        if not self.root:
            raise RuntimeError("the sandbox did not start")
        self.http = httpx.Client(base_url=self.root, timeout=10)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # control API
    def set_offset(self, vendor: str, seconds: float) -> None:
        self.http.post("/_sandbox/clock", json={"vendor": vendor, "offset": seconds}).raise_for_status()

    def add_fault(self, vendor: str, fault: dict[str, Any]) -> None:
        self.http.post("/_sandbox/faults", json={"vendor": vendor, "faults": [fault]}).raise_for_status()

    def clear_faults(self, vendor: str | None = None) -> None:
        self.http.delete("/_sandbox/faults", params={"vendor": vendor} if vendor else {}).raise_for_status()

    def ledger(self) -> dict[str, list[dict[str, Any]]]:
        r = self.http.get("/_sandbox/orders")
        r.raise_for_status()
        return r.json()


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"  # never the machine's keychain
    env["ESIMDESK_LOG_LEVEL"] = "WARNING"
    return env


# --- a desk: one data folder, driven through the CLI ------------------------------------------------
@dataclass
class Run:
    args: list[str]
    rc: int | None  # None: killed
    stdout: str
    stderr: str
    seconds: float
    killed: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.stdout) if self.stdout.strip() else None
        except ValueError:
            return None


class Desk:
    def __init__(self, name: str, home: Path, sandbox_env: dict[str, str]):
        self.name, self.home = name, home
        self.env = {**_clean_env(), **sandbox_env, "ESIMDESK_HOME": str(home)}
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, kill_after: float | None = None, timeout: float = 180) -> Run:
        argv = [sys.executable, "-m", "esimdesk", *args]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env)
        killed = False
        try:
            out, err = proc.communicate(timeout=kill_after if kill_after is not None else timeout)
        except subprocess.TimeoutExpired:
            if kill_after is not None:
                proc.send_signal(signal.SIGKILL)  # the laptop's battery, the task manager: no clean-up at all
                killed = True
                out, err = proc.communicate()
            else:
                proc.kill()
                out, err = proc.communicate()
                err += f"\n(soak: no end after {timeout} s; killed)"
        return Run(list(args), None if killed else proc.returncode, out, err, time.monotonic() - t0, killed)

    @property
    def db(self) -> Path:
        return self.home / "esimdesk.sqlite3"

    def journal(self) -> list[dict[str, Any]]:
        """Every journal row, read-only (the file may be mid-write by a desk process: WAL readers are fine)."""
        if not self.db.exists():
            return []
        for attempt in range(5):
            try:
                conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
                try:
                    conn.row_factory = sqlite3.Row
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                    if "journal" not in tables:
                        return []
                    return [dict(r) for r in conn.execute("SELECT * FROM journal ORDER BY id")]
                finally:
                    conn.close()
            except sqlite3.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
        return []

    def max_id(self) -> int:
        rows = self.journal()
        return rows[-1]["id"] if rows else 0


# --- what happened ---------------------------------------------------------------------------------
@dataclass
class Ask:
    n: int
    intent: int
    vendor: str
    desk: str
    plan_id: str
    quantity: int
    reference: str | None  # typed by the agent; None: generated by the desk
    fault: str | None  # "kind/when" aimed at this scenario's order request(s)
    kill_after: float | None
    retype: bool = False  # typed again after the desk said "not placed"
    rc: int | None = None
    killed: bool = False
    seconds: float = 0.0
    entry_ids: list[int] = field(default_factory=list)
    state: str | None = None  # the journal entry's state when the agent looked
    reconciled: bool = False
    error: str | None = None


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.asks: list[Ask] = []
        self._ask_seq = itertools.count(1)
        self._intent_seq = itertools.count(1)
        self._ref_seq = itertools.count(1)
        self.counters: Counter[str] = Counter()
        self.budget = args.asks

    # shared state, under the lock
    def take_budget(self, n: int) -> bool:
        with self.lock:
            if self.budget <= 0:
                return False
            self.budget -= n
            return True

    def new_ask(self, **kw) -> Ask:
        with self.lock:
            ask = Ask(n=next(self._ask_seq), **kw)
            self.asks.append(ask)
            return ask

    def new_intent(self) -> int:
        with self.lock:
            return next(self._intent_seq)

    def new_reference(self) -> str:
        with self.lock:
            return f"shop-{self.args.seed}-{next(self._ref_seq)}"

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counters[key] += n

    # --- set-up ------------------------------------------------------------------------------------
    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="esimdesk-soak-"))
        self.sandbox = SandboxProcess(self.args.seed, self.args.allocation_delay).start()
        self.desks = {name: Desk(name, self.tmp / f"desk-{name}", self.sandbox.env) for name in ("A", "B")}
        for desk in self.desks.values():
            run = desk.run("sync", "--json")
            if run.rc != 0:
                raise RuntimeError(f"desk {desk.name}: first sync failed: {run.stderr.strip()[-500:]}")
        self.plans: dict[str, list[str]] = {}
        for vendor in VENDORS:
            run = self.desks["A"].run("plans", "--vendor", vendor, "--json")
            plans = [p for p in (run.json() or []) if not p.get("daily") and not p.get("topup_only")]
            plans.sort(key=lambda p: (float(p["price"]), p["plan_id"]))  # cheap ones: the balance lasts
            if not plans:
                raise RuntimeError(f"no {vendor} plans in the desk's cache: {run.stderr.strip()[-300:]}")
            self.plans[vendor] = [p["plan_id"] for p in plans[:PLANS_PER_VENDOR]]

    def teardown(self) -> None:
        self.sandbox.stop()
        if self.args.keep:
            print(f"desks kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- one vendor's agents ------------------------------------------------------------------------
    def worker(self, vendor: str, seed: int) -> None:
        rng = random.Random(seed)
        while True:
            two = rng.random() < 0.3
            if not self.take_budget(2 if two else 1):
                return
            try:
                self.scenario(vendor, rng, two)
            except Exception as exc:  # a broken scenario must not hide the others' results
                self.count(f"scenario_error:{type(exc).__name__}")
                print(f"soak: {vendor} scenario failed: {exc!r}", file=sys.stderr)

    def scenario(self, vendor: str, rng: random.Random, two_desks: bool) -> None:
        sb = self.sandbox
        sb.set_offset(vendor, round(rng.uniform(-300, 300), 1))
        fault = None
        if rng.random() < 0.75:
            kind, when = rng.choice(FAULT_KINDS), rng.choice(("before", "after"))
            fault = f"{kind}/{when}"
            sb.add_fault(vendor, {"kind": kind, "when": when, "endpoint": ORDER_ENDPOINT[vendor], "times": 1,
                                  "seconds": 2.0 if kind == "timeout" else None})
        desks = ["A", "B"] if two_desks else [rng.choice("AB")]
        rng.shuffle(desks)
        shared_ref = self.new_reference() if two_desks and rng.random() < 0.6 else None
        asks = []
        for d in desks:
            typed = shared_ref or (self.new_reference() if rng.random() < 0.3 else None)
            asks.append(self.new_ask(intent=self.new_intent(), vendor=vendor, desk=d,
                                     plan_id=rng.choice(self.plans[vendor]), quantity=1 if rng.random() < 0.8 else 2,
                                     reference=typed, fault=fault,
                                     kill_after=round(rng.uniform(0.2, 3.0), 2) if rng.random() < 0.2 else None))
        if len(asks) == 2 and rng.random() < 0.5:  # two agents at the same moment
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(self.place, asks))
        else:
            for ask in asks:
                self.place(ask)
        sb.clear_faults(vendor)
        for ask in asks:
            self.follow_up(ask, rng)
        if rng.random() < 0.1:
            desk = self.desks[rng.choice("AB")]
            run = desk.run("sync", "--vendor", vendor, "--json") if rng.random() < 0.7 else desk.run("sync")
            self.count("syncs")
            self.count(f"sync_rc:{run.rc}")

    def place(self, ask: Ask) -> None:
        desk = self.desks[ask.desk]
        before = desk.max_id()
        args = ["order", "--vendor", ask.vendor, "--plan", ask.plan_id, "--quantity", str(ask.quantity), "--json"]
        if ask.reference:
            args += ["--reference", ask.reference]
        run = desk.run(*args, kill_after=ask.kill_after)
        ask.rc, ask.killed, ask.seconds = run.rc, run.killed, round(run.seconds, 2)
        if run.rc not in (0, None):
            ask.error = (run.stderr.strip().splitlines() or [""])[-1][:300]
        mine = [r for r in desk.journal() if r["id"] > before and r["vendor"] == ask.vendor]
        ask.entry_ids = [r["id"] for r in mine]
        ask.state = mine[-1]["state"] if mine else None

    def follow_up(self, ask: Ask, rng: random.Random, depth: int = 0) -> None:
        """The agent after an order command: done, reconcile, or type it again where the desk says "not placed"."""
        if ask.rc == 0:
            return
        desk = self.desks[ask.desk]
        if ask.killed or ask.state in OPEN_STATES:
            # "May have been placed" (or the window died): the desk reconciles before anything else.
            if rng.random() < 0.8:
                lookup_fault = rng.random() < 0.25
                if lookup_fault:
                    kind = rng.choice(("http_500", "drop", "html", "timeout", "busy"))
                    for endpoint in LOOKUP_ENDPOINTS[ask.vendor]:
                        self.sandbox.add_fault(ask.vendor, {"kind": kind, "endpoint": endpoint, "times": 1,
                                                            "seconds": 2.0 if kind == "timeout" else None})
                desk.run("reconcile", "--vendor", ask.vendor, "--json")
                if lookup_fault:
                    self.sandbox.clear_faults(ask.vendor)
                ask.reconciled = True
                self.count("reconciles")
            rows = {r["id"]: r for r in desk.journal()}
            states = [rows[i]["state"] for i in ask.entry_ids if i in rows]
            ask.state = states[-1] if states else None
        not_placed = ask.state == "FAILED" or (ask.state is None and not ask.entry_ids)
        if not_placed and depth < 2 and rng.random() < 0.6:
            # The desk says nothing was placed: the agent types the order again (same customer, same intent),
            # with the same reference if they had typed one (half the time) or a fresh one.
            ref = ask.reference if ask.reference and rng.random() < 0.5 else (
                self.new_reference() if ask.reference else None)
            again = self.new_ask(intent=ask.intent, vendor=ask.vendor, desk=ask.desk, plan_id=ask.plan_id,
                                 quantity=ask.quantity, reference=ref, fault=None,
                                 kill_after=round(rng.uniform(0.2, 3.0), 2) if rng.random() < 0.1 else None,
                                 retype=True)
            self.place(again)
            self.follow_up(again, rng, depth + 1)

    # --- the run -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.setup()
        try:
            with ThreadPoolExecutor(len(VENDORS)) as pool:
                list(pool.map(self.worker, VENDORS, [self.args.seed * 31 + i for i in range(len(VENDORS))]))
            soak_seconds = time.monotonic() - t0
            settle = self.settle()
            result = self.compare(settle)
            result["seconds"] = {"soak": round(soak_seconds, 1), "total": round(time.monotonic() - t0, 1)}
            return result
        finally:
            self.teardown()

    def settle(self) -> dict[str, list[dict[str, Any]]]:
        """No faults; each desk reconciles (twice: allocation may still be running the first time)."""
        self.sandbox.clear_faults()
        out: dict[str, list[dict[str, Any]]] = {}
        for name, desk in self.desks.items():
            run = desk.run("reconcile", "--json")
            time.sleep(max(1.0, self.args.allocation_delay * 3))
            run = desk.run("reconcile", "--json")
            out[name] = run.json() or []
        return out

    def compare(self, settle: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ledger = self.sandbox.ledger()
        rows = [dict(r, vendor=v) for v in VENDORS for r in ledger.get(v, []) if r["kind"] == "order"]
        journals = {name: desk.journal() for name, desk in self.desks.items()}
        entries = [dict(e, desk=name) for name, js in journals.items() for e in js if e["kind"] == "order"]
        intent_of = {(a.desk, i): a.intent for a in self.asks for i in a.entry_ids}

        def handle(e: dict[str, Any]) -> str:
            return e.get("handle") or e["reference"]

        by_handle: dict[tuple[str, str], list[dict]] = {}
        by_order: dict[tuple[str, str], list[dict]] = {}
        by_candidate: dict[tuple[str, str], list[dict]] = {}
        for e in entries:
            by_handle.setdefault((e["vendor"], handle(e)), []).append(e)
            if e.get("order_id"):
                by_order.setdefault((e["vendor"], e["order_id"]), []).append(e)
            for cand in filter(None, (e.get("candidates") or "").split(",")):
                by_candidate.setdefault((e["vendor"], cand.strip()), []).append(e)

        lost, lost_candidate_only, several, failed_at_desk = [], 0, 0, []
        rows_per_intent: Counter[int] = Counter()
        unattributed = 0
        for row in rows:
            owners = by_handle.get((row["vendor"], row["handle"]), []) if row["handle"] else []
            by_id = by_order.get((row["vendor"], row["order_id"]), [])
            owner = owners[0] if owners else (by_id[0] if by_id else None)
            if owner is None:
                lost.append(row)
                if by_candidate.get((row["vendor"], row["order_id"])):
                    lost_candidate_only += 1
                continue
            claimants = {(e["desk"], e["id"]) for e in owners + by_id}
            if len({intent_of.get(c) for c in claimants}) > 1:
                several += 1
            if owner["state"] == "FAILED":
                failed_at_desk.append(row)
            intent = intent_of.get((owner["desk"], owner["id"]))
            if intent is None:
                unattributed += 1
            else:
                rows_per_intent[intent] += 1
        duplicated = sum(n - 1 for n in rows_per_intent.values() if n > 1)

        # Left for the agent: what the settling reconcile flags, and whatever the journals still hold open.
        awaiting = {(name, e["reference"]) for name, items in settle.items() for e in items
                    if e.get("awaiting_agent") or e.get("status") == "UNCERTAIN"}
        awaiting |= {(e["desk"], e["reference"]) for e in entries if e["state"] in OPEN_STATES}
        # Orders a desk shows as done with an order id some other entry's handle owns (case: one reference
        # typed at two desks, and the second desk takes the first desk's order as its own).
        owner_of_order = {(r["vendor"], r["order_id"]): by_handle.get((r["vendor"], r["handle"]), [None])[0]
                          for r in rows if r["handle"]}
        others = sum(1 for e in entries if e["state"] == "COMPLETED" and e.get("order_id")
                     and (o := owner_of_order.get((e["vendor"], e["order_id"]))) is not None
                     and (o["desk"], o["id"]) != (e["desk"], e["id"]))

        asked, intents = len(self.asks), len({a.intent for a in self.asks})
        per_vendor = {}
        for v in VENDORS:
            v_rows = [r for r in rows if r["vendor"] == v]
            v_intents = {a.intent for a in self.asks if a.vendor == v}
            per_vendor[v] = {
                "asked": sum(1 for a in self.asks if a.vendor == v),
                "intents": len(v_intents),
                "placed": len(v_rows),
                "duplicated": sum(n - 1 for i, n in rows_per_intent.items() if n > 1 and i in v_intents),
                "lost": sum(1 for r in lost if r["vendor"] == v),
            }
        result = {
            "asked": asked,
            "intents": intents,
            "placed": len(rows),
            "duplicated": duplicated,
            "lost": len(lost),
            "awaiting_agent": len(awaiting),
            "placed_at_most_asked": len(rows) <= asked,
            "ok": len(rows) <= asked and duplicated == 0 and not lost,
            "details": {
                "per_vendor": per_vendor,
                "lost_but_listed_as_candidate": lost_candidate_only,
                "vendor_orders_claimed_by_several_intents": several,
                "vendor_orders_the_desk_calls_failed": len(failed_at_desk),
                "completed_entries_holding_another_entrys_order": others,
                "vendor_orders_without_an_ask": unattributed,
                "intents_without_any_vendor_order": intents - len(rows_per_intent),
                "journal_states": dict(Counter(e["state"] for e in entries)),
                "asks_killed": sum(a.killed for a in self.asks),
                "asks_retyped": sum(a.retype for a in self.asks),
                "asks_with_two_desks_same_reference": sum(
                    1 for a in self.asks if a.reference and not a.retype
                    and sum(1 for b in self.asks if b.reference == a.reference and not b.retype) > 1),
                "exit_codes": dict(Counter(str(a.rc) for a in self.asks)),
                "faults": dict(Counter(a.fault or "none" for a in self.asks if not a.retype)),
                **dict(self.counters),
            },
            "examples": {
                "lost": lost[:5],
                "duplicated": [
                    {"intent": i, "asks": [asdict(a) for a in self.asks if a.intent == i],
                     "vendor_orders": [r for r in rows if self._intent_of_row(r, by_handle, by_order, intent_of) == i]}
                    for i, n in list(rows_per_intent.items()) if n > 1][:3],
                "called_failed_but_placed": failed_at_desk[:5],
            },
            "config": {
                "seed": self.args.seed,
                "asks_target": self.args.asks,
                "desks": len(self.desks),
                "vendors": list(VENDORS),
                "allocation_delay_s": self.args.allocation_delay,
                "clock_offsets_s": [-300, 300],
                "fault_kinds": list(FAULT_KINDS),
            },
        }
        return result

    @staticmethod
    def _intent_of_row(row, by_handle, by_order, intent_of) -> int | None:
        owners = by_handle.get((row["vendor"], row["handle"]), []) if row["handle"] else []
        by_id = by_order.get((row["vendor"], row["order_id"]), [])
        owner = owners[0] if owners else (by_id[0] if by_id else None)
        return intent_of.get((owner["desk"], owner["id"])) if owner else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--asks", type=int, default=300, help="order commands to run (default 300)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--allocation-delay", type=float, default=0.3, help="sandbox seconds until profiles are ready")
    p.add_argument("--smoke", action="store_true", help="30 asks, results in soak_orders_smoke.json")
    p.add_argument("--keep", action="store_true", help="keep the desks' data folders (path on stderr)")
    p.add_argument("--trace", type=Path, metavar="FILE", help="also write every ask (what was run, what came of it)")
    args = p.parse_args(argv)
    if args.smoke:
        args.asks = min(args.asks, 30)
    soak = Soak(args)
    result = soak.run()
    if args.trace:
        args.trace.write_text(json.dumps([asdict(a) for a in soak.asks], indent=1) + "\n")
    save("soak_orders_smoke" if args.smoke else "soak_orders", result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
