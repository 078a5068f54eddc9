"""A randomised soak of order money safety: the real CLI, one long-lived sandbox, two desks, lost answers.

Soak in time (issue 26): on top of the scenarios below, order requests are *delivered late*: the
soak's own relay (every desk talks to the sandbox through it) holds a chosen order request 10–150 s
before passing it on, whether or not the desk is still waiting — the desk gives up after its 20 s
timeout and the vendor places the order later, as a slow network does (the sandbox's ``latency`` fault
cannot play this: over uvicorn a request whose client has gone is dropped, ``ClientDisconnect``). The
agent then does as told: reconciles some seconds later, again after the time the desk names, and types
the order again only when the desk said it was not placed; a sync now and then. Meanwhile a desk takes
a backup, keeps ordering and restores it (``backup``/``restore``); the two desks restore each other's
backups (early in the run) and then order with the same typed ``--reference`` at both
(and one desk types a reference the other typed before); and support actions are clicked
twice at once on eSIMs ordered in the soak (two ``cancel``/``revoke`` processes on one desk, or one on
each desk; ``suspend``/``resume`` twice on an installed eSIM). The relay also counts every support-action
request that reached the vendor (the sandbox records only the actions it carried out). New fields:
``late_delivered`` (order requests the relay passed on after the desk had given up), ``told_failed_but_placed``
(vendor orders whose journal entry said FAILED / "not placed" at some time, from the journals' audit
history and the CLI's words) and ``actions_sent_twice`` (one agent intent — one eSIM, one action, however
many clicks — whose request reached the vendor more than once from one desk's data folder, or that the vendor
carried out more than once; two desks with folders of their own share no store, so both of their clicks may
reach the vendor, which refuses the second: counted apart as ``two_unconnected_desks_both_sent``). The run is good (``ok``) only when
``duplicated == lost == told_failed_but_placed == actions_sent_twice == 0`` and ``late_delivered > 0``.

Run:  python bench/soak_orders.py                 (>= 300 asks; writes bench/results/soak_orders.json)
      python bench/soak_orders.py --smoke         (~30 asks; writes bench/results/soak_orders_smoke.json)
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

Afterwards every fault is cleared, every held request is let through, the desks wait out the in-flight
time their journals name, reconcile and sync to settle. Then the
vendors' ledgers (``/_sandbox/orders``: every order created through the API in this run) are compared
with the desks' journals (read-only SQLite): a vendor order is *known* when its order id or its
handle (Roumio transactionId, MicroESIM custom_order_no, Roamify referenceId) is in some journal.

Results: ``asked`` (order commands the agents ran), ``intents`` (orders the customers wanted; typing
an order again after the desk said "not placed" is the same intent), ``placed`` (vendor orders),
``duplicated`` (vendor orders beyond one per intent), ``lost`` (vendor orders no journal knows) and
``awaiting_agent`` (journal entries left for the agent to decide after the settle). Attribution is by the
handle each vendor was sent (a restored copy of an entry carries its handle, so it is the same intent); a
vendor order whose claiming entries belong to two intents is ``vendor_orders_claimed_by_several_intents``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
CLIENT_TIMEOUT_S = 20.0  # the desks' HTTP timeout (vendors/http.py): a request held longer is delivered late
# Roumio's support actions (the only vendor with actions in the sandbox): CLI command -> vendor endpoint.
ACTION_ENDPOINT = {"cancel": "esim/cancel", "suspend": "esim/suspend", "resume": "esim/unsuspend",
                   "revoke": "esim/revoke"}
NOT_PLACED_WORDS = ("nothing was charged", "not placed", "was not placed")
# The handle an order request carries: Roumio transactionId, Roamify referenceId, MicroESIM custom_order_no.
HANDLE_RE = (re.compile(rb'"(?:transactionId|referenceId)"\s*:\s*"([^"]+)"'),
             re.compile(rb'name="custom_order_no"\r\n\r\n([^\r\n]+)'),
             re.compile(rb'custom_order_no=([^&\s]+)'))


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
        self._http_lock = threading.Lock()
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

    def state(self) -> dict[str, Any]:
        r = self.http.get("/_sandbox/state")
        r.raise_for_status()
        return r.json()

    def vendor_urls(self) -> dict[str, str]:
        return {k.removeprefix("ESIMDESK_").removesuffix("_URL").lower(): v for k, v in self.env.items()
                if k.endswith("_URL")}


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"  # never the machine's keychain
    env["ESIMDESK_LOG_LEVEL"] = "WARNING"
    return env


# --- the relay: a slow network between the desks and the vendors -----------------------------------
_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "upgrade",
        "proxy-connection", "accept-encoding", "trailer"}
_HOP_OUT = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "trailer"}


def _client_gone(sock: socket.socket) -> bool:
    """The desk closed its end (it gave up, or its process ended): a peek reads end-of-file."""
    previous = sock.gettimeout()
    try:
        sock.settimeout(0)
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    finally:
        try:
            sock.settimeout(previous)
        except OSError:
            pass


def _handle_in(body: bytes) -> str | None:
    for rx in HANDLE_RE:
        m = rx.search(body)
        if m:
            return m.group(1).decode(errors="replace")
    return None


class Relay:
    """Every desk's vendor traffic, passed through as it is (``/<desk>/<vendor mount>/...``), except:

    - a *late rule* holds one matching order request ``seconds`` before passing it on — the handler
      thread sleeps and then sends it whether the desk still waits or not (a slow network delivers it
      late); the desk's answer, if it still listens, is the vendor's;
    - every support-action request (Roumio cancel/suspend/unsuspend/revoke) is written down with the
      vendor's answer: what the vendor received, per eSIM, which the sandbox does not record.
    """

    def __init__(self, upstream_root: str, mounts: dict[str, str]):
        self.upstream = upstream_root.rstrip("/")
        self.mounts = mounts  # vendor -> "/roumio/v1"
        self.client = httpx.Client(timeout=httpx.Timeout(400.0, connect=10.0),
                                   limits=httpx.Limits(max_connections=64, max_keepalive_connections=32))
        self.lock = threading.Lock()
        self.idle = threading.Condition(self.lock)
        self.rules: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []  # every held order request and what became of it
        self.actions: list[dict[str, Any]] = []  # every support-action request passed to the vendor
        self.pending = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 600

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                relay.handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_GET  # noqa: N815

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a killed desk resets its connection
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="soak-relay", daemon=True)

    def start(self) -> Relay:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()

    def urls_for(self, desk: str) -> dict[str, str]:
        return {v: f"{self.root}/{desk}{mount}" for v, mount in self.mounts.items()}

    def hold(self, desk: str, vendor: str, endpoint: str, needle: str, seconds: float) -> None:
        with self.lock:
            self.rules.append({"desk": desk, "vendor": vendor, "endpoint": endpoint, "needle": needle.encode(),
                               "seconds": seconds})

    def drop_rule(self, needle: str) -> None:
        with self.lock:
            self.rules = [r for r in self.rules if r["needle"] != needle.encode()]

    def wait_idle(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.idle:
            while self.pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.idle.wait(left)
        return True

    def _take(self, desk: str, vendor: str | None, method: str, endpoint: str, body: bytes) -> dict | None:
        if method != "POST" or vendor is None:
            return None
        with self.lock:
            for rule in self.rules:
                if (rule["desk"], rule["vendor"], rule["endpoint"]) == (desk, vendor, endpoint) \
                        and rule["needle"] in body:
                    self.rules.remove(rule)
                    self.pending += 1
                    return rule
        return None

    @staticmethod
    def _body(h: BaseHTTPRequestHandler) -> bytes:
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            out = bytearray()
            while True:
                size = int(h.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while h.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += h.rfile.read(size)
                h.rfile.readline()
        n = int(h.headers.get("Content-Length") or 0)
        return h.rfile.read(n) if n else b""

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        path, _, query = h.path.partition("?")
        _, desk, rest = (path.split("/", 2) + ["", ""])[:3]
        rest = "/" + rest
        body = self._body(h)
        vendor = next((v for v, m in self.mounts.items() if rest == m or rest.startswith(m + "/")), None)
        endpoint = rest[len(self.mounts[vendor]):].strip("/") if vendor else rest.strip("/")
        rule = self._take(desk, vendor, h.command, endpoint, body)
        event: dict[str, Any] | None = None
        try:
            if rule is not None:
                t0 = time.time()
                time.sleep(rule["seconds"])
                event = {"desk": desk, "vendor": vendor, "handle": _handle_in(body), "held_s": rule["seconds"],
                         "desk_gone": _client_gone(h.connection), "received_at": round(t0, 3),
                         "delivered_at": round(time.time(), 3)}
            headers = {k: v for k, v in h.headers.items() if k.lower() not in _HOP}
            headers["Accept-Encoding"] = "identity"
            url = self.upstream + rest + (f"?{query}" if query else "")
            try:
                resp = self.client.request(h.command, url, content=body, headers=headers)
                content = resp.content
            except httpx.HTTPError as exc:  # the vendor dropped it (a fault): the desk sees a dropped connection
                if event is not None:
                    event.update(status=None, answer=f"{type(exc).__name__}")
                self._note_action(desk, vendor, endpoint, body, None, type(exc).__name__)
                h.close_connection = True
                return
            if event is not None:
                event.update(status=resp.status_code, answer=content[:240].decode(errors="replace"))
            self._note_action(desk, vendor, endpoint, body, resp.status_code, content[:240].decode(errors="replace"))
            try:
                h.send_response_only(resp.status_code, resp.reason_phrase)
                for k, v in resp.headers.multi_items():
                    if k.lower() not in _HOP_OUT:
                        h.send_header(k, v)
                h.send_header("Content-Length", str(len(content)))
                h.end_headers()
                h.wfile.write(content)
                h.wfile.flush()
            except OSError:
                h.close_connection = True
        finally:
            if rule is not None:
                with self.idle:
                    if event is not None:
                        self.held.append(event)
                    self.pending -= 1
                    self.idle.notify_all()

    def _note_action(self, desk: str, vendor: str | None, endpoint: str, body: bytes, status: int | None,
                     answer: str) -> None:
        if vendor != "roumio" or endpoint not in ACTION_ENDPOINT.values():
            return
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        with self.lock:
            self.actions.append({"desk": desk, "endpoint": endpoint, "iccid": doc.get("iccid"),
                                 "esimTranNo": doc.get("esimTranNo"), "at": round(time.time(), 3),
                                 "status": status, "answer": answer})


# --- a desk: one data folder, driven through the CLI ------------------------------------------------
class Gate:
    """Commands on one desk run side by side (shared); a restore waits for them and holds new ones off."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.readers = 0
        self.writer = False
        self.writers_waiting = 0

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self.cond:
            while self.writer or self.writers_waiting:
                self.cond.wait()
            self.readers += 1
        try:
            yield
        finally:
            with self.cond:
                self.readers -= 1
                self.cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self.cond:
            self.writers_waiting += 1
            while self.writer or self.readers:
                self.cond.wait()
            self.writers_waiting -= 1
            self.writer = True
        try:
            yield
        finally:
            with self.cond:
                self.writer = False
                self.cond.notify_all()


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

    def said(self) -> str:
        return (self.stderr.strip().splitlines() or [""])[-1][:400]


class Desk:
    def __init__(self, name: str, home: Path, sandbox_env: dict[str, str], urls: dict[str, str]):
        self.name, self.home = name, home
        self.env = {**_clean_env(), **sandbox_env, "ESIMDESK_HOME": str(home)}
        for vendor, url in urls.items():
            self.env[f"ESIMDESK_{vendor.upper()}_URL"] = url
        self.gate = Gate()
        home.mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, kill_after: float | None = None, timeout: float = 300) -> Run:
        """One CLI process (the caller holds the desk's gate: ``cmd`` for a lone command)."""
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

    def cmd(self, *args: str, **kw: Any) -> Run:
        with self.gate.shared():
            return self.run(*args, **kw)

    @property
    def db(self) -> Path:
        return self.home / "esimdesk.sqlite3"

    def query(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query (the file may be mid-write by a desk process: WAL readers are fine)."""
        if not self.db.exists():
            return []
        for attempt in range(8):
            try:
                conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
                try:
                    conn.row_factory = sqlite3.Row
                    return [dict(r) for r in conn.execute(sql, params)]
                finally:
                    conn.close()
            except sqlite3.OperationalError as exc:
                if "no such table" in str(exc):
                    return []
                if attempt == 7:
                    raise
                time.sleep(0.3)
        return []

    def journal(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM journal ORDER BY id")

    def journal_events(self) -> dict[int, list[dict[str, Any]]]:
        out: dict[int, list[dict[str, Any]]] = {}
        for r in self.query("SELECT journal_id, at, from_state, to_state, cause FROM journal_events ORDER BY rowid"):
            out.setdefault(r.pop("journal_id"), []).append(r)
        return out

    def desk_id(self) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = 'desk_id'")
        return rows[0]["value"] if rows else None


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
    fault: str | None  # "kind/when" aimed at this scenario's order request(s); "late/S": held S seconds
    kill_after: float | None
    scenario: str = "vendor"  # vendor | late | cross_restore
    retype: bool = False  # typed again after the desk said "not placed"
    rc: int | None = None
    killed: bool = False
    seconds: float = 0.0
    refs: list[str] = field(default_factory=list)  # the journal entries it made (their references)
    handles: list[str] = field(default_factory=list)  # ... and the handles they send the vendor
    state: str | None = None  # the journal entry's state when the agent looked
    reconciled: int = 0
    said: str | None = None  # the CLI's last line on stderr (exit status 1)
    told_not_placed: bool = False  # the desk said FAILED / "not placed" / "nothing was charged" at some time
    error: str | None = None


@dataclass
class ActionIntent:
    n: int
    action: str
    iccid: str
    mode: str  # same_desk | two_desks | two_desks_staggered
    desks: list[str]
    rcs: list[int | None] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    started_at: float = 0.0


class Soak:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.asks: list[Ask] = []
        self.action_intents: list[ActionIntent] = []
        self.restores: list[dict[str, Any]] = []
        self.typed: set[str] = set()  # every reference an agent typed (an entry with one belongs to its ask)
        self._ask_seq = itertools.count(1)
        self._intent_seq = itertools.count(1)
        self._ref_seq = itertools.count(1)
        self._action_seq = itertools.count(1)
        self.counters: Counter[str] = Counter()
        self.budget = args.asks
        self.cross_done = threading.Event()  # set once the cross restore was tried
        self.late_range = (10.0, 150.0) if not args.smoke else (25.0, 60.0)
        self.late_count = args.late if args.late is not None else (3 if args.smoke else 24)

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
            if ask.reference:
                self.typed.add(ask.reference)
            return ask

    def new_intent(self) -> int:
        with self.lock:
            return next(self._intent_seq)

    def new_reference(self, prefix: str = "shop") -> str:
        with self.lock:
            return f"{prefix}-{self.args.seed}-{next(self._ref_seq)}"

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counters[key] += n

    # --- set-up ------------------------------------------------------------------------------------
    def setup(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="esimdesk-soak-"))
        (self.tmp / "backups").mkdir()
        self.sandbox = SandboxProcess(self.args.seed, self.args.allocation_delay).start()
        mounts = {v: urlsplit(url).path.rstrip("/") for v, url in self.sandbox.vendor_urls().items()}
        self.relay = Relay(self.sandbox.root, mounts).start()
        self.desks = {name: Desk(name, self.tmp / f"desk-{name}", self.sandbox.env, self.relay.urls_for(name))
                      for name in ("A", "B")}
        for desk in self.desks.values():
            run = desk.run("sync", "--json")
            if run.rc != 0:
                raise RuntimeError(f"desk {desk.name}: first sync failed: {run.stderr.strip()[-500:]}")
        self.desk_ids_at_start = {name: desk.desk_id() for name, desk in self.desks.items()}
        self.plans: dict[str, list[str]] = {}
        for vendor in VENDORS:
            run = self.desks["A"].run("plans", "--vendor", vendor, "--json")
            plans = [p for p in (run.json() or []) if not p.get("daily") and not p.get("topup_only")]
            plans.sort(key=lambda p: (float(p["price"]), p["plan_id"]))  # cheap ones: the balance lasts
            if not plans:
                raise RuntimeError(f"no {vendor} plans in the desk's cache: {run.stderr.strip()[-300:]}")
            self.plans[vendor] = [p["plan_id"] for p in plans[:PLANS_PER_VENDOR]]

    def teardown(self) -> None:
        try:
            self.relay.stop()
        finally:
            self.sandbox.stop()
        if self.args.keep:
            print(f"desks kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # a broken scenario must not hide the others' results
            self.count(f"scenario_error:{what}:{type(exc).__name__}")
            print(f"soak: {what} scenario failed: {exc!r}", file=sys.stderr)

    # --- one vendor's agents ------------------------------------------------------------------------
    def worker(self, vendor: str, seed: int) -> None:
        rng = random.Random(seed)
        while True:
            two = rng.random() < 0.3
            if not self.take_budget(2 if two else 1):
                return
            self._guard(vendor, self.scenario, vendor, rng, two)

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
        # One reference typed at both desks; not before the cross restore (a restore refuses to merge two
        # desks' files that hold one reference for two orders: the cross restore could not happen at all).
        shared = two_desks and rng.random() < 0.6
        shared_ref = self.new_reference() if shared and self.cross_done.is_set() else None
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
            run = desk.cmd("sync", "--vendor", vendor, "--json") if rng.random() < 0.7 else desk.cmd("sync")
            self.count("syncs")
            self.count(f"sync_rc:{run.rc}")

    def place(self, ask: Ask) -> None:
        desk = self.desks[ask.desk]
        args = ["order", "--vendor", ask.vendor, "--plan", ask.plan_id, "--quantity", str(ask.quantity), "--json"]
        if ask.reference:
            args += ["--reference", ask.reference]
        with desk.gate.shared():  # no restore between the look before and the look after
            before = {r["reference"] for r in desk.query("SELECT reference FROM journal")}
            run = desk.run(*args, kill_after=ask.kill_after)
            rows = desk.query("SELECT reference, handle, state FROM journal WHERE vendor = ? ORDER BY id", (ask.vendor,))
        ask.rc, ask.killed, ask.seconds = run.rc, run.killed, round(run.seconds, 2)
        if run.rc not in (0, None):
            ask.said = ask.error = run.said()
            if any(w in run.stderr.lower() for w in NOT_PLACED_WORDS):
                ask.told_not_placed = True
        with self.lock:
            typed = set(self.typed)
        mine = [r for r in rows if r["reference"] not in before
                and (r["reference"] == ask.reference if ask.reference else r["reference"] not in typed)]
        ask.refs = [r["reference"] for r in mine]
        ask.handles = [r["handle"] or r["reference"] for r in mine]
        ask.state = mine[-1]["state"] if mine else None
        if ask.state == "FAILED":
            ask.told_not_placed = True

    def look(self, ask: Ask) -> None:
        """The ask's entry as the desk shows it now (by reference: ids are not kept across a restore)."""
        if not ask.refs:
            return
        rows = self.desks[ask.desk].query(
            f"SELECT reference, state FROM journal WHERE reference IN ({','.join('?' * len(ask.refs))})",
            tuple(ask.refs))
        states = {r["reference"]: r["state"] for r in rows}
        ask.state = states.get(ask.refs[-1], "GONE")  # GONE: no longer in this desk's journal (a restore)
        if ask.state == "FAILED":
            ask.told_not_placed = True

    def reconcile(self, ask: Ask, rng: random.Random, lookup_faults: bool = True) -> None:
        desk = self.desks[ask.desk]
        lookup_fault = lookup_faults and rng.random() < 0.25
        if lookup_fault:
            kind = rng.choice(("http_500", "drop", "html", "timeout", "busy"))
            for endpoint in LOOKUP_ENDPOINTS[ask.vendor]:
                self.sandbox.add_fault(ask.vendor, {"kind": kind, "endpoint": endpoint, "times": 1,
                                                    "seconds": 2.0 if kind == "timeout" else None})
        run = desk.cmd("reconcile", "--vendor", ask.vendor, "--json")
        if lookup_fault:
            self.sandbox.clear_faults(ask.vendor)
        for item in run.json() or []:
            if item.get("reference") in ask.refs and any(w in json.dumps(item).lower() for w in NOT_PLACED_WORDS):
                ask.told_not_placed = True
        ask.reconciled += 1
        self.count("reconciles")
        self.look(ask)

    def follow_up(self, ask: Ask, rng: random.Random, depth: int = 0, patience: tuple[float, float] | None = None) -> None:
        """The agent after an order command: done, reconcile, or type it again where the desk says "not placed".

        ``patience``: the agent waits that many seconds (drawn) before reconciling, and once more before
        a second reconcile when the desk still says "may still be placed" (the late scenarios)."""
        if ask.rc == 0:
            return
        if ask.killed or ask.state in OPEN_STATES:
            # "May have been placed" (or the window died): the desk reconciles before anything else.
            if patience is not None:
                time.sleep(rng.uniform(*patience))
                self.reconcile(ask, rng, lookup_faults=False)
                if ask.state in OPEN_STATES:
                    time.sleep(rng.uniform(*patience))
                    self.reconcile(ask, rng, lookup_faults=False)
            elif rng.random() < 0.8:
                self.reconcile(ask, rng)
            else:
                self.look(ask)
        not_placed = ask.state == "FAILED" or (ask.state is None and not ask.refs)
        if not_placed and depth < 2 and rng.random() < (0.9 if patience else 0.6):
            # The desk says nothing was placed: the agent types the order again (same customer, same intent),
            # with the same reference if they had typed one (half the time) or a fresh one.
            ref = ask.reference if ask.reference and rng.random() < 0.5 else (
                self.new_reference("again" if ask.scenario != "vendor" else "shop") if ask.reference else None)
            again = self.new_ask(intent=ask.intent, vendor=ask.vendor, desk=ask.desk, plan_id=ask.plan_id,
                                 quantity=ask.quantity, reference=ref, fault=None, scenario=ask.scenario,
                                 kill_after=round(rng.uniform(0.2, 3.0), 2) if rng.random() < 0.1 else None,
                                 retype=True)
            self.place(again)
            self.follow_up(again, rng, depth + 1, patience)

    # --- requests delivered late --------------------------------------------------------------------
    def late_scenario(self, k: int) -> None:
        rng = random.Random(self.args.seed * 7919 + k)
        vendor = VENDORS[k % len(VENDORS)]
        desk = rng.choice("AB")
        ref = self.new_reference("late")
        seconds = round(rng.uniform(*self.late_range), 1)
        self.relay.hold(desk, vendor, ORDER_ENDPOINT[vendor], f"{ref}-", seconds)  # the handle: REF-DESKID
        ask = self.new_ask(intent=self.new_intent(), vendor=vendor, desk=desk, plan_id=rng.choice(self.plans[vendor]),
                           quantity=1, reference=ref, fault=f"late/{seconds}", kill_after=None, scenario="late")
        self.place(ask)
        self.relay.drop_rule(f"{ref}-")  # never sent (refused before): the rule must not catch a later order
        self.count("late_scenarios")
        # The agent reconciles some seconds after the desk's answer (and again later if told to wait).
        self.follow_up(ask, rng, patience=(5.0, 60.0) if not self.args.smoke else (5.0, 25.0))
        if rng.random() < 0.5:  # someone syncs this vendor a while later
            time.sleep(rng.uniform(0, 60 if not self.args.smoke else 10))
            run = self.desks[rng.choice("AB")].cmd("sync", "--vendor", vendor, "--json")
            self.count("syncs")
            self.count(f"sync_rc:{run.rc}")

    def late_worker(self) -> None:
        # Spread over the soak: a few at a time, each overlapping the vendor workers' scenarios.
        with ThreadPoolExecutor(3) as pool:
            for f in [pool.submit(self._guard, "late", self.late_scenario, k) for k in range(self.late_count)]:
                f.result()

    # --- restores ------------------------------------------------------------------------------------
    @staticmethod
    def _refs_in(path: Path) -> set[str]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return {r[0] for r in conn.execute("SELECT reference FROM journal")}
        finally:
            conn.close()

    def _refs(self, desk: Desk) -> set[str]:
        return {r["reference"] for r in desk.query("SELECT reference FROM journal")}

    def backup(self, name: str, label: str) -> Path | None:
        run = self.desks[name].cmd("backup", "--json")
        doc = run.json() or {}
        if run.rc != 0 or not doc.get("backup"):
            self.restores.append({"what": "backup", "desk": name, "rc": run.rc, "said": run.said()})
            return None
        copy = self.tmp / "backups" / f"{label}.sqlite3"  # kept aside: the desk keeps only its last 7
        shutil.copyfile(doc["backup"], copy)
        return copy

    def restore_mid(self, name: str, rng: random.Random) -> None:
        """Backup, keep ordering (the other workers do), restore that backup: nothing made since may be lost."""
        desk = self.desks[name]
        copy = self.backup(name, f"mid-{name}")
        if copy is None:
            return
        in_backup = self._refs_in(copy)
        time.sleep(rng.uniform(15, 30) if self.args.smoke else rng.uniform(60, 120))
        with desk.gate.exclusive():
            before, id_before = self._refs(desk), desk.desk_id()
            run = desk.run("restore", str(copy), "--json")
            after, id_after = self._refs(desk), desk.desk_id()
        since = sorted(before - in_backup)
        self.restores.append({
            "what": "restore_mid_soak", "desk": name, "rc": run.rc, "said": run.said() if run.rc else None,
            "entries_in_backup": len(in_backup), "entries_made_after_the_backup": len(since),
            "of_those_gone_after_restore": sorted(set(since) - after),
            "desk_id_before": id_before, "desk_id_after": id_after})
        self.count("restores_mid_soak")

    def cross_restore(self, rng: random.Random) -> None:
        """Desk A's backup restored on desk B and B's on A; then both order with the same typed references."""
        a, b = self.desks["A"], self.desks["B"]
        copies = {"A": self.backup("A", "cross-A"), "B": self.backup("B", "cross-B")}
        if None in copies.values():
            return
        time.sleep(rng.uniform(5, 20))
        with a.gate.exclusive(), b.gate.exclusive():
            before = {n: self._refs(d) for n, d in self.desks.items()}
            ids_before = {n: d.desk_id() for n, d in self.desks.items()}
            runs = {"A": a.run("restore", str(copies["B"]), "--json"), "B": b.run("restore", str(copies["A"]), "--json")}
            after = {n: self._refs(d) for n, d in self.desks.items()}
            ids_after = {n: d.desk_id() for n, d in self.desks.items()}
        self.count("cross_restores_refused", sum(1 for r in runs.values() if r.rc != 0))
        for n in "AB":
            other = "B" if n == "A" else "A"
            self.restores.append({
                "what": f"cross_restore ({other}'s backup on {n})", "desk": n, "rc": runs[n].rc,
                "said": runs[n].said() if runs[n].rc else None,
                "own_entries_gone_after_restore": sorted(before[n] - after[n]),
                "entries_of_the_other_desk_now_here": len(after[n] - before[n]),
                "desk_id_before": ids_before[n], "desk_id_after": ids_after[n],
                "desk_id_of_the_other_desk": ids_before[other]})
        self.count("cross_restores")
        # Ordering on: the same reference typed at both desks (two customers, two intents), at once or in turn.
        asks = []
        for vendor in VENDORS:
            ref = self.new_reference("both")
            pair = [self.new_ask(intent=self.new_intent(), vendor=vendor, desk=d, plan_id=rng.choice(self.plans[vendor]),
                                 quantity=1, reference=ref, fault=None, kill_after=None, scenario="cross_restore")
                    for d in "AB"]
            if rng.random() < 0.5:
                with ThreadPoolExecutor(2) as pool:
                    list(pool.map(self.place, pair))
            else:
                for ask in pair:
                    self.place(ask)
            asks += pair
        # ... and a reference the other desk typed before its backup (its entry is now here too, copied).
        for n in "AB":
            other = "B" if n == "A" else "A"
            earlier = [x for x in self.asks if x.desk == other and x.reference and x.refs and x.rc == 0
                       and x.reference in after[n] and x.reference in before[other]]
            if earlier:
                old = rng.choice(earlier)
                ask = self.new_ask(intent=self.new_intent(), vendor=old.vendor, desk=n, plan_id=old.plan_id,
                                   quantity=old.quantity, reference=old.reference, fault=None, kill_after=None,
                                   scenario="cross_restore")
                self.place(ask)
                asks.append(ask)
        for ask in asks:
            self.follow_up(ask, rng)

    # --- support actions clicked twice ---------------------------------------------------------------
    def actions_round(self, rng: random.Random, plan: list[tuple[str, str]]) -> None:
        for d in self.desks.values():  # both desks must know the eSIMs (the soak's orders: by a sync)
            d.cmd("sync", "--vendor", "roumio", "--json")
        ours = {r["order_id"] for r in self.sandbox.ledger().get("roumio", []) if r["kind"] == "order"}
        known = {n: {r["iccid"]: r for r in d.query("SELECT iccid, order_id, status FROM esims WHERE vendor = 'roumio'")}
                 for n, d in self.desks.items()}
        both = set(known["A"]) & set(known["B"])
        used = {i.iccid for i in self.action_intents}
        fresh = sorted(i for i in both - used if known["A"][i]["order_id"] in ours and known["A"][i]["status"] == "NEW")
        installed = sorted(i for i in both - used if known["A"][i]["order_id"] not in ours
                           and known["A"][i]["status"] in ("INSTALLED", "ACTIVE"))
        for action, mode in plan:
            pool = fresh if action in ("cancel", "revoke") else installed
            if not pool:
                self.count(f"action_without_an_esim:{action}")
                continue
            iccid = pool.pop(rng.randrange(len(pool)))
            self.click_twice(action, iccid, mode, rng)
            if action == "suspend":
                self.click_twice("resume", iccid, rng.choice(("same_desk", "two_desks")), rng)

    def click_twice(self, action: str, iccid: str, mode: str, rng: random.Random) -> None:
        """Two clicks on one eSIM at once (two processes of one desk, or one at each desk): one intent."""
        desks = [rng.choice("AB")] * 2 if mode == "same_desk" else ["A", "B"]
        rng.shuffle(desks)
        delay = rng.uniform(0.3, 2.0) if mode == "two_desks_staggered" else 0.0
        with self.lock:
            intent = ActionIntent(next(self._action_seq), action, iccid, mode, desks, started_at=time.time())
            self.action_intents.append(intent)

        def click(i: int) -> Run:
            if i == 1 and delay:
                time.sleep(delay)
            return self.desks[desks[i]].cmd(action, iccid, "--vendor", "roumio", "--json")

        with ThreadPoolExecutor(2) as pool:
            runs = list(pool.map(click, (0, 1)))
        intent.rcs = [r.rc for r in runs]
        intent.said = [r.said() if r.rc else (r.json() or {}).get("message", r.stdout.strip()[:200]) for r in runs]
        self.count("action_clicks", 2)

    def ops_worker(self) -> None:
        """The desks' other life during the soak: a restore, cross restores, support actions."""
        rng = random.Random(self.args.seed * 104729)
        first = [("cancel", "same_desk"), ("cancel", "two_desks"), ("revoke", "two_desks"), ("suspend", "two_desks")]
        second = [("cancel", "two_desks_staggered"), ("revoke", "same_desk"), ("cancel", "two_desks"),
                  ("suspend", "same_desk")]
        try:
            time.sleep(15 if self.args.smoke else 40)
            self._guard("cross_restore", self.cross_restore, rng)
        finally:
            self.cross_done.set()
        self._guard("restore", self.restore_mid, "A", rng)
        self._guard("actions", self.actions_round, rng, first)
        self._guard("actions", self.actions_round, rng, second)
        if not self.args.smoke:
            self._guard("restore", self.restore_mid, "B", rng)
            self._guard("actions", self.actions_round, rng, first)

    # --- the run -----------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.setup()
        try:
            with ThreadPoolExecutor(len(VENDORS) + 2) as pool:
                futures = [pool.submit(self.worker, v, self.args.seed * 31 + i) for i, v in enumerate(VENDORS)]
                futures += [pool.submit(self.late_worker), pool.submit(self.ops_worker)]
                for f in futures:
                    f.result()
            soak_seconds = time.monotonic() - t0
            settle = self.settle()
            result = self.compare(settle)
            result["seconds"] = {"soak": round(soak_seconds, 1), "total": round(time.monotonic() - t0, 1)}
            return result
        finally:
            self.teardown()

    def settle(self) -> dict[str, list[dict[str, Any]]]:
        """No faults, every held request delivered; each desk waits out the in-flight time its journal
        names, reconciles (twice: allocation may still be running the first time) and syncs."""
        self.sandbox.clear_faults()
        if not self.relay.wait_idle(max(self.late_range) + 120):
            self.count("settle:held_requests_still_pending")
        for desk in self.desks.values():
            desk.run("reconcile", "--json")
        now = time.time()
        bounds = [r["in_flight_until"] for d in self.desks.values()
                  for r in d.query("SELECT in_flight_until FROM journal WHERE in_flight_until IS NOT NULL AND state IN "
                                   "('PENDING', 'UNCERTAIN')")]
        latest = max((_epoch(b) for b in bounds), default=now)
        if latest > now:
            self.count("settle:waited_for_in_flight_s", int(min(latest - now, 300)) + 2)
            time.sleep(min(latest - now, 300) + 2)
        out: dict[str, list[dict[str, Any]]] = {}
        for name, desk in self.desks.items():
            desk.run("reconcile", "--json")
            time.sleep(max(1.0, self.args.allocation_delay * 3))
            out[name] = desk.run("reconcile", "--json").json() or []
        for desk in self.desks.values():  # a sync files what it finds under this desk's handles
            run = desk.run("sync", "--json")
            self.count(f"settle:sync_rc:{run.rc}")
        return out

    # --- the count -----------------------------------------------------------------------------------
    def compare(self, settle: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ledger = self.sandbox.ledger()
        rows = [dict(r, vendor=v) for v in VENDORS for r in ledger.get(v, []) if r["kind"] == "order"]
        journals = {name: desk.journal() for name, desk in self.desks.items()}
        histories = {name: desk.journal_events() for name, desk in self.desks.items()}
        entries = [dict(e, desk=name, history=histories[name].get(e["id"], []))
                   for name, js in journals.items() for e in js if e["kind"] == "order"]

        def handle(e: dict[str, Any]) -> str:
            return e.get("handle") or e["reference"]

        # Attribution by handle: an entry (or its copy in the other desk's file, after a restore) belongs
        # to the intent of the ask that made it.
        intents_of: dict[tuple[str, str], set[int]] = {}
        asks_of: dict[tuple[str, str], list[Ask]] = {}
        for a in self.asks:
            for h in a.handles:
                intents_of.setdefault((a.vendor, h), set()).add(a.intent)
                asks_of.setdefault((a.vendor, h), []).append(a)
        said_not_placed = {(a.vendor, h) for a in self.asks if a.told_not_placed for h in a.handles}
        went_failed = {(e["vendor"], handle(e)) for e in entries if any(ev["to_state"] == "FAILED" for ev in e["history"])}

        by_handle: dict[tuple[str, str], list[dict]] = {}
        by_order: dict[tuple[str, str], list[dict]] = {}
        by_candidate: dict[tuple[str, str], list[dict]] = {}
        for e in entries:
            by_handle.setdefault((e["vendor"], handle(e)), []).append(e)
            if e.get("order_id"):
                by_order.setdefault((e["vendor"], e["order_id"]), []).append(e)
            for cand in filter(None, (e.get("candidates") or "").split(",")):
                by_candidate.setdefault((e["vendor"], cand.strip()), []).append(e)

        def evidence(row: dict[str, Any], claim: list[dict[str, Any]]) -> dict[str, Any]:
            keys = {(e["vendor"], handle(e)) for e in claim} | ({(row["vendor"], row["handle"])} if row["handle"] else set())
            return {"vendor_order": row,
                    "entries": [{"desk": e["desk"], "reference": e["reference"], "handle": handle(e), "state": e["state"],
                                 "order_id": e.get("order_id"), "history": e["history"]} for e in claim],
                    "asks": [{k: v for k, v in asdict(a).items() if k in (
                        "n", "intent", "desk", "scenario", "fault", "retype", "rc", "killed", "state", "said",
                        "told_not_placed", "reference", "seconds", "reconciled")}
                        for k in keys for a in asks_of.get(k, [])],
                    "late": [ev for ev in self.relay.held if (ev["vendor"], ev["handle"]) in keys]}

        lost, lost_candidate_only, several, failed_at_desk, told_failed = [], 0, [], [], []
        rows_per_intent: Counter[int] = Counter()
        rows_of_intent: dict[int, list[dict]] = {}
        unattributed = 0
        for row in rows:
            owners = by_handle.get((row["vendor"], row["handle"]), []) if row["handle"] else []
            by_id = by_order.get((row["vendor"], row["order_id"]), [])
            claim = owners + [e for e in by_id if e not in owners]
            if not claim:
                lost.append(row)
                if by_candidate.get((row["vendor"], row["order_id"])):
                    lost_candidate_only += 1
                continue
            keys = {(e["vendor"], handle(e)) for e in claim}
            intents = set().union(*(intents_of.get(k, set()) for k in keys))
            if len(intents) > 1:
                several.append(evidence(row, claim))
            own = intents_of.get((row["vendor"], row["handle"]), set()) if row["handle"] else set()
            intent = min(own) if own else (min(intents) if intents else None)
            if intent is None:
                unattributed += 1
            else:
                rows_per_intent[intent] += 1
                rows_of_intent.setdefault(intent, []).append(row)
            if claim[0]["state"] == "FAILED":
                failed_at_desk.append(row)
            if keys & (went_failed | said_not_placed):
                told_failed.append(evidence(row, claim))
        duplicated = sum(n - 1 for n in rows_per_intent.values() if n > 1)

        # Left for the agent: what the settling reconcile flags, and whatever the journals still hold open.
        awaiting = {(name, e["reference"]) for name, items in settle.items() for e in items
                    if e.get("awaiting_agent") or e.get("status") == "UNCERTAIN"}
        awaiting |= {(e["desk"], e["reference"]) for e in entries if e["state"] in OPEN_STATES}
        # Orders a desk shows as done under an order id whose vendor order carries another handle (one
        # reference typed at two desks, or a copied entry, and one desk takes the other's order as its own).
        row_of_order = {(r["vendor"], r["order_id"]): r for r in rows}
        others = {(e["vendor"], handle(e), e["order_id"]) for e in entries
                  if e["state"] == "COMPLETED" and e.get("order_id")
                  and (r := row_of_order.get((e["vendor"], e["order_id"]))) is not None
                  and r["handle"] and r["handle"] != handle(e)}
        misfiled_orders = {(s["vendor_order"]["vendor"], s["vendor_order"]["order_id"]) for s in several} | \
            {(v, o) for v, _, o in others}
        told_placed_without_entry = [a for a in self.asks if a.rc == 0 and not a.refs]

        late = self.late_summary(rows, by_handle)
        actions = self.action_summary()

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
                "told_failed_but_placed": sum(1 for t in told_failed if t["vendor_order"]["vendor"] == v),
                "late_delivered": late["per_vendor"].get(v, {}).get("delivered_after_the_desk_gave_up", 0),
            }
        ok = (len(rows) <= asked and duplicated == 0 and not lost and not told_failed
              and actions["sent_twice"] == 0 and late["delivered_late"] > 0 and not misfiled_orders)
        result = {
            "asked": asked,
            "intents": intents,
            "placed": len(rows),
            "duplicated": duplicated,
            "lost": len(lost),
            "late_delivered": late["delivered_late"],
            "told_failed_but_placed": len(told_failed),
            "actions_sent_twice": actions["sent_twice"],
            "actions_two_unconnected_desks_both_sent": actions["two_unconnected_desks_both_sent"],
            "actions_done_twice": actions["done_twice"],
            "misfiled": len(misfiled_orders),
            "awaiting_agent": len(awaiting),
            "placed_at_most_asked": len(rows) <= asked,
            "ok": ok,
            "ok_means": "placed <= asked, duplicated == lost == told_failed_but_placed == actions_sent_twice == "
                        "misfiled == 0, and late_delivered > 0",
            "details": {
                "per_vendor": per_vendor,
                "per_scenario": {s: {"asked": sum(1 for a in self.asks if a.scenario == s),
                                     "duplicated": sum(n - 1 for i, n in rows_per_intent.items() if n > 1 and any(
                                         a.intent == i and a.scenario == s for a in self.asks))}
                                 for s in ("vendor", "late", "cross_restore")},
                "lost_but_listed_as_candidate": lost_candidate_only,
                "vendor_orders_claimed_by_several_intents": len(several),
                "vendor_orders_the_desk_calls_failed": len(failed_at_desk),
                "completed_entries_holding_another_entrys_order": len(others),
                "asks_told_placed_without_an_entry_of_their_own": len(told_placed_without_entry),
                "vendor_orders_without_an_ask": unattributed,
                "intents_without_any_vendor_order": intents - len(rows_per_intent),
                "journal_states": {n: dict(Counter(e["state"] for e in entries if e["desk"] == n)) for n in self.desks},
                "asks_killed": sum(a.killed for a in self.asks),
                "asks_retyped": sum(a.retype for a in self.asks),
                "asks_told_not_placed": sum(a.told_not_placed for a in self.asks),
                "asks_with_two_desks_same_reference": sum(
                    1 for a in self.asks if a.reference and not a.retype
                    and sum(1 for b in self.asks if b.reference == a.reference and not b.retype) > 1),
                "exit_codes": dict(Counter(str(a.rc) for a in self.asks)),
                "faults": dict(Counter(a.fault if a.fault and not a.fault.startswith("late/") else (a.fault and "late")
                                       or "none" for a in self.asks if not a.retype)),
                "late": late,
                "restores": self.restores,
                "desk_ids_at_start": self.desk_ids_at_start,
                "desk_ids_at_end": {n: d.desk_id() for n, d in self.desks.items()},
                "actions": actions,
                **dict(self.counters),
            },
            "examples": {
                "lost": lost[:5],
                "duplicated": [
                    {"intent": i, "asks": [asdict(a) for a in self.asks if a.intent == i],
                     "vendor_orders": rows_of_intent.get(i, [])}
                    for i, n in list(rows_per_intent.items()) if n > 1][:5],
                "told_failed_but_placed": told_failed[:6],
                "claimed_by_several_intents": several[:4],
                "completed_entries_holding_another_entrys_order": sorted(others)[:5],
                "told_placed_without_an_entry_of_their_own": [asdict(a) for a in told_placed_without_entry[:4]],
                "actions_sent_twice": [i for i in actions["intents"] if i["done_by_vendor"] > 1 or (
                    i["mode"] == "same_desk" and i["requests_received"] > 1)][:6],
                "actions_two_unconnected_desks_both_sent": [i for i in actions["intents"] if i["mode"] != "same_desk"
                                                            and i["requests_received"] > 1][:6],
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
                "late_scenarios": self.late_count,
                "late_hold_s": list(self.late_range),
                "desk_http_timeout_s": CLIENT_TIMEOUT_S,
                "smoke": bool(self.args.smoke),
            },
        }
        return result

    def late_summary(self, rows: list[dict[str, Any]], by_handle: dict) -> dict[str, Any]:
        placed = {(r["vendor"], r["handle"]): r for r in rows if r["handle"]}
        events = []
        for ev in self.relay.held:
            row = placed.get((ev["vendor"], ev["handle"]))
            entries = by_handle.get((ev["vendor"], ev["handle"]), [])
            events.append({**ev, "vendor_order": row["order_id"] if row else None,
                           "entry_states": [f"{e['desk']}:{e['state']}" for e in entries],
                           "entry_went_through": sorted({h["to_state"] for e in entries for h in e["history"]})})
        per_vendor: dict[str, dict[str, int]] = {}
        for ev in events:
            pv = per_vendor.setdefault(ev["vendor"], Counter())
            pv["held"] += 1
            pv["delivered_after_the_desk_gave_up" if ev["desk_gone"] else "answered_to_a_waiting_desk"] += 1
        return {"delivered_late": sum(1 for ev in events if ev["desk_gone"]), "held": len(events),
                "per_vendor": {v: dict(c) for v, c in per_vendor.items()}, "events": events}

    def action_summary(self) -> dict[str, Any]:
        refs = {}
        for d in self.desks.values():
            for r in d.query("SELECT iccid, vendor_ref FROM esims WHERE vendor = 'roumio' AND vendor_ref IS NOT NULL"):
                refs[r["vendor_ref"]] = r["iccid"]
        received: dict[tuple[str, str], list[dict]] = {}
        rate_limited = 0
        for rec in self.relay.actions:
            if rec["status"] == 429:  # the sandbox's rate limit answers before the vendor sees it
                rate_limited += 1
                continue
            iccid = rec["iccid"] or refs.get(rec["esimTranNo"] or "", rec["esimTranNo"])
            received.setdefault((iccid, rec["endpoint"]), []).append(rec)
        done: Counter[tuple[str, str]] = Counter()
        for a in (self.sandbox.state().get("roumio", {}) or {}).get("actions", []):
            done[(a["iccid"], a["action"])] += 1
        name = {"cancel": "cancel", "suspend": "suspend", "resume": "unsuspend", "revoke": "revoke"}
        out, seen = [], set()
        for i in self.action_intents:
            key = (i.iccid, ACTION_ENDPOINT[i.action])
            seen.add(key)
            reqs = received.get(key, [])
            out.append({**asdict(i), "requests_received": len(reqs), "done_by_vendor": done[(i.iccid, name[i.action])],
                        "requests": [{k: r[k] for k in ("desk", "at", "status", "answer")} for r in reqs]})
        modes: dict[str, Counter] = {}
        for o in out:
            m = modes.setdefault(f"{o['action']}/{o['mode']}", Counter())
            m["intents"] += 1
            m["sent_twice"] += o["requests_received"] > 1
            m["done_twice"] += o["done_by_vendor"] > 1
            m["sent_none"] += o["requests_received"] == 0
        # What one desk's store can stop (issue 26, case 5: one unfinished action per eSIM, two processes on one
        # data folder) must never reach the vendor twice, and nothing may be done twice anywhere. Two desks with
        # data folders of their own share no store (coordinating them is team mode's job, not played here):
        # both may send, and the vendor refuses the second (the status changed); counted apart.
        own_store = [o for o in out if o["mode"] == "same_desk"]
        unconnected = [o for o in out if o["mode"] != "same_desk"]
        return {"sent_twice": sum(1 for o in own_store if o["requests_received"] > 1)
                + sum(1 for o in out if o["done_by_vendor"] > 1),
                "done_twice": sum(1 for o in out if o["done_by_vendor"] > 1),
                "two_unconnected_desks_both_sent": sum(1 for o in unconnected if o["requests_received"] > 1),
                "intents_count": len(out), "per_kind": {k: dict(v) for k, v in modes.items()},
                "requests_outside_the_intents": sum(len(v) for k, v in received.items() if k not in seen),
                "rate_limited_requests": rate_limited, "intents": out}


def _epoch(text: str) -> float:
    from datetime import UTC, datetime
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return 0.0
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--asks", type=int, default=300, help="order commands of the vendor workers (default 300)")
    p.add_argument("--late", type=int, help="late-delivery scenarios (default 24; 3 with --smoke)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--allocation-delay", type=float, default=0.3, help="sandbox seconds until profiles are ready")
    p.add_argument("--smoke", action="store_true", help="~30 asks, results in soak_orders_smoke.json")
    p.add_argument("--keep", action="store_true", help="keep the desks' data folders (path on stderr)")
    p.add_argument("--trace", type=Path, metavar="FILE", help="also write every ask (what was run, what came of it)")
    args = p.parse_args(argv)
    if args.smoke:
        args.asks = min(args.asks, 24)
    soak = Soak(args)
    result = soak.run()
    if args.trace:
        args.trace.write_text(json.dumps([asdict(a) for a in soak.asks], indent=1) + "\n")
    save("soak_orders_smoke" if args.smoke else "soak_orders", result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
