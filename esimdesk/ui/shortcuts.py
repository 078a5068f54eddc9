"""The window's keyboard: Ctrl+F search, Ctrl+K go to an eSIM or order, F5/Ctrl+R sync, Ctrl+P print, Ctrl+C copy rows, Ctrl+1/2/3 tabs,
Ctrl+E export; each an action in a menu, so the menus show the keys.

Ctrl+C is a window action: a focused search box (or any text field) takes its own Ctrl+C first (Qt lets a
text field claim a standard key before the window's shortcut), so the rows are copied only where no text
can be.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence

from esimdesk.ui.table_layout import visible_columns

TAB_KEYS = ("Ctrl+1", "Ctrl+2", "Ctrl+3")


def sync_keys() -> list[QKeySequence]:
    """F5 and Ctrl+R everywhere, plus the platform's Refresh (e.g. Cmd+R on macOS); each key once (one key
    bound twice to one action is an ambiguous shortcut and would do nothing)."""
    keys: dict[str, QKeySequence] = {}
    for key in [*QKeySequence.keyBindings(QKeySequence.StandardKey.Refresh), QKeySequence("F5"),
                QKeySequence("Ctrl+R")]:
        if not key.isEmpty():
            keys.setdefault(key.toString(), key)
    return list(keys.values())


def _cell(text: str) -> str:
    """A cell in tab-separated text: its own tabs and line breaks would start a new cell or row."""
    return " ".join(text.replace("\t", " ").splitlines())


def rows_text(tab) -> tuple[str, int]:
    """The selected rows of a tab's table (else its current row) as the table shows them: the visible
    columns in their order, tab-separated, one line a row; and how many rows."""
    table, model = tab.table, tab.model
    rows = sorted({index.row() for index in table.selectionModel().selectedRows()})
    if not rows and table.currentIndex().isValid():
        rows = [table.currentIndex().row()]
    columns = visible_columns(table.horizontalHeader())
    lines = []
    for row in rows:
        if not model.loaded(row):
            model.item(row)  # its page now (one short read): never "…" on the clipboard
        lines.append("\t".join(_cell(model.cell_text(row, c)) for c in columns))
    return "\n".join(lines), len(rows)


class Shortcuts:
    """The actions behind the keys; ``menus()`` puts Edit and View in the menu bar."""

    def __init__(self, window):
        self.window = window
        self.find_action = self._action("&Find", QKeySequence.StandardKey.Find, self.find,
                                        "Put the cursor in the shown table's search box")
        self.go_to_action = self._action("&Go to an eSIM or order…", QKeySequence("Ctrl+K"), self.go_to,
                                         "The last digits of an ICCID, an order id or a reference: that tab, "
                                         "that row")
        self.go_to_action.setObjectName("goToAction")
        self.copy_action = self._action("&Copy rows", QKeySequence.StandardKey.Copy, self.copy_rows,
                                        "The selected row as text of the columns shown, tab-separated")
        self.print_action = self._action("&Print customer card(s)…", QKeySequence.StandardKey.Print,
                                         self.print_cards, "The selected eSIM's or order's customer card(s)")
        self.export_action = self._action("&Export table as CSV…", QKeySequence("Ctrl+E"), self.export,
                                          "Every row of the shown table, as filtered and sorted, to a CSV file")
        self.tab_group = QActionGroup(window)
        self.tab_group.setExclusive(True)
        self.tab_actions: list[QAction] = []
        for i, key in enumerate(TAB_KEYS[:window.tabs.count()]):
            # The tab, with the cursor in its search box: Ctrl+1 and the agent types "japan 7 days" at once.
            action = self._action(f"&{window.tabs.tabText(i)}", QKeySequence(key),
                                  lambda _checked=False, i=i: self.show_tab(i))
            action.setCheckable(True)
            self.tab_group.addAction(action)
            self.tab_actions.append(action)
        window.tabs.currentChanged.connect(self._tab_shown)
        self._tab_shown(window.tabs.currentIndex())
        self.exporter = None  # the export in progress (table_export.TableExport), for the tests

    def _action(self, text: str, key, slot, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)  # the key works while the menu bar is hidden (e.g. full screen)
        return action

    def menus(self, before: QAction) -> None:
        """Edit and View in the menu bar, before ``before`` (the Help menu)."""
        bar = self.window.menuBar()
        edit = bar.addMenu("&Edit")
        edit.addAction(self.find_action)
        edit.addAction(self.go_to_action)
        edit.addAction(self.copy_action)
        view = bar.addMenu("&View")
        for action in self.tab_actions:
            view.addAction(action)
        for menu in (edit, view):
            bar.insertMenu(before, menu)

    def _tab_shown(self, index: int) -> None:
        if 0 <= index < len(self.tab_actions):
            self.tab_actions[index].setChecked(True)

    # --- what the keys do ----------------------------------------------------------------------
    def tab(self):
        return self.window.tabs.currentWidget()

    def show_tab(self, index: int) -> None:
        self.window.tabs.setCurrentIndex(index)
        self.find()

    def find(self) -> None:
        search = self.tab().search
        search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        search.selectAll()  # typing replaces the last search

    def go_to(self) -> None:
        self.window.go_to.focus()  # the toolbar's box (ui/go_to.py)

    def copy_rows(self) -> int:
        text, n = rows_text(self.tab())
        status = self.window.statusBar()
        if not n:
            status.showMessage("Nothing to copy: select a row first", 4000)
            return 0
        QGuiApplication.clipboard().setText(text)
        status.showMessage(f"{n} row{'s' if n != 1 else ''} copied", 4000)
        return n

    def print_cards(self) -> bool:
        tab = self.tab()
        actions = getattr(tab, "card_actions", None)
        if actions is None:
            self.window.statusBar().showMessage(
                "The Catalog has no customer cards: select an eSIM in Fleet or an order in Orders", 6000)
            return False
        if not actions.print_action.isEnabled():
            self.window.statusBar().showMessage(actions.print_action.toolTip(), 6000)  # why not, in words
            return False
        actions.print_action.trigger()
        return True

    def export(self) -> None:
        from esimdesk.ui.table_export import TableExport  # on Ctrl+E, not in the window's cold start

        exporter = TableExport(self.window, self.tab())  # no parent: it lives as long as its task
        if exporter.ask_path():
            self.exporter = exporter
            exporter.start()
