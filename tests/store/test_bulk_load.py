"""A first sync fills empty tables without their sort indexes and builds them at its end (store/bulk_load.py);
cancelled, it builds them too; killed, the next open does. A real SQLite file; the sync over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from esimdesk.domain import Esim, EsimStatus
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.sync import sync_all
from esimdesk.store import SqliteStore
from esimdesk.vendors import build_adapter
from tests.services.helpers import accounts_for


def indexes(store: SqliteStore, table: str | None = None) -> set[tuple[str, str]]:
    q = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    rows = store.conn.execute(q + (" AND tbl_name = ?" if table else ""), (table,) if table else ()).fetchall()
    return {(r[0], r[1]) for r in rows}


def test_only_empty_tables_lose_their_sort_indexes_and_get_them_back_whole(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every = indexes(store)
    store.upsert_esims([Esim("roumio", "89852000000000000013", EsimStatus.ACTIVE, "ACTIVE")])
    plans_before, esims_before = indexes(store, "plans"), indexes(store, "esims")
    assert len(plans_before) > 5 and len(esims_before) > 5
    dropped = store.defer_indexes_while_empty(("plans", "esims"))
    assert dropped == len(plans_before)  # plans was empty; esims holds a row and keeps every index
    assert indexes(store, "plans") == set() and indexes(store, "esims") == esims_before
    assert any("UNIQUE" in sql for _, sql in indexes(store, "orders"))  # unique ones are never dropped
    assert store.restore_indexes() == dropped
    assert indexes(store) == every
    assert store.restore_indexes() == 0  # nothing set aside any more
    store.close()


def test_a_load_killed_half_way_gets_its_indexes_at_the_next_open(tmp_path):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every = indexes(store)
    assert store.defer_indexes_while_empty() > 20
    store.upsert_esims([Esim("roumio", "89852000000000000013", EsimStatus.ACTIVE, "ACTIVE")])
    store.close()  # as a kill leaves it: the statements in meta, the indexes gone
    again = SqliteStore(tmp_path / "desk.sqlite3")
    assert indexes(again) == every and again.restore_indexes() == 0
    again.close()


@pytest.fixture
def sandbox(tmp_path):
    with SandboxServer(SandboxConfig(seed=5, esims=300, plans=400, allocation_delay=0),
                       vendors=("roumio", "flexiroam")) as server:
        yield server


def test_a_first_sync_loads_without_them_and_ends_with_every_one(tmp_path, sandbox):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every = indexes(store)
    seen_during: list[int] = []

    def progress(p):
        if p.stage in ("orders", "esims") and p.done:
            seen_during.append(len(indexes(store, "esims")))

    results = asyncio.run(sync_all(store, accounts_for(sandbox, tmp_path), lambda c: build_adapter(c, timeout=10),
                                   progress=progress))
    assert all(r.ok for r in results) and store.counts()["esims"] > 0
    assert seen_during and max(seen_during) == 0  # the eSIMs were written with no sort index to update
    assert indexes(store) == every
    # The next sync finds the tables filled: it loads through the indexes, which stay.
    seen_during.clear()
    asyncio.run(sync_all(store, accounts_for(sandbox, tmp_path), lambda c: build_adapter(c, timeout=10),
                         progress=progress))
    assert seen_during and min(seen_during) == len(indexes(store, "esims")) > 5
    store.close()


def test_a_cancelled_first_sync_builds_them_before_it_ends(tmp_path, sandbox):
    store = SqliteStore(tmp_path / "desk.sqlite3")
    every = indexes(store)

    async def cancelled():
        task = None

        def progress(p):
            if p.stage in ("orders", "esims") and p.done and task is not None:
                task.cancel()

        task = asyncio.ensure_future(sync_all(store, accounts_for(sandbox, tmp_path),
                                              lambda c: build_adapter(c, timeout=10), progress=progress))
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    assert indexes(store) == every
    store.close()
