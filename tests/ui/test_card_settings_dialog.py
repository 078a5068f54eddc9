"""Settings → Cards (issue 14): the reseller's name and logo go to settings.json and onto the cards."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.services import cards as C
from esimdesk.services.config import Accounts, load_settings, settings_path
from esimdesk.store import SqliteStore
from esimdesk.ui.settings_dialog import SettingsDialog

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


@pytest.fixture(autouse=True)
def _dialog_closing_is_not_the_app_quitting(qapp):
    qapp.setQuitOnLastWindowClosed(False)  # the dialog is the last window here; in the app, the window is
    yield
    qapp.setQuitOnLastWindowClosed(True)


def cards_page(qtbot, home):
    dialog = SettingsDialog(home, Accounts(), page="cards")
    qtbot.addWidget(dialog)
    assert dialog.pages.currentWidget() is dialog.cards_page
    return dialog, dialog.cards


def test_dialog_saves_name_and_logo_and_cards_use_them(loop, qtbot, tmp_path, store, monkeypatch):
    settings_path(tmp_path).write_text(json.dumps({"urls": {"roumio": "http://127.0.0.1:9/roumio"}}))
    logo = logo_png(tmp_path / "logo.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(logo), "Images"))
    dialog, form = cards_page(qtbot, tmp_path)
    assert form.name.text() == "" and not form.remove_button.isEnabled()
    form.name.setText("Globetrotter SIMs")
    form.choose_button.click()
    assert form.preview.pixmap() is not None and not form.preview.pixmap().isNull()
    assert form.remove_button.isEnabled() and form.error.isHidden()
    assert loop.run_until_complete(dialog.save())
    assert dialog.result() == SettingsDialog.DialogCode.Accepted
    settings = load_settings(tmp_path)
    assert settings["reseller_name"] == "Globetrotter SIMs"
    assert settings["reseller_logo"] == str(logo.resolve())
    assert settings["urls"] == {"roumio": "http://127.0.0.1:9/roumio"}  # the rest is kept
    card = C.cards_for(store, ICCID)[0]
    assert card.reseller == "Globetrotter SIMs" and card.logo == logo.read_bytes()

    again, form = cards_page(qtbot, tmp_path)  # opens with what is saved; Remove drops the logo
    assert form.name.text() == "Globetrotter SIMs" and form.path_label.text() == str(logo.resolve())
    form.remove_button.click()
    assert loop.run_until_complete(again.save())
    assert "reseller_logo" not in load_settings(tmp_path)
    assert C.cards_for(store, ICCID)[0].logo is None


def test_dialog_refuses_a_file_that_is_no_image(loop, qtbot, tmp_path, monkeypatch):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), "Images"))
    dialog, form = cards_page(qtbot, tmp_path)
    form.choose_button.click()
    assert not form.error.isHidden() and "not a PNG, JPEG or SVG" in form.error.text()
    assert form.logo_path == ""
    assert loop.run_until_complete(dialog.save())
    assert "reseller_logo" not in load_settings(tmp_path)


def test_a_logo_gone_before_save_is_refused_and_nothing_is_written(loop, qtbot, tmp_path, monkeypatch):
    logo = logo_png(tmp_path / "logo.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(logo), "Images"))
    dialog, form = cards_page(qtbot, tmp_path)
    form.choose_button.click()
    dialog.thresholds["roumio"].setText("50")
    logo.unlink()
    assert loop.run_until_complete(dialog.save()) is False
    assert "the logo cannot be used" in dialog.error.text() and not settings_path(tmp_path).exists()
