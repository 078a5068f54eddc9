"""The toolbar's "Go to an eSIM or order" box (Ctrl+K from any tab): layout and wiring only.

Which tab a text goes to is services/go_to.py's (without Qt); here the tab is shown and the text put in its
search box, whose own search shows the result (a single match selected, its detail shown: listing_page.py).
Support from any tab is then two interactions: Ctrl+K, and the digits the customer reads out.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QLineEdit

from esimdesk.services.go_to import GoTo

KEY = "Ctrl+K"


class GoToBox(QLineEdit):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("goToBox")
        self.setPlaceholderText(f"Go to an eSIM or order ({QKeySequence(KEY).toString(QKeySequence.SequenceFormat.NativeText)})")
        self.setToolTip("The last digits of an ICCID (or all of it) → Fleet; an order id or a reference → Orders")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(self.placeholderText()) + 40)

    def sizeHint(self):  # noqa: N802 (Qt's name)
        """As wide as its placeholder: a corner widget is placed by its size hint (a line edit's default is
        ~17 characters), and a wider minimum would push it past the window's edge."""
        hint = super().sizeHint()
        hint.setWidth(max(hint.width(), self.minimumWidth()))
        return hint


class KeepKey(QObject):
    """Lets the window's Ctrl+K through a focused text field: on X11 a QLineEdit claims Ctrl+K as "delete to the
    end of the line" before any window shortcut."""

    def __init__(self, key: str, parent=None):
        super().__init__(parent)
        self.key = QKeySequence(key)

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.ShortcutOverride and QKeySequence(event.keyCombination()) == self.key:
            return True  # not accepted by the field: the shortcut runs
        return False


class GoToWiring:
    """The box in the window: each text decided (a newer keystroke cancels the older decision), then the tab
    shown with the text in its search; Enter moves into that tab's rows."""

    def __init__(self, window, box: GoToBox):
        self.window, self.box = window, box
        self.session = GoTo.over(window.desk)
        self._timer = QTimer(box)  # keystrokes that arrive together (a paste) are one decision
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._decide)
        box.textChanged.connect(lambda _text: self._timer.start())
        box.returnPressed.connect(self._enter)
        self.keep_key = KeepKey(KEY, box)
        for edit in [box, *(page.search for page in window.pages.values())]:
            edit.installEventFilter(self.keep_key)

    def focus(self) -> None:
        self.box.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.box.selectAll()  # typing replaces the last one

    @property
    def task(self):
        """The last decision (the tests and a benchmark wait on it)."""
        return self.session.task

    def _decide(self) -> None:
        self.session.start(self.box.text(), self._show)

    def _show(self, listing: str, text: str) -> None:
        tab = next(page for page in self.window.pages.values() if page.listing == listing)
        if self.window.tabs.currentWidget() is not tab:
            self.window.tabs.setCurrentWidget(tab)
        if tab.search.text() != text:
            tab.search.setText(text)

    def _enter(self) -> None:
        tab = self.window.tabs.currentWidget()
        if tab is not None and tab.model.rowCount():
            if not tab.table.currentIndex().isValid():
                tab.table.selectRow(0)
            tab.table.setFocus(Qt.FocusReason.OtherFocusReason)
