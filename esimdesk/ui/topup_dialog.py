"""Top up… from Fleet: only the top-ups the vendor offers for this eSIM, asked live, then one click.

The vendor is asked while the dialog shows a busy bar (the window keeps working); what it answers is the
whole choice: no free-text plan id, so an agent cannot send a package the eSIM does not take. The button
names what will be charged. The top-up itself goes through the orders service (journaled like an order),
placed by the window once the dialog returns the plan.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QListWidgetItem

from esimdesk.domain import Esim, EsimdeskError, Plan, count_of, data_amount, money_str, vendor_title
from esimdesk.ui.forms.ui_topup_dialog import Ui_TopUpDialog

log = logging.getLogger("esimdesk.ui")


def plan_line(plan: Plan) -> str:
    data = data_amount(plan.data_mb) + (" / day" if plan.daily else "")
    return f"{plan.name} — {data}, {plan.validity_days} days — {money_str(plan.price)} {plan.currency}"


class TopUpDialog(QDialog, Ui_TopUpDialog):
    """The form is ui/topup_dialog.ui (compiled to esimdesk/ui/forms); the list is the vendor's answer."""

    def __init__(self, desk, esim: Esim, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.desk, self.esim = desk, esim
        self.plans: list[Plan] = []
        self.setWindowTitle(f"Top up {esim.iccid}")
        # Vendor words are shown as they are, never as markup (the labels are plain text in the form).
        self.message.setText(f"Asking {vendor_title(esim.vendor)} which top-ups fit eSIM {esim.iccid}…")
        self.list.hide()
        self.top_up_button = self.buttons.addButton("Top up", QDialogButtonBox.ButtonRole.AcceptRole)
        self.top_up_button.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.currentRowChanged.connect(self._picked)
        self.list.itemDoubleClicked.connect(lambda _item: self.top_up_button.isEnabled() and self.accept())
        self.task: asyncio.Task | None = None

    def start(self) -> asyncio.Task:
        """Ask the vendor (in a task: the dialog and the window paint meanwhile)."""
        self.task = asyncio.ensure_future(self.load())
        return self.task

    async def load(self) -> list[Plan]:
        esim = self.esim
        why = self.desk.topup_refusal(esim)  # the vendor's API and the eSIM's state (domain/states.py)
        if why is not None:
            return self._none(f"No top-up can be offered: {why}.")
        try:
            plans = await self.desk.topup_plans(esim.vendor, esim.iccid)
        except EsimdeskError as exc:  # e.g. Roamify: this eSIM takes no top-up; or the vendor cannot be reached
            return self._none(f"No top-up can be offered: {exc}")
        except Exception as exc:  # a bug must not leave the dialog busy for ever
            log.exception("asking for top-up plans failed unexpectedly")
            return self._none(f"No top-up can be offered: {exc}")
        if not plans:
            return self._none(f"{vendor_title(esim.vendor)} offers no top-up for eSIM {esim.iccid}.")
        self.plans = list(plans)
        self.busy.hide()
        self.message.setText(f"{count_of(len(plans), 'top-up')} {vendor_title(esim.vendor)} offers for eSIM {esim.iccid}. Pick one:")
        for plan in plans:
            item = QListWidgetItem(plan_line(plan))
            item.setToolTip(plan.plan_id)
            self.list.addItem(item)
        self.list.show()
        self.list.setCurrentRow(0)
        self.list.setFocus()
        return self.plans

    def _none(self, sentence: str) -> list[Plan]:
        self.busy.hide()
        self.message.setText(sentence)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
        return []

    def _picked(self, row: int) -> None:
        plan = self.chosen()
        self.top_up_button.setEnabled(plan is not None)
        if plan is None:
            self.charge.clear()
            return
        price = f"{money_str(plan.price)} {plan.currency}"
        self.top_up_button.setText(f"Top up for {price}")
        self.charge.setText(f"{self.esim.vendor} charges {price} to the reseller's balance for {plan.name} "
                            f"({plan.plan_id}) on eSIM {self.esim.iccid}.")

    def chosen(self) -> Plan | None:
        row = self.list.currentRow()
        return self.plans[row] if 0 <= row < len(self.plans) else None

    async def choose(self) -> Plan | None:
        """Show the dialog, ask the vendor, and return the top-up the agent picked (None: cancelled)."""
        done: asyncio.Future = asyncio.get_event_loop().create_future()
        self.finished.connect(lambda result: done.done() or done.set_result(result))
        self.open()
        self.start()
        result = await done
        if self.task is not None and not self.task.done():
            self.task.cancel()
        return self.chosen() if result == QDialog.DialogCode.Accepted.value else None
