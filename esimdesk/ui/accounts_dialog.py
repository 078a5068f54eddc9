"""File → Accounts: vendor URLs go to the settings file, credentials to the OS keychain (never to disk)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from esimdesk.domain import VENDORS, ConfigError
from esimdesk.services.config import save_accounts
from esimdesk.vendors import DEFAULT_URLS, SECRET_NAMES

TITLES = {"roumio": "Roumio", "roamify": "Roamify", "microesim": "MicroESIM", "flexiroam": "Flexiroam"}


class AccountsDialog(QDialog):
    def __init__(self, home, accounts, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Vendor accounts")
        self.home = home
        self.fields: dict[str, tuple[QLineEdit, dict[str, QLineEdit]]] = {}
        layout = QVBoxLayout(self)
        note = QLabel("Credentials are kept in the system keychain. Leave a field empty to keep what is stored.")
        note.setWordWrap(True)
        layout.addWidget(note)
        for vendor in VENDORS:
            box = QGroupBox(TITLES[vendor] + ("  ✓ enabled" if accounts.get(vendor) else ""))
            form = QFormLayout(box)
            cfg = accounts.get(vendor)
            url = QLineEdit(cfg.base_url if cfg else DEFAULT_URLS[vendor])
            form.addRow("Base URL", url)
            secrets = {}
            for name in SECRET_NAMES[vendor]:
                edit = QLineEdit()
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setPlaceholderText("stored" if cfg else "")
                form.addRow(name.capitalize(), edit)
                secrets[name] = edit
            self.fields[vendor] = (url, secrets)
            layout.addWidget(box)
        self.error = QLabel()  # why Save did not save (no keychain, unreadable settings file)
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # an error may quote a path or a vendor's words
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def save(self) -> None:
        """All vendors at once or nothing: with no keychain the dialog says so and stays open."""
        entries = {vendor: (url.text().strip(),
                            {name: text for name, edit in secrets.items() if (text := edit.text().strip())})
                   for vendor, (url, secrets) in self.fields.items()}
        try:
            save_accounts(self.home, entries)
        except ConfigError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.error.hide()
        self.accept()
