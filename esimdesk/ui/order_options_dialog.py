"""MicroESIM's order options in the window (issue 21): a start date for a plan that starts by order
date (``activation_date``, UTC, within 30 days) and the customer's e-mail (``custom_email``: the vendor
mails the eSIM). Shown only for a vendor whose adapter takes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, Qt, QTimeZone
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
)

from esimdesk.domain import ValidationError
from esimdesk.domain.order_options import validate_activation_date, validate_email
from esimdesk.vendors import adapter_class


def takes_options(vendor: str) -> bool:
    return bool(adapter_class(vendor).order_options)


class OrderOptionsDialog(QDialog):
    def __init__(self, plan_name: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("MicroESIM order options")
        self.start = QCheckBox("Start the plan on a date (for plans that start by order date)")
        self.when = QDateTimeEdit()
        self.when.setTimeZone(QTimeZone.utc())
        self.when.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
        self.when.setCalendarPopup(True)
        now = datetime.now(UTC)
        self.when.setMinimumDateTime(QDateTime.fromSecsSinceEpoch(int(now.timestamp()), QTimeZone.utc()))
        self.when.setMaximumDateTime(QDateTime.fromSecsSinceEpoch(int((now + timedelta(days=30)).timestamp()),
                                                                  QTimeZone.utc()))
        self.when.setDateTime(QDateTime.fromSecsSinceEpoch(int((now + timedelta(days=1)).timestamp()),
                                                           QTimeZone.utc()))
        self.when.setEnabled(False)
        self.start.toggled.connect(self.when.setEnabled)
        self.email = QLineEdit()
        self.email.setPlaceholderText("optional: MicroESIM mails the eSIM to this address")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self.problem.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        name = QLabel(plan_name)
        name.setTextFormat(Qt.TextFormat.PlainText)  # a vendor's plan name is text, never markup
        form.addRow(name)
        form.addRow(self.start)
        form.addRow("Starts", self.when)
        form.addRow("Customer e-mail", self.email)
        form.addRow(self.problem)
        form.addRow(buttons)

    def options(self) -> dict:
        """The options as ``place_order`` takes them; ValidationError in words for a bad value."""
        out: dict = {}
        if self.start.isChecked():
            when = datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch(), UTC)
            out["activation_date"] = validate_activation_date(when)
        if self.email.text().strip():
            out["custom_email"] = validate_email(self.email.text())
        return out

    def _accept(self) -> None:
        try:
            self.options()
        except ValidationError as exc:
            self.problem.setText(str(exc))
            self.problem.show()
            return
        self.accept()


def describe(options: dict) -> str:
    """For the order's confirmation: what the options do."""
    parts = []
    if "activation_date" in options:
        parts.append(f"the plan starts {options['activation_date']:%Y-%m-%d %H:%M} UTC")
    if "custom_email" in options:
        parts.append(f"MicroESIM e-mails the eSIM to {options['custom_email']}")
    return ("; ".join(parts) + ".") if parts else ""


def ask(plan, parent=None) -> dict | None:
    """The options for an order of ``plan`` ({} where the vendor takes none), or None if the agent cancelled."""
    if not takes_options(plan.vendor):
        return {}
    dialog = OrderOptionsDialog(plan.name, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.options()
