"""`esimdesk backup` / `esimdesk restore FILE`, and damaged data files refused, through the real CLI.

Each command runs as its own process with ESIMDESK_HOME set to a temporary folder, as a script would.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from esimdesk.domain import Order, OrderStatus
from esimdesk.store import SqliteStore

REPO = Path(__file__).resolve().parents[2]


def esimdesk(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["ESIMDESK_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "esimdesk", *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=str(REPO))


def make_history(data_file: Path, n: int = 4) -> None:
    store = SqliteStore(data_file)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    store.upsert_orders([Order("microesim", f"M{i:05d}", f"shop-{i}", OrderStatus.COMPLETED, t0 + timedelta(hours=i),
                               Decimal("3.50"), "USD") for i in range(n)])
    store.close()


def listed(home: Path) -> list[str]:
    res = esimdesk(home, "orders", "--json")
    assert res.returncode == 0, res.stderr
    return sorted(o["order_id"] for o in json.loads(res.stdout))


def assert_refused(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 1
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_help_lists_backup_and_restore(home):
    res = esimdesk(home, "--help")
    assert res.returncode == 0 and "backup" in res.stdout and "restore" in res.stdout
    res = esimdesk(home, "restore")
    assert res.returncode == 2 and "FILE" in res.stderr


def test_backup_then_damage_then_restore_brings_the_history_back(home):
    data = home / "esimdesk.sqlite3"
    make_history(data)
    assert listed(home) == ["M00000", "M00001", "M00002", "M00003"]

    res = esimdesk(home, "backup")
    assert res.returncode == 0, res.stderr
    backup = Path(res.stdout.strip())
    assert backup.parent == home / "backups" and backup.name.startswith("esimdesk-") and backup.is_file()

    data.write_bytes(b"")  # the file is truncated to zero bytes
    res = esimdesk(home, "orders")
    assert_refused(res, str(data), "damaged (empty)", f"esimdesk restore {backup}")
    assert data.stat().st_size == 0  # refused, not recreated

    res = esimdesk(home, "restore", str(backup), "--json")
    assert res.returncode == 0, res.stderr
    done = json.loads(res.stdout)
    assert done["data_file"] == str(data) and done["orders"] == 4 and done["previous"] == "empty"
    assert listed(home) == ["M00000", "M00001", "M00002", "M00003"]


def test_restore_text_output_and_the_replaced_file_kept(home):
    data = home / "esimdesk.sqlite3"
    make_history(data, n=2)
    backup = Path(esimdesk(home, "backup").stdout.strip())
    data.write_bytes(b"not a database at all\n" * 100)
    res = esimdesk(home, "restore", str(backup))
    assert res.returncode == 0, res.stderr
    first, second, third = res.stdout.strip().splitlines()
    assert third.startswith("there was no readable data file to take the desk's identity from: this is a new desk")
    assert first == f"restored {data} from {backup}: 2 orders, 0 journal entries (schema {_schema()})"
    assert second.startswith("the file it replaced (damaged) was kept as ")
    kept = Path(second.rsplit(" ", 1)[1])
    assert kept.read_bytes() == b"not a database at all\n" * 100


def _schema() -> int:
    from esimdesk.store.migrations import LATEST

    return LATEST


def test_garbage_database_is_refused_in_one_line(home):
    data = home / "esimdesk.sqlite3"
    data.write_bytes(b"<html>a download that went wrong</html>\n" * 50)
    before = data.read_bytes()
    for command in (["orders"], ["esims", "--json"], ["plans"], ["backup"]):
        assert_refused(esimdesk(home, *command), str(data), "not an SQLite database", "no backup")
    assert data.read_bytes() == before


def test_database_failing_quick_check_is_refused(home):
    data = home / "esimdesk.sqlite3"
    make_history(data, n=300)
    backup = Path(esimdesk(home, "backup").stdout.strip())
    conn = sqlite3.connect(data)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'orders'").fetchone()[0]
    conn.close()
    with open(data, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\xff" * page_size)
    before = data.read_bytes()
    assert_refused(esimdesk(home, "orders", "--json"), str(data), "quick_check", str(backup))
    assert_refused(esimdesk(home, "backup"), str(data), "damaged")
    assert data.read_bytes() == before
    assert [p.name for p in (home / "backups").iterdir()] == [backup.name]  # no damaged copy joined the backups


def test_restore_of_a_non_database_is_refused_and_changes_nothing(home, tmp_path):
    data = home / "esimdesk.sqlite3"
    make_history(data)
    before = data.read_bytes()
    bogus = tmp_path / "orders.csv"
    bogus.write_text("order_id,total\nM1,3.50\n")
    assert_refused(esimdesk(home, "restore", str(bogus)), str(bogus), "not a healthy esimdesk database")
    assert_refused(esimdesk(home, "restore", str(tmp_path / "nope.sqlite3")), "no such file")
    assert data.read_bytes() == before and not (home / "backups").exists()
    assert len(listed(home)) == 4


def test_backup_json_and_rotation_to_seven(home):
    make_history(home / "esimdesk.sqlite3", n=1)
    docs = []
    for _ in range(8):
        res = esimdesk(home, "backup", "--json")
        assert res.returncode == 0, res.stderr
        docs.append(json.loads(res.stdout))
    last = docs[-1]
    assert len(last["backups"]) == 7 and last["backups"][-1] == last["backup"] and last["bytes"] > 0
    assert docs[0]["backup"] not in last["backups"] and not Path(docs[0]["backup"]).exists()


def test_backup_without_a_data_file_says_so(home):
    res = esimdesk(home, "backup")
    assert_refused(res, "there is no data file", str(home / "esimdesk.sqlite3"))


def test_demo_uses_the_demo_data_folder(home):
    res = esimdesk(home, "--demo", "backup")
    assert_refused(res, str(home / "demo" / "esimdesk.sqlite3"))
    make_history(home / "demo" / "esimdesk.sqlite3", n=1)
    res = esimdesk(home, "backup", "--demo")
    assert res.returncode == 0, res.stderr
    backup = Path(res.stdout.strip())
    assert backup.parent == home / "demo" / "backups"
    res = esimdesk(home, "--demo", "restore", str(backup), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["data_file"] == str(home / "demo" / "esimdesk.sqlite3")
    assert not (home / "esimdesk.sqlite3").exists()  # the real desk was never touched


def test_read_only_data_folder_is_one_sentence(home):
    """Root ignores chmod: then the command runs as root without capabilities, for whom it holds."""
    import shutil

    data = home / "esimdesk.sqlite3"
    make_history(data)
    assert len(listed(home)) == 4  # checked once: the next open skips quick_check and goes straight to SQLite
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: cannot make a read-only folder hold")
        prefix = ("setpriv", "--bounding-set=-all", "--inh-caps=-all")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["ESIMDESK_HOME"] = str(home)
    home.chmod(0o555)
    try:
        res = subprocess.run([*prefix, sys.executable, "-m", "esimdesk", "orders"], capture_output=True, text=True,
                             timeout=120, env=env, cwd=str(REPO))
    finally:
        home.chmod(0o755)
    assert_refused(res, f"cannot open the data file {data}: the folder is read-only")


def test_a_demo_backup_is_not_restored_into_the_real_desk(home):
    make_history(home / "esimdesk.sqlite3", n=3)
    make_history(home / "demo" / "esimdesk.sqlite3", n=1)
    demo_backup = Path(esimdesk(home, "--demo", "backup").stdout.strip())
    before = (home / "esimdesk.sqlite3").read_bytes()
    res = esimdesk(home, "restore", str(demo_backup))
    assert_refused(res, "belongs to the demo desk", f"'esimdesk --demo restore {demo_backup}'")
    assert (home / "esimdesk.sqlite3").read_bytes() == before
