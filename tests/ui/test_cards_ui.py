"""Customer cards from the window (issue 14): Save as PDF, Copy image, Show to customer and the print
preview, each decoded back with a real QR decoder to exactly the eSIM's activation code, and (issue 30) to
the one-tap iPhone and Android links, each carrying that code."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
import subprocess
from collections import Counter

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import QSizeF
from PySide6.QtGui import QGuiApplication, QImage, QPageSize
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QFileDialog

from esimdesk.domain.install_links import carddata_of
from esimdesk.sandbox import SandboxConfig
from esimdesk.ui.cards_dialogs import page_name, paint_cards, print_preview
from tests.ui.conftest import window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=21, allocation_delay=0.3)) as (win, _, _):
        loop.run_until_complete(asyncio.sleep(0.5))
        yield win, loop


def select_coded_esim(win, loop):
    """Select, in Fleet, an eSIM that has an activation code; returns it."""
    win.tabs.setCurrentWidget(win.fleet)
    model = win.fleet.model
    row = next(r for r in range(model.rowCount()) if model.item(r).activation_code)
    win.fleet.table.selectRow(row)
    loop.run_until_complete(asyncio.sleep(0.1))
    esim = win.fleet.current
    assert esim is not None and esim.activation_code
    return esim


def run_action(loop, actions, action):
    assert action.isEnabled(), action.toolTip()
    action.trigger()
    assert actions.task is not None
    return loop.run_until_complete(actions.task)


def decode_image(path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path).convert("L"))]


def decode_qimage(image: QImage, tmp_path, name: str) -> list[str]:
    path = tmp_path / name
    assert image.save(str(path), "PNG")
    return decode_image(path)


def assert_codes_and_links(found: list[str], codes: list[str]) -> None:
    """Decoded QR codes: exactly these activation codes, and for each an iPhone and an Android link that
    carry it (Apple's and Android's set-up pages), nothing else."""
    assert sorted(t for t in found if t.startswith("LPA:")) == sorted(codes)
    links = [t for t in found if not t.startswith("LPA:")]
    assert Counter(carddata_of(link) for link in links) == Counter(codes * 2)
    hosts = Counter(link.split("/")[2] for link in links)
    assert hosts == {"esimsetup.apple.com": len(codes), "esimsetup.android.com": len(codes)}


def decode_pdf(pdf, tmp_path) -> list[str]:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    prefix = tmp_path / f"{pdf.stem}-page"
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(prefix)], check=True)
    pages = sorted(tmp_path.glob(f"{prefix.name}*.png"))
    assert pages
    return [text for page in pages for text in decode_image(page)]


def test_save_as_pdf_from_fleet_decodes_to_the_activation_code(window, tmp_path, monkeypatch):
    win, loop = window
    esim = select_coded_esim(win, loop)
    out = tmp_path / "card.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "PDF (*.pdf)")))
    actions = win.fleet.card_actions
    assert run_action(loop, actions, actions.pdf_action) == str(out)
    assert out.exists() and out.read_bytes().startswith(b"%PDF")
    assert_codes_and_links(decode_pdf(out, tmp_path), [esim.activation_code])
    assert str(out) in win.statusBar().currentMessage()


def test_copy_image_puts_a_card_that_decodes_on_the_clipboard(window, tmp_path):
    win, loop = window
    esim = select_coded_esim(win, loop)
    actions = win.fleet.card_actions
    run_action(loop, actions, actions.copy_action)
    image = QGuiApplication.clipboard().image()
    assert not image.isNull()
    assert_codes_and_links(decode_qimage(image, tmp_path, "clipboard.png"), [esim.activation_code])


def test_show_to_customer_shows_a_big_qr_that_decodes_and_esc_closes_it(window, tmp_path, qtbot):
    win, loop = window
    esim = select_coded_esim(win, loop)
    actions = win.fleet.card_actions
    view = run_action(loop, actions, actions.show_action)
    assert view is not None and view.isVisible() and actions.customer_view is view
    loop.run_until_complete(asyncio.sleep(0.1))
    shot = view.grab().toImage()
    assert min(shot.width(), shot.height()) >= 300
    assert_codes_and_links(decode_qimage(shot, tmp_path, "customer.png"), [esim.activation_code])
    # The link codes are where the view says (its "Install in one tap" panel), each alone, iPhone first.
    apple, android = view.link_squares
    ratio = shot.width() / view.width()
    for square, host in ((apple, "esimsetup.apple.com"), (android, "esimsetup.android.com")):
        part = shot.copy(*(round(v * ratio) for v in (square.x(), square.y(), square.width(), square.height())))
        [link] = decode_qimage(part, tmp_path, f"{host}.png")
        assert link.split("/")[2] == host and carddata_of(link) == esim.activation_code
    from PySide6.QtCore import Qt

    qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not view.isVisible()


def test_print_preview_paints_the_cards_of_an_order_on_a_printer(window, tmp_path):
    win, loop = window
    win.tabs.setCurrentWidget(win.orders)
    model = win.orders.model
    coded = [r for r in range(model.rowCount()) if any(e.activation_code for e in model.item(r).esims)]
    row = max(coded, key=lambda r: sum(1 for e in model.item(r).esims if e.activation_code))
    win.orders.table.selectRow(row)
    loop.run_until_complete(asyncio.sleep(0.1))
    order = model.item(row)
    actions = win.orders.card_actions
    assert actions.print_action.isEnabled()
    cards = loop.run_until_complete(win.desk.cards(actions.target))
    codes = sorted(e.activation_code for e in order.esims if e.activation_code)
    assert sorted(c.activation_code for c in cards) == codes and len(codes) >= 2
    dialog = print_preview(cards, win)  # created as the Print… action does; not exec'd (modal)
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    out = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(out))
    dialog.paintRequested.emit(printer)
    assert out.exists()
    assert_codes_and_links(decode_pdf(out, tmp_path), codes)
    # On label paper one card per page: as many pages as cards, each card whole and decoding.
    label = QPrinter(QPrinter.PrinterMode.HighResolution)
    label.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    label.setPageSize(QPageSize(QSizeF(100, 150), QPageSize.Unit.Millimeter, "label"))
    labels = tmp_path / "labels.pdf"
    label.setOutputFileName(str(labels))
    assert page_name(label) == "label"
    assert paint_cards(label, cards) == len(cards)
    assert_codes_and_links(decode_pdf(labels, tmp_path), codes)
    dialog.deleteLater()


def test_the_actions_are_disabled_with_a_reason_without_an_activation_code(window):
    win, loop = window
    esim = select_coded_esim(win, loop)
    actions = win.fleet.card_actions
    assert all(a.isEnabled() for a in actions.actions_)
    win.fleet.show_detail(dataclasses.replace(esim, activation_code=None))
    for action in actions.actions_:
        assert not action.isEnabled()
        assert "no activation code" in action.toolTip().lower()


def set_reference(store, esim, reference: str) -> None:
    # As if the agent had typed it at order time: written into the file itself, as another desk would.
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE orders SET reference = ? WHERE vendor = ? AND order_id = ?",
                   (reference, esim.vendor, esim.order_id))
    assert store.order(esim.vendor, esim.order_id).reference == reference


def test_a_character_no_font_draws_is_said_in_the_status_bar_after_saving(window, tmp_path, monkeypatch):
    """Issue 29, item 9: the command line warned on stderr that a card leaves a character out; the window
    said only "saved". The status bar now says both, naming the character and the eSIM."""
    win, loop = window
    esim = select_coded_esim(win, loop)
    no_glyph = "\U0010fffd"  # a private-use character of plane 16: no font anywhere draws it
    set_reference(win.desk.store, esim, f"Trip {no_glyph} ok")
    out = tmp_path / "card.pdf"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "PDF (*.pdf)")))
    actions = win.fleet.card_actions
    assert run_action(loop, actions, actions.pdf_action) == str(out)
    message = win.statusBar().currentMessage()
    assert str(out) in message
    assert f"The card of {esim.iccid} leaves out" in message and "U+10FFFD" in message
    # A card that lacks nothing says nothing more.
    set_reference(win.desk.store, esim, "Trip ok")
    run_action(loop, actions, actions.copy_action)
    assert win.statusBar().currentMessage() == "1 customer card copied as an image"
