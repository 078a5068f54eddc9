"""Shared pieces for service tests: adapters with short timeouts against a sandbox, subprocess env."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.sandbox import SandboxServer
from esimdesk.services.config import load_accounts
from esimdesk.services.sync import sync_all
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


def sync_cancelled_when(store, accounts, factory, when, **options) -> None:
    """Run ``sync_all`` and cancel it (as the window's Cancel, Ctrl+C) at the first progress report ``when(p)``
    holds for; it must end cancelled."""
    async def run() -> None:
        task: asyncio.Task | None = None

        def progress(p) -> None:
            if task is not None and when(p):
                task.cancel()

        task = asyncio.ensure_future(sync_all(store, accounts, factory, progress=progress, **options))
        try:
            await task
        except asyncio.CancelledError:
            return
        raise AssertionError("the sync ended before it was cancelled")

    asyncio.run(run())


# With adapters that pace 0.2 requests/s (tests set it on the factory's): a walk's budget of 2 pages a sync.
TWO_PAGES = RefreshPolicy(target_seconds=10)


def sync_walking_two_pages(store, accounts, factory):
    """One sync of the given accounts whose listing walks read two pages each (TWO_PAGES); it must end well."""
    [result] = asyncio.run(sync_all(store, accounts, factory, policy=TWO_PAGES))
    assert result.ok, result.problem
    return result
