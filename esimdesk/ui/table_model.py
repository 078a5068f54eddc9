"""A table model over a whole SQL result that holds only its row count and the rows near the screen.

Measured on this machine (../shared/PERFORMANCE.md): a QSortFilterProxyModel over 50,000 Python rows
costs ~300 ms a keystroke and ~4 s a sort, and formatting every cell of 100,000 rows up front holds the
GIL for seconds. Here the store filters and sorts in SQL and gives the result's true row count; rows
are read a page at a time by position (over the sort index) when the view first asks ``data()`` for one
of them, and a cell's text is computed once, when it is first painted. Sorting asks the owner for the
result in the new order (``sortRequested``), so a sort orders the whole result, not the rows loaded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from esimdesk.services.listing_session import WINDOW  # rows per page: the session reads pages of this size

log = logging.getLogger("esimdesk.ui")

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)  # roles are asked for every cell of every paint: plain ints
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)  # made once: a flag per call costs
CACHE_ROWS = 4000  # rows kept; older pages are read again if the agent scrolls back to them


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]  # item → what the cell shows
    sort: str | None = None  # the store's sort key for this column (store/listings.py); None: not sortable
    align_right: bool = False
    sample: str = ""  # as wide as the column's widest usual text, for the first fit (e.g. "9,999.99 HKD")


class RowLook(NamedTuple):
    """A painted row's looks: per column (icon or None, brush or None), and the row's font (None: the view's);
    ``bars``: per column None or (fraction 0..1, brush or None), drawn as a thin bar along the cell's foot
    (a share of a whole: Fleet's data used of its allowance; None brush: the palette's highlight)."""

    cells: Sequence[tuple[Any, Any]]
    font: Any = None
    bars: Sequence[tuple[float, Any] | None] | None = None


class WindowedModel(QAbstractTableModel):
    """Rows by position in the store's result; pages of ``WINDOW`` rows read when first painted.

    The owner sets each result as its row count and the pages it already read (``set_result``), and
    gives the model how to read one more page: ``fetch(offset, limit)`` (a coroutine, off the GUI
    thread) and ``fetch_now(offset, limit)`` (on this thread, for an item wanted at once)."""

    sortRequested = Signal(str, bool)  # sort key, descending: the owner reloads the result in that order

    def __init__(self, columns: Sequence[Column], parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self.tips: dict[str, str] = {}  # header tooltips by sort key or title
        self._right = [c.align_right for c in self.columns]
        self.fetch: Callable[[int, int], Awaitable[list[tuple[int, Any]]]] | None = None
        self.fetch_now: Callable[[int, int], list[tuple[int, Any]]] | None = None
        self.total = 0
        self._pages: OrderedDict[int, list[tuple[int, Any]]] = OrderedDict()  # page number -> rows
        self._cells: dict[int, tuple[str, ...]] = {}  # row -> its cells' text
        self._wanted: set[int] = set()  # pages asked for and not yet arrived
        self._generation = 0  # +1 at each new result: a late page of an older one is dropped
        self._tasks: set[asyncio.Task] = set()
        self._flush = QTimer(self)  # the pages one paint asks for go out as one look-up
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._fetch_wanted)
        self.sort_key: str | None = None
        self.descending = False

    # --- what the owner sets -----------------------------------------------------------------
    def set_result(self, total: int, start: int, rows: list[tuple[int, Any]], fetch, fetch_now) -> None:
        """A new result of ``total`` rows; ``rows`` are those from position ``start`` (already read)."""
        self.beginResetModel()
        self._generation += 1
        self.total = total
        self.fetch, self.fetch_now = fetch, fetch_now
        self._pages.clear()
        self._cells.clear()
        self._wanted.clear()
        self._put(start, rows)
        self.endResetModel()

    def bind(self, fetch, fetch_now) -> None:
        """How to read more pages of the result shown (known once it is counted): pages the view asked
        for meanwhile are read now."""
        self.fetch, self.fetch_now = fetch, fetch_now
        if self._wanted:
            self._flush.start()

    def set_total(self, total: int) -> None:
        """The result's true count, once counted, after its first rows were shown (``set_result``
        with a count of just those rows): the rows past them are added, and read as they are shown."""
        if total > self.total:
            self.beginInsertRows(QModelIndex(), self.total, total - 1)
            self.total = total
            self.endInsertRows()
        elif total < self.total:
            self.beginRemoveRows(QModelIndex(), total, self.total - 1)
            self.total = total
            for page in [p for p in self._pages if p * WINDOW >= total]:
                del self._pages[page]
            self._cells = {r: c for r, c in self._cells.items() if r < total}
            self.endRemoveRows()

    def _put(self, start: int, rows: list[tuple[int, Any]]) -> list[int]:
        """Rows read from position ``start`` into whole pages (a partial first page is read again later)."""
        filled = []
        first_page = -(-start // WINDOW)  # the first page that starts at or after ``start``
        for page in range(first_page, (start + len(rows)) // WINDOW + 1):
            lo = page * WINDOW - start
            chunk = rows[lo:lo + WINDOW]
            if chunk and (len(chunk) == WINDOW or page * WINDOW + len(chunk) >= self.total):
                self._pages[page] = chunk
                self._pages.move_to_end(page)
                for row in range(page * WINDOW, page * WINDOW + len(chunk)):
                    self._cells.pop(row, None)
                filled.append(page)
        while len(self._pages) > CACHE_ROWS // WINDOW:
            old, chunk = self._pages.popitem(last=False)
            for row in range(old * WINDOW, old * WINDOW + len(chunk)):
                self._cells.pop(row, None)
        return filled

    def refresh(self, start: int, rows: list[tuple[int, Any]]) -> list[int]:
        """The same result re-read from ``start`` after the store changed (a sync): only rows whose item
        changed are repainted; pages not re-read are dropped, to be read again when shown. Returns the
        rows that changed."""
        before = {}
        for page, chunk in self._pages.items():
            for i, (rowid, item) in enumerate(chunk):
                before[page * WINDOW + i] = (rowid, item)
        self._pages.clear()
        filled = self._put(start, rows)
        changed = []
        for page in filled:
            for i, pair in enumerate(self._pages[page]):
                row = page * WINDOW + i
                if before.get(row) != pair:
                    changed.append(row)
        self._cells.clear()
        for row in changed:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
        return changed

    def rowid(self, row: int) -> int | None:
        pair = self._pair(row)
        return pair[0] if pair else None

    def loaded(self, row: int) -> bool:
        return self._pair(row) is not None

    def _pair(self, row: int) -> tuple[int, Any] | None:
        if not 0 <= row < self.total:
            return None
        chunk = self._pages.get(row // WINDOW)
        if chunk is None or row % WINDOW >= len(chunk):
            return None
        return chunk[row % WINDOW]

    def item(self, row: int) -> Any:
        """The domain object of a row, its page read now if it is not loaded (one short query)."""
        pair = self._pair(row)
        if pair is None and self.fetch_now is not None and 0 <= row < self.total:
            page = row // WINDOW
            self._put(page * WINDOW, self.fetch_now(page * WINDOW, WINDOW))
            pair = self._pair(row)
        return pair[1] if pair else None

    # --- Qt ----------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self.total

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        # Paints go through multiData; this answers everyone else (an invalid index: nothing).
        if not index.isValid():
            return None
        if role == _DISPLAY:
            return self._text(index.row(), index.column())
        if role == _ALIGNMENT and self._right[index.column()]:
            return RIGHT
        return None

    def multiData(self, index: QModelIndex | QPersistentModelIndex, span) -> None:  # noqa: N802
        """Every role a painted cell needs, in one call: Qt's item delegate asks seven roles a cell through
        this, which would otherwise be seven calls into Python (~2,400 a screen of rows)."""
        column = index.column()
        for k in range(len(span)):
            wanted = span[k]
            role = wanted.role()
            if role == _DISPLAY:
                wanted.setData(self._text(index.row(), column))
            elif role == _ALIGNMENT and self._right[column]:
                wanted.setData(RIGHT)
            else:
                wanted.clearData()

    def cell_text(self, row: int, column: int) -> str:
        """What the cell shows ("…" while its row is being read)."""
        return self._text(row, column)

    def _text(self, row: int, column: int) -> str:
        cells = self.row_cells(row)
        if cells is None:
            return "…" if column == 0 else ""
        return cells[column]

    def row_cells(self, row: int) -> tuple[str, ...] | None:
        """A row's cell texts, computed when one of its cells is first painted; None while its page is
        being read (asked for here)."""
        cells = self._cells.get(row)
        if cells is None:
            pair = self._pair(row)
            if pair is None:
                self._want(row)
                return None
            cells = self._cells[row] = tuple(c.text(pair[1]) for c in self.columns)
        return cells

    def row_look(self, row: int) -> RowLook | None:
        """How a painted row differs from plain text (an icon, a colour, a font), or None: most rows. Models
        that colour rows (the Orders tab's status) override it; it is asked once per painted row."""
        return None

    def right_aligned(self) -> list[bool]:
        """Per column: its text is aligned right (amounts)."""
        return self._right

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return self.columns[section].title
            if role == Qt.ItemDataRole.ToolTipRole:
                # What the column means, by its sort key or its title (``tips``, set by the tab)
                tip = self.tips.get(self.columns[section].sort or self.columns[section].title)
                if tip:
                    return tip
                if self.columns[section].sort is None:
                    return "Not sortable"
        return None

    def redraw(self) -> None:
        """Every loaded row's cells made again (the agent's currency or rates changed): O(rows on screen)."""
        self._cells.clear()
        if self.total:
            self.dataChanged.emit(self.index(0, 0), self.index(self.total - 1, len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.columns) - 1)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = self.columns[column].sort
        if key is None:
            return
        self.sort_key, self.descending = key, order == Qt.SortOrder.DescendingOrder
        self.sortRequested.emit(key, self.descending)

    # --- pages -------------------------------------------------------------------------------
    def _want(self, row: int) -> None:
        page = row // WINDOW
        if page not in self._wanted:
            self._wanted.add(page)
            self._flush.start()

    def _fetch_wanted(self) -> None:
        pages = sorted(self._wanted)
        if not pages or self.fetch is None:
            return
        # Consecutive pages go out as one read, plus the next page: scrolling on finds it read.
        runs: list[list[int]] = []
        for page in pages:
            if runs and page == runs[-1][-1] + 1:
                runs[-1].append(page)
            else:
                runs.append([page])
        for run in runs:
            task = asyncio.ensure_future(self._read(self._generation, run))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _read(self, generation: int, pages: list[int]) -> None:
        start, count = pages[0] * WINDOW, (len(pages) + 1) * WINDOW
        try:
            rows = await self.fetch(start, count)  # type: ignore[misc]
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed read leaves "…" and is asked again at the next paint
            log.exception("reading rows for the table failed")
            if generation == self._generation:
                self._wanted.difference_update(pages)
            return
        if generation != self._generation:
            return  # a newer result replaced the one these rows were for
        self._wanted.difference_update(pages)
        rows = rows[:max(0, self.total - start)]  # the store may hold more by now (a sync): the count shown rules
        self._put(start, rows)
        if rows:
            last = start + len(rows) - 1
            self.dataChanged.emit(self.index(start, 0), self.index(last, len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
