"""The main window: Catalog, Orders and Fleet tabs, menus, toolbar, status bar; remembers geometry and tab.

Vendor work (sync, orders, reconciliation) runs as asyncio tasks on Qt's loop (qasync): the window
keeps painting, shows a sync's progress in the toolbar and status line, and a running sync can be cancelled.
Above the tabs: the message bar (what failed, in words, until dismissed) and the offline banner (no vendor
answers: the tabs go on from the cache).
"""

from __future__ import annotations

import asyncio
import logging
import time

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid as shiboken_valid

from esimdesk import __version__
from esimdesk.domain import EsimdeskError, Order, OrderStatus, Plan, count_of, is_unfinished, vendor_title
from esimdesk.resources import resource_path
from esimdesk.services import demo as demo_folder
from esimdesk.services.adapters import prepare_tls
from esimdesk.services.messages import failure_text
from esimdesk.services.preferences import VENDOR_TITLES, balance_warnings
from esimdesk.services.reachability import age_words
from esimdesk.services.sync_words import ProgressWords, refresh_sentence
from esimdesk.services.team_sync import offline_label
from esimdesk.ui import heap
from esimdesk.ui.catalog_tab import CatalogTab
from esimdesk.ui.fleet_tab import FleetTab
from esimdesk.ui.go_to import GoToWiring
from esimdesk.ui.message_bar import MessageBar
from esimdesk.ui.order_detail import reconciled_text
from esimdesk.ui.orders_tab import OrdersTab
from esimdesk.ui.shortcuts import Shortcuts, sync_keys
from esimdesk.ui.table_layout import RememberedLayout
from esimdesk.ui.text import rich
from esimdesk.ui.toolbar import DeskToolbar, clock
from esimdesk.ui.vendor_extras import ask_start_date, balance_text, link_text

log = logging.getLogger("esimdesk.ui")

TAB_NAMES = ("Catalog", "Orders", "Fleet")


FILL_EVERY_S = 2.0  # an empty tab is read again at most this often while a sync stores its first rows
SAY_PROGRESS_EVERY_S = 0.25  # the sync's progress in the status line, at most this often
CACHE_AGE_EVERY_MS = 30_000  # the toolbar's "cache: synced 12 min ago" is redrawn this often (no I/O)


class MainWindow(QMainWindow):
    closing = Signal()  # the window is about to close: the app cancels pending work
    syncStarted = Signal()
    syncFinished = Signal(list)  # [VendorSyncResult]
    orderPlaced = Signal(object)  # Order
    orderFailed = Signal(str)

    def __init__(self, settings: QSettings, desk, *, demo: bool = False):
        super().__init__()
        self.settings = settings
        self.desk = desk
        self.setWindowTitle("esimdesk — demo (sandbox)" if demo else "esimdesk")
        self.setWindowIcon(QIcon(str(resource_path("esimdesk.svg"))))
        self.setObjectName("MainWindow")

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.catalog, self.orders, self.fleet = CatalogTab(desk), OrdersTab(desk), FleetTab(desk)
        self.pages = {"Catalog": self.catalog, "Orders": self.orders, "Fleet": self.fleet}
        for name in TAB_NAMES:
            self.tabs.addTab(self.pages[name], name)
            self.pages[name].loadFailed.connect(lambda text: self.show_error(text, "listing"))
        self.messages = MessageBar()  # failures in words (the vendor's reason, what to do) until dismissed
        self._message_from: str | None = None  # what put the message there ("sync": a good sync clears it)
        self.messages.dismissed.connect(lambda: setattr(self, "_message_from", None))
        self.offline_banner = QLabel()  # every vendor unreachable: the tabs work on from the cache
        self.offline_banner.setObjectName("offlineBanner")
        self.offline_banner.setTextFormat(Qt.TextFormat.PlainText)
        self.offline_banner.setWordWrap(True)
        self.offline_banner.setStyleSheet("QLabel#offlineBanner { background: #fff4e5; color: #663c00;"
                                          " border: 1px solid #ffd8a8; border-radius: 3px; padding: 6px; }")
        self.offline_banner.hide()
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(4, 4, 4, 0)
        column.setSpacing(4)
        column.addWidget(self.messages)
        column.addWidget(self.offline_banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.catalog.orderRequested.connect(self._order_dialog)
        self.catalog.pricingChanged.connect(self.orders.set_pricing)  # Orders' cost in the agent's currency
        self.topup_dialog = None  # the last Top up… dialog (ui/topup_dialog.py)
        self.topup_task: asyncio.Task | None = None
        self.fleet.topupRequested.connect(self._topup_requested)
        self.fleet.noteRequested.connect(self._note_dialog)
        self.fleet.support.done.connect(self.statusBar().showMessage)  # support actions (issue 21)
        self.fleet.support.failed.connect(self.show_error)
        self.fleet.support.changed.connect(self.fleet.reload)
        # A cancel's refund is read and cached by the action: the toolbar follows.
        self.fleet.support.changed.connect(lambda: asyncio.ensure_future(self.show_balances()))
        self.fleet.linkRequested.connect(lambda esim: asyncio.ensure_future(self.copy_install_link(esim)))
        self.orders.adoptRequested.connect(self._adopt_dialog)
        self.orders.resendRequested.connect(self._resend_dialog)
        self.orders.abandonRequested.connect(self._abandon_dialog)
        self.orders.orderReconciled.connect(self._order_reconciled)
        self.orders.reconcileFailed.connect(self.show_error)
        self.orders.codeCopied.connect(
            lambda iccid, _code: self.statusBar().showMessage(f"Activation code of {iccid} copied", 4000))
        for actions in (self.fleet.card_actions, self.orders.card_actions):
            self._connect_cards(actions)
        for panel in (self.fleet.email, self.orders.email):
            panel.emailSent.connect(self._email_sent)
            panel.emailFailed.connect(self.show_error)
        self.demo = demo
        self._build_menus()
        self._build_toolbar()
        self._build_status(demo)
        self._sync_task: asyncio.Task | None = None
        self.order_progress = None  # the last order's progress window (ui/order_dialog.py)
        self._started = False  # startup() ran: the heap was frozen for this window (ui/heap.py)
        self._restore()

    # --- chrome ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.sync_action = QAction("&Sync now", self)
        self.sync_action.setShortcuts(sync_keys())  # F5 and Ctrl+R
        self.sync_action.triggered.connect(self.start_sync)
        file_menu.addAction(self.sync_action)
        self.keys = Shortcuts(self)  # Ctrl+F, Ctrl+C, Ctrl+P, Ctrl+E, Ctrl+1/2/3
        file_menu.addAction(self.keys.export_action)
        file_menu.addAction(self.keys.print_action)
        self.reconcile_action = QAction("&Reconcile unfinished orders", self)
        self.reconcile_action.triggered.connect(lambda: asyncio.ensure_future(self.reconcile(may_send=True)))
        file_menu.addAction(self.reconcile_action)
        self.settings_action = QAction("S&ettings…", self)
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.triggered.connect(lambda: self.open_settings("accounts"))
        file_menu.addAction(self.settings_action)
        # The older entries open the matching page of Settings (agents know them by these names).
        self.accounts_action = QAction("&Accounts…", self)
        self.accounts_action.triggered.connect(lambda: self.open_settings("accounts"))
        file_menu.addAction(self.accounts_action)
        self.card_settings_action = QAction("&Card settings…", self)
        self.card_settings_action.triggered.connect(lambda: self.open_settings("cards"))
        file_menu.addAction(self.card_settings_action)
        self.reset_demo_action: QAction | None = None
        self.demo_mailbox_action: QAction | None = None
        self.demo_mailbox = None  # the Demo mailbox dialog, once opened (ui/demo_mailbox.py)
        if self.demo:  # the demo only: real desks keep their data and send real e-mail
            self.demo_mailbox_action = QAction("Demo &mailbox…", self)
            self.demo_mailbox_action.setStatusTip("The e-mails sent in the demo, as the customer gets them")
            self.demo_mailbox_action.triggered.connect(self.open_demo_mailbox)
            file_menu.addAction(self.demo_mailbox_action)
            self.reset_demo_action = QAction("Reset &demo…", self)
            self.reset_demo_action.triggered.connect(self._reset_demo_dialog)
            file_menu.addAction(self.reset_demo_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About esimdesk", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        self.keys.menus(help_menu.menuAction())  # Edit and View, before Help
        self.quit_action, self.about_action = quit_action, about

    def _build_toolbar(self) -> None:
        self.toolbar = DeskToolbar(self.sync_action, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        # The sync's busy bar and Cancel live in the toolbar, beside Sync.
        self.progress, self.cancel_button = self.toolbar.progress, self.toolbar.cancel_button
        self.cancel_button.clicked.connect(self.cancel_sync)
        self.toolbar.vendorClicked.connect(self._vendor_clicked)
        self.go_to = GoToWiring(self, self.toolbar.go_to_box)  # Ctrl+K: the box decides the tab (ui/go_to.py)
        self.menuBar().setCornerWidget(self.toolbar.go_to_box, Qt.Corner.TopRightCorner)  # always in sight
        self.last_sync = None  # when the last sync run finished, as read from the cache
        self._checking: set[str] = set()  # vendors being asked now (a toolbar click)
        self.desk.reachability.listen(self.show_reach)
        self._age_timer = QTimer(self)
        self._age_timer.setInterval(CACHE_AGE_EVERY_MS)
        self._age_timer.timeout.connect(self.show_reach)
        self._age_timer.start()

    def _build_status(self, demo: bool) -> None:
        bar = self.statusBar()
        self.mode_label = QLabel("Demo: built-in sandbox, no real vendor is called" if demo else "")
        bar.addPermanentWidget(self.mode_label)
        self.low_balance_label = QLabel("")  # "⚠ Roumio balance 12.00 USD below 50.00" (Settings → Low balance)
        self.low_balance_label.setStyleSheet("color: #b00020; font-weight: bold;")
        self.low_balance_label.hide()
        bar.addPermanentWidget(self.low_balance_label)
        self.last_balances: list = []  # as last shown: the Settings dialog names each vendor's currency
        self.show_reach()
        self.team_label = QLabel()  # team mode (issue 15): "team store offline since HH:MM UTC", else empty
        bar.addPermanentWidget(self.team_label)
        self._show_team_state()
        notices = self.desk.ctx.accounts.notices
        if notices:
            bar.setToolTip("\n".join(notices))
        bar.showMessage("Ready" if self.desk.vendors else "No vendor account configured: see README → Configuration")

    def _show_team_state(self) -> None:
        self.team_label.setText(offline_label(self.desk.store) or "")

    # --- the toolbar, the offline banner, the message bar ------------------------------------------
    def show_error(self, text: str, source: str | None = None) -> None:
        """A failure in words in the message bar (plain text: a vendor's words never become markup)."""
        self._message_from = source
        self.messages.show_error(text)

    def show_reach(self) -> None:
        """Each vendor's balance and reachability, the cache's age and the offline banner, from what is known
        already (no I/O): after each vendor call, each balance read and every half minute (the age)."""
        configured = self.desk.vendors
        reach = self.desk.reachability
        self.toolbar.show_vendors(configured, self.last_balances, reach, self._checking)
        self.toolbar.show_cache_age(self.last_sync)
        since = reach.all_offline(configured)
        if since is None:
            self.offline_banner.hide()
            return
        names = [VENDOR_TITLES.get(v, v) for v in configured]
        who = ("No vendor" if len(names) > 2 else " and ".join(names) if len(names) == 2 else names[0])
        self.offline_banner.setText(
            f"Offline: {who} can{'' if who == 'No vendor' else 'not'} be reached since {clock(since)} — showing "
            f"the cache ({age_words(self.last_sync)}). Search, details, QR codes and export work; orders and "
            "top-ups are unavailable until a vendor answers (check the network; Sync, or a click on a vendor "
            "above, asks again).")
        self.offline_banner.show()

    def _vendor_clicked(self, vendor: str) -> None:
        if vendor in self.desk.vendors:
            asyncio.ensure_future(self.check_vendor(vendor))
        else:
            self.open_settings("accounts")

    async def check_vendor(self, vendor: str) -> str:
        """The one cheap call a click on a vendor makes: online or offline since when, its balance fresh."""
        if vendor in self._checking:
            return ""
        self._checking.add(vendor)
        self.show_reach()
        try:
            said = await self.desk.check_vendor(vendor)
        finally:
            self._checking.discard(vendor)
        state = self.desk.reachability.get(vendor)
        if state is not None and not state.online:
            self.show_error(said)
        else:
            self.statusBar().showMessage(said, 8000)
        await self.show_balances()
        return said

    def about_text(self) -> str:
        return (f"<b>esimdesk {__version__}</b><br>One desk for Roumio, Roamify, MicroESIM and Flexiroam eSIMs:"
                " catalog, orders, top-ups, QR cards and the fleet, also offline.")

    def show_about(self) -> None:
        QMessageBox.about(self, "About esimdesk", self.about_text())

    # --- work --------------------------------------------------------------------------------
    def reload_all(self, *, changed: bool = True) -> None:
        """Every tab again; ``changed``: the store's rows changed (sync, order), so rows read are read again."""
        for page in self.pages.values():
            page.live = True
            page.reload(changed=changed)

    async def show_balances(self) -> str:
        """The vendors' balances and the cache's age in the toolbar, from the cache (after start-up, each
        sync and each check), and a warning in the status bar for each vendor under its low-balance
        threshold; the balances as one line ("Balance: roumio 12.00 USD · …")."""
        try:
            balances = await self.desk.balances()
        except EsimdeskError:
            balances = []
        try:
            self.last_sync = await self.desk.last_sync()
        except EsimdeskError:
            pass  # the toolbar keeps the age it had
        self.last_balances = balances
        self.show_reach()
        text = balance_text(balances)
        try:
            warnings = await asyncio.to_thread(balance_warnings, self.desk.ctx.home, balances)
        except EsimdeskError:  # an unreadable settings file: no thresholds (Settings says why)
            warnings = []
        self.low_balance_label.setText("  ".join(warnings))
        self.low_balance_label.setVisible(bool(warnings))
        return text

    async def startup(self, sync: bool) -> None:
        """Show the cache at once; settle unfinished orders; in demo mode fill the cache first."""
        if not self._started:
            self._started = True
            heap.window_opened()  # what start-up built lives as long as the window: out of the full GC's walk
        # The tab in front first: its rows paint before the other tabs' queries take the worker threads.
        front = self.tabs.currentWidget()
        for page in self.pages.values():
            page.live = True
        front.reload(changed=True)
        self.catalog.refresh_rates()  # the agent's currency: a price column when rates are set (Settings)
        behind = [page for page in self.pages.values() if page is not front]
        front.after_load(lambda: [page.reload(changed=True) for page in behind])
        # The vendors' TLS context (certifi's CA file, ~80 ms) built in a worker thread: no order, top-up or
        # check builds one on this thread.
        await prepare_tls()
        await self.settle_emails()
        if sync:
            await self.run_sync()
        else:
            await self.reconcile()
        await self.show_balances()
        heap.settle()  # the tabs' first pages and the vendors' clients, likewise

    async def settle_emails(self) -> None:
        """E-mails a stopped process left half-sent: decided now (never sent again by themselves), and said."""
        try:
            settled = await self.desk.mail().settle()
        except EsimdeskError as exc:
            self.show_error(f"E-mails left unfinished could not be checked: {exc}")
            return
        maybe = [d for d in settled if d.state is OrderStatus.UNCERTAIN]
        if maybe:
            self.show_error(f"{count_of(len(maybe), 'e-mail')} to customers may have been sent before esimdesk "
                            f"stopped ({', '.join(d.to_address for d in maybe[:3])}): ask the customer; Send again "
                            "is under the eSIM or order")

    def start_sync(self) -> None:
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.ensure_future(self.run_sync())

    def cancel_sync(self) -> None:
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_task.cancel()

    async def run_sync(self) -> list:
        self._sync_task = self._sync_task or asyncio.current_task()
        self.toolbar.set_busy(True)
        self.sync_action.setEnabled(False)
        self.syncStarted.emit()
        status = self.statusBar()

        stages: dict[str, str] = {}
        begun: set[tuple[str, str]] = set()  # (vendor, stage) reported at least once
        left: set[tuple[str, str]] = set()  # (vendor, stage) a report of another stage followed
        finished: set[tuple[str, str]] = set()  # (vendor, stage) reported with its count complete
        filled: dict[object, float] = {}  # an empty tab -> when it was last read again during this sync
        said = [0.0]  # when the status line last said how far the sync is
        words = ProgressWords()
        shows = {"plans": (self.catalog,), "orders": (self.orders, self.fleet), "esims": (self.fleet, self.orders),
                 "refresh": (self.fleet,)}

        def progress(p) -> None:
            # A vendor reports every page (hundreds a second at scale): the status line is redrawn at most a
            # few times a second, and at once when a vendor begins a stage.
            now = time.monotonic()
            if now - said[0] >= SAY_PROGRESS_EVERY_S or (p.vendor, p.stage) not in begun:
                said[0] = now
                status.showMessage(words(p))
            begun.add((p.vendor, p.stage))
            # A stage that ended (its count complete), or that a vendor moved on from, is written: the tabs showing
            # it are read again now, not when the slowest vendor ends (MicroESIM asks for each eSIM on its own:
            # minutes at scale). Each once: a vendor's catalog and fleet stages report in turns, read together.
            before = stages.get(p.vendor)
            stages[p.vendor] = p.stage
            ended = []
            if before is not None and before != p.stage and (p.vendor, before) not in left:
                left.add((p.vendor, before))
                ended.append(before)
            if p.total is not None and p.done >= p.total and (p.vendor, p.stage) not in finished:
                finished.add((p.vendor, p.stage))
                ended.append(p.stage)
            for stage in ended:
                for page in shows.get(stage, ()):
                    page.reload(changed=True)
            if not ended and p.done:
                # Pages of a long stage are already stored: a tab that still shows nothing (a new folder, the
                # first demo start) shows them now, at most every few seconds, not after the whole stage.
                now = time.monotonic()
                for page in shows.get(p.stage, ()):
                    if page.model.rowCount() == 0 and now - filled.get(page, 0.0) > FILL_EVERY_S:
                        filled[page] = now
                        page.reload(changed=True)

        def vendor_done(result) -> None:
            # A vendor's rows show as soon as its sync ends; the slowest (MicroESIM, one eSIM at a time) goes on.
            if result.ok and (result.plans or result.orders or result.esims):
                self.reload_all()

        results: list = []
        notices: list[str] = []
        try:
            results = await self.desk.sync(progress, vendor_done, notices.append)
            self._say_sync(results)
            if notices:  # an order told failed that was placed: loud, in the message bar and the status line
                self.show_error("; ".join(notices), "orders")
                status.showMessage(notices[0])
            self._show_team_state()
        except asyncio.CancelledError:
            status.showMessage("Sync cancelled; the cache keeps what was already fetched")
        except Exception as exc:  # never leave the window saying "Syncing…" over a swallowed error
            log.exception("sync failed")
            status.showMessage("Sync failed")
            self.show_error(failure_text("sync", None, exc) if not isinstance(exc, EsimdeskError)
                            else f"Sync failed: {exc} — the cache keeps what it had; try again", "sync")
        finally:
            self.toolbar.set_busy(False)
            self.sync_action.setEnabled(True)
            self._sync_task = None
        try:
            self.reload_all()
            # A sync may have fetched new exchange rates or brought plans in a new currency: the prices are
            # read again (and re-sorted where a rate changed) before the agent is told it finished.
            await self.catalog.refresh_rates()
            await self.show_balances()
        except Exception:  # the sync itself has ended: what failed after it never holds up its end
            log.exception("reading the tabs again after the sync failed")
        self.syncFinished.emit(results)
        return results

    def _say_sync(self, results: list) -> None:
        """The sync's outcome: the status line says it ended; each failure, in words, in the message bar —
        but not the vendors the offline banner already names (none answers)."""
        failed = [r for r in results if not r.ok]
        # What a routine sync left for the next one (its request budget): said, never silently skipped.
        later = "; ".join(s for r in results if (s := refresh_sentence(r)))
        if not failed:
            self.statusBar().showMessage(f"Sync finished — {later}" if later else "Sync finished")
            if self._message_from == "sync":  # an earlier sync's failure is over
                self.messages.dismiss()
            return
        banner = self.desk.reachability.all_offline(self.desk.vendors) is not None
        said = [r.problem or f"{vendor_title(r.vendor)}: {r.error}" for r in failed if not (banner and r.reach == "offline")]
        self.statusBar().showMessage("Sync finished with problems" if said or not banner else
                                     "Sync failed: no vendor can be reached")
        if said:
            self.show_error("Sync: " + "; ".join(said), "sync")
        elif self._message_from == "sync":
            self.messages.dismiss()

    async def reconcile(self, may_send: bool = False) -> None:
        """At start-up only asks the vendors; from the menu (the agent's word) may resend with a handle."""
        try:
            entries, notices = await self.desk.reconcile(may_send=may_send)
        except Exception as exc:
            if not isinstance(exc, EsimdeskError):
                log.exception("reconciliation failed")
            self.show_error(failure_text("reconciliation", None, exc))
            return
        open_ = [e for e in entries if is_unfinished(e.state)]
        if notices:  # an order told failed that was placed: loud, in the message bar and the status bar
            self.show_error("; ".join(notices), "orders")
            self.statusBar().showMessage(notices[0])
        elif open_:
            self.statusBar().showMessage(f"{count_of(len(open_), 'order')} still need{'s' if len(open_) == 1 else ''} attention: see the Orders tab")
        self.orders.reload(changed=True)

    def _reset_demo_dialog(self) -> None:
        answer = QMessageBox.question(
            self, "Reset demo",
            "Start the demo over?\n\nThe demo's orders, eSIMs, cache and backups are deleted and the sandbox "
            "starts a new vendor world, which is then synced. Real vendor accounts and their data are not touched.")
        if answer == QMessageBox.StandardButton.Yes:
            asyncio.ensure_future(self.reset_demo())

    async def reset_demo(self) -> bool:
        """Stop any sync, close the store and the sandbox, delete the demo's files, open new ones and sync.

        The slow part (stopping and starting the sandbox, deleting and opening files) runs in a worker thread
        so the window keeps painting; the tabs and the menu's vendor actions are disabled meanwhile, so no
        view reads the store while it is closed and replaced. False (and the reason in the status bar) when
        the reset was refused, e.g. a command still has the demo open."""
        status = self.statusBar()
        task = self._sync_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        # Let the views' queries finish (a cancelled one would go on in its worker thread): no thread may
        # open the old file again once the store is closed.
        await asyncio.gather(*(page.settled() for page in self.pages.values() if page.loading))
        await self.desk.settle_queries()  # and every other query (pages, counts, the free stock) in its thread
        status.showMessage("Resetting the demo…")
        busy = [self.tabs, self.sync_action, self.reconcile_action, self.reset_demo_action]
        for widget in busy:
            widget.setEnabled(False)
        try:
            await asyncio.to_thread(demo_folder.restart_demo, self.desk)
        except Exception as exc:
            if not isinstance(exc, EsimdeskError):
                log.exception("demo reset failed")
            status.showMessage(f"The demo was not reset: {exc}")
            self.reload_all()
            return False
        finally:
            for widget in busy:
                widget.setEnabled(True)
        self.reload_all()
        results = await self.run_sync()
        if results and all(r.ok for r in results):
            status.showMessage("The demo was reset: a new sandbox world, synced")
        return True

    def open_demo_mailbox(self):
        """File → Demo mailbox… (demo only): the e-mails the demo's mail sink was sent; one dialog, not
        modal (the agent sends from Orders and looks again), read afresh each time it is brought up."""
        # Imported when it opens: a demo-only dialog the window's cold start does not need (bench/cold_start.py).
        from esimdesk.ui.demo_mailbox import DemoMailboxDialog

        dialog = self.demo_mailbox
        if dialog is None or not shiboken_valid(dialog):
            dialog = self.demo_mailbox = DemoMailboxDialog(self.desk.ctx.mailbox, self)
        if dialog.isVisible():
            dialog.start_refresh()
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()
        return dialog

    def open_settings(self, page: str = "accounts"):
        """File → Settings… at ``page`` (accounts, thresholds, rates, cards); window-modal, not a nested
        event loop, so Test connection's task runs on the window's loop."""
        # The dialogs are imported when they open: together 20-28 ms of the window's cold start otherwise
        # (bench/cold_start.py, 483 ms; -X importtime: Settings 11-18 ms, order 3-5, top-up 3-4, export 1-2).
        from esimdesk.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.desk.ctx.home, self.desk.ctx.accounts, self.last_balances, self, page=page,
                                demo=self.demo)
        dialog.saved.connect(self._settings_saved)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _settings_saved(self) -> None:
        self.desk.reload_accounts()
        self.statusBar().showMessage(f"Settings saved; vendors enabled: {', '.join(self.desk.vendors) or 'none'}")
        asyncio.ensure_future(self.show_balances())  # thresholds may have changed
        self.catalog.refresh_rates()  # and the exchange rates

    def _order_dialog(self, plan: Plan) -> None:
        # Imported when the dialog opens (see open_settings: the window's cold start). One dialog: MicroESIM's
        # start date and customer e-mail (issue 21) are in it; the customer's price is quoted there.
        from esimdesk.ui.order_dialog import OrderDialog

        dialog = OrderDialog(plan, self.desk, self.catalog.pricing, self)
        self.order_dialog = dialog  # for the tests and the journeys' benchmark
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        quantity, reference, note = dialog.values()
        asyncio.ensure_future(self.order_with_start_date(plan, quantity, reference=reference, note=note,
                                                         sale=dialog.sale(), **dialog.order_options()))

    async def order_with_start_date(self, plan: Plan, quantity: int, **options) -> Order | None:
        """A package that needs the customer's travel start date (Roamify's travelDate) asks for it first."""
        try:
            needs = await self.desk.needs_start_date(plan.vendor, plan.plan_id)
        except EsimdeskError as exc:
            self.show_error(failure_text("order", plan.vendor, exc))
            return None
        start = ask_start_date(self, plan) if needs else None
        if needs and start is None:
            self.statusBar().showMessage("Not ordered: this package needs the customer's travel start date")
            return None
        return await self.place_order(plan, quantity, start, **options)

    async def place_order(self, plan: Plan, quantity: int, start_date=None, *, note: str | None = None,
                          **options) -> Order | None:
        """``options``: the agent's ``reference`` and the vendor's options; ``note``: kept on each eSIM."""
        from esimdesk.ui.order_dialog import OrderProgressDialog  # when an order starts (the cold start)

        self.statusBar().showMessage(f"Ordering {quantity} × {plan.name}…")
        self.order_progress = shown = OrderProgressDialog(plan, quantity, self.desk, self)
        self._connect_cards(shown.card_actions)
        shown.email.emailSent.connect(self._email_sent)
        shown.email.emailFailed.connect(self.show_error)
        shown.show()
        order = await self._run_order(
            lambda progress: self.desk.place_order(plan.vendor, plan.plan_id, quantity, progress=progress,
                                                   start_date=start_date, **options),
            lambda order: f"Order {order.order_id} completed: {count_of(len(order.esims), 'eSIM')} ready", shown,
            vendor=plan.vendor, what="order")
        if order is not None and note:
            try:
                for esim in order.esims:
                    await self.desk.set_note(esim.vendor, esim.iccid, note)
            except EsimdeskError as exc:
                self.show_error(f"Order {order.order_id} placed, but its note was not kept: {exc}")
            self.fleet.reload(changed=True)
        return order

    async def copy_install_link(self, esim) -> str | None:
        """The vendor's hosted install page for this eSIM (Roamify's share link), with its access code, copied."""
        self.statusBar().showMessage(f"Asking {vendor_title(esim.vendor)} for the install link of {esim.iccid}…")
        try:
            text = link_text(await self.desk.share_link(esim.vendor, esim.iccid))
        except EsimdeskError as exc:
            self.statusBar().clearMessage()
            self.show_error(failure_text("install link", esim.vendor, exc))
            return None
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage(f"Install link of {esim.iccid} copied: {text}")
        return text

    async def _run_order(self, start, done_text, shown=None, vendor: str | None = None,
                         what: str = "order") -> Order | None:
        """Run an order or top-up, showing its progress; a failure goes to the message bar in words (the
        vendor's reason and what to do), never a traceback. ``shown``: the order's progress window
        (OrderProgressDialog), told each step and the end."""
        status = self.statusBar()

        def progress(p) -> None:
            status.showMessage(f"{p.reference}: {p.message}")
            if shown is not None:
                shown.progress(f"{p.reference}: {p.message}")

        try:
            order = await start(progress)
        except Exception as exc:
            if not isinstance(exc, EsimdeskError):
                log.exception("order failed unexpectedly")
            text = failure_text(what, vendor, exc)
            status.showMessage(f"The {what} did not complete: see the message above", 8000)
            self.show_error(text)
            if shown is not None:
                shown.failed(text if isinstance(exc, EsimdeskError) else "The order failed unexpectedly; "
                             "see the log. Check Orders before ordering again.")
            self.orderFailed.emit(text)
            self.orders.reload(changed=True)
            return None
        gap = self.desk.order_note(order)  # e.g. Roamify: completed, but no ICCID or code in its answer
        status.showMessage(done_text(order) + (f" — {gap}" if gap else ""))
        if shown is not None:
            shown.completed(order, done_text(order) + (f" — {gap}" if gap else ""))
        self.orders.reload(changed=True)
        self.fleet.reload(changed=True)
        self.orderPlaced.emit(order)
        # It was paid from the vendor's balance: the toolbar shows it as the vendor has it now, not as the
        # last sync saw it (one balance call, after the agent has been told the order is done).
        await self.refresh_balance(order.vendor)
        return order

    async def refresh_balance(self, vendor: str) -> None:
        """After the agent's order or top-up: the vendor's balance asked now (kept in the cache), then the
        toolbar and the low-balance warnings from the cache. Never fails the order it follows."""
        try:
            await self.desk.balance_now(vendor)  # a vendor that cannot say now leaves the cached figure
        except EsimdeskError as exc:
            log.info("balance after an order: %s", exc)
        except Exception:
            log.exception("balance after an order failed unexpectedly")
        if shiboken_valid(self):  # the window may have closed meanwhile
            await self.show_balances()

    def _topup_requested(self, esim) -> None:
        self.topup_task = asyncio.ensure_future(self._topup_dialog(esim))

    async def _topup_dialog(self, esim) -> Order | None:
        """Only the top-ups the vendor offers for this eSIM (asked live, in the dialog); the one picked is
        placed through the orders service, journaled like an order."""
        from esimdesk.ui.topup_dialog import TopUpDialog  # when the dialog opens (the window's cold start)

        self.topup_dialog = TopUpDialog(self.desk, esim, self)  # held: the tests and the agent act on it
        plan = await self.topup_dialog.choose()
        if plan is None:
            return None
        return await self.top_up(esim, plan.plan_id)

    async def top_up(self, esim, plan_id: str) -> Order | None:
        return await self._run_order(
            lambda progress: self.desk.topup(esim.vendor, esim.iccid, plan_id, progress=progress),
            lambda order: f"Top-up {order.reference} done for {esim.iccid}", vendor=esim.vendor,
            what="top-up")

    # --- the agent's decisions on a lost answer -----------------------------------------------
    def _adopt_dialog(self, entry) -> None:
        prompt = rich(f"Which {vendor_title(entry.vendor)} order is reference {entry.reference}?\n"
                      "Check the vendor's portal; the order is confirmed with the vendor before it is adopted.")
        if entry.candidates:
            order_id, ok = QInputDialog.getItem(self, "Adopt vendor order", prompt, list(entry.candidates), 0, True)
        else:
            order_id, ok = QInputDialog.getText(self, "Adopt vendor order", prompt)
        if ok and order_id.strip():
            asyncio.ensure_future(self.adopt(entry, order_id.strip()))

    async def adopt(self, entry, order_id: str) -> Order | None:
        return await self._run_order(lambda progress: self.desk.adopt(entry.reference, order_id, progress=progress),
                                     lambda order: f"Order {order.order_id} adopted as {entry.reference}",
                                     vendor=entry.vendor, what="adoption")

    def _resend_dialog(self, entry) -> None:
        answer = QMessageBox.question(
            self, "Send again",
            rich(f"Send {entry.quantity} × {entry.plan_id} to {vendor_title(entry.vendor)} again (reference {entry.reference})?\n"
                 "Where the vendor keeps a handle it answers with the first order if it already took it; "
                 "otherwise this may place and charge a second order."))
        if answer == QMessageBox.StandardButton.Yes:
            asyncio.ensure_future(self.resend(entry))

    async def resend(self, entry) -> Order | None:
        return await self._run_order(lambda progress: self.desk.resend(entry.reference, progress=progress),
                                     lambda order: f"Order {order.order_id} completed ({entry.reference})",
                                     vendor=entry.vendor, what="order")

    def _abandon_dialog(self, entry) -> None:
        answer = QMessageBox.question(
            self, "Abandon order",
            rich(f"Stop settling {entry.reference} and record it as not placed?\n"
                 "If the vendor did place it, the sync that lists it files it under this reference and says so."))
        if answer == QMessageBox.StandardButton.Yes:
            asyncio.ensure_future(self.abandon(entry))

    async def abandon(self, entry) -> None:
        try:
            await self.desk.abandon(entry.reference)
        except Exception as exc:
            self.show_error(failure_text("abandon", None, exc))
        else:
            self.statusBar().showMessage(f"{entry.reference} abandoned")
        self.orders.reload(changed=True)

    def _order_reconciled(self, entry) -> None:
        self.statusBar().showMessage(reconciled_text(entry))
        self.fleet.reload(changed=True)  # an order found at the vendor brings its eSIMs

    def _email_sent(self, result) -> None:
        where = " (the demo keeps it in File → Demo mailbox…)" if self.demo else ""
        self.statusBar().showMessage(result.message + where)
        for panel in (self.fleet.email, self.orders.email):  # the other tab lists it too
            if panel.vendor is not None:
                panel.start_reload()

    def _connect_cards(self, actions) -> None:
        status = self.statusBar()
        actions.cardsSaved.connect(lambda path, n: status.showMessage(f"{count_of(n, 'customer card')} saved to {path}"))
        actions.cardsCopied.connect(lambda n: status.showMessage(f"{count_of(n, 'customer card')} copied as an image"))
        actions.cardsPrinted.connect(lambda n: status.showMessage(f"{count_of(n, 'customer card')} sent to the printer"))
        actions.customerViewOpened.connect(lambda t: status.showMessage(f"Showing the QR code of {t}: Esc closes"))
        actions.cardsFailed.connect(status.showMessage)
        actions.charactersLeftOut.connect(lambda s: status.showMessage(f"{status.currentMessage()} {s}".strip()))

    def _note_dialog(self, esim) -> None:
        text, ok = QInputDialog.getText(self, "Note", rich(f"Note for {esim.iccid} (e.g. the customer's name):"))
        if ok:
            asyncio.ensure_future(self._save_note(esim, text.strip()))

    async def _save_note(self, esim, text: str) -> None:
        await self.desk.set_note(esim.vendor, esim.iccid, text)
        self.fleet.reload(changed=True)

    # --- state -------------------------------------------------------------------------------
    def _restore(self) -> None:
        # Column order, the agent's widths and each tab's sort: before the first query (start-up), so the
        # saved sort is the first one read.
        self.layouts = [RememberedLayout(self.pages[name], self.settings, name) for name in TAB_NAMES]
        for layout in self.layouts:
            layout.restore()
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 780)
        tab = self.settings.value("window/tab", 0)
        try:
            index = int(tab)
        except (TypeError, ValueError):
            index = 0
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def save_state(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        for layout in self.layouts:
            layout.save()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.save_state()
        self.cancel_sync()
        self.catalog.stop_work()  # a window closed in a loop that goes on (the bench's, a test's) leaves none behind
        self._age_timer.stop()
        self.desk.reachability.unlisten(self.show_reach)
        if self._started:
            self._started = False
            heap.window_closed()
        self.closing.emit()
        super().closeEvent(event)
