"""Support actions in Fleet (issue 21): buttons in the detail panel and the same actions in the table's
context menu — cancel, suspend, resume, revoke, SMS — plus usage with its age, the eSIM's action history
and Flexiroam's free stock.

Each action is enabled only when the eSIM's state allows it; otherwise it is disabled with the reason as
its tooltip (and in the menu). A confirmation states the consequence in money and reversibility; the
action then runs in the background (Desk → services/actions.py) with a busy bar, and its result stays
under the buttons. Nothing here talks to a vendor or the database directly.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QGridLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid as shiboken_valid

from esimdesk.domain import SMS_MAX_CHARS, Action, Esim, EsimdeskError, data_amount, vendor_title
from esimdesk.domain.actions import ESIM_ACTIONS
from esimdesk.services.actions import consequence
from esimdesk.services.offers import usage_gap
from esimdesk.ui.fleet_refunds import RefundBox
from esimdesk.ui.text import rich  # the dialogs guess the format: vendor text must stay text

log = logging.getLogger("esimdesk.ui")

LABELS: dict[Action, str] = {
    Action.CANCEL: "Cancel && refund…", Action.SUSPEND: "Suspend…", Action.RESUME: "Resume…",
    Action.REVOKE: "Revoke…", Action.SMS: "Send SMS…",
}
TITLES: dict[Action, str] = {
    Action.CANCEL: "Cancel eSIM", Action.SUSPEND: "Suspend eSIM", Action.RESUME: "Resume eSIM",
    Action.REVOKE: "Revoke eSIM", Action.SMS: "Send an SMS",
}
BUSY = "another action on this eSIM is running"


def usage_text(esim: Esim) -> str:
    """Usage with its age: "Used 1.2 GB of 5 GB, as of 2025-03-19 18:00 UTC" (plus what is left, the device)."""
    parts = []
    if esim.data_used_mb is not None:
        total = f" of {data_amount(esim.data_total_mb)}" if esim.data_total_mb is not None else ""
        parts.append(f"Used {data_amount(esim.data_used_mb, '')}{total}")
    if esim.data_remaining_mb is not None:
        parts.append(f"{data_amount(esim.data_remaining_mb, '')} left")
    if not parts:
        gap = usage_gap(esim)  # e.g. "not installed yet: Roamify reports usage once the eSIM is installed"
        return f"Usage: {gap}" if gap else "Usage: not known yet"
    when = f", as of {esim.usage_as_of:%Y-%m-%d %H:%M} UTC" if esim.usage_as_of else ", as of an unknown time"
    return "; ".join(parts) + when


def device_text(esim: Esim) -> str:
    if not (esim.device_name or esim.device_imei):
        return ""
    return "Device: " + " · IMEI ".join(p for p in (esim.device_name or "unnamed", esim.device_imei) if p)


class FleetActions(QWidget):
    done = Signal(str)  # a result sentence, for the status bar
    failed = Signal(str)  # the action was refused, not done or failed: the reason in words, for the message bar
    changed = Signal()  # an eSIM changed at the vendor: the Fleet reloads
    usageRefreshed = Signal()  # "Refresh usage" stored a new reading: the usage chart reads them again

    def __init__(self, desk, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.esim: Esim | None = None
        self.busy = False
        self.reasons: dict[Action, str | None] = {}
        self.buttons: dict[Action, QPushButton] = {}
        self.menu_actions: dict[Action, QAction] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for i, action in enumerate(ESIM_ACTIONS):
            button = QPushButton(LABELS[action])
            button.clicked.connect(lambda _=False, a=action: self.request(a))
            grid.addWidget(button, i // 3, i % 3)
            self.buttons[action] = button
            item = QAction(LABELS[action].replace("&&", "&"), self)
            item.triggered.connect(lambda _=False, a=action: self.request(a))
            self.menu_actions[action] = item
        self.refresh_button = QPushButton("Refresh usage")
        self.refresh_button.setToolTip("Ask the vendor for this eSIM's usage now")
        self.refresh_button.clicked.connect(self._refresh_clicked)
        grid.addWidget(self.refresh_button, 1, 2)
        self.usage = QLabel()
        self.usage.setWordWrap(True)
        self.usage.setTextFormat(Qt.TextFormat.PlainText)
        self.device = QLabel()
        self.device.setTextFormat(Qt.TextFormat.PlainText)
        self.portal = QLabel()  # MicroESIM terminate: where, with the ids to copy
        self.portal.setWordWrap(True)
        self.portal.setTextFormat(Qt.TextFormat.PlainText)
        self.portal.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.portal.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)  # busy: the vendor call has no known length
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setTextFormat(Qt.TextFormat.PlainText)
        self.result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.history.setPlaceholderText("No support action on this eSIM yet.")
        self.history.setMaximumHeight(110)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.usage)
        layout.addWidget(self.device)
        layout.addLayout(grid)
        self.refunds = RefundBox(desk, self)  # refund requests, where the vendor takes them (Roamify)
        self.refunds.done.connect(self.done)
        self.refunds.done.connect(lambda _said: self._load_history())  # the request's journal lines
        self.refunds.failed.connect(self.failed)
        layout.addWidget(self.refunds)
        layout.addWidget(self.portal)
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        layout.addWidget(QLabel("Support history"))
        layout.addWidget(self.history)
        self._history_task: asyncio.Task | None = None
        self.task: asyncio.Task | None = None  # the last action or usage refresh started from here
        self.set_esim(None)

    # --- state -------------------------------------------------------------------------------------
    def set_esim(self, esim: Esim | None) -> None:
        same = esim is not None and self.esim is not None and (esim.vendor, esim.iccid) == (self.esim.vendor,
                                                                                           self.esim.iccid)
        self.esim = esim
        if not same:
            self.result.clear()
        self.usage.setVisible(esim is not None)  # nothing selected: the detail above already says "Select an eSIM."
        if esim is None:
            self.reasons = {a: "select an eSIM" for a in ESIM_ACTIONS}
            self.usage.clear()
            self.device.clear()
            self.history.clear()
        else:
            self.reasons = self.desk.action_availability(esim)
            self.usage.setText(usage_text(esim))
            self.device.setText(device_text(esim))
            self._load_history()
        self.device.setVisible(bool(self.device.text()))  # no empty line above the buttons
        self.refunds.set_esim(esim)
        self._show_states()

    def reason(self, action: Action) -> str | None:
        """Why ``action`` is disabled now, or None when it is enabled."""
        if self.busy:
            return BUSY
        return self.reasons.get(action, "select an eSIM")

    def _show_states(self) -> None:
        portal = None
        for action in ESIM_ACTIONS:
            why = self.reason(action)
            button, item = self.buttons[action], self.menu_actions[action]
            button.setEnabled(why is None)
            item.setEnabled(why is None)
            tip = why[0].upper() + why[1:] if why else f"{TITLES[action]}: asks for confirmation first"
            button.setToolTip(tip)
            item.setToolTip(tip)
            item.setStatusTip(tip)
            item.setText(LABELS[action].replace("&&", "&") + (f"  ({why})" if why and why != "select an eSIM" else ""))
            if why and "portal" in why:
                portal = why
        self.refresh_button.setEnabled(self.esim is not None and not self.busy)
        self.portal.setText(portal[0].upper() + portal[1:] if portal else "")
        self.portal.setVisible(bool(portal))

    def _load_history(self) -> None:
        if self._history_task is not None and not self._history_task.done():
            self._history_task.cancel()
        self._history_task = asyncio.ensure_future(self.load_history())

    async def load_history(self) -> None:
        esim = self.esim
        if esim is None:
            return
        lines = await self.desk.esim_history(esim.vendor, esim.iccid)
        if self.esim is esim:
            self.history.setPlainText("\n".join(ln.line() for ln in lines))

    # --- the context menu ----------------------------------------------------------------------------
    def build_menu(self, parent: QWidget | None = None) -> QMenu:
        menu = QMenu(parent or self)
        menu.setToolTipsVisible(True)  # the reason a disabled action is disabled
        for action in ESIM_ACTIONS:
            menu.addAction(self.menu_actions[action])
        return menu

    def attach_menu(self, table: QTableView, select_row) -> None:
        """Right-click on a row: select it (so the panel and the menu speak of the same eSIM), then the menu."""
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)

        def show(pos: QPoint) -> None:
            index = table.indexAt(pos)
            if not index.isValid():
                return
            select_row(index.row())
            self.build_menu(table).popup(table.viewport().mapToGlobal(pos))

        table.customContextMenuRequested.connect(show)

    # --- asking, then doing ----------------------------------------------------------------------------
    async def confirmation(self, action: Action) -> str:
        """The confirmation's text: the consequence in money and reversibility."""
        price, currency = await self.desk.action_price(self.esim)
        return consequence(self.esim, action, price, currency)

    def request(self, action: Action) -> None:
        if self.esim is not None and self.reason(action) is None:
            self.task = asyncio.ensure_future(self._request(action))

    def _refresh_clicked(self) -> None:
        self.task = asyncio.ensure_future(self.refresh_usage())

    async def _request(self, action: Action) -> None:
        text = await self.confirmation(action)
        message = None
        if action is Action.SMS:
            message, ok = QInputDialog.getMultiLineText(
                self, TITLES[action], rich(f"{text}\n\nMessage (at most {SMS_MAX_CHARS} characters):"))
            if not ok:
                return
            if len(message) > SMS_MAX_CHARS or not message.strip():
                self.result.setText(f"The SMS must be 1 to {SMS_MAX_CHARS} characters; it has {len(message)}. "
                                    "Nothing was sent.")
                return
        else:
            answer = QMessageBox.question(self, TITLES[action], rich(text),
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        await self.run(action, message)

    async def run(self, action: Action, message: str | None = None) -> None:
        esim = self.esim
        self.busy = True
        self._show_states()
        self.progress.show()
        self.result.setText(f"{TITLES[action]}: sending to {vendor_title(esim.vendor)}…")

        def progress(p) -> None:
            if self.esim is esim:
                self.result.setText(p.message[0].upper() + p.message[1:] + "…")

        try:
            outcome = await self.desk.esim_action(esim.iccid, action, message, vendor=esim.vendor, progress=progress)
        except EsimdeskError as exc:
            said = str(exc)
            after = None
            failure = f"{TITLES[action]} {esim.iccid}: {said}"
        except Exception as exc:  # a bug must not leave the panel busy for ever
            log.exception("support action failed unexpectedly")
            said, after = f"{TITLES[action]} failed unexpectedly ({type(exc).__name__}); see the log", None
            failure = said
        else:
            said, after, failure = outcome.message, outcome.esim, None
        finally:
            self.busy = False
            self.progress.hide()
        if self.esim is esim:
            self.set_esim(after or esim)
            self.result.setText(said)
            await self.load_history()  # the new lines, before the panel says it is done
        self.done.emit(said)
        if failure is not None:
            self.failed.emit(failure)
        self.changed.emit()

    async def refresh_usage(self) -> None:
        esim = self.esim
        if esim is None:
            return
        self.refresh_button.setEnabled(False)
        self.usage.setText(usage_text(esim) + " — asking the vendor…")
        try:
            report = await self.desk.esim_usage([esim.iccid])
        except EsimdeskError as exc:
            report = None
            problem = str(exc)
        else:
            problem = "; ".join(report.problems)
        finally:
            self.refresh_button.setEnabled(True)
        if self.esim is not esim:
            return
        if report and report.readings:
            u = report.readings[0]
            esim = replace(esim, data_used_mb=u.data_used_mb if u.data_used_mb is not None else esim.data_used_mb,
                           data_total_mb=u.data_total_mb if u.data_total_mb is not None else esim.data_total_mb,
                           data_remaining_mb=u.data_remaining_mb if u.data_remaining_mb is not None
                           else esim.data_remaining_mb, usage_as_of=u.when)
            self.esim = esim
        self.usage.setText(usage_text(esim) + (f" — {problem}" if problem else ""))
        if report and report.readings:
            self.usageRefreshed.emit()


class FreeStock(QLabel):
    """Flexiroam's free stock (eSIMs never handed out), as of the last sync: counted in the store.

    Asking the vendor live meant paging its whole inventory and decoding it on the GUI thread's loop,
    once a minute: at a reseller's size, a stall in the agent's typing. The sync lists that inventory
    anyway (free stock is stored as status NEW), so the count is one indexed query in a worker thread."""

    def __init__(self, desk, parent=None):
        super().__init__(parent)
        self.desk = desk
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setToolTip("Flexiroam eSIMs never handed out (list-inventory, availability free), as of the last sync")
        self._task: asyncio.Task | None = None
        self.hide()

    def refresh(self) -> None:
        if "flexiroam" in self.desk.vendors and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self.count())

    async def count(self) -> int | None:
        try:
            n = await self.desk.free_stock_stored("flexiroam")
        except Exception:  # a background count must never surface as an error in the window
            log.exception("free stock count failed unexpectedly")
            return None
        if n is not None and shiboken_valid(self):  # the window may have closed meanwhile
            self.setText(f"Flexiroam free stock: {n:,}")
            self.show()
        return n


def mount(fleet) -> FleetActions:
    """The hook fleet_tab.FleetTab calls: the panel under the eSIM's details, the table's context menu, and
    the free-stock count beside the filters."""
    panel = FleetActions(fleet.desk, fleet)
    fleet.detail_layout.addWidget(panel)

    def select_row(row: int) -> None:
        fleet.table.selectRow(row)

    panel.attach_menu(fleet.table, select_row)
    fleet.free_stock = FreeStock(fleet.desk, fleet)
    fleet.filters.addWidget(fleet.free_stock)
    fleet.loaded.connect(lambda _n: fleet.free_stock.refresh())
    return panel
