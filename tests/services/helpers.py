"""Shared pieces for service tests: adapters with short timeouts against a sandbox, subprocess env."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from esimdesk.sandbox import SandboxServer
from esimdesk.services.config import load_accounts
from esimdesk.store import SqliteStore
from esimdesk.vendors import build_adapter

ORDERING_VENDORS = ("roumio", "roamify", "microesim")


def short_factory(timeout: float = 2.0):
    return lambda cfg: build_adapter(cfg, timeout=timeout)


def accounts_for(server: SandboxServer, home: Path):
    return load_accounts(home, env=server.env()).enabled


def cli_env(server: SandboxServer, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env.update(server.env())
    env["ESIMDESK_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "esimdesk", *args]


def open_store(home: Path) -> SqliteStore:
    return SqliteStore(home / "esimdesk.sqlite3")
