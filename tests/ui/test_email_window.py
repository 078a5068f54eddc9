"""E-mail to the customer from the window (issue 30): in the demo window an agent e-mails an order's eSIMs from
Orders and opens the e-mail the customer gets in File → Demo mailbox… (card attached, links that carry the
eSIMs' own codes, the reseller's name); "Send again" is one click; a double click sends one; Settings → E-mail
sends a test message through a real STARTTLS server with a login and keeps the password in the keychain only."""

from __future__ import annotations

import json
import mailbox
import re

import keyring
import pytest

from esimdesk.domain import OrderStatus
from esimdesk.domain.install_links import carddata_of
from esimdesk.services.desk import Desk
from esimdesk.services.mail_settings import PASSWORD_USER
from esimdesk.services.runtime import open_context
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow
from esimdesk.ui.settings_dialog import SettingsDialog
from tests.smtp_server import PASSWORD, USER, SmtpServer
from tests.ui.conftest import wait_until


@pytest.fixture
def demo_window(loop, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("ESIMDESK_SANDBOX_PLANS", "20")
    monkeypatch.setenv("ESIMDESK_SANDBOX_ESIMS", "6")
    desk = Desk(open_context(demo=True))
    win = MainWindow(ui_settings(desk.ctx.home), desk, demo=True)
    qtbot.addWidget(win)
    win.show()
    loop.run_until_complete(win.startup(sync=True))
    yield win, desk
    desk.close()


def _messages(folder):
    return sorted(mailbox.Maildir(folder, create=False), key=lambda m: m["Date"])


def _links(msg) -> list[str]:
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    return re.findall(r"https://esimsetup\.(?:apple|android)\.com/\S+", text)


def test_the_agent_emails_an_order_and_opens_what_the_customer_gets(loop, demo_window):
    win, desk = demo_window
    order = next(o for o in desk.store.orders(vendor="roumio") if o.status is OrderStatus.COMPLETED
                 and len(o.esims) > 1 and all(e.activation_code for e in o.esims))
    codes = sorted(e.activation_code for e in order.esims)
    win.tabs.setCurrentWidget(win.orders)
    win.orders.show_detail(order)
    panel = win.orders.email
    loop.run_until_complete(panel.reload_task)
    assert panel.email_button.isEnabled() and not panel.again_button.isEnabled()
    panel.email_button.click()
    wait_until(loop, lambda: panel.dialog is not None and panel.dialog.isVisible())
    dialog = panel.dialog
    dialog.to.setText("anna@example")  # a typo is said in the dialog, nothing is sent
    dialog.send_button.click()
    loop.run_until_complete(dialog.task)
    assert "needs a dot" in dialog.result.text() and dialog.isVisible()
    dialog.to.setText("anna@example.com")
    dialog.language.setCurrentIndex(dialog.language.findData("es"))
    dialog.send_button.click()
    dialog.send_button.click()  # the double click: one e-mail
    loop.run_until_complete(dialog.task)
    assert not dialog.isVisible()
    [msg] = _messages(desk.ctx.mailbox)
    assert msg["To"] == "anna@example.com" and "Demo Travel eSIM" in msg["From"]
    assert msg["Subject"] == f"Tus {len(codes)} eSIM de Demo Travel eSIM"
    assert sorted({carddata_of(x) for x in _links(msg)}) == codes
    assert [p.get_filename() for p in msg.walk() if p.get_content_type() == "application/pdf"] == ["esim-cards.pdf"]
    assert "anna@example.com" in win.statusBar().currentMessage()
    wait_until(loop, lambda: panel.list.count() == 1 and "sent to anna@example.com" in panel.list.item(0).text())
    # Send again: one click, to the same address and language.
    assert panel.again_button.isEnabled()
    panel.again_button.click()
    loop.run_until_complete(panel.task)
    assert len(_messages(desk.ctx.mailbox)) == 2
    wait_until(loop, lambda: panel.list.count() == 2)
    # The Fleet lists the order's e-mails under each of its eSIMs.
    fleet = win.fleet.email
    fleet.set_target(order.esims[0].iccid, "roumio", [order.esims[0].iccid], order.order_id)
    loop.run_until_complete(fleet.reload_task)
    assert fleet.list.count() == 2
    # Reopening the dialog for the same address says it went already and offers Send again.
    panel.email_button.click()
    wait_until(loop, lambda: panel.dialog is not dialog and panel.dialog is not None)
    assert panel.dialog.to.text() == "anna@example.com" and panel.dialog.send_button.text() == "Send again"
    assert "Already:" in panel.dialog.earlier.text()
    panel.dialog.reject()
    # The demo mailbox shows it as the customer gets it.
    win.demo_mailbox_action.trigger()
    box = win.demo_mailbox
    loop.run_until_complete(box.task)
    assert box.list.topLevelItemCount() == 2
    assert "Demo Travel eSIM" in box.view.toPlainText()


def test_settings_email_sends_a_test_message_and_keeps_the_password_in_the_keychain(loop, qtbot, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with SmtpServer(tmp_path, "starttls") as srv:
        dialog = SettingsDialog(home, _no_accounts(home), page="email")
        qtbot.addWidget(dialog)
        page = dialog.email_page
        assert dialog.pages.currentWidget() is page
        page.host.setText("127.0.0.1")
        page.port.setValue(srv.port)
        page.username.setText(USER)
        page.password.setText("wrong-password")
        page.from_address.setText("support@acme.example")
        page.reseller.setText("Acme Travel")
        page.ca_file.setText(str(srv.cert))
        page.test_button.click()
        loop.run_until_complete(page.task)
        assert "refused the login" in page.test_result.text() and "wrong-password" not in page.test_result.text()
        page.password.setText(PASSWORD)
        page.test_button.click()
        loop.run_until_complete(page.task)
        assert page.test_result.text().startswith("Test message sent to support@acme.example")
        assert len(srv.messages) == 1 and "Acme Travel" in srv.messages[0]["Subject"]
        assert loop.run_until_complete(dialog.save())
    saved = json.loads((home / "settings.json").read_text())["email"]
    assert saved["host"] == "127.0.0.1" and saved["username"] == USER and saved["reseller_name"] == "Acme Travel"
    assert PASSWORD not in (home / "settings.json").read_text()
    assert keyring.get_password("esimdesk", PASSWORD_USER) == PASSWORD


def _no_accounts(home):
    from esimdesk.services.config import load_accounts

    return load_accounts(home, env={})


def test_right_after_an_order_its_esims_are_emailed_from_the_progress_window(loop, demo_window, monkeypatch):
    from PySide6.QtWidgets import QDialog

    from esimdesk.ui.order_dialog import OrderDialog

    win, desk = demo_window
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0 and not p.daily),
               key=lambda p: (p.price, p.plan_id))
    monkeypatch.setattr(OrderDialog, "exec", lambda dialog: QDialog.DialogCode.Accepted)
    win._order_dialog(plan)
    wait_until(loop, lambda: win.order_progress is not None)
    shown = win.order_progress
    wait_until(loop, lambda: not shown.email.isHidden(), timeout=60)
    shown.email.email_button.click()
    wait_until(loop, lambda: shown.email.dialog is not None and shown.email.dialog.isVisible())
    dialog = shown.email.dialog
    dialog.to.setText("carla@example.com")
    dialog.send_button.click()
    loop.run_until_complete(dialog.task)
    [msg] = _messages(desk.ctx.mailbox)
    order = next(o for o in desk.store.orders(vendor="roumio") if o.order_id == shown.email.order_id)
    assert msg["To"] == "carla@example.com"
    assert sorted({carddata_of(x) for x in _links(msg)}) == sorted(e.activation_code for e in order.esims)


def test_an_email_a_killed_desk_left_half_sent_is_said_at_start_and_never_resent(loop, qtbot, tmp_path, monkeypatch):
    import socket

    from esimdesk.domain.mail import DeliveryKind

    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("ESIMDESK_SANDBOX_PLANS", "20")
    monkeypatch.setenv("ESIMDESK_SANDBOX_ESIMS", "4")
    desk = Desk(open_context(demo=True))
    try:
        dead = f"{socket.gethostname()}:{2**22 + 7}:abcdef"  # a process of this machine that no longer runs
        left = desk.store.delivery_create(kind=DeliveryKind.ESIM, vendor="roumio", ref="8944001000000000349",
                                          iccids=["8944001000000000349"], to_address="anna@example.com",
                                          language="en", message_id="<k@demo>", subject="s", server="sink",
                                          agent="ann", owner=dead, lease_seconds=600)
        desk.store.delivery_handed_over(left.id)
        win = MainWindow(ui_settings(desk.ctx.home), desk, demo=True)
        qtbot.addWidget(win)
        loop.run_until_complete(win.startup(sync=False))
        assert desk.store.delivery_get(left.id).state is OrderStatus.UNCERTAIN
        assert "may have been sent" in win.messages.text() and "anna@example.com" in win.messages.text()
        assert not desk.ctx.mailbox.exists() or _messages(desk.ctx.mailbox) == []  # nothing sent by itself
    finally:
        desk.close()
