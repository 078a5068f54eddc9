"""What the store's tests share."""

from __future__ import annotations

import pytest

from esimdesk.store import SqliteStore


@pytest.fixture
def store(tmp_path):
    """An empty store on a real SQLite file (files whose tests need rows in it define their own)."""
    s = SqliteStore(tmp_path / "desk.sqlite3")
    yield s
    s.close()
