"""Team mode's settings: URL from the environment or the settings file, the password in the keychain
only, the agent name; no URL, no team mode (and sync's results are as before)."""

from __future__ import annotations

import asyncio
import getpass
import json

import pytest

from esimdesk.domain import ConfigError
from esimdesk.services.team_config import load_team_config, save_team_settings
from esimdesk.services.team_sync import sync_team
from esimdesk.store import SqliteStore


def test_no_url_no_team_mode(tmp_path):
    assert load_team_config(tmp_path) is None
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    assert asyncio.run(sync_team(store)) is None


def test_environment_url_may_carry_the_password(tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_TEAM_URL", "postgresql://desk:s3cret@db.example:6543/team?sslmode=verify-full")
    cfg = load_team_config(tmp_path)
    assert cfg.password == "s3cret" and cfg.agent == getpass.getuser()
    assert cfg.where == "db.example:6543/team" and "s3cret" not in cfg.where
    assert "sslmode=verify-full" in cfg.conninfo()
    monkeypatch.setenv("ESIMDESK_TEAM_AGENT", " ann ")
    assert load_team_config(tmp_path).agent == "ann"


def test_settings_keep_the_password_in_the_keychain_only(tmp_path, memory_keyring):
    save_team_settings(tmp_path, "postgresql://desk:typed-pw@db.example/team", agent="bea")
    text = (tmp_path / "settings.json").read_text()
    assert "typed-pw" not in text
    assert json.loads(text)["team"] == {"url": "postgresql://desk@db.example/team", "agent": "bea"}
    assert memory_keyring.store[("esimdesk", "team.password")] == "typed-pw"
    cfg = load_team_config(tmp_path)
    assert (cfg.url, cfg.password, cfg.agent) == ("postgresql://desk@db.example/team", "typed-pw", "bea")
    save_team_settings(tmp_path, "", agent="bea")  # a blank URL: team mode off
    assert load_team_config(tmp_path) is None


@pytest.mark.parametrize("url, words", [
    ("mysql://desk@db/team", "must start with postgresql://"),
    ("postgresql://desk@db:port/team", "port that is not a number"),
])
def test_a_wrong_url_is_one_sentence(tmp_path, monkeypatch, url, words):
    with pytest.raises(ConfigError, match=words):
        save_team_settings(tmp_path, url)
    monkeypatch.setenv("ESIMDESK_TEAM_URL", url)
    result = asyncio.run(sync_team(SqliteStore(tmp_path / "esimdesk.sqlite3")))
    assert not result.ok and words in result.problem and result.problem.startswith("team: ")
