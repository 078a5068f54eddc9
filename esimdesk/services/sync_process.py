"""The window's sync, run as ``esimdesk sync`` in a child process.

A sync decodes vendors' answers (Roumio's whole catalog is one 50,000-plan JSON document) and writes
hundreds of thousands of rows. In the window's process that work holds Python's GIL — ``json.loads``
of one big answer for a third of a second at a time — and the window stops painting, whatever thread
it runs on. In a child process it shares nothing with the window but the data file (SQLite, WAL:
the window reads while the child writes) and a pipe of progress lines.

The child is the command-line sync (the same code, the same contract), told which accounts to use:
their addresses and credentials go to it in its environment (never on its command line, which other
users can list), exactly as a headless desk passes them. Cancelling the window's sync interrupts the
child as Ctrl+C would (its runs are closed as cancelled) and kills its process group if it has not ended
within STOP_GRACE_S: a child starved of CPU (it runs below the window's priority, and on a busy 2-core desk
got so little that a Cancel once took over 15 s) cannot hold the window's Cancel up. Either way the cache
keeps whole batches only: each vendor's batch is a transaction, and SQLite rolls back one cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable

from esimdesk.domain import VENDORS, VendorConfig, vendor_title
from esimdesk.services.sync import SyncProgress, VendorSyncResult, despite_cancels
from esimdesk.services.sync_results import RefreshSummary, WalkSummary

log = logging.getLogger("esimdesk.sync")

STOP_GRACE_S = 2.0  # after an interrupt, how long the child may take to close its runs before it is killed
DRAIN_S = 10.0  # after it ended, how long its pipes may take to reach their end


def child_command() -> list[str]:
    """How to start this program again: the frozen bundle's executable, or this Python with ``-m esimdesk``."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "esimdesk"]


# The window's sync child runs below the window's priority: on a 2-core desk, a sync at full speed (and a
# vendor simulator, in the demo) otherwise takes the CPU the window needs to paint, and every repaint during a
# sync took 100-190 ms instead of 25-45 (bench/views.py). The sync loses little: it mostly waits on vendors.
SYNC_CHILD_NICENESS = 10


def yield_cpu() -> int:
    """Lower this process's priority (the window's sync child calls it first); the niceness after."""
    if not hasattr(os, "nice"):
        return 0  # Windows: the window starts the child with BELOW_NORMAL_PRIORITY_CLASS instead
    try:
        niceness = os.nice(SYNC_CHILD_NICENESS)
    except OSError:  # not allowed here: the sync runs all the same
        return os.nice(0)
    _nice_autogroup()
    return niceness


def listen_for_cancel() -> None:
    """The window cancels its sync child with SIGINT (see _stop). A process started with SIGINT ignored keeps it
    ignored (Python installs its handler only where the signal was not ignored): a window started from a shell
    script's background job (``esimdesk --demo &``) passes that on, and each Cancel then waited for the kill
    and left the child's runs open. The child takes SIGINT as Ctrl+C, whatever it inherited."""
    if hasattr(signal, "SIGINT"):
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _nice_autogroup() -> None:
    """Linux with autogroup scheduling (most desktops): the child runs in a session of its own (so a cancel
    stops its whole group), and such a group is weighed against the window's as a group; a process's own
    niceness counts only inside its group. Measured at the bench: the "niced" child still took half the CPU
    and the window's thread waited, runnable, 60-140 ms at a time. The group's niceness is lowered too
    (allowed for one's own group; absent or refused elsewhere: nothing to do)."""
    try:
        with open("/proc/self/autogroup", "w") as autogroup:
            autogroup.write(str(SYNC_CHILD_NICENESS))
    except OSError:
        pass


def child_env(home, accounts: list[VendorConfig], ecb_url: str | None = None) -> dict[str, str]:
    # The child syncs exactly the window's accounts: no vendor variable of this environment goes through
    # (an account the window has not enabled stays out); every other setting does (team store, log level).
    accounts_vars = tuple(f"ESIMDESK_{v.upper()}_" for v in VENDORS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(accounts_vars)}
    env["ESIMDESK_HOME"] = str(home)  # the child's own data folder is this desk's (demo: the demo folder)
    for cfg in accounts:
        prefix = f"ESIMDESK_{cfg.vendor.upper()}_"
        env[prefix + "URL"] = cfg.base_url
        for name, value in cfg.secrets.items():
            env[prefix + name] = value
    if ecb_url:  # where the window reads the ECB's rates (the demo: its sandbox's), so the child does too
        env["ESIMDESK_ECB_URL"] = ecb_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def sync_in_child(home, accounts: list[VendorConfig], *,
                        progress: Callable[[SyncProgress], None] | None = None,
                        finished: Callable[[VendorSyncResult], None] | None = None,
                        notice: Callable[[str], None] | None = None,
                        ecb_url: str | None = None) -> list[VendorSyncResult]:
    """Sync ``accounts`` into the data folder ``home`` in a child process; results in the accounts' order.
    ``notice(sentence)``: what the sync's reconcile found that the agent must hear (an order told failed
    that was placed)."""
    if not accounts:
        return []
    command = [*child_command(), "sync", "--json", "--progress-lines", "--only",
               ",".join(c.vendor for c in accounts)]
    proc = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=child_env(home, accounts, ecb_url),
        # Its own process group: Ctrl+C in a terminal that started the window is the window's to handle.
        start_new_session=os.name != "nt",
        # Below the window's priority (POSIX: the child lowers its own, yield_cpu): see yield_cpu.
        **({"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS} if os.name == "nt" else {}))
    done: dict[str, VendorSyncResult] = {}
    words: list[str] = []

    async def read_stderr() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith("@progress "):
                p = json.loads(line[len("@progress "):])
                if progress is not None:
                    progress(SyncProgress(p["vendor"], p["stage"], p["done"], p["total"], p.get("due")))
            elif line.startswith("@notice "):
                if notice is not None:
                    notice(json.loads(line[len("@notice "):]))
            elif line.startswith("@done "):
                result = _result(json.loads(line[len("@done "):]))
                done[result.vendor] = result
                if finished is not None:
                    finished(result)
            elif line.strip():
                words.append(line)

    reader = asyncio.ensure_future(read_stderr())
    try:
        stdout, _ = await asyncio.gather(proc.stdout.read(), reader)  # type: ignore[union-attr]
        await proc.wait()
    except asyncio.CancelledError:
        reader.cancel()
        # A second cancel (the window closing) must not leave it half-stopped; whatever stopping it met,
        # the cancellation goes on.
        with contextlib.suppress(Exception):
            await despite_cancels(_stop_and_drain(proc))
        raise
    for line in words:
        log.info("sync: %s", line)
    results = {r.vendor: r for r in done.values()}
    try:
        for item in json.loads(stdout or b"[]"):
            results.setdefault(item["vendor"], _result(item))
    except ValueError:
        pass  # the child died before printing its results: the vendors it did not finish are failures below
    out = []
    for cfg in accounts:
        r = results.pop(cfg.vendor, None)
        if r is None:
            why = words[-1] if words else f"the sync process ended with status {proc.returncode}"
            r = VendorSyncResult(cfg.vendor, ok=False, error=why, problem=f"{vendor_title(cfg.vendor)}: the sync failed: {why}")
        out.append(r)
    return out + list(results.values())  # what the sync did besides the vendors (e.g. the team store)


def _result(d: dict) -> VendorSyncResult:
    return VendorSyncResult(d["vendor"], ok=d["ok"], plans=d.get("plans", 0), orders=d.get("orders", 0),
                            esims=d.get("esims", 0), error=d.get("error"), seconds=d.get("seconds", 0.0),
                            problem=d.get("problem"), reach=d.get("reach"),
                            refresh=RefreshSummary.from_json(d["refresh"]) if d.get("refresh") else None,
                            walk=WalkSummary.from_json(d["walk"]) if d.get("walk") else None)


async def _stop_and_drain(proc: asyncio.subprocess.Process) -> None:
    """Stop the child, then read its pipes to their end: the pipes and the process transport close here,
    on this loop, not later when garbage collection finds them open (with the loop that owned their
    notifiers already closed: the test suite once crashed in Qt's event processing that way)."""
    await _stop(proc)
    try:
        await asyncio.wait_for(proc.communicate(), DRAIN_S)
    except (TimeoutError, ValueError, OSError):
        log.warning("the stopped sync's output could not be read to its end")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Interrupt the child as Ctrl+C would (it closes its runs as cancelled), then kill it if it has not ended
    within STOP_GRACE_S: killing needs no CPU time of the child's, so a starved child is stopped as promptly
    as an idle one. POSIX: its whole process group (its own session), so nothing it started keeps the pipes."""
    if proc.returncode is not None:
        return
    try:
        if os.name == "nt":
            proc.terminate()  # TerminateProcess: at once
        else:
            proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
    except ProcessLookupError:
        return
    except TimeoutError:
        log.info("the sync process did not end %.0f s after the interrupt: killed", STOP_GRACE_S)
        _kill(proc)
        await proc.wait()


def _kill(proc: asyncio.subprocess.Process) -> None:
    if os.name != "nt":
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: the group's id is the child's pid
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
