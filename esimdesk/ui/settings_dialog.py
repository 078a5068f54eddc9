"""File → Settings…: vendor accounts (with Test connection), low-balance thresholds, exchange rates, cards.

The forms are Designer files (ui/settings_dialog.ui, ui/vendor_account.ui, ui/card_settings.ui) compiled
to esimdesk/ui/forms; the per-vendor rows are added here because each vendor needs other credentials.
Credentials go to the OS keychain only (services/config.py); everything else to settings.json. Saving and
testing run off the GUI thread or as tasks on the window's loop: the window never freezes.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QGroupBox, QLineEdit, QTableWidgetItem, QWidget

from esimdesk.domain import VENDORS, EsimdeskError, ValidationError, money_str
from esimdesk.domain.mail import MailSettings, validate_email
from esimdesk.services.card_settings import logo_error, save_card_settings
from esimdesk.services.config import (
    DEFAULT_URLS,
    SECRET_NAMES,
    load_settings,
    register_secrets,
    save_accounts,
)
from esimdesk.services.connection_check import ConnectionCheck, check_connection
from esimdesk.services.currency import rules_from, save_price_rules
from esimdesk.services.mail_settings import save_mail_settings
from esimdesk.services.preferences import (
    VENDOR_TITLES,
    make_rates,
    parse_amount,
    parse_rate,
    rates_from,
    save_preferences,
    thresholds_from,
    vendors_with_balance,
)
from esimdesk.services.refresh_settings import policy_from, refresh_policy, save_refresh_hours
from esimdesk.ui.card_settings_dialog import CardSettingsForm
from esimdesk.ui.email_settings_form import EmailSettingsForm
from esimdesk.ui.forms.ui_settings_dialog import Ui_SettingsDialog
from esimdesk.ui.forms.ui_vendor_account import Ui_VendorAccount
from esimdesk.ui.price_rules_form import PriceRulesForm
from esimdesk.ui.sync_settings_form import SyncSettingsForm

PAGES = ("accounts", "thresholds", "rates", "prices", "sync", "email", "cards")
OK_STYLE, FAILED_STYLE = "color: #1b5e20;", "color: #b00020;"


class VendorAccountBox(QGroupBox, Ui_VendorAccount):
    """One vendor: base URL, its credentials (as many as it needs), Test connection and its answer."""

    def __init__(self, vendor: str, config, saved_url: str | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setupUi(self)
        self.vendor = vendor
        self.setObjectName(f"account_{vendor}")
        self.setTitle(VENDOR_TITLES[vendor] + ("  ✓ enabled" if config else ""))
        # A vendor without credentials yet keeps the URL saved for it (saving must not reset it).
        self.base_url.setText(config.base_url if config else saved_url or DEFAULT_URLS[vendor])
        self.secrets: dict[str, QLineEdit] = {}
        for row, name in enumerate(SECRET_NAMES[vendor], start=1):  # below the URL, above Test connection
            edit = QLineEdit(self)
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setPlaceholderText("stored" if config else "")
            self.form.insertRow(row, name.capitalize(), edit)
            self.secrets[name] = edit

    def typed(self) -> dict[str, str]:
        return {name: text for name, edit in self.secrets.items() if (text := edit.text().strip())}


class SettingsDialog(QDialog, Ui_SettingsDialog):
    saved = Signal()  # every page written (accounts, thresholds, rates, cards)
    connectionChecked = Signal(str, bool, str)  # vendor, connected, the outcome in words

    def __init__(self, home, accounts, balances=(), parent: QWidget | None = None, page: str = "accounts",
                 demo: bool = False):
        super().__init__(parent)
        self.setupUi(self)
        self.home = home
        self.accounts = accounts  # the enabled accounts: their stored credentials back Test connection
        self.error.hide()
        self._tasks: set[asyncio.Task] = set()
        try:
            settings = load_settings(home)
        except EsimdeskError as exc:  # unreadable settings file: say so; Save reports it again
            settings = {}
            self._show_error(str(exc))

        self.boxes: dict[str, VendorAccountBox] = {}
        for vendor in VENDORS:
            urls = settings.get("urls") if isinstance(settings.get("urls"), dict) else {}
            box = VendorAccountBox(vendor, accounts.get(vendor), urls.get(vendor), self.accounts_list)
            box.test_button.clicked.connect(lambda _=False, v=vendor: self._start(self.test_connection(v)))
            self.accounts_layout.addWidget(box)
            self.boxes[vendor] = box
        self.accounts_layout.addStretch(1)

        currencies = {b.vendor: b.currency for b in balances}
        saved_thresholds = thresholds_from(settings)
        self.thresholds: dict[str, QLineEdit] = {}
        for vendor in vendors_with_balance():
            edit = QLineEdit(money_str(saved_thresholds[vendor]) if vendor in saved_thresholds else "", self)
            edit.setObjectName(f"threshold_{vendor}")
            edit.setPlaceholderText("no warning")
            currency = currencies.get(vendor)
            self.thresholds_form.addRow(f"{VENDOR_TITLES[vendor]}" + (f" ({currency})" if currency else ""), edit)
            self.thresholds[vendor] = edit

        rates = rates_from(settings)
        self.agent_currency.setText(rates.agent_currency or "")
        for rate in rates.by_currency.values():
            self.add_rate_row(rate.currency, str(rate.rate), rate.as_of.isoformat())
        self.add_rate_button.clicked.connect(lambda: self.add_rate_row())
        self.remove_rate_button.clicked.connect(self.remove_rate_row)

        self.rates_note.setText(
            "Prices are shown in your currency, converted at the European Central Bank's daily reference rates "
            "(and Roamify's where a Roamify account is set up), fetched by every sync. Leave your currency empty "
            "to use your computer's. A rate entered here overrides the fetched ones for its currency.")
        self.prices_page = PriceRulesForm(rules_from(settings))
        self.pages.insertTab(self.pages.indexOf(self.cards_page), self.prices_page, "Prices")
        self.sync_page = SyncSettingsForm(policy_from(settings))  # the file read once, above
        self.pages.insertTab(self.pages.indexOf(self.cards_page), self.sync_page, "Sync")
        self.email_page = EmailSettingsForm(MailSettings.from_json(settings.get("email")), demo)
        self.pages.insertTab(self.pages.indexOf(self.cards_page), self.email_page, "E-mail")

        self.cards = CardSettingsForm(home, self.cards_page)
        self.cards_layout.addWidget(self.cards)

        self.buttons.accepted.connect(lambda: self._start(self.save()))
        self.buttons.rejected.connect(self.reject)
        self.show_page(page)

    # --- pages ------------------------------------------------------------------------------
    def show_page(self, page: str) -> None:
        if page not in PAGES:
            raise ValueError(f"no settings page {page!r}")
        self.pages.setCurrentWidget(getattr(self, f"{page}_page"))

    def add_rate_row(self, currency: str = "", rate: str = "", as_of: str | None = None) -> int:
        row = self.rates_table.rowCount()
        self.rates_table.insertRow(row)
        as_of = as_of or datetime.now(UTC).date().isoformat()  # a new rate is usually today's
        for column, text in enumerate((currency, rate, as_of)):
            self.rates_table.setItem(row, column, QTableWidgetItem(text))
        return row

    def remove_rate_row(self) -> None:
        rows = sorted({i.row() for i in self.rates_table.selectedIndexes()} or {self.rates_table.currentRow()},
                      reverse=True)
        for row in rows:
            if row >= 0:
                self.rates_table.removeRow(row)

    def _cell(self, row: int, column: int) -> str:
        item = self.rates_table.item(row, column)
        return item.text() if item is not None else ""

    # --- work ---------------------------------------------------------------------------------
    def _start(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        # A Test connection still waiting must not write into a closed dialog.
        for task in list(self._tasks):
            if not task.done():
                task.cancel()
        super().done(result)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    async def test_connection(self, vendor: str) -> ConnectionCheck:
        """Ask the vendor once with the URL shown and the credentials typed (or, where a field is left
        empty, the stored one); the answer in words under the button."""
        box = self.boxes[vendor]
        stored = self.accounts.get(vendor)
        secrets = {**(dict(stored.secrets) if stored else {}), **box.typed()}
        box.test_button.setEnabled(False)
        box.test_result.setStyleSheet("")
        box.test_result.setText(f"Asking {VENDOR_TITLES[vendor]}…")
        try:
            result = await check_connection(vendor, box.base_url.text(), secrets)
        finally:
            box.test_button.setEnabled(True)
        box.test_result.setStyleSheet(OK_STYLE if result.ok else FAILED_STYLE)
        box.test_result.setText(result.text)  # plain-text label (the .ui): the vendor's words stay text
        self.connectionChecked.emit(vendor, result.ok, result.text)
        return result

    def _collect(self):
        """Everything the agent typed, checked, before anything is written (errors in words)."""
        entries = {vendor: (box.base_url.text().strip(), box.typed()) for vendor, box in self.boxes.items()}
        thresholds = {}
        for vendor, edit in self.thresholds.items():
            thresholds[vendor] = parse_amount(edit.text(), f"the {VENDOR_TITLES[vendor]} low-balance threshold")
        rows = []
        for row in range(self.rates_table.rowCount()):
            cells = [self._cell(row, c) for c in range(3)]
            if not any(c.strip() for c in cells[:2]):
                continue  # a row added and left empty is no rate
            rows.append(parse_rate(*cells))
        rates = make_rates(self.agent_currency.text(), rows)
        rules = self.prices_page.rules()
        register_secrets(s for _, typed in entries.values() for s in typed.values())  # never in a log line
        mail = self.email_page.settings()
        if mail.from_address:
            mail = replace(mail, from_address=validate_email(mail.from_address))
        password = self.email_page.typed_password()
        if password:
            register_secrets([password])
        return entries, thresholds, rates, self.cards.values(), rules, self.sync_page.hours(), (mail, password)

    def _write(self, entries, thresholds, rates, card, rules, refresh_hours, email) -> None:
        """In a worker thread: the keychain and the settings file may be slow (a keychain prompt, a disk)."""
        name, logo, price_on_card = card
        if logo and (problem := logo_error(logo)):  # before anything is written
            raise ValidationError(f"the logo cannot be used: {problem}")
        save_accounts(self.home, entries)  # keychain first; no keychain: nothing written at all
        save_preferences(self.home, thresholds=thresholds, rates=rates)
        save_price_rules(self.home, rules)
        if refresh_hours != refresh_policy(self.home).refresh_hours:  # written only when changed
            save_refresh_hours(self.home, refresh_hours)
        save_card_settings(self.home, name, logo, price_on_card)
        mail, password = email
        if mail != MailSettings.from_json(load_settings(self.home).get("email")) or password:  # only when changed
            save_mail_settings(self.home, mail, password)

    async def save(self) -> bool:
        """Save every page; on a problem say it and stay open (True: saved and closed)."""
        try:
            plan = self._collect()
        except EsimdeskError as exc:
            self._show_error(str(exc))
            return False
        self.buttons.setEnabled(False)
        try:
            # A closure, not arguments: an executor's debug log would print its arguments, credentials too.
            await asyncio.to_thread(lambda: self._write(*plan))
        except EsimdeskError as exc:
            self._show_error(str(exc))
            return False
        finally:
            self.buttons.setEnabled(True)
        self.error.hide()
        self.saved.emit()
        self.accept()
        return True

