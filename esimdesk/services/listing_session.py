"""One table's listing without Qt: the query shown, its counts, its pages, the agent's row kept in view.

The window's three tables (ui/listing_page.py) show a whole SQL result a page at a time. What to read for
a keystroke, a filter, a header click or a sync — and in which order, so that a new result's first rows
paint before it is counted — is decided here; the tab lays out what it is given. Each read goes through
the Desk (a worker thread; a cancelled read interrupts its SQL statement), and a newer load cancels the
one it supersedes (``start``).

The store lists a result in two parts, the rows with a value in the sort column and then those without
(store/listings.py); the size of the first, ``split``, stays in here: the tab reads more rows through
``Pages`` and never sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, NamedTuple, Protocol

from esimdesk.domain import ListingQuery

WINDOW = 100  # rows per page: a few screens (the first is read before the result shows: kept short)
COUNTS_KEPT = 64  # recent results' counts kept, until the store changes

Rows = list[tuple[int, Any]]  # (rowid, domain object), by position in the result


class ListingSource(Protocol):
    """What a session reads through: services/desk.py's listing methods."""

    def listing_open(self, query: ListingQuery, start: int = 0, limit: int = 400,
                     counted: tuple[int, int] | None = None, background: bool = False) -> Awaitable[Any]: ...

    def listing_head(self, query: ListingQuery, limit: int, background: bool = False) -> Awaitable[Any]: ...

    def listing_count(self, query: ListingQuery, total: int | None = None,
                      background: bool = False) -> Awaitable[tuple[int, int]]: ...

    def listing_page(self, query: ListingQuery, split: int, offset: int, limit: int) -> Awaitable[Rows]: ...

    def listing_page_now(self, query: ListingQuery, split: int, offset: int, limit: int) -> Rows: ...

    def listing_find(self, query: ListingQuery, split: int, rowid: int, near: int,
                     background: bool = False) -> Awaitable[int]: ...


def by_filter(query: ListingQuery) -> ListingQuery:
    """The query without its order: every order of one filter has one count."""
    return replace(query, sort=None, descending=False)


class View(NamedTuple):
    """Where the agent is in the result the table shows: its first row on screen, the current row (-1:
    none) and that row's rowid (None: no row, or its page not read), and the rows the table counts."""

    top: int
    current: int
    selected: int | None
    total: int


class Change(Enum):
    SAME = "same"  # the same query over the same rows: nothing was read, nothing to show anew
    REFRESHED = "refreshed"  # the same result read again (the store changed): repaint the rows that changed
    NEW = "new"  # a new result, counted: select ``anchor`` (if >= 0), show ``top`` at the top
    HEAD = "head"  # a new result's first rows, read before its count: show them, then ``count``


class Pages:
    """How a table reads more rows of one result: ``read`` off the GUI thread, ``read_now`` on the calling
    thread (an item the agent acts on before its page arrived)."""

    __slots__ = ("source", "query", "split")

    def __init__(self, source: ListingSource, query: ListingQuery, split: int):
        self.source, self.query, self.split = source, query, split

    def read(self, offset: int, limit: int) -> Awaitable[Rows]:
        return self.source.listing_page(self.query, self.split, offset, limit)

    def read_now(self, offset: int, limit: int) -> Rows:
        return self.source.listing_page_now(self.query, self.split, offset, limit)


@dataclass(frozen=True)
class _Head:
    """A head's result, until it is counted (``ListingSession.count``)."""

    query: ListingQuery
    total: int | None
    split: int | None
    stale: bool  # the store had changed: a count cancelled leaves the next load to read the rows again


@dataclass
class Shown:
    """What a load read, for the table to show. ``total``: the rows the table has (for HEAD, the count
    when known, else the rows read so far); ``rows`` from position ``first``; ``pages``: how to read the
    others (None for SAME, HEAD, and a REFRESHED that read nothing new); ``stale``: the store had changed,
    so the selected row's detail may have too."""

    change: Change
    total: int
    first: int = 0
    rows: Rows = field(default_factory=list)
    pages: Pages | None = None
    anchor: int = -1  # NEW: the row of the row that was selected, or -1
    top: int = 0  # NEW: the row to show at the top
    stale: bool = False
    head: _Head | None = None

    @property
    def counted(self) -> bool:
        """HEAD: the result's count is known (shown as it is, not as "N+, counting…")."""
        return self.head is None or self.head.total is not None

    @property
    def needs_count(self) -> bool:
        """HEAD: a count over the result follows (``count``): the table paints its rows first."""
        return self.head is not None and (self.head.total is None or self.head.split is None)


class Counted(NamedTuple):
    total: int
    pages: Pages


class ListingSession:
    """The listing of one table: what it shows, the counts of recent results, and its loads.

    ``load`` reads what a new query or a changed store needs, finding the agent's selected row again in
    the new result (a sort, a sync); a new filter with nothing to keep in view is ``HEAD``: its first rows,
    then ``count``. ``behind()``: the table is not on screen (its reads wait behind those of the table
    shown)."""

    def __init__(self, source: ListingSource, behind: Callable[[], bool] = lambda: False):
        self.source = source
        self.behind = behind
        self.query: ListingQuery | None = None  # the result shown, once counted (None: none, or being counted)
        self.task: asyncio.Task | None = None  # the load running, or the last one
        self._split = 0
        self._stale = False  # the next load must read rows again (they changed in the store)
        self._counts: dict[ListingQuery, tuple[int, int]] = {}  # recent results' counts, until the store changes
        self._totals: dict[ListingQuery, int] = {}  # the same, by filter (any order): a sort keeps its count

    # --- loads ------------------------------------------------------------------------------------
    def start(self, load: Coroutine[Any, Any, Any]) -> asyncio.Task:
        """Run a load (the table's: this session's reads and its paints), cancelling the one it supersedes
        — and so interrupting its SQL statement in its worker thread."""
        if self.task is not None and not self.task.done():
            self.task.cancel()
        self.task = asyncio.ensure_future(load)
        return self.task

    @property
    def loading(self) -> bool:
        return self.task is not None and not self.task.done()

    async def settled(self) -> None:
        """Until the last load started has ended (shown, failed or cancelled)."""
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)

    def after_load(self, callback: Callable[[], None]) -> None:
        """``callback()`` once the last load started has ended; now if none was started."""
        if self.task is None:
            callback()
        else:
            self.task.add_done_callback(lambda _t: callback())

    def mark_changed(self) -> None:
        """The store's rows changed (a sync, an order): the next load reads them again, and every count."""
        self._stale = True

    def forget_counts(self, *, totals: bool = True) -> None:
        """Drop the counts kept of recent results (``totals``: those by filter too)."""
        self._counts.clear()
        if totals:
            self._totals.clear()

    async def load(self, query: ListingQuery, view: View) -> Shown:
        """What ``query`` shows, given where the agent is in the result shown (``view``)."""
        previous = self.query
        same_query = query == previous
        same_filter = previous is not None and by_filter(query) == by_filter(previous)
        if same_query and not self._stale:
            # The same query over the same rows (a space typed, "Japa" spelled out to "Japan"): nothing to read.
            return Shown(Change.SAME, view.total)
        top_row, current, selected = view.top, view.current, view.selected
        offset = current - top_row if selected is not None else 0  # where on screen the selected row was
        start = top_row - top_row % WINDOW if same_query else 0
        if self._stale:
            self._counts.clear()  # the store changed: every count is taken again
            self._totals.clear()
        if not same_query and not (selected is not None and same_filter) and query not in self._counts:
            return await self._head(query)
        source = self.source
        total, split, first, rows = await source.listing_open(query, start, WINDOW, self._counts.get(query),
                                                              background=self.behind())
        self._remember(query, total, split)
        stale, self._stale = self._stale, False
        if same_query and total == view.total and total and (selected is None or
                                                             _still_at(rows, first, current, selected)):
            # The same result (e.g. a sync that changed a few values): no reset; the selection and the
            # scroll position stay, and only the rows on screen that changed are repainted.
            pages = None
            if stale:
                self._split = split
                pages = Pages(source, query, split)
            return Shown(Change.REFRESHED, total, first, rows, pages, stale=stale)
        anchor = -1
        if selected is not None and same_filter:  # a sort or a sync: the selected row is still in the result
            anchor = _find_in(rows, first, selected)
            if anchor < 0:
                anchor = await source.listing_find(query, split, selected, current if same_query else 0,
                                                   background=self.behind())
        top_at = max(anchor - offset, 0) if anchor >= 0 else (top_row if same_query else 0)
        if not first <= top_at < first + len(rows) - WINDOW // 2 and top_at < total:
            _, _, first, rows = await source.listing_open(query, top_at - top_at % WINDOW, 2 * WINDOW,
                                                          background=self.behind())
        self.query, self._split = query, split
        return Shown(Change.NEW, total, first, rows, Pages(source, query, split), anchor, top_at, stale)

    async def _head(self, query: ListingQuery) -> Shown:
        """A new filter or order with nothing to keep in view: its first rows, read before it is counted (a
        short walk of the sort index). A keystroke that matches every row costs one page before it paints,
        not a count over every row."""
        rows, total, split, split_is_total = await self.source.listing_head(query, WINDOW,
                                                                            background=self.behind())
        stale, self._stale = self._stale, False
        known = total if total is not None else self._totals.get(by_filter(query))
        if split is None and split_is_total:
            split = known  # a header click on a column every row has a value in: no count at all
        self.query = None  # until it is counted: the next load reads it whole again
        return Shown(Change.HEAD, known if known is not None else len(rows), 0, rows, stale=stale,
                     head=_Head(query, known, split, stale))

    async def count(self, shown: Shown) -> Counted:
        """A HEAD's result counted (unless its count is known already): then it is the result shown."""
        head = shown.head
        assert head is not None, "count() follows a HEAD load"
        query, total, split = head.query, head.total, head.split
        if total is None or split is None:
            try:
                total, split = await self.source.listing_count(query, total, background=self.behind())
            except asyncio.CancelledError:
                self._stale = self._stale or head.stale
                raise
        self._remember(query, total, split)
        self.query, self._split = query, split
        return Counted(total, Pages(self.source, query, split))

    async def row_of(self, query: ListingQuery, rowid: int, first_rows: Sequence[int | None]) -> int:
        """The row of ``rowid`` in the result shown, when it is ``query``'s (else -1): looked for among
        ``first_rows`` (the rowids of its first rows, as the table has them), else in the store; -1 if it is
        not in the result."""
        shown = self.query
        if shown is None or query != shown:
            return -1
        for i, key in enumerate(first_rows):
            if key == rowid:
                return i
        return await self.source.listing_find(shown, self._split, rowid, 0)

    def _remember(self, query: ListingQuery, total: int, split: int) -> None:
        self._counts[query] = (total, split)
        self._totals[by_filter(query)] = total
        for cache in (self._counts, self._totals):
            while len(cache) > COUNTS_KEPT:
                cache.pop(next(iter(cache)))


def _find_in(rows: Rows, first: int, rowid: int) -> int:
    for i, (key, _item) in enumerate(rows):
        if key == rowid:
            return first + i
    return -1


def _still_at(rows: Rows, first: int, row: int, rowid: int) -> bool:
    return 0 <= row - first < len(rows) and rows[row - first][0] == rowid
