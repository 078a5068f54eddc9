"""Roamify refund requests and SMS in the Fleet window (issue 30; real Qt, real sandbox over HTTP, real SQLite):
Request refund… enabled by state, the request PENDING with the consequence, Cancel request while open, the
sandbox's support decides, Refresh shows REFUNDED (money back to the balance) or REJECTED with the reason;
SMS from the window to an installed eSIM, greyed with the reason otherwise."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from PySide6.QtWidgets import QInputDialog, QMessageBox

from esimdesk.domain import Action
from esimdesk.sandbox import SandboxConfig
from tests.ui.conftest import window_over_sandbox
from tests.ui.test_fleet_actions import select, settle

CONSEQUENCE = "nothing is refunded until they approve; the eSIM keeps working"


@pytest.fixture
def window(loop, qtbot, tmp_path):
    with window_over_sandbox(loop, qtbot, tmp_path, SandboxConfig(seed=7, allocation_delay=0.2),
                             vendors=("roamify",)) as (win, server, desk):
        yield win, loop, server, desk




def roamify_esims(desk, vendor_status: str) -> list:
    return [e for e in desk.store.esims(vendor="roamify") if e.vendor_status == vendor_status]


def click_and_wait(loop, button, owner) -> None:
    """The click and the work it starts, inside one run of the loop (the vendor's answer comes over HTTP)."""
    async def go() -> None:
        button.click()
        await asyncio.sleep(0)
        if owner.task is not None:
            await owner.task
    loop.run_until_complete(go())


def decide(server, refund_id: str, decision: str, reason: str | None = None) -> None:
    assert httpx.post(f"{server.root}/_sandbox/refunds",
                      json={"refund_id": refund_id, "decision": decision, "reason": reason}).status_code == 200


def test_request_refund_then_approved_shows_money_back(window, monkeypatch):
    win, loop, server, desk = window
    esim = roamify_esims(desk, "INSTALLED")[0]
    panel = select(win, loop, esim.iccid)
    box = panel.refunds
    assert box.isVisible() and box.request_button.isEnabled()
    assert not box.cancel_button.isEnabled() and box.cancel_button.toolTip() == "No open refund request to cancel"
    assert "no request for this eSIM" in box.status.text()
    monkeypatch.setattr(box, "ask", lambda: ("NOT_WORKING", "no data since landing"))
    before = server.sandbox.vendors["roamify"].stats()["balance_cents"]
    click_and_wait(loop, box.request_button, box)
    text = box.status.text()
    assert "PENDING" in text and CONSEQUENCE in text and "Refund requested for eSIM" in text
    assert not box.request_button.isEnabled() and "A refund request is open (PENDING)" in box.request_button.toolTip()
    assert box.cancel_button.isEnabled()
    assert server.sandbox.vendors["roamify"].stats()["balance_cents"] == before  # nothing moved yet
    settle(loop)
    assert "refund requested" in panel.history.toPlainText() or "refund COMPLETED" in panel.history.toPlainText()

    refund_id = box.requests[0].refund_id
    decide(server, refund_id, "approve")
    click_and_wait(loop, box.refresh_button, box)
    assert "REFUNDED" in box.status.text() and "credited back to the Roamify balance" in box.status.text()
    assert not box.cancel_button.isEnabled()
    assert box.request_button.toolTip() == "This eSIM was refunded already"
    assert server.sandbox.vendors["roamify"].stats()["balance_cents"] > before


def test_cancel_then_rejected_with_its_reason(window, monkeypatch):
    win, loop, server, desk = window
    esim = roamify_esims(desk, "READY")[0]  # refund requests are reviewed whatever the state
    panel = select(win, loop, esim.iccid)
    box = panel.refunds
    monkeypatch.setattr(box, "ask", lambda: ("NOT_INSTALLED", None))
    click_and_wait(loop, box.request_button, box)
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    click_and_wait(loop, box.cancel_button, box)
    assert "CANCELLED" in box.status.text() and box.request_button.isEnabled()

    click_and_wait(loop, box.request_button, box)
    decide(server, box.requests[0].refund_id, "reject", "the customer used 2 GB")
    click_and_wait(loop, box.refresh_button, box)
    assert "REJECTED" in box.status.text() and "the customer used 2 GB" in box.status.text()
    assert box.request_button.isEnabled()  # a new request may be sent after a rejection


def test_sms_from_the_window_enabled_by_state(window, monkeypatch):
    win, loop, server, desk = window
    ready = roamify_esims(desk, "READY")[1]
    panel = select(win, loop, ready.iccid)
    assert not panel.buttons[Action.SMS].isEnabled()
    assert panel.buttons[Action.SMS].toolTip().startswith("An SMS reaches only an installed eSIM")
    assert panel.buttons[Action.SUSPEND].toolTip() == "Roamify does not offer eSIM suspending through its API"
    installed = roamify_esims(desk, "INSTALLED")[1]
    panel = select(win, loop, installed.iccid)
    assert panel.buttons[Action.SMS].isEnabled()
    monkeypatch.setattr(QInputDialog, "getMultiLineText", staticmethod(lambda *a, **k: ("Welcome to Lisbon", True)))
    click_and_wait(loop, panel.buttons[Action.SMS], panel)
    assert "SMS sent" in panel.result.text()
    assert server.sandbox.vendors["roamify"].stats()["sms_outbox"][-1] == {
        **server.sandbox.vendors["roamify"].stats()["sms_outbox"][-1], "iccid": installed.iccid,
        "message": "Welcome to Lisbon"}
