"""Support from any tab in two interactions (issue 27): Ctrl+K, then the customer's digits or order id.

The toolbar's "Go to an eSIM or order" box (ui/go_to.py) shows the tab the text decides (services/go_to.py)
with the text in its search; a single match is selected at once, its detail shown, in every tab's search.
Also: the vendors' TLS context is built off the window's thread at start-up (vendors/http.py)."""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus
from tests.ui.conftest import settle_tab, wait_until

N_ESIMS, N_ORDERS = 300, 150


def _iccid(i: int) -> str:
    return f"8944{(i * 7919) % 10**6:06d}{i:09d}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from esimdesk.store import open_store

    home = tmp_path_factory.mktemp("goto")
    store = open_store(home)
    base = datetime(2027, 3, 1, tzinfo=UTC)
    store.upsert_esims([Esim("roumio", _iccid(i), EsimStatus.ACTIVE, "IN_USE", order_id=f"2024010100{i // 2:06d}",
                             plan_id="JP-5GB", activation_code=f"LPA:1$rsp.example.com$GO{i:06d}",
                             data_used_mb=i, data_total_mb=5120, expires_at=base + timedelta(days=i % 40))
                        for i in range(N_ESIMS)])
    store.upsert_orders([Order("roumio", f"2024010100{i:06d}", f"tokyo-{i}", OrderStatus.COMPLETED,
                               base - timedelta(hours=i), Decimal("10.25"), "USD") for i in range(N_ORDERS)])
    store.close()
    return home


@pytest.fixture
def window(loop, qtbot, folder, tmp_path, monkeypatch):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow
    from esimdesk.vendors import http

    home = tmp_path / "home"
    home.mkdir()
    for f in folder.iterdir():
        if f.is_file():
            shutil.copy(f, home / f.name)
    # No TLS context yet in this process: the window's start-up builds it.
    monkeypatch.setattr(http, "_tls", None)
    monkeypatch.setattr(http, "tls_built_in", None)
    desk = Desk(AppContext(home=home, accounts=Accounts()))
    win = MainWindow(ui_settings(home), desk)
    qtbot.addWidget(win)
    win.tabs.setCurrentWidget(win.catalog)
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    loop.run_until_complete(win.startup(sync=False))
    for page in win.pages.values():
        settle_tab(loop, page)
    try:
        yield win, loop
    finally:
        win.close()
        desk.close()


def _key(win, key: str) -> None:
    combo = QKeySequence(key)[0]
    QTest.keyClick(QApplication.focusWidget() or win, combo.key(), combo.keyboardModifiers())


def _go(win, loop, keys: str) -> None:
    """Ctrl+K, then ``keys`` typed into whatever has the focus (the box), until the tab shows the result."""
    _key(win, "Ctrl+K")
    QTest.keyClicks(QApplication.focusWidget(), keys)
    wait_until(loop, lambda: win.go_to.task is not None and win.go_to.task.done()
               and not win.go_to._timer.isActive())
    settle_tab(loop, win.tabs.currentWidget())


def test_ctrl_k_from_the_catalog_and_6_last_digits_select_that_esim_in_fleet(window):
    win, loop = window
    win.catalog.table.setFocus()
    esim = win.desk.store.esim(_iccid(123))
    _go(win, loop, esim.iccid[-6:])
    assert win.go_to.box.hasFocus() and win.go_to.box.objectName() == "goToBox"
    fleet = win.fleet
    assert win.tabs.currentWidget() is fleet and fleet.search.text() == esim.iccid[-6:]
    assert fleet.model.total == 1 and fleet.table.currentIndex().row() == 0
    assert fleet.current is not None and fleet.current.iccid == esim.iccid  # selected: its detail
    assert esim.iccid in fleet.info.text() and "Used:" in fleet.info.text()
    assert fleet.qr.pixmap() is not None and not fleet.qr.pixmap().isNull()
    assert fleet.note_button.isEnabled()  # its actions


def test_an_order_id_goes_to_orders_with_that_order_selected(window):
    win, loop = window
    order_id = "2024010100000077"
    _go(win, loop, order_id)
    orders = win.orders
    assert win.tabs.currentWidget() is orders and orders.model.total == 1
    assert orders.current is not None and orders.current.order_id == order_id
    assert order_id in orders.info.text()
    # From Orders, the box again: an ICCID's last digits go back to Fleet (the box's text replaced).
    _go(win, loop, _iccid(7)[-8:])
    assert win.tabs.currentWidget() is win.fleet and win.fleet.current.iccid == _iccid(7)


def test_a_text_with_several_matches_shows_them_and_selects_none(window):
    win, loop = window
    _go(win, loop, "okyo-14")  # part of tokyo-14 and tokyo-140…149: no whole reference
    orders = win.orders
    assert win.tabs.currentWidget() is orders and orders.model.total == 11
    assert not orders.table.currentIndex().isValid() and orders.current is None


def test_a_single_match_is_selected_in_a_tabs_own_search_too(window):
    win, loop = window
    fleet = win.fleet
    win.tabs.setCurrentWidget(fleet)
    fleet.search.setText(_iccid(42)[-7:])
    settle_tab(loop, fleet)
    assert fleet.model.total == 1 and fleet.current is not None and fleet.current.iccid == _iccid(42)
    fleet.search.setText("2024010100")  # every eSIM's order id starts so: no ICCID ends so → several
    settle_tab(loop, fleet)
    assert fleet.model.total != 1


def test_ctrl_k_is_in_the_edit_menu_and_beats_a_search_boxs_own_ctrl_k(window):
    win, loop = window
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    action = next(a for a in menus["Edit"].actions() if a.objectName() == "goToAction")
    assert action.shortcut() == QKeySequence("Ctrl+K")
    win.orders.search.setText("abc")
    win.tabs.setCurrentWidget(win.orders)
    win.orders.search.setFocus()
    win.orders.search.setCursorPosition(0)
    _key(win, "Ctrl+K")
    assert win.go_to.box.hasFocus() and win.orders.search.text() == "abc"  # not "delete to the end of line"
    assert isinstance(QApplication.focusWidget(), QLineEdit)


def test_the_vendors_tls_context_is_built_off_the_windows_thread_and_shared(window):
    _win, loop = window
    from esimdesk.vendors import http

    assert http.tls_built_in is not None and http.tls_built_in != threading.main_thread().name
    assert threading.current_thread() is threading.main_thread()
    client = http.VendorHttp("roumio", "https://vendor.example", secrets=[])
    assert client.client._transport._pool._ssl_context is http.tls_context()  # shared, not built again
    assert http.tls_built_in != threading.main_thread().name
    loop.run_until_complete(client.aclose())


@pytest.mark.parametrize("width", [1280, 1024])
def test_the_box_is_in_sight_at_the_windows_default_width_and_below(window, width):
    """At 1,280 px the toolbar's overflow menu used to take the box, and Ctrl+K showed nothing: beside the
    tabs it is always on screen, whatever the toolbar holds (four vendors' balances)."""
    win, loop = window
    win.resize(width, 780)
    box = win.go_to.box
    wait_until(loop, lambda: win.width() == width and win.centralWidget().width() <= width)  # laid out anew
    assert box.isVisible() and not box.visibleRegion().isEmpty()
    assert win.rect().contains(box.mapTo(win, box.rect().bottomRight()))  # wholly inside the window
    assert box.width() >= box.fontMetrics().horizontalAdvance("89440001230000000123") + 16  # an ICCID fits
    win.catalog.table.setFocus()
    _key(win, "Ctrl+K")
    assert box.hasFocus()
