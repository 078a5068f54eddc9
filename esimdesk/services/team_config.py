"""Team mode's settings: the team store's URL, its password and this desk's agent name.

The URL comes from ``ESIMDESK_TEAM_URL`` or the settings file (``"team": {"url": ...}``, never with a
password in it); the password from the OS keychain (user ``team.password``), or, for headless use, from
the environment's URL itself. The agent name from ``ESIMDESK_TEAM_AGENT`` or the settings, default the
OS user. Without a URL there is no team mode and nothing here is used.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import keyring
import keyring.errors

from esimdesk.domain import ConfigError
from esimdesk.services.config import KEYRING_SERVICE, clean_secret, load_settings, save_settings, store_secret
from esimdesk.vendors.http import register_secrets

PASSWORD_USER = "team.password"


@dataclass(frozen=True)
class TeamConfig:
    url: str  # as given; may hold a password only when it came from the environment
    password: str | None
    agent: str

    def conninfo(self) -> str:
        from psycopg.conninfo import make_conninfo  # psycopg: 0.11 s to import, only for a team desk

        try:
            return make_conninfo(self.url, password=self.password) if self.password else make_conninfo(self.url)
        except Exception:  # noqa: BLE001 - psycopg says "invalid dsn" with the text, which may hold a password
            raise ConfigError("the team store URL is not a valid postgresql:// URL (check ESIMDESK_TEAM_URL or "
                              "the Settings)") from None

    @property
    def where(self) -> str:
        """host:port/database, for messages (no user, no password)."""
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


def _check_url(url: str) -> str:
    url = url.strip()
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("the team store URL must start with postgresql:// (e.g. "
                          "postgresql://desk@db.example:5432/esimdesk?sslmode=require)")
    try:
        urlsplit(url).port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ConfigError("the team store URL has a port that is not a number") from None
    return url


def default_agent() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "agent"


def load_team_config(home: Path) -> TeamConfig | None:
    settings = load_settings(home).get("team", {})
    env_url = (os.environ.get("ESIMDESK_TEAM_URL") or "").strip()
    url = env_url or (settings.get("url") or "").strip()
    if not url:
        return None
    url = _check_url(url)
    password = urlsplit(url).password if env_url else None
    if password:
        register_secrets([password])  # logs redact it
    else:
        try:
            password = clean_secret(keyring.get_password(KEYRING_SERVICE, PASSWORD_USER))
        except keyring.errors.KeyringError:
            password = None
        if password:
            register_secrets([password])
    agent = (os.environ.get("ESIMDESK_TEAM_AGENT") or settings.get("agent") or "").strip() or default_agent()
    return TeamConfig(url, password, agent)


def save_team_settings(home: Path, url: str | None, agent: str | None = None, password: str | None = None) -> None:
    """Settings → Team: the URL (a password typed into it goes to the keychain, not the file), the agent
    name, and the password (keychain only). A blank URL turns team mode off."""
    settings = load_settings(home)
    team = settings.setdefault("team", {})
    if url and url.strip():
        url = _check_url(url)
        parts = urlsplit(url)
        if parts.password:
            password = password or parts.password
            netloc = (parts.username or "") + "@" + parts.netloc.rpartition("@")[2]
            url = urlunsplit(parts._replace(netloc=netloc))
        team["url"] = url
    else:
        team.pop("url", None)
    if agent is not None:
        team["agent"] = agent.strip()
    if password and password.strip():
        store_secret("team", "password", password)
    save_settings(home, settings)
