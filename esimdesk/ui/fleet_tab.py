"""The Fleet tab: every sold eSIM with its usage and expiry, quick filters, and the selected eSIM's QR code,
usage chart, vendor events, customer cards and support actions (fleet_actions.py)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSizePolicy

from esimdesk.domain import Esim, EsimStatus, ListingQuery, vendor_title
from esimdesk.services.offers import usage_gap_word
from esimdesk.ui.cards_dialogs import NO_CODE, CardActions
from esimdesk.ui.email_panel import EmailPanel
from esimdesk.ui.fleet_actions import mount
from esimdesk.ui.fleet_table import FleetModel, QuickFilters
from esimdesk.ui.listing_page import ListingTab
from esimdesk.ui.qr import qr_pixmap
from esimdesk.ui.table_model import Column
from esimdesk.ui.text import esc, mb_text, when_text
from esimdesk.ui.usage_chart import UsageChart, usage_points


class FleetTab(ListingTab):
    listing = "esims"
    noun = "eSIMs"
    model_class = FleetModel  # the Used cell's bar (ui/fleet_table.py)
    topupRequested = Signal(object)  # an Esim
    noteRequested = Signal(object)  # an Esim
    linkRequested = Signal(object)  # an Esim: copy the vendor's install link (Roamify's share link)

    def __init__(self, desk, parent=None):
        columns = [
            Column("Vendor", lambda e: vendor_title(e.vendor), "vendor"),
            Column("ICCID", lambda e: e.iccid, "iccid"),
            Column("Status", lambda e: e.status.value, "status"),
            # With a bar under the text: the share of the allowance used (red under 10 % left). Blank usage
            # says why where the vendor's rules tell ("not installed yet"; the detail panel has the rule).
            Column("Used", lambda e: mb_text(e.data_used_mb, "") if e.data_used_mb is not None else usage_gap_word(e),
                   "used", align_right=True, sample="9,999.9 MB"),
            Column("Of", lambda e: mb_text(e.data_total_mb, "∞") if e.data_total_mb is not None else "", "total",
                   align_right=True),
            Column("Expires (UTC)", lambda e: when_text(e.expires_at), "expires"),
            # Not sortable: an order by plan id alone has no index (esims_plan is by vendor, then plan).
            Column("Plan", lambda e: e.plan_id or ""),
            Column("Order", lambda e: e.order_id or "", "order_id"),
            Column("Vendor status", lambda e: e.vendor_status, "vendor_status"),
            Column("Note", lambda e: e.note or "", "note"),
        ]
        super().__init__(desk, columns, "Search eSIMs: last digits of the ICCID, order id, plan, country or note",
                         parent)
        self.status = QComboBox()
        self.status.addItem("Any status", None)
        for s in EsimStatus:
            self.status.addItem(s.value.capitalize(), s.value)
        self.filters.insertWidget(1, self.status)
        self.status.currentIndexChanged.connect(lambda _i: self.reload())
        self.quick = QuickFilters()
        # Cut at the window's edge rather than widening it: the window still fits a 640-pixel screen.
        self.quick.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.layout().insertWidget(1, self.quick)  # under the search box and the combos
        self.quick.changed.connect(lambda: self.reload())
        self.qr = QLabel()
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.info = QLabel("Select an eSIM.")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.info.setOpenExternalLinks(True)  # the vendor's iPhone quick-install link
        self.topup_button = QPushButton("Top up…")
        self.note_button = QPushButton("Note…")
        self.link_button = QPushButton("Copy install link")
        self.link_button.setToolTip("The vendor's install page for the customer, with its access code")
        for button in (self.topup_button, self.note_button, self.link_button):
            button.setEnabled(False)
        self.link_button.clicked.connect(lambda: self.current and self.linkRequested.emit(self.current))
        self.topup_button.clicked.connect(lambda: self.current and self.topupRequested.emit(self.current))
        self.note_button.clicked.connect(lambda: self.current and self.noteRequested.emit(self.current))
        buttons = QHBoxLayout()
        buttons.addWidget(self.topup_button)
        buttons.addWidget(self.note_button)
        buttons.addWidget(self.link_button)
        self.card_actions = CardActions(desk)  # Print…, Save as PDF…, Copy image, Show to customer
        # The usage history (each reading the store kept: a sync that saw the usage change, a Refresh
        # usage) and the vendor's events of the eSIM, read from the store when an eSIM is selected.
        self.chart = UsageChart()
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        self.events.setMaximumHeight(80)
        self.events.setPlaceholderText("No vendor event stored for this eSIM.")
        self._history_task: asyncio.Task | None = None
        self._history_of: tuple[str, str] | None = None  # the eSIM the chart and events are of
        self.detail_layout.addWidget(self.qr)
        self.detail_layout.addWidget(self.info)
        # Every button before the histories (the chart, the vendor's events; the support history ends the
        # actions panel): in a 1280×780 window the support actions were below the fold, under the chart.
        self.detail_layout.addLayout(buttons)
        self.detail_layout.addWidget(self.card_actions)
        self.email = EmailPanel(desk)  # E-mail to customer…, Send again, the e-mails it went out in (issue 30)
        self.detail_layout.addWidget(self.email)
        self.support = mount(self)  # support actions, usage with its age (issue 21)
        self.detail_layout.addWidget(self.chart)
        self.detail_layout.addWidget(QLabel("Vendor events"))
        self.detail_layout.addWidget(self.events)
        self.support.usageRefreshed.connect(lambda: self.current and self.load_history(self.current))
        self.support.changed.connect(self._after_action)
        self.detail_layout.addStretch(1)
        self.current: Esim | None = None
        self.sort_by(5, Qt.SortOrder.AscendingOrder)  # soonest expiry first

    def listing_query(self) -> ListingQuery:
        return replace(super().listing_query(), status=self.status.currentData(), **self.quick.fields())

    def load_history(self, esim: Esim) -> asyncio.Task:
        """The eSIM's usage readings (the chart) and vendor events, read in a worker thread."""
        if self._history_task is not None and not self._history_task.done():
            self._history_task.cancel()
        self._history_task = asyncio.ensure_future(self._history(esim))
        return self._history_task

    async def _history(self, esim: Esim) -> None:
        readings, events = await self.desk.esim_usage_and_events(esim.vendor, esim.iccid)
        if self.current is None or (self.current.vendor, self.current.iccid) != (esim.vendor, esim.iccid):
            return  # another eSIM was selected meanwhile
        self.chart.set_usage(usage_points(readings), self.current.data_total_mb)
        self.events.setPlainText("\n".join(
            f"{when_text(e.occurred_at) or '(no time)'}  {e.kind}" + (f": {e.detail}" if e.detail else "")
            for e in events))

    def _after_action(self) -> None:
        """A support action changed the selected eSIM (cancelled, suspended…): the whole detail follows the
        vendor's view of it at once (its Top up… button too), not only the actions panel."""
        after, now = self.support.esim, self.current
        if after is not None and now is not None and (after.vendor, after.iccid) == (now.vendor, now.iccid) \
                and after != now:
            self.show_detail(after)

    def show_detail(self, esim: Esim) -> None:
        self.current = esim
        why = self.desk.topup_refusal(esim)  # the eSIM's state as well as the vendor's API (domain/states.py)
        self.topup_button.setEnabled(why is None)
        self.topup_button.setToolTip(why[0].upper() + why[1:] if why else
                                     "Add data from the top-ups the vendor offers for this eSIM")
        self.note_button.setEnabled(True)
        self.link_button.setEnabled(bool(esim.activation_code) and self.desk.can_share_link(esim.vendor))
        self.card_actions.set_target(esim.iccid, None if esim.activation_code else NO_CODE)
        self.email.set_target(esim.iccid, esim.vendor, [esim.iccid], esim.order_id,
                              None if esim.activation_code else NO_CODE)
        if esim.activation_code:
            self.qr.setPixmap(qr_pixmap(esim.activation_code))
        else:
            self.qr.clear()
        used = mb_text(esim.data_used_mb, "") if esim.data_used_mb is not None else "unknown"
        self.support.set_esim(esim)
        if self._history_of != (esim.vendor, esim.iccid):  # not the last eSIM's readings while these are read
            self._history_of = (esim.vendor, esim.iccid)
            self.chart.clear()
            self.events.clear()
        self.load_history(esim)
        self.info.setText(
            f"<b>{esc(esim.iccid)}</b><br>{esc(vendor_title(esim.vendor))} · {esc(esim.status.value)} ({esc(esim.vendor_status)})<br>"
            f"Used: {used} of {mb_text(esim.data_total_mb)}"
            + (f" (as of {when_text(esim.usage_as_of)} UTC)" if esim.usage_as_of and esim.data_used_mb is not None
               else "") + f"<br>Expires: {when_text(esim.expires_at) or '—'}<br>"
            f"Plan: {esc(esim.plan_id or '—')} · Order: {esc(esim.order_id or '—')}<br>"
            + (f"Checked with {esc(vendor_title(esim.vendor))}: {when_text(esim.seen_at)} UTC<br>" if esim.seen_at else "")
            + (f"<a href=\"{esc(esim.install_url)}\">iPhone quick install</a><br>" if esim.install_url else "")
            + (f"Note: <i>{esc(esim.note)}</i><br>" if esim.note else "") +
            f"<small><code>{esc(esim.activation_code or 'no activation code from the vendor')}</code></small>")
