"""Small window pieces some vendors need: a travel start date for an order (Roamify's travelDate packages),
the balances line in the status bar, the install link of an eSIM copied for the customer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtWidgets import QInputDialog, QWidget

from esimdesk.domain import Balance, Plan, money_str, vendor_title
from esimdesk.ui.text import rich


def ask_start_date(parent: QWidget, plan: Plan) -> date | None:
    """The customer's travel start date (today or later), asked until valid; None when the agent cancels."""
    text = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    prompt = f"{plan.name} needs the customer's travel start date (YYYY-MM-DD):"
    while True:
        text, ok = QInputDialog.getText(parent, "Travel start date", rich(prompt), text=text)
        if not ok:
            return None
        try:
            when = date.fromisoformat(text.strip())
        except ValueError:
            prompt = f"'{text}' is not a date like 2026-12-24. {plan.name} needs the travel start date:"
            continue
        if when < datetime.now(UTC).date():
            prompt = f"{when.isoformat()} is in the past. {plan.name} needs the travel start date:"
            continue
        return when


def balance_text(balances: list[Balance]) -> str:
    """'Balance: roamify 5000.00 USD · roumio 12.00 USD' (from the last sync), or '' when none is known."""
    if not balances:
        return ""
    return "Balance: " + " · ".join(f"{vendor_title(b.vendor)} {money_str(b.amount)} {b.currency}" for b in balances)


def link_text(link) -> str:
    """What the agent pastes to the customer: the hosted install page and the code that opens it."""
    return f"{link.url} (access code {link.access_code})" if link.access_code else link.url
