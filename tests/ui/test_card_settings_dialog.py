"""File → Card settings (issue 14): the reseller's name and logo go to settings.json and onto the cards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.services import cards as C
from esimdesk.services.config import load_settings, settings_path
from esimdesk.store import SqliteStore
from esimdesk.ui.card_settings_dialog import CardSettingsDialog

CODE = "LPA:1$smdp.example.com$k7-aBcD-ef9Qx-lower"
ICCID = "8900000000000000001"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "esimdesk.sqlite3")
    now = datetime.now(UTC)
    s.upsert_plans([Plan("roumio", "CKH003", "Spain 5GB 30Days", ("ES",), 5120, 30, Decimal("4.50"), "USD")])
    esim = Esim("roumio", ICCID, EsimStatus.NEW, "allocated", order_id="B1", plan_id="CKH003", activation_code=CODE)
    s.upsert_esims([esim])
    s.upsert_orders([Order("roumio", "B1", "ref-1", OrderStatus.COMPLETED, now, esims=(esim,))])
    yield s
    s.close()


def logo_png(path, color="#ff0000"):
    image = QImage(80, 40, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert image.save(str(path), "PNG")
    return path


def test_dialog_saves_name_and_logo_and_cards_use_them(qtbot, tmp_path, store, monkeypatch):
    settings_path(tmp_path).write_text(json.dumps({"urls": {"roumio": "http://127.0.0.1:9/roumio"}}))
    logo = logo_png(tmp_path / "logo.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(logo), "Images"))
    dialog = CardSettingsDialog(tmp_path)
    qtbot.addWidget(dialog)
    assert dialog.name.text() == "" and not dialog.remove_button.isEnabled()
    dialog.name.setText("Globetrotter SIMs")
    dialog.choose_button.click()
    assert dialog.preview.pixmap() is not None and not dialog.preview.pixmap().isNull()
    assert dialog.remove_button.isEnabled() and dialog.error.isHidden()
    dialog.save()
    assert dialog.result() == CardSettingsDialog.DialogCode.Accepted
    settings = load_settings(tmp_path)
    assert settings["reseller_name"] == "Globetrotter SIMs"
    assert settings["reseller_logo"] == str(logo.resolve())
    assert settings["urls"] == {"roumio": "http://127.0.0.1:9/roumio"}  # the rest is kept
    card = C.cards_for(store, ICCID)[0]
    assert card.reseller == "Globetrotter SIMs" and card.logo == logo.read_bytes()

    again = CardSettingsDialog(tmp_path)  # opens with what is saved; Remove drops the logo
    qtbot.addWidget(again)
    assert again.name.text() == "Globetrotter SIMs" and again.path_label.text() == str(logo.resolve())
    again.remove_button.click()
    again.save()
    assert "reseller_logo" not in load_settings(tmp_path)
    assert C.cards_for(store, ICCID)[0].logo is None


def test_dialog_refuses_a_file_that_is_no_image(qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), "Images"))
    dialog = CardSettingsDialog(tmp_path)
    qtbot.addWidget(dialog)
    dialog.choose_button.click()
    assert not dialog.error.isHidden() and "not a PNG, JPEG or SVG" in dialog.error.text()
    assert dialog.logo_path == ""
    dialog.save()
    assert "reseller_logo" not in load_settings(tmp_path)


def test_file_menu_opens_card_settings(loop, qtbot, tmp_path, monkeypatch):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    try:
        win = MainWindow(ui_settings(tmp_path), desk)
        qtbot.addWidget(win)
        file_menu = win.menuBar().actions()[0].menu()
        assert win.card_settings_action in file_menu.actions()
        assert win.card_settings_action.text() == "&Card settings…"
        opened = []
        monkeypatch.setattr(CardSettingsDialog, "exec", lambda self: opened.append(self.home) or 1)
        win.card_settings_action.trigger()
        assert opened == [tmp_path] and "Card settings saved" in win.statusBar().currentMessage()
        win.close()
    finally:
        desk.close()
