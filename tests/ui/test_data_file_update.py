"""An older data file is brought forward once, before the window opens, behind a notice that keeps painting
(ui/data_file_update.py): the step runs in a worker thread while Qt's events go on."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from esimdesk.domain import EsimdeskError
from esimdesk.store.backups import DATA_FILE
from esimdesk.store.migrations import LATEST, migrate
from esimdesk.ui.data_file_update import NOTICE, update_data_file
from tests.store.test_esim_payloads import _v16_file


def _schema(path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def _notices_while_running(app: QApplication) -> tuple[list[str], list[int]]:
    """Texts of the visible notices, and ticks of a timer, seen while the event loop runs."""
    seen: list[str] = []
    ticks: list[int] = []
    timer = QTimer()
    timer.setInterval(0)
    timer.timeout.connect(lambda: ticks.append(1) or seen.extend(
        w.text() for w in app.topLevelWidgets() if isinstance(w, QLabel) and w.isVisible()))
    timer.start()
    app._test_timer = timer  # kept alive for the call
    return seen, ticks


def test_an_older_file_is_brought_forward_behind_a_notice_then_not_again(qapp, tmp_path):
    _v16_file(tmp_path / DATA_FILE)
    seen, ticks = _notices_while_running(qapp)
    try:
        assert update_data_file(qapp, tmp_path) is True
    finally:
        qapp._test_timer.stop()
    assert _schema(tmp_path / DATA_FILE) == LATEST
    assert NOTICE in seen and ticks  # shown, and Qt's events went on meanwhile
    assert not any(isinstance(w, QLabel) and w.isVisible() and w.text() == NOTICE for w in qapp.topLevelWidgets())

    seen, ticks = _notices_while_running(qapp)
    try:
        assert update_data_file(qapp, tmp_path) is False  # up to date: no notice, nothing done
        qapp.processEvents()
    finally:
        qapp._test_timer.stop()
    assert NOTICE not in seen


def test_no_data_file_yet_needs_no_notice(qapp, tmp_path):
    assert update_data_file(qapp, tmp_path) is False
    assert not (tmp_path / DATA_FILE).exists()  # the desk's open makes it, as before


def test_a_file_the_update_cannot_take_is_said_as_opening_it_would(qapp, tmp_path):
    path = tmp_path / DATA_FILE
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, target=16)
    conn.executescript("DROP TABLE esims; CREATE TABLE esims (vendor TEXT, iccid TEXT, last_seen TEXT, raw BLOB);")
    conn.close()
    with pytest.raises(EsimdeskError):
        update_data_file(qapp, tmp_path)
    assert _schema(path) == 16  # left as it was
