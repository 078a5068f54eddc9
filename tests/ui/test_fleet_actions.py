"""Support actions in the Fleet window (real Qt, real sandbox): enabled only where the state allows,
otherwise disabled with the reason; a confirmation that states money and reversibility; the result,
the history, the context menu, usage with its age, Flexiroam's device and free stock."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from esimdesk.domain import Action, ValidationError
from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import window_over_sandbox


@pytest.fixture
def window(loop, qtbot, tmp_path):
    config = SandboxConfig(seed=7, allocation_delay=0.2)
    with window_over_sandbox(loop, qtbot, tmp_path, config, vendors=("roumio", "flexiroam", "microesim")) as (
            win, server, desk):
        yield win, loop, server, desk


def settle(loop, seconds=0.3):
    loop.run_until_complete(asyncio.sleep(seconds))


def select(win, loop, iccid: str):
    win.tabs.setCurrentWidget(win.fleet)
    win.fleet.search.setText(iccid)
    settle(loop)
    model = win.fleet.model
    row = next(r for r in range(model.rowCount()) if model.item(r).iccid == iccid)
    win.fleet.table.selectRow(row)
    settle(loop)
    assert win.fleet.current.iccid == iccid
    return win.fleet.support


def roumio_esim(desk, vendor_status: str):
    return next(e for e in desk.store.esims(vendor="roumio")
                if e.vendor_status == vendor_status and e.iccid != "8943108170000775671")


def finish(loop, panel):
    """Run the task the click started to its end (the loop runs all along, as in the window)."""
    loop.run_until_complete(panel.task)


def answer_questions(monkeypatch, button) -> list[str]:
    """Every confirmation the window asks is answered with ``button``; the texts asked, in order."""
    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda parent, title, text, *a, **k: asked.append(text) or button))
    return asked


def wait_until(loop, check, seconds=10.0):
    for _ in range(int(seconds / 0.25)):
        if check():
            return
        settle(loop, 0.25)
    raise AssertionError("timed out")


def test_new_esim_cancel_enabled_suspend_disabled_with_the_reason(window):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "GOT_RESOURCE/RELEASED").iccid)
    assert panel.buttons[Action.CANCEL].isEnabled() and panel.buttons[Action.REVOKE].isEnabled()
    for action in (Action.SUSPEND, Action.RESUME, Action.SMS):
        assert not panel.buttons[action].isEnabled()
    assert panel.buttons[Action.SUSPEND].toolTip() == ("An eSIM not yet installed cannot be suspended: cancel it "
                                                       "for a refund")
    menu = panel.build_menu()
    items = {a.text(): a for a in menu.actions()}
    assert items["Cancel & refund…"].isEnabled()
    suspend = next(a for a in menu.actions() if a.text().startswith("Suspend…"))
    assert not suspend.isEnabled() and "cannot be suspended" in suspend.text() and menu.toolTipsVisible()


def test_installed_esim_says_why_it_cannot_be_cancelled(window):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    assert not panel.buttons[Action.CANCEL].isEnabled()
    assert panel.buttons[Action.CANCEL].toolTip() == "Installed eSIMs cannot be cancelled: suspend or revoke"
    assert panel.buttons[Action.SUSPEND].isEnabled() and panel.buttons[Action.SMS].isEnabled()
    assert "as of" in panel.usage.text() and "UTC" in panel.usage.text()  # usage with its age
    assert "(as of " in win.fleet.info.text()
    # The eSIM's own "as of" (issue 28): when Roumio last confirmed it, whichever sync or look-up that was.
    seen = win.fleet.current.seen_at
    assert seen is not None and f"Checked with Roumio: {seen:%Y-%m-%d %H:%M} UTC" in win.fleet.info.text()
    assert "<br>Roumio · " in win.fleet.info.text()  # the vendor by its name


def test_cancel_confirmation_states_the_refund_and_that_it_cannot_be_undone(window, monkeypatch):
    win, loop, server, desk = window
    esim = roumio_esim(desk, "GOT_RESOURCE/RELEASED")
    price = desk.store.plan("roumio", esim.plan_id).price
    panel = select(win, loop, esim.iccid)
    asked = []

    def question(parent, title, text, *a, **k):
        asked.append((title, text))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    before = server.sandbox.vendors["roumio"].stats()["balance_cents"]
    panel.buttons[Action.CANCEL].click()
    finish(loop, panel)
    [(title, text)] = asked
    assert title == "Cancel eSIM"
    assert f"refunds {price:.2f} USD to the Roumio balance" in text and "this cannot be undone" in text
    assert f"{price:.2f} USD refunded to the Roumio balance" in panel.result.text()
    assert server.sandbox.vendors["roumio"].stats()["balance_cents"] == before + int(price * 100)
    assert "cancel COMPLETED: Roumio carried it out (desk " in panel.history.toPlainText()
    assert "refunded" in win.statusBar().currentMessage()
    # Now cancelled: every action is disabled, with the reason.
    assert not any(b.isEnabled() for b in panel.buttons.values())
    assert panel.buttons[Action.REVOKE].toolTip() == "This eSIM is cancelled: nothing more can be done with it"


def test_revoke_says_no_refund_and_cannot_be_undone_and_no_sends_nothing(window, monkeypatch):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    asked = answer_questions(monkeypatch, QMessageBox.StandardButton.No)
    panel.buttons[Action.REVOKE].click()
    finish(loop, panel)
    [text] = asked
    assert "deleted for good and nothing is refunded" in text and "This cannot be undone." in text
    assert server.sandbox.vendors["roumio"].stats()["actions"] == []  # "No": nothing was sent


def test_suspend_then_resume_and_the_progress_bar(window, monkeypatch):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    texts = answer_questions(monkeypatch, QMessageBox.StandardButton.Yes)
    seen = {}

    def during(p) -> None:  # while the action runs: the busy bar, every action disabled with the reason
        seen.setdefault("progress", panel.progress.isVisible())
        seen.setdefault("buttons", [b.isEnabled() for b in panel.buttons.values()])
        seen.setdefault("tip", panel.buttons[Action.RESUME].toolTip())

    real = desk.esim_action
    monkeypatch.setattr(desk, "esim_action", lambda *a, **k: real(*a, **{**k, "progress": during}))
    panel.buttons[Action.SUSPEND].click()
    finish(loop, panel)
    assert seen["progress"] and not any(seen["buttons"])
    assert seen["tip"].startswith("Another action on this eSIM is running")
    assert not panel.progress.isVisible()
    assert "suspended" in panel.result.text()
    assert "it can be undone with Resume" in texts[0]
    assert panel.buttons[Action.RESUME].isEnabled() and not panel.buttons[Action.SUSPEND].isEnabled()
    panel.buttons[Action.RESUME].click()
    finish(loop, panel)
    assert "resumed" in panel.result.text()
    assert [a["action"] for a in server.sandbox.vendors["roumio"].stats()["actions"]] == ["suspend", "unsuspend"]


def test_sms_from_the_panel(window, monkeypatch):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    monkeypatch.setattr(QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("x" * 501, True)))
    panel.buttons[Action.SMS].click()
    finish(loop, panel)
    assert "Nothing was sent" in panel.result.text()
    monkeypatch.setattr(QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("Welcome!", True)))
    panel.buttons[Action.SMS].click()
    finish(loop, panel)
    assert "SMS sent" in panel.result.text()
    assert [m["message"] for m in server.sandbox.vendors["roumio"].stats()["sms_outbox"]] == ["Welcome!"]


def test_refresh_usage_shows_the_vendors_time(window):
    win, loop, server, desk = window
    panel = select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    # Roumio's figures are of its last refresh (each two hours): two hours on, that refresh is newer than the
    # sync's reading, which it then replaces (an older one never does: tests/cli/test_action_cli.py).
    server.config.clock.advance(2 * 3600)
    panel.refresh_button.click()
    finish(loop, panel)
    assert ":00 UTC" in panel.usage.text() and "asking" not in panel.usage.text()
    assert panel.usage.text().startswith("Used ")


def test_microesim_terminate_points_to_the_portal_with_the_ids(window):
    win, loop, server, desk = window
    plan = min((p for p in desk.store.plans(vendor="microesim") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    order = loop.run_until_complete(desk.place_order("microesim", plan.plan_id, 1))
    esim = order.esims[0]
    win.fleet.reload()
    panel = select(win, loop, esim.iccid)
    assert not panel.buttons[Action.CANCEL].isEnabled() and not panel.buttons[Action.REVOKE].isEnabled()
    assert panel.portal.isVisible()
    assert "terminate it in MicroESIM's portal" in panel.portal.text()
    assert order.order_id in panel.portal.text() and esim.iccid in panel.portal.text()


def test_flexiroam_device_remaining_and_free_stock(window):
    win, loop, server, desk = window
    used = next(e for e in desk.store.esims(vendor="flexiroam") if e.device_name)
    panel = select(win, loop, used.iccid)
    assert panel.device.text() == f"Device: {used.device_name} · IMEI {used.device_imei}"
    assert "left, as of" in panel.usage.text()
    assert all(not b.isEnabled() for b in panel.buttons.values())
    assert panel.buttons[Action.SUSPEND].toolTip() == "Flexiroam does not offer eSIM suspending through its API"
    free = win.fleet.free_stock
    wait_until(loop, lambda: free.isVisible())
    n = loop.run_until_complete(desk.free_stock("flexiroam"))  # the vendor's own count, live
    assert free.text() == f"Flexiroam free stock: {n:,}" and n > 0
    # The label counts what the last sync stored: it never pages the vendor's inventory on the window's
    # loop, and it still shows with the vendor down.
    from esimdesk.sandbox import Fault

    server.sandbox.faults["flexiroam"].add(Fault("http_500", endpoint="*", times=None))
    try:
        free.setText("")
        win.fleet.reload(changed=True)
        wait_until(loop, lambda: free.text() != "")
        assert free.text() == f"Flexiroam free stock: {n:,}"
    finally:
        server.sandbox.faults["flexiroam"].clear()


def test_microesim_order_dialog_offers_a_start_date_and_the_customers_email(window, monkeypatch):
    """MicroESIM's options are in the order dialog itself (issue 27: one dialog, not two)."""
    from PySide6.QtWidgets import QDialog

    from esimdesk.ui.order_dialog import OrderDialog

    win, loop, server, desk = window
    plan = min((p for p in desk.store.plans(vendor="microesim") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    charges: list[str] = []
    dialogs: list = []

    def fill(dialog) -> QDialog.DialogCode:
        dialogs.append(dialog)
        dialog.vendor_options.start.setChecked(True)
        dialog.vendor_options.email.setText("nobody")
        dialog._accept()  # a bad address is said in the dialog, which stays open
        assert dialog.problem.text() == "'nobody' is not an e-mail address" and not dialog.result()
        dialog.vendor_options.email.setText("traveller@example.com")
        charges.append(dialog.charge.text())  # the charge names the options as they are chosen
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(OrderDialog, "exec", fill)
    win._order_dialog(plan)
    assert len(dialogs) == 1  # one dialog for the whole order
    assert "the plan starts " in charges[0] and "MicroESIM e-mails the eSIM to traveller@example.com" in charges[0]
    # The order runs as a task of the window; the loop runs until it ends.
    loop.run_until_complete(asyncio.wait(asyncio.all_tasks(loop), timeout=20))
    [seen] = server.sandbox.vendors["microesim"].stats()["order_options"]
    assert seen["custom_email"] == "traveller@example.com" and seen["activation_date"]
    assert "completed" in win.statusBar().currentMessage()


def test_roumio_orders_show_no_options(window, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from esimdesk.ui.order_dialog import OrderDialog

    win, loop, server, desk = window
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    dialog = OrderDialog(plan, desk, win.catalog.pricing, win)
    assert dialog.vendor_options is None and dialog.order_options() == {}  # nothing to fill for a vendor with none
    dialog.done(QDialog.DialogCode.Rejected)


def test_right_click_selects_the_row_and_offers_the_same_actions(window):
    from PySide6.QtWidgets import QApplication, QMenu

    win, loop, server, desk = window
    target = roumio_esim(desk, "SUSPENDED/ENABLED")
    select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)  # another eSIM is selected first
    win.fleet.search.setText(target.iccid)
    settle(loop)
    model = win.fleet.model
    row = next(r for r in range(model.rowCount()) if model.item(r).iccid == target.iccid)
    pos = win.fleet.table.visualRect(model.index(row, 0)).center()
    win.fleet.table.customContextMenuRequested.emit(pos)
    settle(loop)
    assert win.fleet.current.iccid == target.iccid
    [menu] = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible()]
    enabled = {a.text() for a in menu.actions() if a.isEnabled()}
    assert enabled == {"Resume…", "Revoke…"}
    menu.close()


def test_a_cancelled_esim_offers_no_top_up_and_says_why(window, monkeypatch):
    """Issue 29 (1): Fleet offered "Top up for 3.00 USD" on a cancelled eSIM. The eSIM's state decides (the one
    rule the command line asks too, domain/states.py): the button is disabled with the reason, and the dialog,
    were it opened, asks the vendor nothing."""
    from esimdesk.ui.topup_dialog import TopUpDialog

    win, loop, server, desk = window
    esim = roumio_esim(desk, "GOT_RESOURCE/RELEASED")
    panel = select(win, loop, esim.iccid)
    fleet = win.fleet
    assert fleet.topup_button.isEnabled()
    answer_questions(monkeypatch, QMessageBox.StandardButton.Yes)
    panel.buttons[Action.CANCEL].click()
    finish(loop, panel)
    wait_until(loop, lambda: fleet.current is not None and fleet.current.status.value == "CANCELLED")
    assert not fleet.topup_button.isEnabled()
    assert fleet.topup_button.toolTip() == "This eSIM is cancelled: it can no longer be topped up"
    asked = []
    monkeypatch.setattr(desk, "topup_plans", lambda *a: asked.append(a))  # the vendor must not be asked
    dialog = TopUpDialog(desk, fleet.current, win)
    assert loop.run_until_complete(dialog.start()) == [] and asked == []
    assert dialog.message.text() == "No top-up can be offered: this eSIM is cancelled: it can no longer be topped up."
    assert dialog.list.count() == 0 and not dialog.top_up_button.isEnabled()
    dialog.close()
    with pytest.raises(ValidationError, match="top up refused: this eSIM is cancelled"):
        loop.run_until_complete(desk.topup("roumio", esim.iccid, "ANY-TOPUP"))
    assert server.sandbox.vendors["roumio"].stats()["topups"] == 0
    # An eSIM in service keeps its Top up… button.
    select(win, loop, roumio_esim(desk, "IN_USE/ENABLED").iccid)
    assert fleet.topup_button.isEnabled()
