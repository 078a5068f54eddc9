"""Issue 11, item 4: vendor- and agent-supplied text put into a rich-text label is escaped. A plan named
`<b>bold</b><img src=x>`, a note `<i>x</i>`, an order reference, order id and ICCID with `<` and `&` show
as those characters; they never change the label."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtWidgets import QInputDialog

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan
from esimdesk.services.config import Accounts
from esimdesk.services.desk import Desk
from esimdesk.services.runtime import AppContext
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow

PLAN_NAME = "<b>bold</b><img src=x>"
NOTE = "<i>x</i>"
REFERENCE = "ref<1>&amp;co"
ORDER_ID = "B<2>&"
ICCID = "8943108170000775<67>&"
CODE = "LPA:1$<b>smdp</b>$x&y"
RAW_TAGS = ("<b>bold", "<img", "<i>x", "<1>", "<2>", "<67>", "<b>smdp")


@pytest.fixture
def window(loop, qtbot, tmp_path):
    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    t0 = datetime(2025, 3, 1, tzinfo=UTC)
    desk.store.upsert_plans([Plan("roumio", "P<1>", PLAN_NAME, ("JP",), 1024, 7, Decimal("5"), "USD")])
    esim = Esim("roumio", ICCID, EsimStatus.ACTIVE, "IN_USE/<ENABLED>", order_id=ORDER_ID, plan_id="P<1>",
                activation_code=CODE)
    desk.store.upsert_orders([Order("roumio", ORDER_ID, REFERENCE, OrderStatus.COMPLETED, t0,
                                    lines=(OrderLine("P<1>", 1, Decimal("5"), PLAN_NAME),), esims=(esim,))])
    desk.store.upsert_esims([esim])
    desk.store.set_note("roumio", ICCID, NOTE)
    win = MainWindow(ui_settings(tmp_path), desk)
    qtbot.addWidget(win)
    win.show()
    win.reload_all()
    settle(loop)
    yield win
    desk.close()


def settle(loop, seconds=0.5):
    loop.run_until_complete(asyncio.sleep(seconds))


def select_first(tab, loop) -> None:
    assert tab.model.rowCount() == 1
    tab.table.selectRow(0)
    settle(loop, 0.3)


def assert_escaped(text: str, *escaped: str) -> None:
    for form in escaped:
        assert form in text, f"{form!r} not in {text!r}"
    for raw in RAW_TAGS:
        assert raw not in text, f"raw {raw!r} in {text!r}"


def test_a_hostile_plan_name_is_escaped_in_the_catalog(window, loop):
    select_first(window.catalog, loop)
    assert_escaped(window.catalog.info.text(), "&lt;b&gt;bold&lt;/b&gt;&lt;img src=x&gt;", "P&lt;1&gt;")


def test_an_order_reference_id_and_iccid_are_escaped_in_orders(window, loop):
    select_first(window.orders, loop)
    assert_escaped(window.orders.info.text(), "ref&lt;1&gt;&amp;amp;co", "B&lt;2&gt;&amp;")
    # The eSIM's ICCID and activation code: a plain-text label and a line edit, shown as they are, never markup.
    row = window.orders.esims.rows[0]
    from PySide6.QtCore import Qt

    assert row.iccid.textFormat() == Qt.TextFormat.PlainText
    assert (row.iccid.text(), row.code.text()) == (ICCID, CODE)


def test_the_iccid_note_and_code_are_escaped_in_the_fleet(window, loop):
    select_first(window.fleet, loop)
    assert_escaped(window.fleet.info.text(), "&lt;i&gt;x&lt;/i&gt;", "8943108170000775&lt;67&gt;&amp;",
                   "IN_USE/&lt;ENABLED&gt;", "B&lt;2&gt;&amp;", "LPA:1$&lt;b&gt;smdp&lt;/b&gt;$x&amp;y")


def test_dialogs_that_quote_a_plan_name_or_iccid_show_it_as_text(window, loop, monkeypatch):
    """QMessageBox and QInputDialog guess the format: a '<b>' in the first line would turn it to HTML. The
    order dialog's labels are plain text."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialog

    from esimdesk.ui.order_dialog import OrderDialog

    asked: list[str] = []
    shown: list[OrderDialog] = []
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: asked.append(a[2]) or ("", False)))
    monkeypatch.setattr(OrderDialog, "exec", lambda d: shown.append(d) or QDialog.DialogCode.Rejected)
    select_first(window.catalog, loop)
    window._order_dialog(window.catalog.current)
    select_first(window.fleet, loop)
    window._note_dialog(window.fleet.current)
    [dialog] = shown
    for label in (dialog.plan, dialog.charge):
        assert label.textFormat() == Qt.TextFormat.PlainText and "<b>bold" in label.text()
    assert len(asked) == 1
    assert_escaped(asked[0], "8943108170000775&lt;67&gt;&amp;")


def test_a_filter_the_agent_typed_is_shown_as_typed_in_the_notice(window, loop):
    window.catalog.country.setText("<b>Nowhere</b>")
    window.catalog.reload()
    settle(loop)
    notice = window.catalog.notice
    assert notice.isVisibleTo(window) and "<b>Nowhere</b>" in notice.text()
    from PySide6.QtCore import Qt

    assert notice.textFormat() == Qt.TextFormat.PlainText
