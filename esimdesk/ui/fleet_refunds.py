"""Refund requests in Fleet's support panel (issue 30; Roamify): the eSIM's requests with their status,
"Request refund…" (a reason from the list, notes, and the consequence: the vendor's support decides, nothing
is refunded until it approves, the eSIM keeps working), "Cancel request" while one is open, and "Refresh" to
ask the vendor again. Each button is enabled by the eSIM and its requests (services/refunds.py
``refund_availability``), greyed with the reason otherwise. The behaviour is the Desk's and the services'; this
is the layout. Shown only for a vendor that takes refund requests."""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import Action, Esim, EsimdeskError, vendor_title
from esimdesk.domain.refunds import REFUND_NOTES_MAX, REFUND_REASONS, RefundRequest, refund_consequence
from esimdesk.ui.text import rich

log = logging.getLogger("esimdesk.ui")


class RefundDialog(QDialog):
    """The reason (from the list), notes, and what sending does."""

    def __init__(self, esim: Esim, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Request a refund")
        self.reason = QComboBox()
        for code, words in REFUND_REASONS.items():
            self.reason.addItem(f"{words} ({code})", code)
        self.notes = QPlainTextEdit()
        self.notes.setPlaceholderText(f"What {vendor_title(esim.vendor)} support should know (optional, at most "
                                      f"{REFUND_NOTES_MAX} characters)")
        self.notes.setMaximumHeight(90)
        self.consequence = QLabel(f"Request a refund of eSIM {esim.iccid}: {refund_consequence(esim.vendor)}. "
                                  "One request at a time; an open one can be cancelled.")
        self.consequence.setWordWrap(True)
        self.consequence.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Send request")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Reason", self.reason)
        form.addRow("Notes", self.notes)
        layout = QVBoxLayout(self)
        layout.addWidget(self.consequence)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def values(self) -> tuple[str, str | None]:
        return self.reason.currentData(), self.notes.toPlainText().strip()[:REFUND_NOTES_MAX] or None


class RefundBox(QWidget):
    done = Signal(str)  # a result sentence, for the status bar
    failed = Signal(str)  # refused or not done, in words, for the message bar

    def __init__(self, desk, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.esim: Esim | None = None
        self.requests: list[RefundRequest] = []
        self.reasons: dict[Action, str | None] = {}
        self.busy = False
        self.task: asyncio.Task | None = None
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.request_button = QPushButton("Request refund…")
        self.cancel_button = QPushButton("Cancel request")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Ask the vendor for this eSIM's refund requests now")
        self.request_button.clicked.connect(lambda: self._start(self._request()))
        self.cancel_button.clicked.connect(lambda: self._start(self._cancel()))
        self.refresh_button.clicked.connect(lambda: self._start(self.refresh()))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for b in (self.request_button, self.cancel_button, self.refresh_button):
            row.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.status)
        layout.addLayout(row)
        self._load_task: asyncio.Task | None = None
        self.hide()

    # --- state -------------------------------------------------------------------------------------
    def set_esim(self, esim: Esim | None) -> None:
        self.esim = esim
        takes = esim is not None and self.desk.takes_refunds(esim.vendor)
        self.setVisible(takes)
        if not takes:
            return
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        self._load_task = asyncio.ensure_future(self.load())

    async def load(self) -> None:
        esim = self.esim
        if esim is None:
            return
        requests, reasons = await self.desk.refunds_of(esim)
        if self.esim is esim:
            self.requests, self.reasons = requests, reasons
            self._show()

    def _show(self) -> None:
        for action, button, hint in ((Action.REFUND, self.request_button, "asks for a reason first"),
                                     (Action.CANCEL_REFUND, self.cancel_button, "withdraw the open request")):
            why = BUSY if self.busy else self.reasons.get(action, "select an eSIM")
            button.setEnabled(why is None)
            button.setToolTip(why[0].upper() + why[1:] if why else hint)
        self.refresh_button.setEnabled(not self.busy and self.esim is not None)
        if not self.requests:
            self.status.setText("Refund: no request for this eSIM.")
            return
        latest = self.requests[0]
        words = latest.words()
        self.status.setText("Refund: " + words[0].upper() + words[1:] + "."
                            + (f" ({len(self.requests) - 1} earlier)" if len(self.requests) > 1 else ""))

    def _start(self, coro) -> None:
        if self.esim is not None and not self.busy:
            self.task = asyncio.ensure_future(coro)
        else:
            coro.close()

    # --- asking, then doing ----------------------------------------------------------------------------
    def ask(self) -> tuple[str, str | None] | None:
        """The dialog (tests replace this); None when the agent cancels."""
        dialog = RefundDialog(self.esim, self)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    async def _request(self) -> None:
        if self.reasons.get(Action.REFUND) is not None:
            return
        answer = self.ask()
        if answer is None:
            return
        reason, notes = answer
        await self._run(lambda esim: self.desk.refund_request(esim, reason, notes))

    async def _cancel(self) -> None:
        if self.reasons.get(Action.CANCEL_REFUND) is not None or not self.requests:
            return
        answer = QMessageBox.question(self, "Cancel refund request",
                                      rich(f"Withdraw refund request {self.requests[0].refund_id}? Nothing is "
                                           "refunded; a new request can be sent later."),
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            await self._run(lambda esim: self.desk.refund_cancel(esim))

    async def _run(self, call) -> None:
        esim = self.esim
        self.busy = True
        self._show()
        self.status.setText(f"Refund: asking {vendor_title(esim.vendor)}…")
        failure = None
        try:
            said = (await call(esim)).message
        except EsimdeskError as exc:
            said = str(exc)
            failure = f"Refund request {esim.iccid}: {said}"
        except Exception as exc:  # a bug must not leave the box busy for ever
            log.exception("refund request failed unexpectedly")
            said = failure = f"The refund request failed unexpectedly ({type(exc).__name__}); see the log"
        finally:
            self.busy = False
        if self.esim is esim:
            await self.load()
            self.status.setText(self.status.text() + "\n" + said)
        self.done.emit(said)
        if failure is not None:
            self.failed.emit(failure)

    async def refresh(self) -> None:
        esim = self.esim
        if esim is None:
            return
        self.refresh_button.setEnabled(False)
        try:
            _, problems = await self.desk.refunds_refresh(esim)
        except EsimdeskError as exc:
            problems = [str(exc)]
        if self.esim is esim:
            await self.load()
            if problems:
                self.status.setText(self.status.text() + "\n" + "; ".join(problems))


BUSY = "a refund request is being sent"
