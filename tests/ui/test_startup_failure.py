"""The window that cannot start says so on screen (issue 26, case 11): an agent who starts it from a shortcut
never sees stderr. The dialog names what is wrong, the data folder and the newest backup; the line on
stderr and exit 1 stay for scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from esimdesk.domain import StoreError
from esimdesk.store import SqliteStore
from esimdesk.store.backups import backup_now

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def shown(monkeypatch, qapp):
    """The boxes the window would show (offscreen nobody could close a modal one)."""
    import esimdesk.ui.app as app

    boxes: list[QMessageBox] = []
    monkeypatch.setattr(app, "show_startup_failure", lambda box, close_after=None: boxes.append(box))
    yield boxes
    for box in boxes:
        box.deleteLater()


def test_a_damaged_data_file_shows_a_dialog_with_the_folder_and_the_newest_backup(tmp_path, monkeypatch, shown):
    from esimdesk.ui.app import run_gui

    home = tmp_path / "home"
    home.mkdir()
    data = home / "esimdesk.sqlite3"
    SqliteStore(data).close()
    backup = backup_now(data)
    data.write_bytes(b"<html>a sync tool wrote this</html>\n" * 100)
    monkeypatch.setenv("ESIMDESK_HOME", str(home))

    with pytest.raises(StoreError):
        run_gui()

    assert len(shown) == 1
    box = shown[0]
    assert box.icon() == QMessageBox.Icon.Critical and box.windowTitle() == "esimdesk could not start"
    assert str(data) in box.text() and "not an SQLite database" in box.text()
    assert f"Data folder: {home}" in box.informativeText()
    assert f"Newest backup: {backup}" in box.informativeText() and "esimdesk restore" in box.informativeText()


def test_esimdesk_home_pointing_at_a_file_shows_a_dialog(tmp_path, monkeypatch, shown):
    from esimdesk.ui.app import run_gui

    afile = tmp_path / "home"
    afile.write_text("x")
    monkeypatch.setenv("ESIMDESK_HOME", str(afile))

    with pytest.raises(StoreError):
        run_gui(demo=True)

    assert "is a file, not a folder" in shown[0].text()
    assert f"Data folder: {afile / 'demo'}" in shown[0].informativeText()
    assert "Newest backup: none" in shown[0].informativeText()


def test_the_window_on_a_missing_folder_it_cannot_make_still_ends_in_one_line(tmp_path):
    """The whole path as a shortcut starts it (offscreen: the dialog is skipped, nobody could close it)."""
    afile = tmp_path / "file"
    afile.write_text("x")
    env = {"QT_QPA_PLATFORM": "offscreen", "ESIMDESK_HOME": str(afile / "sub"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "esimdesk"], capture_output=True, text=True, timeout=60, env=env,
                         cwd=str(REPO))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("esimdesk:")]
    assert lines == [f"esimdesk: the data folder {afile / 'sub'} cannot be used: {afile} is a file, not a folder; "
                     "move the file away, or point ESIMDESK_HOME to a folder you can write"]
    assert os.path.isfile(afile)
