"""The message bar above the tabs: what went wrong (the vendor's reason and what to do) or a notice, in
words, until the agent closes it. Not a status-bar line that the next message wipes, not a modal box that
stops the window."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QStyle, QToolButton

STYLES = {
    "error": "QFrame#messageBar { background: #fdecea; border: 1px solid #f5c2c0; border-radius: 3px; }"
             " QLabel { color: #611a15; }",
    "info": "QFrame#messageBar { background: #e8f1fb; border: 1px solid #b9d3f0; border-radius: 3px; }"
            " QLabel { color: #0d3c61; }",
}


class MessageBar(QFrame):
    dismissed = Signal()  # the agent closed it

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.kind: str | None = None
        self.icon = QLabel()
        self.label = QLabel()
        # Vendor text goes in as it is: plain text shows "<b>" as those three characters.
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # to paste in a ticket
        self.close_button = QToolButton()
        self.close_button.setObjectName("messageBarClose")
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.label, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def text(self) -> str:
        """What it says now ('' once dismissed)."""
        return "" if self.isHidden() else self.label.text()

    def show_error(self, text: str) -> None:
        self._show("error", text, QStyle.StandardPixmap.SP_MessageBoxWarning)

    def show_info(self, text: str) -> None:
        self._show("info", text, QStyle.StandardPixmap.SP_MessageBoxInformation)

    def dismiss(self) -> None:
        was_shown = not self.isHidden()
        self.hide()
        self.kind = None
        self.label.clear()
        if was_shown:
            self.dismissed.emit()

    def _show(self, kind: str, text: str, icon) -> None:
        self.kind = kind
        self.setStyleSheet(STYLES[kind])
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.icon.setPixmap(self.style().standardIcon(icon).pixmap(size, size))
        self.label.setText(text)
        self.show()
