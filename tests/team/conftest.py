"""A real PostgreSQL server per test session (Debian's `postgresql` package), a fresh database and a
least-privilege role per test, and two desks (two data folders) to point at it."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.team.pg import PgServer, why_not
from tests.ui.conftest import loop  # noqa: F401 - the window test's qasync loop fixture


@pytest.fixture(scope="session")
def pg():
    reason = why_not()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the team-mode tests: {reason}")
        pytest.skip(reason)
    server = PgServer().init().start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def team_db(pg):
    """(url without password, password): a new database owned by a new login role (no superuser)."""
    name = "t" + uuid.uuid4().hex[:10]
    password = uuid.uuid4().hex
    pg.admin(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    pg.admin(f"CREATE DATABASE {name} OWNER {name}")
    yield pg.url(name, user=name), password
    if not pg.running():
        pg.start()
    pg.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    pg.admin(f"DROP ROLE IF EXISTS {name}")
