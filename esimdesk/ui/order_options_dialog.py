"""MicroESIM's order options (issue 21), inside the order dialog (issue 27: one dialog, not two): a start
date for a plan that starts by order date (``activation_date``, UTC, within 30 days) and the customer's
e-mail (``custom_email``: the vendor mails the eSIM). Shown only for a vendor whose adapter takes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, QTimeZone
from PySide6.QtWidgets import QWidget

from esimdesk.domain.order_options import validate_activation_date, validate_email
from esimdesk.ui.forms.ui_order_options import Ui_OrderOptions
from esimdesk.vendors import adapter_class


def takes_options(vendor: str) -> bool:
    return bool(adapter_class(vendor).order_options)


class OrderOptionsPanel(QWidget, Ui_OrderOptions):
    """The form is ui/order_options.ui (compiled to esimdesk/ui/forms); the date's range is set here."""

    def __init__(self, plan_name: str, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.name.setText(f"Options of {plan_name}:")  # a vendor's plan name: a plain-text label, never markup
        self.when.setTimeZone(QTimeZone.utc())
        now = datetime.now(UTC)
        self.when.setMinimumDateTime(QDateTime.fromSecsSinceEpoch(int(now.timestamp()), QTimeZone.utc()))
        self.when.setMaximumDateTime(QDateTime.fromSecsSinceEpoch(int((now + timedelta(days=30)).timestamp()),
                                                                  QTimeZone.utc()))
        self.when.setDateTime(QDateTime.fromSecsSinceEpoch(int((now + timedelta(days=1)).timestamp()),
                                                           QTimeZone.utc()))
        self.start.toggled.connect(self.when.setEnabled)

    def options(self) -> dict:
        """The options as ``place_order`` takes them; ValidationError in words for a bad value."""
        out: dict = {}
        if self.start.isChecked():
            when = datetime.fromtimestamp(self.when.dateTime().toSecsSinceEpoch(), UTC)
            out["activation_date"] = validate_activation_date(when)
        if self.email.text().strip():
            out["custom_email"] = validate_email(self.email.text())
        return out


def describe(options: dict) -> str:
    """For the order's confirmation: what the options do."""
    parts = []
    if "activation_date" in options:
        parts.append(f"the plan starts {options['activation_date']:%Y-%m-%d %H:%M} UTC")
    if "custom_email" in options:
        parts.append(f"MicroESIM e-mails the eSIM to {options['custom_email']}")
    return ("; ".join(parts) + ".") if parts else ""
