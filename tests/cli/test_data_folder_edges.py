"""The data folder's edges through the real CLI (issue 26, cases 2, 9, 10, 11, 12): each command runs as its
own process on the demo's sandbox (real HTTP on 127.0.0.1) with ESIMDESK_HOME set to a temporary folder.

- a restore keeps what was made after the backup (a paid MicroESIM order: MicroESIM lists no orders, so
  nothing else could bring it back) and this desk's identity; a file with only a journal and orders
  table is refused naming what it lacks;
- a read-only backups folder: ``backup`` says so in a sentence, ``sync`` warns and goes on;
- ESIMDESK_HOME pointing at a file, or read-only with ``--demo``: one sentence each, never a traceback;
- a disk that fills while an order is recorded: "nothing was sent" is true, no PENDING entry is left.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def esimdesk(home: Path, *args: str, prefix: tuple[str, ...] = (), **popen) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env.update(ESIMDESK_HOME=str(home), ESIMDESK_SANDBOX_ALLOCATION="0.3")
    return subprocess.run([*prefix, sys.executable, "-m", "esimdesk", *args], capture_output=True, text=True,
                          timeout=180, env=env, cwd=str(REPO), **popen)


def one_sentence(res: subprocess.CompletedProcess, *needles: str) -> str:
    assert res.returncode == 1, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def unprivileged() -> tuple[str, ...]:
    """Root ignores file modes: a command then runs as root without capabilities, for whom they hold."""
    if os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot make a read-only folder hold")
    return ("setpriv", "--bounding-set=-all", "--inh-caps=-all")


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def demo(home):
    """A synced demo desk and a MicroESIM plan id from its catalog."""
    res = esimdesk(home, "--demo", "sync")
    assert res.returncode == 0, res.stderr
    plans = json.loads(esimdesk(home, "--demo", "plans", "--vendor", "microesim", "--json").stdout)
    return home / "demo" / "esimdesk.sqlite3", plans[0]["plan_id"]


def journal(data: Path) -> dict[str, str]:
    conn = sqlite3.connect(data)
    try:
        return dict(conn.execute("SELECT reference, state FROM journal"))
    finally:
        conn.close()


# --- case 10 (and 2): restore loses nothing, the desk stays itself --------------------------------
def test_restore_keeps_a_paid_microesim_order_made_after_the_backup(home, demo):
    data, plan = demo
    backup = Path(esimdesk(home, "--demo", "backup").stdout.strip())
    conn = sqlite3.connect(data)
    desk_id = conn.execute("SELECT value FROM meta WHERE key = 'desk_id'").fetchone()[0]
    conn.close()
    res = esimdesk(home, "--demo", "order", "--vendor", "microesim", "--plan", plan, "--reference", "paid-after",
                   "--json")
    assert res.returncode == 0, res.stderr
    placed = json.loads(res.stdout)
    assert placed["status"] == "COMPLETED" and placed["esims"]

    res = esimdesk(home, "--demo", "restore", str(backup))

    assert res.returncode == 0, res.stderr
    assert "kept 1 order, 1 eSIM and 1 journal entry made after the backup" in res.stdout, res.stdout
    assert f"this desk keeps its own identity (desk id {desk_id})" in res.stdout
    orders = json.loads(esimdesk(home, "--demo", "orders", "--json").stdout)
    mine = [o for o in orders if o["reference"] == "paid-after"]
    assert [(o["order_id"], o["status"]) for o in mine] == [(placed["order_id"], "COMPLETED")]
    assert journal(data)["paid-after"] == "COMPLETED"
    esims = json.loads(esimdesk(home, "--demo", "esims", "--json").stdout)
    assert placed["esims"][0]["iccid"] in {e["iccid"] for e in esims}


def test_restore_json_says_what_was_kept_and_whose_identity(home, demo):
    data, plan = demo
    backup = Path(esimdesk(home, "--demo", "backup").stdout.strip())
    assert esimdesk(home, "--demo", "order", "--vendor", "microesim", "--plan", plan).returncode == 0
    res = esimdesk(home, "--demo", "restore", str(backup), "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["kept_from_previous"]["orders"] == 1 and doc["kept_from_previous"]["journal entries"] == 1
    assert doc["desk_id_from"] == "previous"


def test_a_file_with_only_journal_and_orders_tables_is_refused(home, demo, tmp_path):
    data, _ = demo
    before = journal(data)
    fake = tmp_path / "fake.sqlite3"
    conn = sqlite3.connect(fake)
    conn.execute("CREATE TABLE journal (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    line = one_sentence(esimdesk(home, "--demo", "restore", str(fake)), str(fake), "lacks what schema 3 has",
                        "table meta", "nothing was changed")
    assert "table esims" in line
    assert journal(data) == before
    assert esimdesk(home, "--demo", "orders").returncode == 0  # the desk still works


# --- case 9: a read-only backups folder -----------------------------------------------------------
@pytest.fixture
def read_only_backups(home):
    """The demo's backups folder on a read-only mount (a chmod would not stop root; a mount does)."""
    folder = home / "demo" / "backups"
    folder.mkdir(parents=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a read-only folder")
    made = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {made.stderr!r}")
    try:
        ro = subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {ro.stderr!r}")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_read_only_backups_folder_backup_says_so_and_sync_goes_on(home, read_only_backups):
    res = esimdesk(home, "--demo", "sync")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "no backup after this sync" in res.stderr and "read-only" in res.stderr
    assert "Roumio" in res.stdout  # the sync's own table still printed
    one_sentence(esimdesk(home, "--demo", "backup"), "cannot write", str(read_only_backups), "read-only")
    res = esimdesk(home, "--demo", "sync")  # every sync, not only the first
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr


# --- case 11: ESIMDESK_HOME that cannot be a data folder ------------------------------------------
def test_esimdesk_home_pointing_at_a_file_is_one_sentence_for_every_command(tmp_path):
    afile = tmp_path / "not-a-folder"
    afile.write_text("someone's notes\n")
    for args in (["orders"], ["esims", "--json"], ["plans"], ["sync"], ["backup"], ["restore", str(afile)],
                 ["--demo", "orders"], ["balance"]):
        one_sentence(esimdesk(afile, *args), str(afile), "is a file, not a folder", "ESIMDESK_HOME")
    assert afile.read_text() == "someone's notes\n"


def test_read_only_esimdesk_home_with_demo_is_one_sentence(home):
    prefix = unprivileged()
    home.chmod(0o555)
    try:
        res = esimdesk(home, "--demo", "orders", prefix=prefix)
    finally:
        home.chmod(0o755)
    one_sentence(res, f"cannot create the data folder {home / 'demo'}", "read-only", "ESIMDESK_HOME")


# --- case 12: the disk fills while the order is recorded ------------------------------------------
def test_an_order_the_disk_cannot_hold_leaves_no_pending_entry(home, demo):
    """The journal's durable write commits into the write-ahead log, then copies it into the data file. A
    file-size limit below the data file's size (what a full disk does to a file that must take new pages)
    lets the commit through and fails the copy: the entry must not stay behind a "nothing was sent"."""
    data, plan = demo
    limit = data.stat().st_size // 2
    assert limit > 256 * 1024  # the log of one entry fits below it; pages of the data file do not

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    res = esimdesk(home, "--demo", "order", "--vendor", "microesim", "--plan", plan, "--reference", "no-room",
                   preexec_fn=small_disk)

    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert "nothing was sent to MicroESIM" in res.stderr
    assert "saved in the write-ahead log" not in res.stderr  # taken back: no longer true
    orders = json.loads(esimdesk(home, "--demo", "orders", "--json").stdout)
    assert [o for o in orders if o["reference"] == "no-room"] == []
    assert "no-room" not in journal(data)
    # And the desk goes on: the same reference can be ordered once there is room.
    res = esimdesk(home, "--demo", "order", "--vendor", "microesim", "--plan", plan, "--reference", "no-room")
    assert res.returncode == 0, res.stderr
    assert journal(data)["no-room"] == "COMPLETED"
