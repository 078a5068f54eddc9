"""What an agent's first week showed on a 1280×780 window (issue 29, item 9): Fleet's support actions below
the fold, "Select an eSIM." said twice, the order dialog's hints cut off. The real MainWindow, at that size."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QStyle, QStyleOptionFrame, QToolButton

from esimdesk.sandbox import SandboxConfig
from esimdesk.ui.order_dialog import OrderDialog
from tests.ui.conftest import settle_tab, window_over_sandbox

SIZE = (1280, 780)


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=21, allocation_delay=0.3)) as (
            win, server, desk):
        win.resize(*SIZE)
        QApplication.processEvents()
        assert (win.width(), win.height()) == SIZE
        yield win, loop, desk


def settle(loop, seconds=0.3):
    loop.run_until_complete(asyncio.sleep(seconds))


def on_screen(widget, area) -> bool:
    """Shown whole in the scroll area's viewport as it is scrolled now."""
    top = widget.mapTo(area.viewport(), QPoint(0, 0)).y()
    return widget.isVisible() and top >= 0 and top + widget.height() <= area.viewport().height()


def select(win, loop, iccid: str) -> None:
    fleet = win.fleet
    fleet.search.setText(iccid)
    settle_tab(loop, fleet)
    row = next(r for r in range(fleet.model.rowCount()) if fleet.model.item(r).iccid == iccid)
    fleet.table.selectRow(row)
    settle(loop)
    assert fleet.current is not None and fleet.current.iccid == iccid


def test_fleets_buttons_are_above_the_fold_for_every_vendor(window):
    win, loop, desk = window
    win.tabs.setCurrentWidget(win.fleet)
    settle_tab(loop, win.fleet)
    fleet = win.fleet
    area = fleet.detail_area
    vendors = sorted({e.vendor for e in desk.store.esims()})  # the sandbox's MicroESIM fleet fills later
    assert len(vendors) >= 3, vendors
    for vendor in vendors:
        # the fullest detail of the vendor's eSIMs: a code (the QR), and the iPhone link where it gives one
        esim = max(desk.store.esims(vendor=vendor),
                   key=lambda e: (bool(e.activation_code), bool(e.install_url), len(e.activation_code or "")))
        select(win, loop, esim.iccid)
        assert area.verticalScrollBar().value() == 0
        buttons = [fleet.topup_button, fleet.note_button, fleet.link_button, fleet.support.refresh_button,
                   *fleet.support.buttons.values(), *fleet.card_actions.findChildren(QToolButton)]
        below = [b.text() for b in buttons if not on_screen(b, area)]
        assert not below, f"{vendor} {esim.iccid}: below the fold at 1280×780: {below}"


def test_select_an_esim_is_said_once(window):
    win, loop, desk = window
    win.tabs.setCurrentWidget(win.fleet)
    settle_tab(loop, win.fleet)
    QApplication.processEvents()
    assert win.fleet.current is None
    said = [label for label in win.fleet.detail.findChildren(QLabel)
            if label.isVisible() and "Select an eSIM" in label.text()]
    assert len(said) == 1, [label.text() for label in said]


def test_the_order_dialogs_hints_are_whole(window):
    win, loop, desk = window
    for vendor in ("roumio", "microesim"):  # MicroESIM's dialog has its options too (the customer e-mail)
        plan = min((p for p in desk.store.plans(vendor=vendor) if p.price > 0), key=lambda p: (p.price, p.plan_id))
        dialog = OrderDialog(plan, desk, win.catalog.pricing, win)
        dialog.show()
        settle(loop)
        edits = [e for e in dialog.findChildren(QLineEdit) if e.isVisible() and e.placeholderText()]
        assert len(edits) >= (3 if vendor == "microesim" else 2)
        for edit in edits:
            option = QStyleOptionFrame()
            option.initFrom(edit)
            option.lineWidth = edit.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, option, edit)
            room = edit.style().subElementRect(QStyle.SubElement.SE_LineEditContents, option, edit)
            margins = edit.textMargins()
            room_px = room.width() - margins.left() - margins.right() - 2 * 2  # QLineEdit's own 2 px a side
            needed = edit.fontMetrics().horizontalAdvance(edit.placeholderText())
            assert needed <= room_px, (vendor, edit.placeholderText(), needed, room_px)
        assert dialog.width() <= SIZE[0] and dialog.height() <= SIZE[1]
        dialog.reject()
        settle(loop, 0.05)
