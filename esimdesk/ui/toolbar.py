"""The toolbar above the tabs: Sync (busy and Cancel while it runs), each vendor's balance and whether it
answers ("Roumio 4,995.00 USD · online", "· offline since 14:05", "not configured"), and the cache's age.

It draws from what the window hands it (balances and the last sync read from the cache off the GUI thread,
the desk's reachability); clicking a vendor asks the window for one check of it, never a polling loop.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QToolBar, QToolButton

from esimdesk.domain import VENDOR_TITLES, VENDORS, Balance
from esimdesk.services.reachability import VendorReach, age_words
from esimdesk.ui.go_to import GoToBox

OFFLINE_STYLE = "color: #b00020;"
ONLINE_STYLE = "color: #1b5e20;"
MUTED_STYLE = "color: palette(mid);"


def clock(dt: datetime) -> str:
    """'14:05' in this desk's time zone (what the agent's wall clock says)."""
    return dt.astimezone().strftime("%H:%M")


def stamp(dt: datetime) -> str:
    """Local time with UTC beside it, for tooltips: '2026-11-29 15:05 (14:05 UTC)'."""
    return f"{dt.astimezone():%Y-%m-%d %H:%M} ({dt.astimezone(UTC):%H:%M} UTC)"


def amount_text(balance: Balance) -> str:
    return f"{balance.amount:,.2f} {balance.currency}"


def vendor_text(vendor: str, configured: bool, balance: Balance | None, reach: VendorReach | None,
                checking: bool = False) -> str:
    """'Roumio 4,995.00 USD · online', 'Roamify 12.00 USD · offline since 14:05', 'Flexiroam · not configured'."""
    title = VENDOR_TITLES.get(vendor, vendor)
    if not configured:
        return f"{title} · not configured"
    parts = [title + (f" {amount_text(balance)}" if balance is not None else "")]
    if checking:
        parts.append("checking…")
    elif reach is None:
        parts.append("not asked yet")
    elif reach.online:
        parts.append("online")
    else:
        parts.append(f"offline since {clock(reach.since)}")
    return " · ".join(parts)


def vendor_tip(vendor: str, configured: bool, balance: Balance | None, reach: VendorReach | None) -> str:
    title = VENDOR_TITLES.get(vendor, vendor)
    if not configured:
        return f"No {title} account on this desk: click to open File → Settings… → Vendor accounts"
    lines = []
    if balance is not None:
        when = f" as of {stamp(balance.observed_at)}" if balance.observed_at else ""
        lines.append(f"Balance {amount_text(balance)}{when}")
    if reach is None:
        lines.append(f"{title} has not been asked yet in this session")
    elif reach.online:
        lines.append(f"{title} answered (last change {stamp(reach.since)})")
    else:
        lines.append(f"{title} cannot be reached since {stamp(reach.since)}"
                     + (f": {reach.reason}" if reach.reason else ""))
    lines.append(f"Click to ask {title} now")
    return "\n".join(lines)


class BusyLabel(QLabel):
    """"Syncing" with dots that move four times a second while shown. Qt's busy QProgressBar animates at
    the screen's rate and, not being opaque, repaints the toolbar and the window under it with each frame:
    measured here, ~60 repaints a second and a third of the window's CPU through a whole sync, on the same
    thread that must paint the agent's keystrokes."""

    FRAMES = ("Syncing ·  ", "Syncing ·· ", "Syncing ···")

    def __init__(self, parent=None):
        super().__init__(self.FRAMES[-1], parent)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance(self.FRAMES[-1]) + 8)
        self._frame = 0
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self._next)

    def _next(self) -> None:
        self._frame = (self._frame + 1) % len(self.FRAMES)
        self.setText(self.FRAMES[self._frame])

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self._timer.stop()
        super().hideEvent(event)


class DeskToolbar(QToolBar):
    vendorClicked = Signal(str)  # the agent clicked a vendor's item: check it now (or set it up)

    def __init__(self, sync_action, parent=None):
        super().__init__("Desk", parent)
        self.setObjectName("deskToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.addAction(sync_action)
        self.progress = BusyLabel()  # busy, not how far: vendors rarely say how much is coming
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the sync: the cache keeps what was already fetched")
        # A widget in a toolbar is shown and hidden through its action (QToolBar's rule).
        self._busy = [self.addWidget(self.progress), self.addWidget(self.cancel_button)]
        self.set_busy(False)
        self.addSeparator()
        self.vendors: dict[str, QToolButton] = {}
        for vendor in VENDORS:
            button = QToolButton()
            button.setObjectName(f"vendor_{vendor}")
            button.setAutoRaise(True)
            button.clicked.connect(lambda _checked=False, v=vendor: self.vendorClicked.emit(v))
            self.addWidget(button)
            self.vendors[vendor] = button
        self.addSeparator()
        self.cache_age = QLabel("cache: never synced")
        self.cache_age.setObjectName("cacheAge")
        self.cache_age.setContentsMargins(6, 0, 6, 0)
        self.addWidget(self.cache_age)
        # Ctrl+K: an ICCID's last digits, an order id or a reference (ui/go_to.py). Not in the toolbar: at the
        # window's default 1,280 px the toolbar's overflow menu took it, and Ctrl+K showed nothing; the window
        # puts it in the menu bar's corner, where it is always in sight.
        self.go_to_box = GoToBox()

    def set_busy(self, busy: bool) -> None:
        for action in self._busy:
            action.setVisible(busy)  # the toolbar's layout follows on its next pass…
        for widget in (self.progress, self.cancel_button):
            widget.setVisible(busy)  # …the widgets now: Cancel is there the moment the sync starts

    def show_vendors(self, configured: list[str], balances: list[Balance], reach, checking: set[str]) -> None:
        by_vendor = {b.vendor: b for b in balances}
        for vendor, button in self.vendors.items():
            on = vendor in configured
            state = reach.get(vendor) if on else None
            balance = by_vendor.get(vendor) if on else None
            button.setText(vendor_text(vendor, on, balance, state, vendor in checking))
            button.setToolTip(vendor_tip(vendor, on, balance, state))
            button.setStyleSheet(MUTED_STYLE if not on or state is None else
                                 ONLINE_STYLE if state.online else OFFLINE_STYLE)

    def show_cache_age(self, last_sync: datetime | None, now: datetime | None = None) -> None:
        self.cache_age.setText(f"cache: {age_words(last_sync, now)}")
        self.cache_age.setToolTip(f"Last finished sync: {stamp(last_sync)}" if last_sync else
                                  "No sync has finished yet: the tabs show what the cache holds")
