"""The Orders tab: what was ordered, with the selected order's eSIMs (their QR codes and customer cards),
its history, and the agent's decisions on an order whose answer was lost (Reconcile now, adopt, send
again, abandon)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import EsimdeskError, JournalEntry, Order, is_undecided, money_str, vendor_title
from esimdesk.services.currency import Pricing
from esimdesk.services.preferences import Rates
from esimdesk.ui.cards_dialogs import CardActions
from esimdesk.ui.email_panel import EmailPanel
from esimdesk.ui.listing_page import ListingTab
from esimdesk.ui.order_detail import (
    CREATED_SAMPLE,
    STATUS_COLORS,
    STATUS_SAMPLE,
    EsimList,
    OrdersModel,
    created_line,
    created_text,
)
from esimdesk.ui.table_model import Column
from esimdesk.ui.text import esc

log = logging.getLogger("esimdesk.ui")


class OrdersTab(ListingTab):
    listing = "orders"
    noun = "orders"
    model_class = OrdersModel
    # The agent's decisions on an order whose answer was lost (UNCERTAIN, or recorded and never sent).
    adoptRequested = Signal(object)  # JournalEntry
    resendRequested = Signal(object)  # JournalEntry
    abandonRequested = Signal(object)  # JournalEntry
    orderReconciled = Signal(object)  # JournalEntry: "Reconcile now" asked the vendor; what it became
    reconcileFailed = Signal(str)  # why the vendor could not be asked, in words
    codeCopied = Signal(str, str)  # ICCID, activation code: on the clipboard

    def _cost_text(self, order: Order) -> str:
        if order.total is None or not order.currency:
            return ""
        converted = self.pricing.cost(order.total, order.currency)
        if converted is None:
            return ""
        return f"{'≈ ' if converted.as_of is not None else ''}{money_str(converted.amount)} {converted.currency}"

    def set_pricing(self, pricing: Pricing) -> None:
        self.pricing = pricing
        index = next(i for i, c in enumerate(self.model.columns) if c.title.startswith("Cost"))
        title = f"Cost ({pricing.currency})" if pricing.currency else "Cost"
        self.model.columns[index] = replace(self.model.columns[index], title=title)
        self.model.tips[title] = self.model.tips.get("Cost", "")
        self.model.redraw()

    def __init__(self, desk, parent=None):
        columns = [
            Column("Created", lambda o: created_text(o.created_at), "created", sample=CREATED_SAMPLE),
            Column("Vendor", lambda o: vendor_title(o.vendor), "vendor"),
            Column("Status", lambda o: o.status.value, "status", sample=STATUS_SAMPLE),
            Column("Order id", lambda o: o.order_id or "—", "order_id"),
            Column("Reference", lambda o: o.shown_reference or "", "reference"),
            Column("Plan", lambda o: ", ".join(f"{ln.quantity}× {ln.name or ln.plan_id}" for ln in o.lines)),
            Column("Total", lambda o: f"{money_str(o.total)} {o.currency}" if o.total is not None else "", "total",
                   align_right=True, sample="99,999.99 HKD"),
            # The vendor's total in the agent's currency at today's rate, and what the customer paid (with the
            # margin) as it was quoted when sold: rates and price rules change later, a sale does not.
            Column("Cost", self._cost_text, align_right=True, sample="≈ 99,999.99 EUR"),
            Column("Sold for", lambda o: f"{money_str(o.sale.total)} {o.sale.currency}" if o.sale else "",
                   align_right=True, sample="99,999.99 EUR"),
            Column("Margin", lambda o: f"{money_str(o.sale.margin)} {o.sale.currency}"
                   if o.sale and o.sale.margin is not None else "", align_right=True, sample="9,999.99 EUR"),
            Column("eSIMs", lambda o: str(len(o.esims)), align_right=True),
        ]
        self.pricing = Pricing(Rates())  # the Catalog's, passed on when it is read (the window connects them)
        super().__init__(desk, columns, "Search orders: order id, reference, ICCID (or its last digits) or plan",
                         parent)
        self.model.tips = {"Cost": "The vendor's total in your currency at today's exchange rate (≈: converted)",
                           "Sold for": "What the customer paid, as quoted when the order was placed from this desk",
                           "Margin": "Sold for minus the cost, both as they were when sold"}
        self.info = QLabel("Select an order.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.history = QPlainTextEdit()
        self.history.setReadOnly(True)
        self.card_actions = CardActions(desk)  # Print…, Save as PDF…, Copy image, Show to customer
        self.detail_layout.addWidget(self.info)
        self.detail_layout.addWidget(self.card_actions)
        self.email = EmailPanel(desk)  # E-mail to customer…, Send again, the e-mails it went out in (issue 30)
        self.detail_layout.addWidget(self.email)
        self.decision = QWidget()
        rows = QVBoxLayout(self.decision)
        rows.setContentsMargins(0, 0, 0, 0)
        asking = QHBoxLayout()  # first: ask the vendor; then, below, the agent's three decisions
        row = QHBoxLayout()
        rows.addLayout(asking)
        rows.addLayout(row)
        self.reconcile_button = QPushButton("Reconcile now")
        self.reconcile_button.setToolTip("Ask the vendor now what became of this order (where its handle makes "
                                         "it harmless, it may be sent again)")
        self.reconcile_busy = QProgressBar()  # the vendor is being asked: busy, it cannot say how long
        self.reconcile_busy.setRange(0, 0)
        self.reconcile_busy.setMaximumWidth(60)
        self.reconcile_busy.hide()
        self.adopt_button = QPushButton("Adopt vendor order…")
        self.adopt_button.setToolTip("This order's answer was lost: name the vendor's order that is this one")
        self.resend_button = QPushButton("Send again")
        self.resend_button.setToolTip("Send it again (with the same handle where the vendor has one)")
        self.abandon_button = QPushButton("Abandon")
        self.abandon_button.setToolTip("It was not placed or is not wanted: stop settling it")
        asking.addWidget(self.reconcile_button)
        asking.addWidget(self.reconcile_busy)
        asking.addStretch(1)
        for button in (self.adopt_button, self.resend_button, self.abandon_button):
            row.addWidget(button)
        self.reconcile_button.clicked.connect(self._reconcile_clicked)
        self.adopt_button.clicked.connect(lambda: self._decide(self.adoptRequested))
        self.resend_button.clicked.connect(lambda: self._decide(self.resendRequested))
        self.abandon_button.clicked.connect(lambda: self._decide(self.abandonRequested))
        self.decision.hide()
        self.entry = None  # the selected order's journal entry, when it waits for the agent
        self._reconciling: str | None = None  # the reference "Reconcile now" is asking about
        self.reconcile_task: asyncio.Task | None = None  # held: a task nobody holds may be collected mid-way
        self.detail_layout.addWidget(self.decision)
        # The order's eSIMs with their QR codes, scrolled: ten codes are taller than the pane.
        self.esims = EsimList()
        self.esims.codeCopied.connect(self.codeCopied)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the codes scroll, not the pane
        scroll.setWidget(self.esims)
        self.detail_layout.addWidget(scroll, 2)
        self.detail_layout.addWidget(QLabel("History"))
        self.detail_layout.addWidget(self.history, 1)
        self.current: Order | None = None
        self.sort_by(0, Qt.SortOrder.DescendingOrder)  # newest first

    def show_detail(self, order: Order) -> None:
        self.current = order
        color = STATUS_COLORS.get(order.status.value, "")
        total = f"<br>Total: {money_str(order.total)} {esc(order.currency or '')}" if order.total is not None else ""
        # Another desk's order: the vendor's portal shows the handle that desk sent, so it is said too.
        sent_as = f" (sent to the vendor as {esc(order.reference)})" if order.typed_reference else ""
        self.info.setText(f"<b>{esc(vendor_title(order.vendor))} {esc(order.kind)} {esc(order.order_id or '(not confirmed)')}</b>"
                          f"<br>Status: <b style=\"color:{color}\">{esc(order.status.value)}</b>"
                          f"<br>Reference: {esc(order.shown_reference or '—')}{sent_as}"
                          f"<br>Created: {esc(created_line(order.created_at))}{total}")
        self.esims.show_esims(order.esims)
        target = order.order_id or order.reference
        if not any(e.activation_code for e in order.esims):
            why = "No eSIM of this order has an activation code yet: sync again once the vendor has allocated them"
        else:
            why = None if target else "The order has no id or reference yet"
        self.card_actions.set_target(None if why else target, why)
        self.email.set_target(order.order_id, order.vendor, [e.iccid for e in order.esims], order.order_id,
                              why or (None if order.order_id else "The vendor has not confirmed the order yet"))
        self.decision.hide()
        self.entry = None
        asyncio.ensure_future(self._history(order))

    def _decide(self, signal) -> None:
        if self.entry is not None:
            signal.emit(self.entry)

    def _reconcile_clicked(self) -> None:
        """Busy at once (the click's feedback), then the vendor is asked in a task."""
        entry = self.entry
        if entry is None or self._reconciling is not None:
            return
        self._reconciling = entry.reference
        self._show_reconciling(True)
        self.reconcile_task = asyncio.ensure_future(self._reconcile(entry))

    async def reconcile_now(self) -> JournalEntry | None:
        """"Reconcile now" on the selected order; what it became (None if the vendor could not be asked)."""
        self._reconcile_clicked()
        return await self.reconcile_task if self.reconcile_task is not None else None

    async def _reconcile(self, entry: JournalEntry) -> JournalEntry | None:
        """Ask the vendor now what became of an unfinished order (the orders service's reconciliation, for
        this one order); then the table and the detail show what it became."""
        try:
            settled = await self.desk.reconcile_order(entry.reference)
        except Exception as exc:  # in words in the status bar, never a traceback
            if not isinstance(exc, EsimdeskError):
                log.exception("reconciling %s failed", entry.reference)
            self.reconcileFailed.emit(f"{entry.reference} could not be reconciled: {exc}")
            return None
        finally:
            self._reconciling = None
            self._show_reconciling(False)
        self.orderReconciled.emit(settled)
        self.reload(changed=True)
        await self.settled()
        self._selected(self.table.currentIndex().row())  # its new state, history and eSIMs
        return settled

    def _show_reconciling(self, busy: bool) -> None:
        self.reconcile_button.setEnabled(not busy)
        self.reconcile_button.setText("Reconciling…" if busy else "Reconcile now")
        self.reconcile_busy.setVisible(busy)

    async def _history(self, order: Order) -> None:
        entry = await self.desk.journal_entry(order.reference)
        if self.current is not order:
            return  # another order was selected meanwhile
        if entry is not None and is_undecided(entry.state):
            self.entry = entry
            self._show_reconciling(self._reconciling == entry.reference)
            self.decision.show()
            if entry.candidates:
                self.info.setText(self.info.text() + "<br>Possible vendor orders: "
                                  + ", ".join(f"<code>{esc(c)}</code>" for c in entry.candidates))
        events = await self.desk.order_history(order.reference)
        if self.current is not order:
            return
        self.history.setPlainText("\n".join(
            f"{created_text(e.at)}  {e.from_state or '—'} → {e.to_state}: {e.cause}" for e in events)
            or "Synced from the vendor (not placed from this desk).")
