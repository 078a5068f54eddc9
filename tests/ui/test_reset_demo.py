"""File → Reset demo… (issue 19): only in demo mode; after the agent confirms, the window closes its store
and sandbox, the demo's files are deleted, a new world is opened and synced, and the window goes on."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QMessageBox

from esimdesk.services.desk import Desk
from esimdesk.services.runtime import SANDBOX_STATE, open_context
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow


@pytest.fixture
def demo_window(loop, qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("ESIMDESK_SANDBOX_ALLOCATION", "0.2")
    monkeypatch.setenv("ESIMDESK_SANDBOX_PLANS", "60")
    monkeypatch.setenv("ESIMDESK_SANDBOX_ESIMS", "12")
    desk = Desk(open_context(demo=True))
    win = MainWindow(ui_settings(desk.ctx.home), desk, demo=True)
    qtbot.addWidget(win)
    win.show()
    loop.run_until_complete(win.startup(sync=True))
    yield win, loop, desk
    desk.close()


def test_reset_demo_is_offered_only_in_demo_mode(demo_window, qtbot, tmp_path):
    win, _, desk = demo_window
    assert win.reset_demo_action is not None
    assert win.reset_demo_action in win.menuBar().actions()[0].menu().actions()
    real = MainWindow(ui_settings(tmp_path), desk, demo=False)
    qtbot.addWidget(real)
    assert real.reset_demo_action is None
    assert not [a for a in real.menuBar().actions()[0].menu().actions() if "demo" in a.text().lower()]


def test_reset_demo_starts_a_new_world_and_syncs_it(demo_window, monkeypatch):
    win, loop, desk = demo_window
    home = desk.ctx.home
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    placed = loop.run_until_complete(win.place_order(plan, 1))
    assert placed is not None and desk.store.orders(search=placed.order_id)
    old_store, old_sandbox = desk.store, desk.ctx.sandbox
    asked = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a[1:3]) or QMessageBox.StandardButton.Yes))
    started = []
    with monkeypatch.context() as patch:
        patch.setattr(asyncio, "ensure_future", lambda coro: started.append(coro))
        win.reset_demo_action.trigger()
    assert asked and asked[0][0] == "Reset demo"
    [reset] = started
    # While the files are replaced (in a worker thread) the window paints, but no view can read the store.
    seen_disabled = []
    import esimdesk.services.demo as demo

    real_restart = demo.restart_demo

    def watched(d):
        seen_disabled.append((win.tabs.isEnabled(), win.sync_action.isEnabled()))
        return real_restart(d)

    monkeypatch.setattr(demo, "restart_demo", watched)
    assert loop.run_until_complete(reset) is True, win.statusBar().currentMessage()
    assert seen_disabled == [(False, False)] and win.tabs.isEnabled() and win.sync_action.isEnabled()
    assert win.statusBar().currentMessage() == "The demo was reset: a new sandbox world, synced"
    assert desk.store is not old_store and desk.ctx.sandbox is not old_sandbox
    assert old_sandbox._server is None  # the old world's sandbox is stopped
    # Our order is gone with the old world: not in the cache, not at the (new) vendor.
    assert not desk.store.orders(search=placed.order_id)
    assert desk.ctx.sandbox.sandbox.ledger("roumio") == []
    assert (home / SANDBOX_STATE).exists()
    # The window goes on with the new world: plans are there again and an order works.
    plan = min((p for p in desk.store.plans(vendor="roumio") if p.price > 0), key=lambda p: (p.price, p.plan_id))
    again = loop.run_until_complete(win.place_order(plan, 1))
    assert again is not None and again.reference != placed.reference
    assert [o.reference for o in desk.store.orders(search=again.order_id)] == [again.reference]
    assert win.orders.model.rowCount() > 0


def test_reset_demo_refused_keeps_the_window_on_its_world(demo_window, monkeypatch):
    """A refusal (here: the files cannot be removed) leaves the desk open on the data it had."""
    win, loop, desk = demo_window
    before = len(desk.store.orders())

    def refuse(home, say=None):
        from esimdesk.domain import StoreError

        raise StoreError("the data file is in use by another esimdesk")

    monkeypatch.setattr("esimdesk.services.demo.reset_demo_folder", refuse)
    assert loop.run_until_complete(win.reset_demo()) is False
    assert "The demo was not reset: the data file is in use" in win.statusBar().currentMessage()
    assert len(desk.store.orders()) == before  # reopened on the same file
