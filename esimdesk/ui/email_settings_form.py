"""Settings → E-mail: the reseller's SMTP server the e-mails to customers go through, and "Send a test message".
Layout only: the settings are domain/mail.py's MailSettings, kept by services/mail_settings.py (the password in
the OS keychain only); the test is services/mail.py's."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import EsimdeskError
from esimdesk.domain.mail import DEFAULT_PORTS, MailSettings, Security
from esimdesk.services.mail import MailService
from esimdesk.services.mail_settings import PASSWORD_ENV, mail_password
from esimdesk.services.mail_templates import LANGUAGES

SECURITY_WORDS = {Security.STARTTLS: "STARTTLS (port 587)", Security.TLS: "TLS on connect (port 465)",
                  Security.NONE: "None (only a server on this computer)"}
OK_STYLE, FAILED_STYLE = "color: #1b7e2f", "color: #b3261e"


class EmailSettingsForm(QWidget):
    testSent = Signal(bool, str)  # sent, the outcome in words

    def __init__(self, settings: MailSettings, demo: bool = False, parent=None):
        super().__init__(parent)
        note = QLabel("E-mails to customers (Fleet and Orders → E-mail to customer…) go through your own mail "
                      "server. The password is kept in the system keychain only"
                      f" (or {PASSWORD_ENV} for headless use)."
                      + (" Demo: every e-mail goes to the demo's own mail sink (File → Demo mailbox…), whatever is "
                         "set here." if demo else ""))
        note.setWordWrap(True)
        self.host = QLineEdit(settings.host)
        self.host.setObjectName("smtp_host")
        self.host.setPlaceholderText("smtp.example.com")
        self.security = QComboBox()
        self.security.setObjectName("smtp_security")
        for sec, words in SECURITY_WORDS.items():
            self.security.addItem(words, sec.value)
        self.security.setCurrentIndex(self.security.findData(settings.security.value))
        self.port = QSpinBox()
        self.port.setObjectName("smtp_port")
        self.port.setRange(1, 65535)
        self.port.setValue(settings.port)
        self.security.currentIndexChanged.connect(self._security_changed)
        self.username = QLineEdit(settings.username)
        self.username.setObjectName("smtp_username")
        self.username.setPlaceholderText("empty: the server takes mail without a login")
        self.password = QLineEdit()
        self.password.setObjectName("smtp_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        # Not read from the keychain here (it may be slow, or ask): empty keeps the one saved.
        self.password.setPlaceholderText("empty: the one saved in the keychain stays")
        self.from_address = QLineEdit(settings.from_address)
        self.from_address.setObjectName("smtp_from")
        self.from_address.setPlaceholderText("support@your-shop.example")
        self.reseller = QLineEdit(settings.reseller_name)
        self.reseller.setObjectName("smtp_reseller")
        self.reseller.setPlaceholderText("the name on the cards")
        self.language = QComboBox()
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(settings.language)))
        self.ca_file = QLineEdit(settings.ca_file)
        self.ca_file.setPlaceholderText("optional: your company's CA certificate (PEM), if the server's is its own")
        self.test_to = QLineEdit()
        self.test_to.setObjectName("smtp_test_to")
        self.test_to.setPlaceholderText("the sender address")
        self.test_button = QPushButton("Send a test message")
        self.test_button.setObjectName("smtp_test")
        self.test_result = QLabel()
        self.test_result.setWordWrap(True)
        self.test_result.setObjectName("smtp_test_result")
        self.test_button.clicked.connect(lambda: self._start_test())
        self.task: asyncio.Task | None = None
        form = QFormLayout()
        form.addRow("SMTP server", self.host)
        form.addRow("Security", self.security)
        form.addRow("Port", self.port)
        form.addRow("Login", self.username)
        form.addRow("Password", self.password)
        form.addRow("Sender address", self.from_address)
        form.addRow("Reseller name", self.reseller)
        form.addRow("Default language", self.language)
        form.addRow("CA file", self.ca_file)
        test = QHBoxLayout()
        test.addWidget(self.test_to, 1)
        test.addWidget(self.test_button)
        form.addRow("Test to", test)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.test_result)
        layout.addStretch(1)

    def _security_changed(self) -> None:
        sec = Security(self.security.currentData())
        if self.port.value() in DEFAULT_PORTS.values():  # a port the agent typed stays
            self.port.setValue(DEFAULT_PORTS[sec])

    def settings(self) -> MailSettings:
        return MailSettings(host=self.host.text().strip(), port=self.port.value(),
                            security=Security(self.security.currentData()), username=self.username.text().strip(),
                            from_address=self.from_address.text().strip(), reseller_name=self.reseller.text().strip(),
                            language=self.language.currentData(), ca_file=self.ca_file.text().strip())

    def typed_password(self) -> str | None:
        """A new password typed, or None (the keychain's stays)."""
        return self.password.text() or None

    def _start_test(self) -> asyncio.Task:
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.send_test())
        return self.task

    async def send_test(self) -> bool:
        """With the settings as typed (and the password typed, else the keychain's): not saved first."""
        settings = self.settings()
        typed = self.typed_password()
        service = MailService(None, lambda: settings, password=lambda s: (typed or mail_password()) if s.username else None)
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Sending through {settings.host or '(no server)'}…")
        try:
            text = await service.send_test(self.test_to.text().strip() or None)
            ok = True
        except EsimdeskError as exc:
            text, ok = str(exc), False
        finally:
            self.test_button.setEnabled(True)
        self.test_result.setStyleSheet(OK_STYLE if ok else FAILED_STYLE)
        self.test_result.setText(text)
        self.testSent.emit(ok, text)
        return ok
