"""File → Demo mailbox… (demo mode only): the e-mails the demo's mail sink was sent, each shown as the
customer gets it — the HTML part rendered (links clickable, cid: images shown), the card and any other
attachment to open or save, the whole message to open in the computer's mail program (.eml).

Layout only: the mailbox is read and parsed by services/mailbox.py, in a worker thread. What opens a file
or a link is ``opener`` (QDesktopServices.openUrl unless a test gives another).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QImage, QShowEvent, QTextDocument
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid as shiboken_valid

from esimdesk.services.mailbox import (
    MailboxMessage,
    list_messages,
    safe_filename,
    write_attachment,
    write_eml,
)

log = logging.getLogger("esimdesk.ui")

LINK_SCHEMES = ("http", "https", "mailto")  # what a click in a message may open; nothing local
_KEY = Qt.ItemDataRole.UserRole


def size_words(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.0f} KB" if n < 1024 * 1024 else f"{n / 1048576:.1f} MB"


class MailView(QTextBrowser):
    """The message's HTML as a mail program shows it: its cid: images from the message itself, nothing
    fetched from the network or read from this computer's files; a link click goes to ``linkOpened``."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)  # never navigate inside the view: anchorClicked decides
        self.images: dict[str, bytes] = {}

    def show_message(self, message: MailboxMessage | None) -> None:
        self.images = {cid: part.data for cid, part in (message.inline if message else {}).items()}
        if message is None:
            self.clear()
        elif message.html:
            self.setHtml(message.html)
        else:
            self.setPlainText(message.text)

    def loadResource(self, kind: int, url: QUrl):  # noqa: N802 (Qt's name)
        if url.scheme() == "cid" and kind == QTextDocument.ResourceType.ImageResource.value:
            data = self.images.get(url.path()) or self.images.get(url.toString()[4:])
            if data is not None:
                return QImage.fromData(data)
        return None


class DemoMailboxDialog(QDialog):
    """A list of the demo mailbox's e-mails (newest first) and the chosen one as the customer sees it."""

    def __init__(self, folder: Path | None, parent=None, *,
                 opener: Callable[[QUrl], bool] = QDesktopServices.openUrl, temp_folder: Path | None = None):
        super().__init__(parent)
        self.folder, self.opener = folder, opener
        self._temp = temp_folder
        self.messages: list[MailboxMessage] = []
        self.task: asyncio.Task | None = None
        self.setWindowTitle("Demo mailbox")
        self.setObjectName("DemoMailboxDialog")
        self.resize(1100, 720)

        intro = QLabel("The e-mails sent in the demo, as the customer gets them. Nothing leaves this computer: "
                       "the demo sends to its own mail server.")
        intro.setWordWrap(True)
        self.count_label = QLabel("")
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.start_refresh)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.count_label)
        top.addWidget(self.refresh_button)

        self.list = QTreeWidget()
        self.list.setObjectName("mailList")
        self.list.setHeaderLabels(["Date (UTC)", "To", "Subject"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setColumnWidth(0, 118)
        self.list.setColumnWidth(1, 140)
        self.list.currentItemChanged.connect(lambda *_: self._show_current())

        self.subject = QLabel("")
        self.subject.setObjectName("mailSubject")
        self.subject.setTextFormat(Qt.TextFormat.PlainText)
        self.subject.setWordWrap(True)
        self.subject.setStyleSheet("font-weight: bold; font-size: 115%;")
        self.header = QLabel("")
        self.header.setObjectName("mailHeader")
        self.header.setTextFormat(Qt.TextFormat.PlainText)  # the message's words, never markup
        self.header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.header.setWordWrap(True)
        self.codes = QLabel("")
        self.codes.setObjectName("installCodes")
        self.codes.setTextFormat(Qt.TextFormat.PlainText)
        self.codes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.codes.setWordWrap(True)
        self.codes.setStyleSheet("color: #2e5e2e;")
        self.view = MailView()
        self.view.setObjectName("mailView")
        self.view.anchorClicked.connect(self.open_link)
        self.hovered = QLabel("")
        self.hovered.setTextFormat(Qt.TextFormat.PlainText)
        self.hovered.setStyleSheet("color: #555;")
        self.view.highlighted.connect(lambda url: self.hovered.setText(url.toString()))

        self.attachments = QListWidget()
        self.attachments.setObjectName("attachments")
        self.attachments.setMaximumHeight(74)
        self.attachments.itemDoubleClicked.connect(lambda _item: self.open_attachment())
        self.attachments.currentRowChanged.connect(lambda _row: self._enable())
        self.open_button = QPushButton("&Open")
        self.open_button.clicked.connect(lambda: self.open_attachment())
        self.save_button = QPushButton("&Save…")
        self.save_button.clicked.connect(lambda: self.save_attachment())
        self.eml_button = QPushButton("Open in &mail app")
        self.eml_button.setToolTip("The whole message as an .eml file, opened by this computer's mail program")
        self.eml_button.clicked.connect(self.open_in_mail_app)
        attach_buttons = QVBoxLayout()
        attach_buttons.addWidget(self.open_button)
        attach_buttons.addWidget(self.save_button)
        attach_buttons.addStretch(1)
        attach_row = QHBoxLayout()
        attach_row.addWidget(self.attachments, 1)
        attach_row.addLayout(attach_buttons)

        reading = QWidget()
        right = QVBoxLayout(reading)
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.subject)
        right.addWidget(self.header)
        right.addWidget(self.codes)
        right.addWidget(self.view, 1)
        right.addWidget(self.hovered)
        self.attachments_label = QLabel("Attachments")
        right.addWidget(self.attachments_label)
        right.addLayout(attach_row)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.list)
        split.addWidget(reading)
        split.setStretchFactor(1, 1)
        split.setSizes([400, 700])

        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.eml_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(buttons)

        column = QVBoxLayout(self)
        column.addLayout(top)
        column.addWidget(split, 1)
        column.addLayout(bottom)
        self._enable()

    # --- reading -----------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.start_refresh()

    def start_refresh(self) -> asyncio.Task:
        """Read the mailbox again (in a task; one at a time)."""
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.refresh())
        return self.task

    async def refresh(self) -> list[MailboxMessage]:
        self.refresh_button.setEnabled(False)
        self.count_label.setText("Reading…")
        try:
            messages = await asyncio.to_thread(list_messages, self.folder)
        except Exception as exc:  # an unreadable folder: said, the dialog stays
            log.exception("the demo mailbox could not be read")
            messages, problem = [], f"The demo mailbox could not be read: {exc}"
        else:
            problem = None
        if not shiboken_valid(self):  # closed meanwhile
            return messages
        self.refresh_button.setEnabled(True)
        self.show_messages(messages)
        if problem:
            self.status.setText(problem)
        return messages

    def show_messages(self, messages: list[MailboxMessage]) -> None:
        keep = self.current.key if self.current is not None else None
        self.messages = list(messages)
        self.list.clear()
        chosen = None
        for message in self.messages:
            item = QTreeWidgetItem([f"{message.date:%Y-%m-%d %H:%M}", ", ".join(message.to_addresses) or message.to,
                                    message.subject or "(no subject)"])
            item.setData(0, _KEY, message.key)
            item.setToolTip(2, message.subject)
            self.list.addTopLevelItem(item)
            if message.key == keep:
                chosen = item
        n = len(self.messages)
        self.count_label.setText(f"{n} e-mail{'' if n == 1 else 's'}")
        if not n:
            self.status.setText("No e-mail has been sent in the demo yet: send an order's eSIMs to a customer, "
                                "then Refresh.")
        else:
            self.status.setText("")
        self.list.setCurrentItem(chosen or self.list.topLevelItem(0))
        self._show_current()

    @property
    def current(self) -> MailboxMessage | None:
        item = self.list.currentItem()
        if item is None:
            return None
        key = item.data(0, _KEY)
        return next((m for m in self.messages if m.key == key), None)

    def _show_current(self) -> None:
        message = self.current
        self.view.show_message(message)
        self.hovered.clear()
        self.attachments.clear()
        if message is None:
            self.subject.setText("")
            self.header.setText("")
            self.codes.setText("")
        else:
            self.subject.setText(message.subject or "(no subject)")
            self.header.setText(f"From: {message.sender}\nTo: {message.to}\nDate: {message.date:%Y-%m-%d %H:%M} UTC")
            codes = message.install_codes
            self.codes.setText(f"The one-tap install links carry: {', '.join(codes)}" if codes else "")
            self.codes.setVisible(bool(codes))
            for part in message.attachments:
                QListWidgetItem(f"{part.filename}  ({part.content_type}, {size_words(len(part.data))})",
                                self.attachments)
            if message.attachments:
                self.attachments.setCurrentRow(0)
        self.attachments_label.setText(f"Attachments ({self.attachments.count()})")
        self._enable()

    def _enable(self) -> None:
        message = self.current
        has_part = message is not None and 0 <= self.attachments.currentRow() < len(message.attachments)
        self.open_button.setEnabled(has_part)
        self.save_button.setEnabled(has_part)
        self.eml_button.setEnabled(message is not None)

    # --- opening -----------------------------------------------------------------------------
    def temp_folder(self) -> Path:
        """Where opened attachments and .eml files are written: this run's own temporary folder (removed
        when esimdesk quits; the program that opened a file has it by then)."""
        if self._temp is None:
            self._temp = Path(tempfile.mkdtemp(prefix="esimdesk-demo-mail-"))
            atexit.register(shutil.rmtree, self._temp, True)
        return self._temp

    def open_link(self, url: QUrl) -> bool:
        if url.scheme().lower() not in LINK_SCHEMES:
            self.status.setText(f"Not opened: {url.toString()} is not a web or mail link")
            return False
        return self._open(url, url.toString())

    def _part(self, row: int | None):
        message = self.current
        row = self.attachments.currentRow() if row is None else row
        if message is None or not 0 <= row < len(message.attachments):
            return None
        return message.attachments[row]

    def open_attachment(self, row: int | None = None) -> Path | None:
        part = self._part(row)
        if part is None:
            return None
        folder = self.temp_folder() / safe_filename(self.current.key, "message")
        try:
            path = write_attachment(part, folder)
        except OSError as exc:
            self.status.setText(f"{part.filename} could not be written to {folder}: {exc.strerror or exc}")
            return None
        self._open(QUrl.fromLocalFile(str(path)), path.name)
        return path

    def save_attachment(self, row: int | None = None, path: Path | None = None) -> Path | None:
        """Save… the chosen attachment where the agent says (``path``: without asking)."""
        part = self._part(row)
        if part is None:
            return None
        if path is None:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save attachment",
                                                    str(Path.home() / safe_filename(part.filename)))
            if not chosen:
                return None
            path = Path(chosen)
        try:
            path.write_bytes(part.data)
        except OSError as exc:
            self.status.setText(f"{part.filename} was not saved: {exc.strerror or exc} ({path})")
            return None
        self.status.setText(f"Saved {path}")
        return path

    def open_in_mail_app(self) -> Path | None:
        message = self.current
        if message is None:
            return None
        try:
            path = write_eml(message, self.temp_folder())
        except OSError as exc:
            self.status.setText(f"The message could not be written to {self.temp_folder()}: {exc.strerror or exc}")
            return None
        self._open(QUrl.fromLocalFile(str(path)), path.name)
        return path

    def _open(self, url: QUrl, what: str) -> bool:
        if self.opener(url):
            self.status.setText(f"Opened {what}")
            return True
        self.status.setText(f"Nothing on this computer opens {what}" +
                            (": Save… it and open it from there" if url.isLocalFile() else ""))
        return False
