"""A table model over plain row tuples, sorted in Python.

Measured on this machine (../shared/PERFORMANCE.md): a QSortFilterProxyModel over 50,000 Python rows
costs ~300 ms a keystroke and ~4 s a sort, because the proxy calls ``data()`` per row. Here the
filtering is done by the store's indexed queries and sorting by ``list.sort`` on precomputed keys,
then the model is reset: a few milliseconds at 100,000 rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]  # item → what the cell shows
    key: Callable[[Any], Any] | None = None  # item → sort key (default: the text)
    align_right: bool = False


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], parent=None):
        super().__init__(parent)
        self.columns = list(columns)
        self.items: list[Any] = []
        self._cells: list[tuple[str, ...]] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None

    def set_items(self, items: list[Any]) -> None:
        self.beginResetModel()
        self.items = list(items)
        if self._sort is not None:
            self._sort_items(*self._sort)
        self._cells = [tuple(c.text(it) for c in self.columns) for it in self.items]
        self.endResetModel()

    def item(self, row: int) -> Any:
        return self.items[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.items)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cells[index.row()][index.column()]
        if role == Qt.ItemDataRole.TextAlignmentRole and self.columns[index.column()].align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self._sort_items(column, order)
        self._cells = [tuple(c.text(it) for c in self.columns) for it in self.items]
        self.layoutChanged.emit()

    def _sort_items(self, column: int, order: Qt.SortOrder) -> None:
        col = self.columns[column]
        keyf = col.key or col.text
        # None sorts last whichever the direction, so empty cells never bury the data.
        present = [it for it in self.items if keyf(it) is not None]
        missing = [it for it in self.items if keyf(it) is None]
        present.sort(key=keyf, reverse=order == Qt.SortOrder.DescendingOrder)
        self.items = present + missing
