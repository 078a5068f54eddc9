"""The tables' listing session (services/listing_session.py) over a real SQLite store, without Qt.

``Table`` below plays the tab (ui/listing_page.py): it says where the agent is (top row, selected row),
shows what a load returns, and counts a HEAD's result after "painting" its rows."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import Esim, EsimStatus, ListingQuery
from esimdesk.services.config import Accounts
from esimdesk.services.desk import Desk
from esimdesk.services.listing_session import WINDOW, Change, ListingSession, View, by_filter
from esimdesk.services.runtime import AppContext
from esimdesk.store import SqliteStore

BASE = datetime(2027, 1, 1, tzinfo=UTC)
N = 250  # eSIMs; the first 30 have no expiry (listed after every dated one, either way)
BY_EXPIRY = ListingQuery("esims", sort="expires")
BY_ICCID = ListingQuery("esims", sort="iccid")


def esim(i: int, **fields) -> Esim:
    return Esim("roumio", iccid(i), EsimStatus.ACTIVE, "IN_USE",
                expires_at=None if i < 30 else BASE + timedelta(hours=i), **fields)


def iccid(i: int) -> str:
    return f"8999{i:015d}"


class Recording:
    """The Desk, with every listing call it answered (name, query) in ``calls``."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.calls: list[tuple[str, ListingQuery]] = []
        self.hold: asyncio.Event | None = None  # set: every call waits for it first

    async def _wait(self, name: str, query: ListingQuery) -> None:
        self.calls.append((name, query))
        if self.hold is not None:
            await self.hold.wait()

    async def listing_open(self, query, *args, **kwargs):
        await self._wait("open", query)
        return await self.desk.listing_open(query, *args, **kwargs)

    async def listing_head(self, query, *args, **kwargs):
        await self._wait("head", query)
        return await self.desk.listing_head(query, *args, **kwargs)

    async def listing_count(self, query, *args, **kwargs):
        await self._wait("count", query)
        return await self.desk.listing_count(query, *args, **kwargs)

    async def listing_find(self, query, *args, **kwargs):
        await self._wait("find", query)
        return await self.desk.listing_find(query, *args, **kwargs)

    async def listing_page(self, query, *args):
        await self._wait("page", query)
        return await self.desk.listing_page(query, *args)

    def listing_page_now(self, query, *args):
        self.calls.append(("page_now", query))
        return self.desk.listing_page_now(query, *args)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class Table:
    """What a tab does with a session's answers: the rows it holds by position, the selected row, the top row."""

    def __init__(self, session: ListingSession):
        self.session = session
        self.total = 0
        self.rows: dict[int, tuple[int, Esim]] = {}
        self.current = -1
        self.top = 0
        self.pages = None
        self.changes: list[Change] = []

    def put(self, first: int, rows) -> None:
        for i, pair in enumerate(rows):
            self.rows[first + i] = pair

    def select(self, row: int) -> None:
        self.current = row

    def selected(self) -> int | None:
        pair = self.rows.get(self.current) if self.current >= 0 else None
        return pair[0] if pair else None

    async def load(self, query: ListingQuery) -> None:
        shown = await self.session.load(query, View(self.top, self.current, self.selected(), self.total))
        self.changes.append(shown.change)
        if shown.change is Change.HEAD:
            self.rows, self.total, self.current, self.top = {}, shown.total, -1, 0
            self.put(0, shown.rows)
            self.total, self.pages = await self.session.count(shown)
        elif shown.change is Change.REFRESHED:
            if shown.stale:
                self.pages = shown.pages
                self.put(shown.first, shown.rows)
        elif shown.change is Change.NEW:
            self.rows, self.total, self.pages = {}, shown.total, shown.pages
            self.put(shown.first, shown.rows)
            self.current, self.top = shown.anchor, shown.top

    async def read(self, offset: int, limit: int = WINDOW) -> None:
        self.put(offset, await self.pages.read(offset, limit))


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "desk.sqlite3")
    s.upsert_esims([esim(i) for i in range(N)])
    yield s
    s.close()


@pytest.fixture
def source(tmp_path, store):
    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()), store)
    yield Recording(desk)
    desk.queries.close()


@pytest.fixture
def table(source):
    return Table(ListingSession(source))


def truth(store, query: ListingQuery) -> list[int]:
    """The result's rowids in order, read whole from the store."""
    total, split = store.listing_count(query)
    return [k for k, _ in store.listing_page(query, split, 0, total)]


async def test_a_new_query_shows_its_first_rows_then_counts_and_reads_any_page(table, source, store):
    await table.load(BY_EXPIRY)
    assert table.changes == [Change.HEAD] and source.names() == ["head", "count"]
    assert table.total == N and table.session.query == BY_EXPIRY
    order = truth(store, BY_EXPIRY)
    assert [table.rows[r][0] for r in range(WINDOW)] == order[:WINDOW]
    await table.read(200, 50)  # the rows without an expiry, past the store's split
    assert [table.rows[r][0] for r in range(200, N)] == order[200:]
    assert all(table.rows[r][1].expires_at is None for r in range(220, N))
    assert [k for k, _ in table.pages.read_now(100, 5)] == order[100:105]


async def test_a_small_result_is_counted_by_its_head_alone(table, source):
    shown = await table.session.load(ListingQuery("esims", text="00007"), View(0, -1, None, 0))
    assert shown.change is Change.HEAD and shown.counted and not shown.needs_count and shown.total == 1
    total, _pages = await table.session.count(shown)
    assert total == 1 and source.names() == ["head"]


async def test_the_same_query_over_the_same_rows_reads_nothing(table, source):
    await table.load(BY_EXPIRY)
    source.calls.clear()
    await table.load(BY_EXPIRY)
    assert table.changes[-1] is Change.SAME and source.calls == []


async def test_a_query_counted_a_moment_ago_costs_one_page_and_no_count(table, source):
    await table.load(BY_EXPIRY)
    await table.load(replace_text(BY_EXPIRY, "5"))
    source.calls.clear()
    await table.load(BY_EXPIRY)  # the agent's backspace back to the result already shown
    assert table.changes[-1] is Change.NEW and source.names() == ["open"] and table.total == N


async def test_a_sort_of_the_filter_shown_keeps_its_count(table, source, store):
    await table.load(BY_EXPIRY)
    source.calls.clear()
    await table.load(BY_ICCID)  # every eSIM has an ICCID: the count by filter is the whole answer
    assert table.changes[-1] is Change.HEAD and source.names() == ["head"] and table.total == N
    assert [table.rows[r][0] for r in range(WINDOW)] == truth(store, BY_ICCID)[:WINDOW]


async def test_the_selected_row_is_found_again_in_a_new_order_where_it_was_on_screen(table, source, store):
    await table.load(BY_ICCID)
    table.top, table.current = 40, 45  # five rows under the top of the screen
    rowid = table.selected()
    source.calls.clear()
    await table.load(replace(BY_ICCID, descending=True))
    order = truth(store, replace(BY_ICCID, descending=True))
    assert table.changes[-1] is Change.NEW and table.rows[table.current][0] == rowid
    assert table.current == order.index(rowid) and table.top == table.current - 5
    assert "count" not in source.names()


async def test_a_selected_row_beyond_the_first_page_is_found_in_the_store(table, source, store):
    await table.load(BY_ICCID)
    await table.read(100)
    table.top, table.current = 150, 150  # the agent scrolled down and selected a row there
    rowid = table.selected()
    source.calls.clear()
    await table.load(BY_EXPIRY)  # by expiry it is past the first page read
    assert source.names() == ["open", "find", "open"]  # found, then the rows around it read
    order = truth(store, BY_EXPIRY)
    assert table.current == order.index(rowid) and table.rows[table.current][0] == rowid
    assert table.top == table.current and all(table.rows[r][0] == order[r] for r in table.rows)


async def test_a_sync_that_changed_values_refreshes_the_rows_in_place(table, source, store):
    await table.load(BY_EXPIRY)
    table.current = 3
    rowid = table.selected()
    store.set_note("roumio", table.rows[3][1].iccid, "Maria")
    table.session.mark_changed()
    source.calls.clear()
    await table.load(BY_EXPIRY)
    assert table.changes[-1] is Change.REFRESHED and source.names() == ["open"]
    assert table.current == 3 and table.rows[3][0] == rowid and table.rows[3][1].note == "Maria"


async def test_a_sync_that_added_rows_keeps_the_selected_one_selected(table, source, store):
    await table.load(BY_EXPIRY)
    table.current = 10
    rowid = table.selected()
    store.upsert_esims([esim(i) for i in range(N, N + 20)])
    table.session.mark_changed()
    await table.load(BY_EXPIRY)
    assert table.changes[-1] is Change.NEW and table.total == N + 20
    assert table.rows[table.current][0] == rowid


async def test_a_newer_load_cancels_the_one_it_supersedes(table, source):
    source.hold = asyncio.Event()
    first = table.session.start(table.load(BY_EXPIRY))
    await asyncio.sleep(0.05)
    assert table.session.loading and not first.done()
    source.hold = None
    second = table.session.start(table.load(replace_text(BY_EXPIRY, "7")))
    await table.session.settled()
    assert first.cancelled() and second.done() and not second.cancelled()
    assert table.session.query == replace_text(BY_EXPIRY, "7") and not table.session.loading


async def test_a_count_cancelled_after_a_store_change_leaves_the_rows_to_be_read_again(table, source):
    await table.load(BY_EXPIRY)
    table.session.mark_changed()
    newest_first = replace(BY_EXPIRY, descending=True)
    shown = await table.session.load(newest_first, View(0, -1, None, table.total))
    assert shown.change is Change.HEAD and shown.stale and shown.needs_count
    counting = asyncio.Event()

    async def held_count(query, *args, **kwargs):
        counting.set()
        await asyncio.Event().wait()  # never answers

    source.listing_count = held_count
    task = asyncio.ensure_future(table.session.count(shown))
    await counting.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and table.session.query is None
    again = await table.session.load(newest_first, View(0, -1, None, table.total))
    assert again.stale  # the next load still knows the store changed


async def test_row_of_finds_a_row_of_the_result_shown_only(table, source, store):
    await table.load(BY_EXPIRY)
    order = truth(store, BY_EXPIRY)
    first_rows = [table.rows[r][0] for r in range(WINDOW)]
    assert await table.session.row_of(BY_EXPIRY, order[7], first_rows) == 7
    assert await table.session.row_of(BY_EXPIRY, order[240], first_rows) == 240  # past the first page
    assert await table.session.row_of(BY_ICCID, order[7], first_rows) == -1  # not the result shown


async def test_after_load_runs_once_the_load_has_ended_or_at_once(source):
    session = ListingSession(source)
    ran = []
    session.after_load(lambda: ran.append("none"))
    assert ran == ["none"]
    table = Table(session)
    task = session.start(table.load(BY_EXPIRY))
    session.after_load(lambda: ran.append("loaded"))
    assert ran == ["none"]
    await task
    await asyncio.sleep(0)
    assert ran == ["none", "loaded"]


async def test_forgotten_counts_are_taken_again(table, source):
    await table.load(BY_EXPIRY)
    await table.load(replace_text(BY_EXPIRY, "5"))
    table.session.forget_counts(totals=False)
    source.calls.clear()
    await table.load(BY_EXPIRY)  # its count by filter kept: only the split is counted
    assert source.names() == ["head", "count"] and source.calls[1][0] == "count"
    table.session.forget_counts()
    await table.load(BY_ICCID)
    assert source.names()[-2:] == ["head", "count"]  # the total by filter is gone too


def test_by_filter_drops_the_order_only():
    q = ListingQuery("esims", text="77", sort="expires", descending=True)
    assert by_filter(q) == ListingQuery("esims", text="77")


def replace_text(query: ListingQuery, text: str) -> ListingQuery:
    return replace(query, text=text)
