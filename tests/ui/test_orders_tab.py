"""Issue 13, Orders: find an order by the last digits of its ICCID and see its QR code, copy its activation
code; each status with its colour and icon (UNCERTAIN stands out); local time beside UTC; "Reconcile now"."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import zxingcpp
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import QStyleOptionViewItem

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus
from esimdesk.sandbox import Fault, SandboxConfig
from esimdesk.ui.order_detail import (
    SHOWN_ESIMS,
    STATUS_COLORS,
    created_line,
    created_text,
    forget_local_zone,
)
from tests.ui.conftest import wait_until, window_over_sandbox
from tests.ui.test_order_decisions import ORDER, lost_order


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=5, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=("microesim",)) as (win, server, desk):
        yield win, loop, server, desk


def settle(loop, seconds=0.4):
    loop.run_until_complete(asyncio.sleep(seconds))


def decode(pixmap, path) -> list[str]:
    pixmap.save(str(path))
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path).convert("L"))]


def cheapest_plan(desk):
    return min((p for p in desk.store.plans(vendor="microesim") if p.price > 0), key=lambda p: (p.price, p.plan_id))


def test_find_an_order_by_the_last_6_iccid_digits_see_its_qr_and_copy_its_code(window, tmp_path):
    win, loop, server, desk = window
    order = loop.run_until_complete(win.place_order(cheapest_plan(desk), 1))
    assert order is not None and order.status is OrderStatus.COMPLETED and order.esims
    esim = order.esims[0]
    assert esim.activation_code
    win.tabs.setCurrentWidget(win.orders)
    orders = win.orders
    orders.search.setText(esim.iccid[-6:])
    wait_until(loop, lambda: any(orders.model.item(r).reference == order.reference
                                 for r in range(orders.model.rowCount())))
    row = next(r for r in range(orders.model.rowCount()) if orders.model.item(r).reference == order.reference)
    orders.table.selectRow(row)
    shown = orders.esims.rows[0]
    assert shown.isVisible() and shown.iccid.text() == esim.iccid and shown.code.text() == esim.activation_code
    # The QR codes are drawn after the detail shows, one per turn of the loop.
    wait_until(loop, lambda: not orders.esims.drawing())
    pixmap = shown.qr.pixmap()
    assert pixmap is not None and not pixmap.isNull()
    assert decode(pixmap, tmp_path / "qr.png") == [esim.activation_code]

    QGuiApplication.clipboard().setText("something else")
    shown.copy_button.click()
    assert QGuiApplication.clipboard().text() == esim.activation_code
    assert shown.copy_button.text() == "Copied"
    assert esim.iccid in win.statusBar().currentMessage() and "copied" in win.statusBar().currentMessage()
    wait_until(loop, lambda: shown.copy_button.text() == "Copy", timeout=5)

    # The time: local beside UTC, in the table and the detail; the column is wide enough for its text.
    cell = orders.model.cell_text(row, 0)
    assert cell == created_text(order.created_at) and "UTC" in cell
    assert orders.table.columnWidth(0) >= orders.table.fontMetrics().horizontalAdvance(cell)
    assert f"Created: {created_line(order.created_at)}" in orders.info.text()


def test_a_big_order_shows_ten_qr_codes_and_counts_the_rest_without_freezing(window, tmp_path):
    win, loop, server, desk = window
    esims = tuple(Esim("microesim", f"8900000000000000{i:04d}", EsimStatus.NEW, "new", order_id="BIG-1",
                       activation_code=f"LPA:1$smdp.example.com$BIG-{i:04d}") for i in range(50))
    big = Order("microesim", "BIG-1", "REF-BIG", OrderStatus.COMPLETED, datetime.now(UTC),
                total=Decimal("50.00"), currency="USD", esims=esims)
    orders = win.orders
    started = time.perf_counter()
    orders.show_detail(big)
    took = time.perf_counter() - started
    print(f"detail of 50 eSIMs: {took * 1000:.1f} ms")
    # Its text at once; the QR codes (~7 ms each) after, a turn of the loop each, never all in this call.
    assert orders.esims.drawing()
    assert took < 0.25, f"the detail of a 50-eSIM order took {took * 1000:.0f} ms to show"
    visible = [r for r in orders.esims.rows if not r.isHidden()]
    assert [r.iccid.text() for r in visible] == [e.iccid for e in esims[:SHOWN_ESIMS]]
    assert not orders.esims.more.isHidden() and "and 40 more" in orders.esims.more.text()
    wait_until(loop, lambda: not orders.esims.drawing())
    assert decode(visible[-1].qr.pixmap(), tmp_path / "last.png") == [esims[SHOWN_ESIMS - 1].activation_code]


def test_reconcile_now_settles_an_uncertain_order(window):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk)
    orders = win.orders
    assert orders.decision.isVisible() and orders.reconcile_button.isVisible()
    # UNCERTAIN stands out in the table: the warning icon and the row in bold.
    index = orders.model.index(0, orders.model.status_column)
    assert orders.model.cell_text(0, orders.model.status_column) == "UNCERTAIN"
    assert orders.model.data(orders.model.index(0, 1), Qt.ItemDataRole.FontRole).bold()
    assert isinstance(orders.model.data(index, Qt.ItemDataRole.DecorationRole), QIcon)

    orders.reconcile_button.click()
    # Busy at once, while the vendor is asked.
    assert not orders.reconcile_button.isEnabled() and orders.reconcile_button.text() == "Reconciling…"
    assert orders.reconcile_busy.isVisible()
    settled = loop.run_until_complete(orders.reconcile_task)
    assert settled is not None and settled.state is OrderStatus.COMPLETED
    assert desk.store.journal_get(entry.id).state is OrderStatus.COMPLETED
    wait_until(loop, lambda: orders.reconcile_button.isEnabled() and not orders.decision.isVisible())
    assert len(server.sandbox.ledger("microesim")) == 1  # settled as the one order, never placed twice
    assert "completed" in win.statusBar().currentMessage()
    assert orders.model.cell_text(0, orders.model.status_column) == "COMPLETED"
    assert "COMPLETED" in orders.info.text()
    wait_until(loop, lambda: not orders.esims.drawing())
    assert not orders.esims.rows[0].isHidden() and not orders.esims.rows[0].qr.pixmap().isNull()
    wait_until(loop, lambda: "COMPLETED" in orders.history.toPlainText())


def test_reconcile_now_that_cannot_settle_it_says_so_and_keeps_the_decisions(window):
    win, loop, server, desk = window
    entry = lost_order(win, loop, server, desk)
    server.sandbox.faults["microesim"].add(Fault("drop", endpoint=ORDER, when="after", times=None))
    settled = loop.run_until_complete(win.orders.reconcile_now())
    assert settled is not None and settled.state is OrderStatus.UNCERTAIN
    message = win.statusBar().currentMessage()
    assert entry.reference in message and "still UNCERTAIN" in message
    assert len(server.sandbox.ledger("microesim")) == 1
    settle(loop)
    orders = win.orders
    assert orders.decision.isVisible() and orders.adopt_button.isVisible()  # the agent decides, as before
    assert orders.reconcile_button.isEnabled() and orders.reconcile_button.text() == "Reconcile now"
    assert not orders.reconcile_busy.isVisible()


# --- status colours and icons, over a real store without vendors -------------------------------------
@pytest.fixture
def status_window(loop, qtbot, tmp_path):
    from esimdesk.services.config import Accounts
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import AppContext
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    desk = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    t0 = datetime(2026, 11, 29, 12, 5, tzinfo=UTC)
    desk.store.upsert_orders([
        Order("roumio", f"O-{s.value}", f"REF-{s.value}", s, t0, total=Decimal("5"), currency="USD",
              lines=(OrderLine("P1", 1, Decimal("5"), "Japan 1 GB"),))
        for s in OrderStatus])
    win = MainWindow(ui_settings(tmp_path), desk)
    qtbot.addWidget(win)
    win.show()
    win.tabs.setCurrentWidget(win.orders)
    win.reload_all()
    settle(loop, 0.5)
    yield win
    desk.close()


def test_each_status_has_its_colour_and_icon_and_uncertain_rows_stand_out(status_window):
    orders = status_window.orders
    model, table = orders.model, orders.table
    col = model.status_column
    assert model.rowCount() == len(OrderStatus)
    icons = {}
    for row in range(model.rowCount()):
        status = model.cell_text(row, col)
        icon = model.data(model.index(row, col), Qt.ItemDataRole.DecorationRole)
        brush = model.data(model.index(row, col), Qt.ItemDataRole.ForegroundRole)
        assert isinstance(icon, QIcon) and not icon.isNull()
        assert brush.color().name() == STATUS_COLORS[status]
        icons[status] = icon.pixmap(16, 16).toImage()
        # What the table paints (the delegate asks the model through multiData): the same icon and colour.
        option = QStyleOptionViewItem()
        table.itemDelegate().initStyleOption(option, model.index(row, col))
        assert not option.icon.isNull()
        assert option.palette.color(QPalette.ColorRole.Text).name() == STATUS_COLORS[status]
        other = QStyleOptionViewItem()
        table.itemDelegate().initStyleOption(other, model.index(row, 3))  # the order id's cell
        uncertain = status == "UNCERTAIN"
        assert other.font.bold() is uncertain
        assert (model.data(model.index(row, 3), Qt.ItemDataRole.ForegroundRole) is not None) is uncertain
        assert other.icon.isNull()  # only the status cell has an icon
    assert set(icons) == {s.value for s in OrderStatus}
    assert len({bytes(img.constBits()) for img in icons.values()}) == len(OrderStatus)  # five different signs
    # What is on screen (ListingView draws the rows in one pass, from the model's row looks): each status
    # cell shows its colour, and an UNCERTAIN row's other cells are red too, a COMPLETED row's are not.
    image = table.viewport().grab().toImage()
    for row in range(model.rowCount()):
        status = model.cell_text(row, col)
        assert near(image, table.visualRect(model.index(row, col)), STATUS_COLORS[status]), status
        assert near(image, table.visualRect(model.index(row, 3)), STATUS_COLORS["UNCERTAIN"]) is \
            (status == "UNCERTAIN"), status
    # The status column fits its text and its icon.
    widest = max(table.fontMetrics().horizontalAdvance(s.value) for s in OrderStatus)
    assert table.columnWidth(col) >= widest + table.iconSize().width()


def near(image, rect, color: str, tolerance: int = 40) -> bool:
    """Some pixel in ``rect`` of ``image`` is within ``tolerance`` of ``color`` on each channel."""
    from PySide6.QtGui import QColor

    want = QColor(color)
    for x in range(max(rect.left(), 0), min(rect.right(), image.width() - 1) + 1):
        for y in range(max(rect.top(), 0), min(rect.bottom(), image.height() - 1) + 1):
            got = image.pixelColor(x, y)
            if (abs(got.red() - want.red()) <= tolerance and abs(got.green() - want.green()) <= tolerance
                    and abs(got.blue() - want.blue()) <= tolerance):
                return True
    return False


@pytest.fixture
def zone(monkeypatch):
    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()
        forget_local_zone()

    yield use
    monkeypatch.undo()
    time.tzset()
    forget_local_zone()


def test_created_shows_local_time_with_utc_kept(zone):
    winter = datetime(2026, 11, 29, 12, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
    late = datetime(2026, 11, 28, 23, 5, tzinfo=UTC)
    zone("Europe/Paris")
    assert created_text(winter) == "2026-11-29 13:05 (12:05 UTC)"
    assert created_text(summer) == "2026-07-01 14:05 (12:05 UTC)"  # summer time: the offset of that date
    assert created_text(late) == "2026-11-29 00:05 (11-28 23:05 UTC)"  # another day in UTC: its date too
    assert created_line(winter) == "2026-11-29 13:05 CET · 12:05 UTC"
    assert created_line(late) == "2026-11-29 00:05 CET · 2026-11-28 23:05 UTC"
    zone("America/St_Johns")  # a half-hour zone
    assert created_text(winter) == "2026-11-29 08:35 (12:05 UTC)"
    zone("UTC")
    assert created_text(winter) == "2026-11-29 12:05 UTC"
    assert created_line(winter) == "2026-11-29 12:05 UTC"
    assert created_text(None) == ""
