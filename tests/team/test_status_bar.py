"""The window says when the team store is out of reach (its status bar, and the sync's failure in the message
bar), and keeps working."""

from __future__ import annotations

import pytest

from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import _no_qt_state_outlives_the_test, window_over_sandbox  # noqa: F401 - a fixture


@pytest.fixture
def window(loop, qtbot, tmp_path, monkeypatch, pg, team_db):
    url, password = team_db
    user, _, rest = url.partition("://")[2].partition("@")
    monkeypatch.setenv("ESIMDESK_TEAM_URL", f"postgresql://{user}:{password}@{rest}")
    monkeypatch.setenv("ESIMDESK_TEAM_AGENT", "alice")
    with window_over_sandbox(loop, qtbot, tmp_path / "home", SandboxConfig(seed=3, allocation_delay=0.1),
                             vendors=("roumio",)) as (win, _server, desk):
        yield win, desk


def test_status_bar_says_since_when_the_team_store_is_offline(window, loop, pg):
    win, desk = window
    assert win.team_label.text() == ""  # the start-up sync reached it
    pg.stop("immediate")
    try:
        results = loop.run_until_complete(win.run_sync())
    finally:
        pg.start()
    [team] = [r for r in results if r.vendor == "team"]
    assert not team.ok
    assert win.team_label.text().startswith("team store offline since ") and win.team_label.text().endswith(" UTC")
    # The sync's failure in words in the message bar (issue 13), the state beside it in the status bar.
    assert "team store offline since" in win.messages.text()
    assert win.catalog.model.rowCount() > 0  # the window goes on from the local cache
    loop.run_until_complete(win.run_sync())
    assert win.team_label.text() == ""
