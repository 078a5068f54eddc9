"""E-mail to the customer from the window (issue 30): the "E-mail to customer…" dialog (address and language,
kept for the next time; what goes with it), and the panel under an eSIM or an order listing every e-mail it
went out in, with "Send again" one click away. Layout only: what is sent, when it may be sent again and what is
recorded is services/mail.py (MailService)."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import EsimdeskError, count_of, vendor_title
from esimdesk.domain.mail import Delivery, DeliveryKind, delivery_line
from esimdesk.services.mail import Handover, MailRefused, MailResult
from esimdesk.services.mail_templates import LANGUAGES

log = logging.getLogger("esimdesk.ui")


class EmailDialog(QDialog):
    """Address, language, what goes with it; Send. A refusal stays in the dialog in words; one that needs the
    agent's word (already sent, may have been sent) turns Send into "Send again"."""

    emailSent = Signal(object)  # MailResult

    def __init__(self, desk, handover: Handover, to: str | None = None, language: str | None = None, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.handover = handover
        self.again = False
        self.task: asyncio.Task | None = None
        count = len(handover.cards)
        what = (f"eSIM {handover.ref}" if handover.kind is DeliveryKind.ESIM
                else f"order {handover.ref}: {count_of(count, 'eSIM')}")
        self.setWindowTitle(f"E-mail {what} to the customer")
        self.to = QLineEdit(to or handover.email or "")
        self.to.setObjectName("email_to")
        self.to.setPlaceholderText("customer@example.com")
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(language or handover.language)))
        plan = handover.cards[0].plan_name or f"{vendor_title(handover.vendor)} eSIM"
        self.summary = QLabel(f"{vendor_title(handover.vendor)} {what} ({plan}). The e-mail carries the one-tap install "
                              "links for iPhone and Android, the activation code as text, the QR code and the "
                              "customer card as a PDF.")
        self.summary.setWordWrap(True)
        self.earlier = QLabel()
        self.earlier.setWordWrap(True)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setObjectName("email_result")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send_button = self.buttons.addButton("Send", QDialogButtonBox.ButtonRole.AcceptRole)
        self.send_button.setObjectName("email_send")
        self.send_button.setDefault(True)
        self.buttons.rejected.connect(self.reject)
        self.send_button.clicked.connect(self.send_clicked)
        self.to.textChanged.connect(self._address_changed)
        form = QFormLayout()
        form.addRow("To", self.to)
        form.addRow("Language", self.language)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.earlier)
        layout.addWidget(self.result)
        layout.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())
        self._address_changed()

    def _address_changed(self) -> None:
        """Sending to an address it already went to (or may have) takes the agent's word: said before the click."""
        earlier = self.handover.earlier_to(self.to.text().strip()) if self.to.text().strip() else []
        self.again = bool(earlier)
        if earlier:
            self.earlier.setText("Already: " + "; ".join(delivery_line(d) for d in earlier[-3:])
                                 + ". Send again sends it once more.")
            self.send_button.setText("Send again")
        else:
            self.earlier.setText("")
            self.send_button.setText("Send")

    def send_clicked(self) -> None:
        if self.task is not None and not self.task.done():
            return  # a second click while the first is on its way sends nothing
        self.task = asyncio.ensure_future(self.send())

    async def send(self) -> MailResult | None:
        self.send_button.setEnabled(False)
        self.result.setText("Sending…")
        try:
            result = await self.desk.mail().send(self.handover.ref, self.to.text(), self.language.currentData(),
                                                  again=self.again)
        except MailRefused as refused:
            self.result.setText(str(refused))
            if refused.needs_word:  # the agent's word is one more click, with the reason in view
                self.again = True
                self.send_button.setText("Send again")
            return None
        except EsimdeskError as exc:  # a bad address, no server set, no code yet: in words, the dialog stays
            self.result.setText(str(exc))
            return None
        finally:
            self.send_button.setEnabled(True)
        self.result.setText(result.message)
        self.emailSent.emit(result)
        self.accept()
        return result


class EmailPanel(QWidget):
    """Under an eSIM (Fleet) or an order (Orders): "E-mail to customer…", the e-mails it went out in, and
    "Send again" (the last one, to the same address and language) one click away."""

    emailSent = Signal(object)  # MailResult
    emailFailed = Signal(str)  # one sentence

    def __init__(self, desk, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.target: str | None = None
        self.vendor: str | None = None
        self.iccids: list[str] = []
        self.order_id: str | None = None
        self.deliveries: list[Delivery] = []
        self.dialog: EmailDialog | None = None
        self.task: asyncio.Task | None = None
        self.email_button = QPushButton("E-mail to customer…")
        self.email_button.setObjectName("email_customer")
        self.again_button = QPushButton("Send again")
        self.again_button.setObjectName("email_again")
        self.again_button.setToolTip("Send the last e-mail once more, to the same address")
        self.list = QListWidget()  # shown only once there is an e-mail: the support actions stay above the fold
        self.list.setObjectName("email_history")
        self.list.hide()
        self.email_button.clicked.connect(lambda: self._act(self.open_dialog))
        self.again_button.clicked.connect(lambda: self._act(self.send_again))
        self.reload_task: asyncio.Task | None = None
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.email_button)
        row.addWidget(self.again_button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.list)
        self.set_target(None, None, [], None, "Select an eSIM or an order first")

    def set_target(self, target: str | None, vendor: str | None, iccids: list[str], order_id: str | None,
                   unavailable: str | None = None) -> None:
        self.target = None if unavailable else target
        self.vendor, self.iccids, self.order_id = vendor, list(iccids), order_id
        self.email_button.setEnabled(self.target is not None)
        self.email_button.setToolTip(unavailable or "E-mail the install links, the code and the card PDF to the customer")
        self.deliveries = []
        self.list.clear()
        self.list.hide()
        self.again_button.setEnabled(False)
        if vendor is not None:
            self.start_reload()

    def _act(self, work) -> asyncio.Task:
        """One e-mail action at a time from this panel: a click while one is on its way does nothing more."""
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(work())
        return self.task

    def start_reload(self) -> asyncio.Task:
        if self.reload_task is not None and not self.reload_task.done():
            self.reload_task.cancel()
        self.reload_task = asyncio.ensure_future(self.reload())
        return self.reload_task

    async def reload(self) -> None:
        vendor, iccids, order_id = self.vendor, self.iccids, self.order_id
        try:
            found = await self.desk.mail().history(vendor, iccids, order_id)
        except EsimdeskError as exc:
            log.info("e-mail history: %s", exc)
            return
        if (vendor, iccids, order_id) != (self.vendor, self.iccids, self.order_id):
            return  # another eSIM or order was selected meanwhile
        self.deliveries = found
        self.list.clear()
        self.list.addItems([delivery_line(d) for d in reversed(found)])  # the newest first
        rows = min(len(found), 3)  # three lines at most; more scroll
        self.list.setFixedHeight(rows * max(self.list.sizeHintForRow(0), 1) + 2 * self.list.frameWidth() + 2)
        self.list.setVisible(bool(found))
        self.again_button.setEnabled(self.target is not None and bool(found))
        self.again_button.setToolTip(f"Send the last e-mail once more, to {found[-1].to_address}" if found
                                     else "No e-mail to the customer yet")

    async def open_dialog(self) -> EmailDialog | None:
        try:
            handover = await self.desk.mail().prepare(self.target)
        except EsimdeskError as exc:
            self.emailFailed.emit(str(exc))
            return None
        self.dialog = EmailDialog(self.desk, handover, parent=self.window())
        self.dialog.emailSent.connect(self._sent)
        self.dialog.open()
        return self.dialog

    async def send_again(self) -> MailResult | None:
        """The last e-mail once more, to its address and language: the click is the agent's word."""
        if not self.deliveries or self.target is None:
            return None
        last = self.deliveries[-1]
        self.again_button.setEnabled(False)
        try:
            result = await self.desk.mail().send(self.target, last.to_address, last.language, again=True)
        except EsimdeskError as exc:
            self.emailFailed.emit(str(exc))
            await self.reload()
            return None
        self._sent(result)
        return result

    def _sent(self, result: MailResult) -> None:
        self.emailSent.emit(result)
        self.start_reload()
