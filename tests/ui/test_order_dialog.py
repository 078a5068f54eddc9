"""Catalog → Order…: quantity, reference and customer note; unit price, total and the balance before and
after, asked live; the button names the charge; then the order's progress and its QR codes (issue 13)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
import zxingcpp
from PySide6.QtWidgets import QDialog

from esimdesk.domain import OrderStatus, money_str
from esimdesk.sandbox import SandboxConfig
from esimdesk.ui.order_dialog import OrderDialog
from tests.ui.conftest import window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=5, allocation_delay=0.2),
                             vendors=("roumio",)) as (win, server, desk):
        yield win, loop, server, desk


def run_until(loop, done, timeout=20.0):
    """The loop runs (without stopping: vendor calls are under way) until ``done()``."""
    async def wait() -> None:
        while not done():
            await asyncio.sleep(0.02)

    loop.run_until_complete(asyncio.wait_for(wait(), timeout))


def cheapest(desk, vendor="roumio"):
    return min((p for p in desk.store.plans(vendor=vendor) if p.price > 0 and not p.daily),
               key=lambda p: (p.price, p.plan_id))


def decoded(pixmap) -> str:
    [found] = zxingcpp.read_barcodes(pixmap.toImage())
    return found.text


def test_an_order_through_the_dialog_states_the_charge_and_ends_with_its_qr_codes(window, monkeypatch):
    win, loop, server, desk = window
    plan = cheapest(desk)
    seen: dict = {}

    def fill(dialog: OrderDialog) -> QDialog.DialogCode:
        run_until(loop, lambda: dialog.balance_before is not None)  # asked live while the agent types
        dialog.quantity.setValue(2)
        dialog.reference.setText("TCK-1001")
        dialog.note.setText("Ms <b>Tanaka</b>")
        seen.update(before=dialog.balance_before.amount, unit=dialog.unit_price.text(), total=dialog.total.text(),
                    balance=dialog.balance.text(), charge=dialog.charge.text(), ok=dialog.ok_button.text(),
                    enabled=dialog.ok_button.isEnabled())
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(OrderDialog, "exec", fill)
    win._order_dialog(plan)
    total = plan.price * 2
    assert seen["unit"] == f"{plan.price:.2f} USD" and seen["total"].startswith(f"{total:.2f} USD")
    assert seen["balance"].startswith(f"{money_str(seen['before'])} → {money_str(seen['before'] - total)} USD")
    assert seen["charge"].startswith(f"Charges {total:.2f} USD to the Roumio account for 2 × {plan.name}")
    assert seen["ok"] == f"Order and pay {total:.2f} USD" and seen["enabled"]
    run_until(loop, lambda: win.order_progress is not None)  # the order runs as a task of the window
    shown = win.order_progress
    assert shown.isVisible()  # beside the main window, not modal
    run_until(loop, lambda: not shown.busy.isVisibleTo(shown))  # the order has ended
    run_until(loop, lambda: not shown.esims.drawing())
    assert "completed: 2 eSIMs ready" in shown.state.text()
    entry = desk.store.journal_get(reference="TCK-1001")
    assert entry is not None and entry.state is OrderStatus.COMPLETED and entry.quantity == 2
    order = next(o for o in desk.store.orders(vendor="roumio") if o.reference == "TCK-1001")
    codes = [decoded(row.qr.pixmap()) for row in shown.esims.rows if row.isVisible()]
    assert sorted(codes) == sorted(e.activation_code for e in order.esims) and len(codes) == 2
    run_until(loop, lambda: all(desk.store.esim(e.iccid, "roumio").note == "Ms <b>Tanaka</b>" for e in order.esims))
    # The vendor charged what the dialog said.
    after = Decimal(server.sandbox.vendors["roumio"].balance) / 100
    assert after == seen["before"] - total


def test_an_order_the_balance_cannot_cover_cannot_be_confirmed(window, monkeypatch):
    win, loop, server, desk = window
    plan = cheapest(desk)
    server.sandbox.vendors["roumio"].balance = int(plan.price * 100) * 3  # room for 3, not 4
    dialog = OrderDialog(plan, desk, parent=win)
    run_until(loop, lambda: dialog.balance_before is not None)
    dialog.quantity.setValue(3)
    assert dialog.ok_button.isEnabled() and not dialog.problem.text()
    dialog.quantity.setValue(4)
    assert not dialog.ok_button.isEnabled()
    assert "does not cover this order" in dialog.problem.text()
    assert dialog.balance.text().startswith(f"{money_str(plan.price * 3)} → {money_str(-plan.price)} USD")
    dialog.reject()


def test_the_dialog_shows_the_cached_balance_and_why_when_the_vendor_does_not_answer(window, monkeypatch):
    from dataclasses import replace

    win, loop, server, desk = window
    plan = cheapest(desk)
    accounts = desk.ctx.accounts
    unreachable = replace(accounts.get("roumio"), base_url="http://127.0.0.1:9")
    monkeypatch.setattr(accounts, "get", lambda vendor: unreachable if vendor == "roumio" else None)
    dialog = OrderDialog(plan, desk, parent=win)
    run_until(loop, lambda: "did not answer" in dialog.balance.text())
    cached = desk.store.balances("roumio")[0]  # what the sync saw, with when
    assert dialog.balance.text().startswith(f"{money_str(cached.amount)} → ")
    assert f"last seen {cached.observed_at:%Y-%m-%d %H:%M} UTC; Roumio did not answer now" in dialog.balance.text()
    dialog.reject()


def test_a_reference_the_vendor_would_refuse_is_said_in_the_dialog(window):
    win, loop, server, desk = window
    dialog = OrderDialog(cheapest(desk), desk, parent=win)
    dialog.reference.setText("ticket 12; drop")
    dialog._accept()
    assert not dialog.result() and "letters, digits" in dialog.problem.text()
    dialog.reference.setText("TCK-12")
    dialog._accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
