"""Issue 11, item 5: Ctrl+C and a closed pipe anywhere in the CLI leave no traceback and no half-written
rows. A real `esimdesk sync` process, interrupted while it writes pages of orders; `esimdesk plans` read by
`head -1`."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.faults import Fault
from tests.services.helpers import cli, cli_env

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def count(path: Path, query: str) -> int:
    try:
        conn = read_only(path)
    except sqlite3.Error:  # not created yet
        return 0
    try:
        return conn.execute(query).fetchone()[0]
    except sqlite3.Error:  # its schema not yet written
        return 0
    finally:
        conn.close()


@pytest.fixture
def slow_sandbox():
    """Enough data and latency that a sync runs several seconds, paging through orders as it goes."""
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3, plans=3000, esims=3000)) as server:
        # One vendor much slower: the sync is still at work when Roumio's orders appear, however long a
        # loaded machine takes to notice them (it finished first twice, and Ctrl+C came after the end):
        # MicroESIM's balance, its catalog's first page, then the other five read ahead (four at once), 15 s
        # each (under its 20 s timeout: no retries): a minute at least.
        for name, faults in server.sandbox.faults.items():
            faults.add(Fault("latency", endpoint="*", times=None, seconds=15.0 if name == "microesim" else 0.15))
        yield server


def in_a_terminal() -> None:
    """A terminal's foreground command gets SIGINT at its default; a test run in a shell script's background
    job (as CI is, at times) would pass on "ignored", and Ctrl+C could not be tried (it failed so twice)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def started_in_the_background() -> None:
    """As a shell script's background job starts a program: SIGINT ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def interrupt_when_roumio_writes(proc: subprocess.Popen, data: Path) -> tuple[str, str]:
    try:
        deadline = time.monotonic() + 60
        # Mid-way: Roumio's orders are being written page by page, other vendors still at work.
        while count(data, "SELECT count(*) FROM orders WHERE vendor = 'roumio'") == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sync never reached Roumio's orders"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


@posix_only
def test_the_windows_sync_child_takes_its_cancel_even_when_started_with_sigint_ignored(slow_sandbox, tmp_path):
    """The window cancels its child with SIGINT: a window started from a background job passes "ignored" on,
    and the child must take the cancel all the same (services/sync_process.py listen_for_cancel)."""
    home = tmp_path / "home"
    proc = subprocess.Popen(cli("sync", "--json", "--progress-lines"), env=cli_env(slow_sandbox, home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=started_in_the_background)
    out, err = interrupt_when_roumio_writes(proc, home / "esimdesk.sqlite3")
    assert proc.returncode == 130, (out, err[-2000:])


@posix_only
def test_ctrl_c_during_sync_is_one_line_exit_130_and_whole_pages_only(slow_sandbox, tmp_path):
    home = tmp_path / "home"
    data = home / "esimdesk.sqlite3"
    proc = subprocess.Popen(cli("sync"), env=cli_env(slow_sandbox, home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=in_a_terminal)
    out, err = interrupt_when_roumio_writes(proc, data)
    assert proc.returncode == 130, (out, err)
    assert [line for line in err.splitlines() if line.strip()] == ["esimdesk sync: interrupted"]
    assert "Traceback" not in err + out
    with read_only(data) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # Whole pages: every order that was written has its lines (they are written in the same transaction).
        assert conn.execute("SELECT count(*) FROM orders o WHERE NOT EXISTS "
                            "(SELECT 1 FROM order_lines l WHERE l.order_key = o.id)").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM orders WHERE vendor = 'roumio'").fetchone()[0] > 0
        # No sync run left open: each is finished, the interrupted ones as not ok, "cancelled".
        runs = conn.execute("SELECT vendor, finished_at, ok, error FROM sync_runs").fetchall()
    conn.close()
    assert runs and all(finished for _, finished, _, _ in runs), runs
    assert any(error == "cancelled" and not ok for _, _, ok, error in runs), runs


@posix_only
@pytest.mark.parametrize("vendor", [None, "roamify"])  # a pipe buffer's worth of rows, and a few rows
def test_plans_read_by_head_is_no_traceback(sandbox, tmp_path, vendor):
    home = tmp_path / "home"
    env = cli_env(sandbox, home)
    assert subprocess.run(cli("sync"), env=env, capture_output=True, timeout=120).returncode == 0
    command = " ".join(cli("plans", *(["--vendor", vendor] if vendor else [])))
    res = subprocess.run(["bash", "-c", f"{command} 2>{tmp_path / 'err'} | head -1; echo ${{PIPESTATUS[0]}}"],
                         env=env, capture_output=True, text=True, timeout=120)
    first, status = res.stdout.splitlines()
    assert first.startswith("vendor")
    err = (tmp_path / "err").read_text()
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert status == "0"


async def test_a_cancel_while_the_run_row_is_written_leaves_no_run_open(tmp_path):
    """Ctrl+C lands while the worker thread writes the sync run's row (a thread cannot be stopped): the row
    is written anyway, so it must be marked finished, never left open."""
    import asyncio
    import threading

    from esimdesk.domain import VendorConfig
    from esimdesk.services.sync import sync_vendor
    from tests.services.helpers import open_store

    store = open_store(tmp_path)
    writing, go_on = threading.Event(), threading.Event()
    start = store.start_sync_run

    def slow_start(vendor):
        writing.set()
        go_on.wait(10)
        return start(vendor)

    store.start_sync_run = slow_start

    def no_adapter(cfg):
        raise AssertionError("the cancelled sync must not reach the vendor")

    task = asyncio.ensure_future(sync_vendor(store, VendorConfig("roumio", "http://127.0.0.1:9", {"KEY": "k"}),
                                             no_adapter))
    while not writing.is_set():
        await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.sleep(0.05)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)  # the thread's write has ended by now either way
    runs = store.conn.execute("SELECT finished_at, ok, error FROM sync_runs").fetchall()
    store.close()
    assert len(runs) == 1 and runs[0][0] is not None and tuple(runs[0][1:]) == (0, "cancelled"), runs


def test_ctrl_c_before_the_command_starts_is_one_line_not_a_traceback(monkeypatch, capsys):
    """Anywhere in the CLI: also while the arguments are read, before a command's own handler is in place."""
    from esimdesk.cli import main as cli_main

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    assert cli_main.main(["plans"]) == 130
    assert capsys.readouterr().err == "esimdesk: interrupted\n"


@posix_only
def test_a_reader_gone_before_the_output_is_flushed_is_no_traceback(sandbox, tmp_path):
    """A few rows fit in stdout's buffer and go out at exit: the pipe's reader has already gone by then."""
    home = tmp_path / "home"
    env = cli_env(sandbox, home)
    assert subprocess.run(cli("sync", "--vendor", "roamify"), env=env, capture_output=True,
                          timeout=120).returncode == 0
    env.pop("PYTHONUNBUFFERED")  # buffered, as in a user's shell: the rows go out at the end
    proc = subprocess.Popen(cli("plans", "--vendor", "roamify"), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # before the program has written anything
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0
