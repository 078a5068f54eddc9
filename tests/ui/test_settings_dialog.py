"""File → Settings… (issue 13): vendor accounts to the keychain only, Test connection in words without
freezing the window, low-balance thresholds warned in the status bar, exchange rates kept exactly."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialogButtonBox

from esimdesk.domain import Balance
from esimdesk.sandbox import SANDBOX_CREDENTIALS
from esimdesk.services.config import Accounts, load_accounts, load_settings, settings_path
from esimdesk.services.desk import Desk
from esimdesk.services.preferences import Rate, exchange_rates, low_balance_thresholds
from esimdesk.services.runtime import AppContext
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow
from esimdesk.ui.settings_dialog import SettingsDialog
from esimdesk.vendors.http import install_log_redaction
from tests.conftest import MemoryKeyring

ROUMIO_KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]


@pytest.fixture
def home():
    path = Path(os.environ["ESIMDESK_HOME"])  # the data folder (tests/conftest.py points it at tmp_path)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _dialog_closing_is_not_the_app_quitting(qapp):
    # In the app the dialog's parent is the window; here it is the last window, and closing it would quit
    # the app and stop the loop under the test.
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


def wait(loop, condition, timeout=10.0):
    """Run the window's loop until ``condition()`` holds (the way the agent would wait, painting)."""
    async def poll():
        while not condition():
            await asyncio.sleep(0.02)

    loop.run_until_complete(asyncio.wait_for(poll(), timeout))


def make_dialog(qtbot, home, accounts=None, **kwargs) -> SettingsDialog:
    dialog = SettingsDialog(home, accounts or Accounts(), **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_credentials_go_to_the_keychain_and_to_no_file_in_the_data_folder(loop, qtbot, home, sandbox,
                                                                          memory_keyring):
    log_file = logging.FileHandler(home / "esimdesk.log")  # as a desk logging to a file would
    root = logging.getLogger()
    level = root.level
    root.addHandler(log_file)
    root.setLevel(logging.DEBUG)
    install_log_redaction()
    try:
        dialog = make_dialog(qtbot, home)
        box = dialog.boxes["roumio"]
        box.base_url.setText(sandbox.urls["roumio"])
        box.secrets["KEY"].setText(ROUMIO_KEY)
        box.test_button.click()  # also a vendor call with the secret: its log lines must not carry it
        wait(loop, lambda: box.test_result.text().startswith("Connected"))
        dialog.thresholds["roumio"].setText("50")
        dialog.cards.name.setText("Globetrotter SIMs")
        dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
        wait(loop, lambda: dialog.result() == SettingsDialog.DialogCode.Accepted)
        logging.getLogger("esimdesk.test").warning("credential typed: %s", ROUMIO_KEY)  # the redactor's turn
    finally:
        root.removeHandler(log_file)
        root.setLevel(level)
        log_file.close()
    assert memory_keyring.store == {("esimdesk", "roumio.key"): ROUMIO_KEY}
    assert load_accounts(home).get("roumio").base_url == sandbox.urls["roumio"]
    files = [p for p in home.rglob("*") if p.is_file()]
    assert {"settings.json", "esimdesk.log"} <= {p.name for p in files}
    assert (home / "esimdesk.log").stat().st_size > 0
    for path in files:
        assert ROUMIO_KEY.encode() not in path.read_bytes(), path


class RefusingKeyring(MemoryKeyring):
    """Takes the first secret, then refuses (a locked keychain mid-save)."""

    def set_password(self, service, username, password):
        if self.store:
            raise keyring.errors.PasswordSetError("the keychain is locked")
        super().set_password(service, username, password)


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, RefusingKeyring])
def test_save_without_a_keychain_says_so_and_writes_nothing(loop, qtbot, home, backend):
    settings_path(home).write_text(json.dumps({"urls": {"roamify": "http://127.0.0.1:9/roamify"}}, indent=2))
    before = settings_path(home).read_bytes()
    ring = backend()
    keyring.set_keyring(ring)
    dialog = make_dialog(qtbot, home)
    dialog.boxes["roumio"].secrets["KEY"].setText("k-roumio-1")
    dialog.boxes["flexiroam"].secrets["KEY"].setText("k-flexiroam-2")
    dialog.thresholds["roumio"].setText("50")  # not saved either: all or nothing
    assert loop.run_until_complete(dialog.save()) is False
    assert settings_path(home).read_bytes() == before
    text = dialog.error.text()
    assert not dialog.error.isHidden() and "keychain" in text and "keyrings.alt" in text and "ESIMDESK_" in text
    assert dialog.isVisible() and dialog.result() != SettingsDialog.DialogCode.Accepted
    if isinstance(ring, MemoryKeyring):
        assert ring.store == {}  # the one secret it took was taken back


def test_pasted_credentials_are_trimmed_and_blank_keeps_what_is_stored(loop, qtbot, home, memory_keyring):
    dialog = make_dialog(qtbot, home)
    dialog.boxes["roumio"].base_url.setText("  http://127.0.0.1:9/roumio/v1 \n")
    dialog.boxes["roumio"].secrets["KEY"].setText("  k-pasted-7\r\n")
    dialog.boxes["flexiroam"].secrets["KEY"].setText(" \r\n ")
    assert loop.run_until_complete(dialog.save())
    assert memory_keyring.store == {("esimdesk", "roumio.key"): "k-pasted-7"}
    assert load_settings(home)["urls"]["roumio"] == "http://127.0.0.1:9/roumio/v1"


def test_test_connection_says_connected_or_why_and_the_window_keeps_working(loop, qtbot, home, sandbox):
    accounts = load_accounts(home, env=sandbox.env())  # stored credentials back an empty field
    dialog = make_dialog(qtbot, home, accounts)
    checked = []
    dialog.connectionChecked.connect(lambda *args: checked.append(args))
    box = dialog.boxes["roamify"]

    async def click_and_watch():
        box.test_button.click()  # the click returns at once: the vendor is asked in a task on the loop
        await asyncio.sleep(0)
        # While the vendor is asked, the button waits and the loop goes on (no frozen window).
        asking = (box.test_button.isEnabled(), box.test_result.text())
        turns = 0
        while not box.test_button.isEnabled():
            turns += 1
            await asyncio.sleep(0.001)
        return asking, turns

    asking, turns = loop.run_until_complete(asyncio.wait_for(click_and_watch(), 10))
    assert asking == (False, "Asking Roamify…") and turns >= 1
    assert box.test_result.text().startswith("Connected — balance ")
    assert checked[-1][:2] == ("roamify", True)

    box.secrets["TOKEN"].setText("wrong-token")
    result = loop.run_until_complete(dialog.test_connection("roamify"))
    assert not result.ok and box.test_result.text().startswith("Wrong credentials: Roamify refused them")

    box = dialog.boxes["roumio"]
    box.base_url.setText("http://127.0.0.1:9/v1")
    result = loop.run_until_complete(dialog.test_connection("roumio"))
    assert box.test_result.text().startswith("Cannot reach 127.0.0.1:9") and checked[-1] == ("roumio", False, result.text)
    assert box.test_result.textFormat() == Qt.TextFormat.PlainText  # a vendor's words stay text


def test_rates_are_saved_and_read_back(loop, qtbot, home):
    dialog = make_dialog(qtbot, home, page="rates")
    assert dialog.pages.currentWidget() is dialog.rates_page
    dialog.agent_currency.setText("eur")
    dialog.add_rate_button.click()
    row = dialog.rates_table.rowCount() - 1
    dialog.rates_table.item(row, 0).setText("USD")
    dialog.rates_table.item(row, 1).setText("0.9213")
    dialog.rates_table.item(row, 2).setText("2026-11-28")
    dialog.add_rate_row("HKD", "0.1183", "2026-11-27")
    dialog.add_rate_row()  # added and left empty: no rate
    assert loop.run_until_complete(dialog.save())
    rates = exchange_rates(home)
    assert rates.agent_currency == "EUR"
    assert dict(rates.by_currency) == {"USD": Rate("USD", Decimal("0.9213"), date(2026, 11, 28)),
                                       "HKD": Rate("HKD", Decimal("0.1183"), date(2026, 11, 27))}

    again = make_dialog(qtbot, home, page="rates")
    table = [[again.rates_table.item(r, c).text() for c in range(3)] for r in range(again.rates_table.rowCount())]
    assert again.agent_currency.text() == "EUR"
    assert sorted(table) == [["HKD", "0.1183", "2026-11-27"], ["USD", "0.9213", "2026-11-28"]]
    again.rates_table.selectRow(0)
    again.remove_rate_button.click()
    again.rates_table.item(0, 1).setText("zero")
    before = settings_path(home).read_bytes()
    assert loop.run_until_complete(again.save()) is False
    assert "is not a number" in again.error.text() and settings_path(home).read_bytes() == before


def test_price_rules_are_saved_read_back_and_checked(loop, qtbot, home):
    """Settings → Prices (issue 27): the reseller's rules, one row each; a bad row is said, nothing written."""
    from esimdesk.domain.pricing import PriceRule
    from esimdesk.services.currency import price_rules

    dialog = make_dialog(qtbot, home, page="prices")
    form = dialog.prices_page
    assert dialog.pages.currentWidget() is form
    row = form.add_row()
    form.table.cellWidget(row, 0).setCurrentIndex(form.table.cellWidget(row, 0).findData("roumio"))
    form.table.item(row, 1).setText("Japan")
    form.table.item(row, 2).setText("25 %")
    form.table.item(row, 3).setText("0.50")
    form.table.cellWidget(row, 4).setCurrentIndex(form.table.cellWidget(row, 4).findData("99"))
    form.add_row(PriceRule(markup_pct=Decimal(30)))
    form.add_row()  # added and left empty: no rule
    assert loop.run_until_complete(dialog.save())
    assert price_rules(home) == (PriceRule("roumio", "JP", Decimal(25), Decimal("0.50"), "99"),
                                 PriceRule(markup_pct=Decimal(30)))
    again = make_dialog(qtbot, home, page="prices")
    assert again.prices_page.table.rowCount() == 2 and again.prices_page.table.item(0, 1).text() == "JP"
    again.prices_page.table.item(1, 2).setText("lots")
    before = settings_path(home).read_bytes()
    assert loop.run_until_complete(again.save()) is False
    assert "markup: 'lots' is not a number" in again.error.text() and settings_path(home).read_bytes() == before


def test_thresholds_saved_make_the_status_bar_warn_under_them_only(loop, qtbot, home):
    desk = Desk(AppContext(home=home, accounts=Accounts()))
    try:
        desk.store.save_balance(Balance("roumio", Decimal("12.00"), "USD"))
        desk.store.save_balance(Balance("roamify", Decimal("5000.00"), "USD"))
        win = MainWindow(ui_settings(home), desk)
        qtbot.addWidget(win)
        win.show()
        loop.run_until_complete(win.show_balances())
        assert win.low_balance_label.isHidden()

        dialog = win.open_settings("thresholds")
        assert dialog.pages.currentWidget() is dialog.thresholds_page
        assert "flexiroam" not in dialog.thresholds  # reports no balance: nothing to warn about
        dialog.thresholds["roumio"].setText("50")
        dialog.thresholds["roamify"].setText("1,000.00")
        assert loop.run_until_complete(dialog.save())
        assert low_balance_thresholds(home) == {"roumio": Decimal("50"), "roamify": Decimal("1000.00")}
        wait(loop, lambda: win.low_balance_label.isVisible())
        assert win.low_balance_label.text() == "⚠ Roumio balance 12.00 USD below 50.00"  # Roamify is above
        assert "Settings saved" in win.statusBar().currentMessage()

        dialog = win.open_settings("thresholds")
        assert dialog.thresholds["roumio"].text() == "50.00"
        assert dialog.thresholds_form.labelForField(dialog.thresholds["roumio"]).text() == "Roumio (USD)"  # the threshold's currency: the balance's
        dialog.thresholds["roumio"].setText("10.00")
        assert loop.run_until_complete(dialog.save())
        wait(loop, lambda: win.low_balance_label.isHidden())
        win.close()
    finally:
        desk.close()


def test_file_menu_opens_settings_and_the_older_entries_open_their_page(loop, qtbot, home):
    desk = Desk(AppContext(home=home, accounts=Accounts()))
    try:
        win = MainWindow(ui_settings(home), desk)
        qtbot.addWidget(win)
        file_menu = win.menuBar().actions()[0].menu()
        assert win.settings_action in file_menu.actions()
        assert win.settings_action.text() == "S&ettings…"
        assert win.settings_action.shortcut() == QKeySequence("Ctrl+,")
        for action, page in ((win.settings_action, "accounts_page"), (win.accounts_action, "accounts_page"),
                             (win.card_settings_action, "cards_page")):
            action.trigger()
            dialog = win.findChild(SettingsDialog)
            assert dialog is not None and dialog.isVisible()
            assert dialog.pages.currentWidget() is getattr(dialog, page)
            dialog.reject()
            dialog.deleteLater()
            qtbot.waitUntil(lambda: win.findChild(SettingsDialog) is None)
        win.close()
    finally:
        desk.close()


def test_the_refresh_interval_is_saved_and_read_back(loop, qtbot, home):
    """Settings → Sync (issue 28): how often every eSIM is refreshed one at a time; kept in settings.json,
    where every sync reads it (refresh_policy: the window's sync runs the command line's)."""
    from esimdesk.services.refresh_settings import refresh_policy

    dialog = make_dialog(qtbot, home, page="sync")
    assert dialog.pages.currentWidget() is dialog.sync_page
    assert dialog.sync_page.hours() == 6.0 == refresh_policy(home).refresh_hours
    assert loop.run_until_complete(dialog.save())
    assert "refresh_hours" not in json.loads(settings_path(home).read_text() or "{}")  # unchanged: not written
    again = make_dialog(qtbot, home, page="sync")
    again.sync_page.refresh_hours.setValue(12)
    assert loop.run_until_complete(again.save())
    assert refresh_policy(home).refresh_hours == 12.0
    assert make_dialog(qtbot, home, page="sync").sync_page.hours() == 12.0
