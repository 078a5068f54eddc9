"""README → Team mode's least-privilege roles, run as written: the owner creates the schema, the desk
role appends and reads and can do nothing else; an entry can never be changed or deleted."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from esimdesk.services import team_sync
from esimdesk.services.team_config import TeamConfig
from tests.team.helpers import desk, place_local_orders

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sql() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Team mode", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, re.S)


@pytest.fixture
def roles(pg):
    blocks = readme_sql()
    assert len(blocks) == 3
    for stmt in filter(str.strip, blocks[0].split(";")):
        pg.admin(stmt)
    try:
        with psycopg.connect(pg.url("esimdesk_team"), autocommit=True) as conn:
            conn.execute(blocks[1])
        yield blocks[2]
    finally:
        pg.admin("DROP DATABASE IF EXISTS esimdesk_team WITH (FORCE)")
        pg.admin("DROP ROLE IF EXISTS esimdesk_owner")
        pg.admin("DROP ROLE IF EXISTS esimdesk_desk")


def url(pg, role: str) -> str:
    return pg.url("esimdesk_team", user=role)


def test_readme_roles_owner_creates_desk_appends_and_nothing_more(pg, roles, tmp_path):
    owner = TeamConfig(url(pg, "esimdesk_owner"), "owner-secret", "lead")
    a = TeamConfig(url(pg, "esimdesk_desk"), "desk-secret", "alice")
    b = TeamConfig(url(pg, "esimdesk_desk"), "desk-secret", "bob")
    desk_a, desk_b = desk(tmp_path, "a"), desk(tmp_path, "b")
    place_local_orders(desk_a, 3, "R")

    res = team_sync.run(desk_a, a)  # no schema yet, and the desk role may not create it
    assert not res.ok and "owner role" in res.problem, res.problem
    assert team_sync.run(desk(tmp_path, "lead"), owner).ok
    with psycopg.connect(owner.url, password=owner.password, autocommit=True) as conn:
        conn.execute(roles)
    assert team_sync.run(desk_a, a).ok
    res = team_sync.run(desk_b, b)
    assert res.ok and res.orders == 3

    with psycopg.connect(a.url, password=a.password, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM team_entries").fetchone()[0] == 6
        for sql in ("DELETE FROM team_entries", "UPDATE team_entries SET agent = 'mallory'",
                    "CREATE TABLE mine (x int)", "CREATE TABLE public.mine (x int)", "DROP TABLE team_entries",
                    "DELETE FROM team_desks", "CREATE DATABASE other"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql)
    # Not even the owner changes history: entries are append-only.
    with psycopg.connect(owner.url, password=owner.password, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM team_entries")
