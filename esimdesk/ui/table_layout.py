"""Each tab's table remembered between starts: the columns' order, the widths the agent set, the sort.

Kept in the window's QSettings (ui.ini in the data folder) as one JSON value per tab, by column title, not
by position: a later version that adds or renames a column keeps the rest of the agent's layout (an
unknown title is skipped, a new column keeps its place after the known ones).

Only widths the agent set by hand are kept: the others are fitted again to the first page's text at each
start (``ListingTab._fit_columns``), which then leaves the kept ones alone (``ListingTab.kept_widths``).
The sort is applied while the window is built, before its first query: no second query at start-up.
"""

from __future__ import annotations

import json
import logging

from PySide6.QtCore import QEvent, QObject, QSettings, Qt

log = logging.getLogger("esimdesk.ui")

MIN_WIDTH, MAX_WIDTH = 20, 2000  # a damaged or hand-edited ui.ini never makes a column vanish or a mile wide


def visible_columns(header) -> list[int]:
    """The header's columns (logical indexes) in the order shown, hidden ones left out."""
    columns = (header.logicalIndex(visual) for visual in range(header.count()))
    return [c for c in columns if not header.isSectionHidden(c)]


class RememberedLayout(QObject):
    """One tab's layout: columns movable, the agent's resizes noted, saved and restored by title."""

    def __init__(self, tab, settings: QSettings, name: str):
        super().__init__(tab)
        self.tab, self.settings = tab, settings
        self.key = f"tables/{name}/layout"
        self.header = header = tab.table.horizontalHeader()
        header.setSectionsMovable(True)
        self._pressed = False  # the agent's mouse is down on the header: a resize now is the agent's
        header.viewport().installEventFilter(self)
        header.sectionResized.connect(self._resized)

    # --- the agent's resizes -------------------------------------------------------------------
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonDblClick):
            self._pressed = True  # a drag of a section's edge, or a double-click on it (fit to contents)
        elif kind == QEvent.Type.MouseButtonRelease:
            self._pressed = False
        return False

    def _resized(self, logical: int, _old: int, new: int) -> None:
        # The first-page fit and window resizes are not the agent's; nor is the last section's width, which
        # the header stretches to the table's edge when another column is dragged.
        if self._pressed and self.header.visualIndex(logical) != self.header.count() - 1:
            self.tab.kept_widths[logical] = new

    # --- saved and restored --------------------------------------------------------------------
    def state(self) -> dict:
        header, columns = self.header, self.tab.model.columns
        sort = header.sortIndicatorSection()
        return {
            "order": [columns[c].title for c in visible_columns(header)],
            "widths": {columns[c].title: header.sectionSize(c) for c in sorted(self.tab.kept_widths)},
            "sort": {"column": columns[sort].title,
                     "descending": header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder}
            if 0 <= sort < len(columns) else None,
        }

    def save(self) -> None:
        self.settings.setValue(self.key, json.dumps(self.state()))

    def restore(self) -> None:
        """Before the tab's first query (the window's constructor): the sort then costs nothing extra."""
        raw = self.settings.value(self.key)
        if not raw:
            return
        try:
            state = json.loads(str(raw))
            self._apply(state if isinstance(state, dict) else {})
        except (ValueError, TypeError, AttributeError) as exc:  # a damaged ui.ini: the default layout
            log.warning("the saved layout of %s was not understood (%s): default layout", self.key, exc)

    def _apply(self, state: dict) -> None:
        header, tab = self.header, self.tab
        by_title = {column.title: i for i, column in enumerate(tab.model.columns)}
        place = 0
        for title in state.get("order") or []:
            logical = by_title.get(title)
            if logical is not None:
                header.moveSection(header.visualIndex(logical), place)
                place += 1
        for title, width in (state.get("widths") or {}).items():
            logical = by_title.get(title)
            if logical is not None and isinstance(width, int):
                width = max(MIN_WIDTH, min(width, MAX_WIDTH))
                tab.kept_widths[logical] = width
                tab.table.setColumnWidth(logical, width)
        sort = state.get("sort") or {}
        logical = by_title.get(sort.get("column"))
        if logical is not None and tab.model.columns[logical].sort is not None:
            order = Qt.SortOrder.DescendingOrder if sort.get("descending") else Qt.SortOrder.AscendingOrder
            tab.sort_by(logical, order)
