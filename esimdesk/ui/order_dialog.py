"""Catalog → Order…: what is ordered, what it costs and what it leaves on the vendor's balance; then the
order's progress and its eSIMs' QR codes.

The form is ui/order_dialog.ui (compiled to esimdesk/ui/forms). The balance is asked live from the vendor
while the agent fills the form (a task on the window's loop; the cached figure, with its age, when the
vendor does not answer), so "before → after" is what the order will really leave.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import (
    Balance,
    EsimdeskError,
    Order,
    Plan,
    Sale,
    ValidationError,
    money_str,
    vendor_title,
)
from esimdesk.services.currency import Pricing
from esimdesk.ui.cards_dialogs import CardActions
from esimdesk.ui.email_panel import EmailPanel
from esimdesk.ui.forms.ui_order_dialog import Ui_OrderDialog
from esimdesk.ui.order_detail import SHOWN_ESIMS, EsimList
from esimdesk.ui.order_options_dialog import OrderOptionsPanel, describe, takes_options

log = logging.getLogger("esimdesk.ui")
vendor_name = vendor_title  # one source: domain/words.py


def plan_summary(plan: Plan) -> str:
    data = "unlimited data" if plan.data_mb is None else (
        f"{plan.data_mb / 1024:g} GB" if plan.data_mb >= 1024 else f"{plan.data_mb} MB")
    if plan.daily and plan.data_mb is not None:
        data += " a day"
    return f"{vendor_name(plan.vendor)} · {plan.name}\n{data} · {plan.validity_days} days · plan id {plan.plan_id}"


def fit_placeholders(dialog: QWidget) -> None:
    """Every line edit of ``dialog`` at least as wide as its placeholder (with its frame and margins), in the
    font it has here: the hint is read whole ("… (made for you if empty)"), not cut at "(made for yo…"."""
    for edit in dialog.findChildren(QLineEdit):
        hint = edit.placeholderText()
        if hint:
            margins = edit.textMargins()
            frame = edit.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, edit)
            edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance(hint) + margins.left() + margins.right()
                                 + 2 * frame + 2 * LINE_EDIT_PADDING)


LINE_EDIT_PADDING = 6  # Qt's QLineEdit keeps 2 px each side inside its frame; a little more for the cursor


class OrderDialog(QDialog, Ui_OrderDialog):
    """Quantity, reference and customer note; the vendor's options where it takes any (MicroESIM's start date
    and customer e-mail: in this dialog, not one of their own); unit price and total with the cost in the
    agent's currency, what the customer pays (the price rules), the balance before and after; the OK button
    names the charge. Plain-text labels throughout: plan names are vendor text."""

    def __init__(self, plan: Plan, desk, pricing: Pricing | None = None, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.offer, self.desk, self.pricing = plan, desk, pricing
        self.plan.setText(plan_summary(plan))
        self.vendor_options: OrderOptionsPanel | None = None
        if takes_options(plan.vendor):
            self.vendor_options = OrderOptionsPanel(plan.name, self)
            self.layout.replaceWidget(self.options, self.vendor_options)
            self.options.deleteLater()
            self.vendor_options.start.toggled.connect(lambda _on: self._update())
            self.vendor_options.when.dateTimeChanged.connect(lambda _d: self._update())
            self.vendor_options.email.textChanged.connect(lambda _t: self._update())
        else:
            self.options.hide()
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.quantity.valueChanged.connect(lambda _n: self._update())
        self.balance_before: Balance | None = None
        self.balance_note = f"asking {vendor_name(plan.vendor)}…"
        fit_placeholders(self)
        self._asking = asyncio.ensure_future(self._ask_balance())
        self._update()

    async def _ask_balance(self) -> None:
        try:
            row = await self.desk.balance_now(self.offer.vendor)
        except EsimdeskError as exc:
            row, failure = None, str(exc)
        else:
            failure = None
        if row is None:
            self.balance_note = failure or f"{vendor_name(self.offer.vendor)} reports no balance"
        elif row.balance is None:
            self.balance_note = f"unknown: {row.error}"
        else:
            self.balance_before = row.balance
            seen = row.balance.observed_at
            self.balance_note = "" if row.error is None else (
                f"last seen {seen:%Y-%m-%d %H:%M} UTC; {vendor_name(self.offer.vendor)} did not answer now: {row.error}"
                if seen else f"{vendor_name(self.offer.vendor)} did not answer now: {row.error}")
        self._update()

    def total_amount(self):
        return self.offer.price * self.quantity.value()

    def sale(self) -> Sale | None:
        """What the customer pays for the whole order (the unit's selling price × quantity), with the cost
        in the same currency: kept with the order as quoted now."""
        quoted = self.pricing.quote(self.offer) if self.pricing is not None else None
        if quoted is None:
            return None
        n = self.quantity.value()
        return Sale(quoted.sell * n, quoted.currency, quoted.cost * n,
                    quoted.rule.words() if quoted.rule is not None else None)

    def options_text(self) -> str:
        try:
            return describe(self.vendor_options.options()) if self.vendor_options is not None else ""
        except ValidationError:
            return ""

    def _update(self) -> None:
        plan, quantity, total = self.offer, self.quantity.value(), self.total_amount()
        currency = plan.currency
        converted = self.pricing.cost(total, currency) if self.pricing is not None else None
        in_agent = (f" (≈ {money_str(converted.amount)} {converted.currency}"
                    + (f", {self.pricing.note(currency)}" if self.pricing.note(currency) else "") + ")"
                    if converted is not None and converted.as_of is not None else "")
        self.unit_price.setText(f"{money_str(plan.price)} {currency}")
        self.total.setText(f"{money_str(total)} {currency}" + (f" ({quantity} × {money_str(plan.price)})"
                                                                 if quantity > 1 else "") + in_agent)
        sale = self.sale()
        self.sell.setText("no exchange rate for this currency" if sale is None else
                          f"{money_str(sale.total)} {sale.currency} (no price rule: sold at cost)" if not sale.rule else
                          f"{money_str(sale.total)} {sale.currency} (margin {money_str(sale.margin)} {sale.currency}; "
                          f"rule {sale.rule})")
        before = self.balance_before
        short = False
        if before is None:
            self.balance.setText(self.balance_note)
        elif before.currency != currency:
            self.balance.setText(f"{money_str(before.amount)} {before.currency}: not in {currency}, so what is "
                                 "left after the order cannot be said here")
        else:
            after = before.amount - total
            short = after < 0
            self.balance.setText(f"{money_str(before.amount)} → {money_str(after)} {currency} after this order"
                                 + (f" ({self.balance_note})" if self.balance_note else ""))
        self.charge.setText(f"Charges {money_str(total)} {currency} to the {vendor_name(plan.vendor)} account for "
                            f"{quantity} × {plan.name}." + (f"\n{self.options_text()}" if self.options_text() else ""))
        self.problem.setText(f"The {vendor_name(plan.vendor)} balance does not cover this order: top the account up "
                             "first, or order fewer." if short else "")
        self.ok_button.setEnabled(not short)
        self.ok_button.setText(f"Order and pay {money_str(total)} {currency}")

    def _accept(self) -> None:
        reference = self.reference.text().strip()
        if reference and not all(c.isalnum() or c in "-_./#" for c in reference):
            self.problem.setText("A reference may hold letters, digits and - _ . / # only")
            return
        try:
            self.order_options()
        except ValidationError as exc:
            self.problem.setText(str(exc))
            return
        self.accept()

    def order_options(self) -> dict:
        """The vendor's options as ``place_order`` takes them ({} where it takes none); ValidationError in words."""
        return self.vendor_options.options() if self.vendor_options is not None else {}

    def values(self) -> tuple[int, str | None, str | None]:
        """(quantity, the agent's reference or None, the customer note or None)."""
        return (self.quantity.value(), self.reference.text().strip() or None, self.note.text().strip() or None)

    def done(self, result: int) -> None:
        self._asking.cancel()
        super().done(result)


class OrderProgressDialog(QDialog):
    """Beside the window (not modal): the order's progress (sending, ALLOCATING "x of n profiles ready"),
    then its eSIMs with their QR codes and Copy, or what went wrong in words."""

    def __init__(self, plan: Plan, quantity: int, desk, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Order: {quantity} × {plan.name}")
        self.state = QLabel(f"Ordering {quantity} × {plan.name} from {vendor_name(plan.vendor)}…")
        self.state.setTextFormat(Qt.TextFormat.PlainText)  # plan names are vendor text
        self.state.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.esims = EsimList()
        self.esims.hide()
        self.card_actions = CardActions(desk)  # the customer's cards, printed right after the order
        self.card_actions.hide()
        self.email = EmailPanel(desk)  # or e-mail them to the customer at once (issue 30)
        self.email.hide()
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addWidget(self.busy)
        layout.addWidget(self.card_actions)
        layout.addWidget(self.email)
        layout.addWidget(self.esims, 1)
        layout.addWidget(self.close_button)
        self.resize(520, 200)

    def progress(self, message: str) -> None:
        self.state.setText(message)

    def completed(self, order: Order, text: str) -> None:
        self.busy.hide()
        self.state.setText(text)
        self.esims.show_esims(order.esims)
        self.esims.show()
        if any(e.activation_code for e in order.esims):
            self.card_actions.set_target(order.order_id or order.reference, None)
            self.card_actions.show()
            if order.order_id:
                self.email.set_target(order.order_id, order.vendor, [e.iccid for e in order.esims], order.order_id)
                self.email.show()
        self.resize(max(self.width(), 560), 160 + 150 * min(len(order.esims), SHOWN_ESIMS))

    def failed(self, text: str) -> None:
        self.busy.hide()
        self.state.setStyleSheet("color: #b00020;")
        self.state.setText(text)
