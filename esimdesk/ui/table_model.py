"""A table model over a whole SQL result that holds only its row ids and the rows on screen.

Measured on this machine (../shared/PERFORMANCE.md): a QSortFilterProxyModel over 50,000 Python rows
costs ~300 ms a keystroke and ~4 s a sort, and formatting every cell of 100,000 rows up front holds the
GIL for seconds. Here the store filters and sorts in SQL and hands over the ids of the whole result (its
true row count); rows are read a window at a time, when the view first asks ``data()`` for one of them,
and a cell's text is computed once, when it is first painted. Sorting asks the owner for a new id list
(``sortRequested``), so a sort orders the whole result, not the rows loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

log = logging.getLogger("esimdesk.ui")

WINDOW = 200  # rows read per look-up: a few screens
CACHE_ROWS = 4000  # items kept; older windows are read again if the agent scrolls back to them


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]  # item → what the cell shows
    sort: str | None = None  # the store's sort key for this column (store/listings.py); None: not sortable
    align_right: bool = False


class WindowedModel(QAbstractTableModel):
    sortRequested = Signal(str, bool)  # sort key, descending: the owner reloads the ids in that order
    rowsFetched = Signal(int, int)  # first, last row whose items arrived (tests and benchmarks wait on it)

    def __init__(self, columns: Sequence[Column], fetch: Callable[[list[int]], Awaitable[dict[int, Any]]],
                 fetch_now: Callable[[int], Any], parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self._fetch = fetch  # rowids -> {rowid: item}, off the GUI thread
        self._fetch_now = fetch_now  # one rowid -> item, a primary-key look-up on this thread
        self.ids: list[int] = []
        self._items: OrderedDict[int, Any] = OrderedDict()
        self._cells: dict[int, tuple[str, ...]] = {}
        self._wanted: set[int] = set()  # window starts asked for and not yet arrived
        self._generation = 0  # +1 at each new id list: a late window of an older list is dropped
        self._tasks: set[asyncio.Task] = set()
        self._flush = QTimer(self)  # the windows one paint asks for go out as one look-up
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._fetch_wanted)
        self.sort_key: str | None = None
        self.descending = False

    # --- what the owner sets -----------------------------------------------------------------
    def set_ids(self, ids: list[int], items: dict[int, Any] | None = None, *, same_data: bool = True) -> None:
        """A new result. ``items``: rows already read (the first window), shown at once. ``same_data``:
        the rows themselves did not change (a new filter or sort), so cached rows stay valid."""
        self.beginResetModel()
        self._generation += 1
        self.ids = ids
        if not same_data:
            self._items.clear()
            self._cells.clear()
        self._wanted.clear()
        for rowid, item in (items or {}).items():
            self._keep(rowid, item)
        self.endResetModel()

    def refresh(self, rows: list[int], items: dict[int, Any]) -> list[int]:
        """The same result, its rows re-read after the store changed (a sync): only the rows whose item
        changed are repainted; rows read earlier and not on screen are dropped, to be read again if shown.
        Returns the rows that changed."""
        keep = {self.ids[r] for r in rows if 0 <= r < len(self.ids)}
        for rowid in [r for r in self._items if r not in keep]:
            del self._items[rowid]
            self._cells.pop(rowid, None)
        changed = []
        for row in rows:
            rowid = self.ids[row]
            new = items.get(rowid)
            if new is not None and new != self._items.get(rowid):
                self._items[rowid] = new
                self._cells.pop(rowid, None)
                changed.append(row)
        for row in changed:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
        return changed

    def rowid(self, row: int) -> int | None:
        return self.ids[row] if 0 <= row < len(self.ids) else None

    def row_of(self, rowid: int | None) -> int:
        """The row showing ``rowid``, or -1 (a C-level scan of the id list: ~1 ms at 190,000 rows)."""
        if rowid is None:
            return -1
        try:
            return self.ids.index(rowid)
        except ValueError:
            return -1

    def item(self, row: int) -> Any:
        """The domain object of a row, read now if it is not loaded (one primary-key look-up)."""
        rowid = self.ids[row]
        item = self._items.get(rowid)
        if item is None:
            item = self._fetch_now(rowid)
            if item is not None:
                self._keep(rowid, item)
        return item

    def loaded(self, row: int) -> bool:
        rowid = self.rowid(row)
        return rowid is not None and rowid in self._items

    # --- Qt ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            rowid = self.ids[index.row()]
            cells = self._cells.get(rowid)
            if cells is None:
                item = self._items.get(rowid)
                if item is None:
                    self._want(index.row())
                    return "…" if index.column() == 0 else ""
                cells = self._cells[rowid] = tuple(c.text(item) for c in self.columns)
            return cells[index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and self.columns[index.column()].align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].title
            if role == Qt.ItemDataRole.ToolTipRole and self.columns[section].sort is None:
                return "Not sortable"
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column].sort
        if key is None:
            return
        self.sort_key, self.descending = key, order == Qt.SortOrder.DescendingOrder
        self.sortRequested.emit(key, self.descending)

    # --- windows ---------------------------------------------------------------------------------
    def _keep(self, rowid: int, item: Any) -> None:
        self._items[rowid] = item
        self._items.move_to_end(rowid)
        while len(self._items) > CACHE_ROWS:
            old, _ = self._items.popitem(last=False)
            self._cells.pop(old, None)

    def _want(self, row: int) -> None:
        start = row - row % WINDOW
        if start not in self._wanted:
            self._wanted.add(start)
            self._flush.start()

    def _fetch_wanted(self) -> None:
        starts = sorted(self._wanted)
        if not starts:
            return
        generation = self._generation
        # The windows asked for, plus the next one: scrolling on finds its rows already read.
        rows = set()
        for s in starts:
            rows.update(range(s, min(s + 2 * WINDOW, len(self.ids))))
        wanted = sorted(rows)
        rowids = [self.ids[r] for r in wanted if self.ids[r] not in self._items]
        task = asyncio.ensure_future(self._read(generation, starts, wanted, rowids))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read(self, generation: int, starts: list[int], rows: list[int], rowids: list[int]) -> None:
        try:
            items = await self._fetch(rowids) if rowids else {}
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed read leaves "…" and is asked again at the next paint
            log.exception("reading rows for the table failed")
            if generation == self._generation:
                self._wanted.difference_update(starts)
            return
        if generation != self._generation:
            return  # a newer result replaced the one these rows were for
        for rowid, item in items.items():
            self._keep(rowid, item)
        self._wanted.difference_update(starts)
        if rows:
            self.dataChanged.emit(self.index(rows[0], 0), self.index(rows[-1], len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
            self.rowsFetched.emit(rows[0], rows[-1])

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()
