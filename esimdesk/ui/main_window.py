"""The main window: Catalog, Orders and Fleet tabs, menus, status bar; remembers geometry and tab."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from esimdesk import __version__
from esimdesk.resources import resource_path

TAB_NAMES = ("Catalog", "Orders", "Fleet")


def _placeholder(text: str) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    label = QLabel(text)
    label.setWordWrap(True)
    layout.addWidget(label)
    layout.addStretch(1)
    return page


class MainWindow(QMainWindow):
    closing = Signal()  # the window is about to close: the app cancels pending work

    def __init__(self, settings: QSettings, *, demo: bool = False, notices: list[str] | None = None):
        super().__init__()
        self.settings = settings
        self.setWindowTitle("esimdesk — demo (sandbox)" if demo else "esimdesk")
        self.setWindowIcon(QIcon(str(resource_path("esimdesk.svg"))))
        self.setObjectName("MainWindow")

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        self.pages = {
            "Catalog": _placeholder("Plans from every enabled vendor appear here after a sync."),
            "Orders": _placeholder("Orders placed from this desk, with their eSIMs and history."),
            "Fleet": _placeholder("Every sold eSIM: status, data used, expiry."),
        }
        for name in TAB_NAMES:
            self.tabs.addTab(self.pages[name], name)
        self.setCentralWidget(self.tabs)
        self._build_menus()

        mode = "Demo: built-in sandbox, no real vendor is called" if demo else "Ready"
        self.statusBar().showMessage(mode)
        for notice in notices or []:
            self.statusBar().setToolTip((self.statusBar().toolTip() + "\n" + notice).strip())
        self._restore()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)
        help_menu = self.menuBar().addMenu("&Help")
        about = QAction("&About esimdesk", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)
        self.quit_action, self.about_action = quit_action, about

    def about_text(self) -> str:
        return (f"<b>esimdesk {__version__}</b><br>One desk for Roumio, Roamify, MicroESIM and Flexiroam eSIMs:"
                " catalog, orders, top-ups, QR cards and the fleet, also offline.")

    def show_about(self) -> None:
        QMessageBox.about(self, "About esimdesk", self.about_text())

    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 760)
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
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        self.save_state()
        self.closing.emit()
        super().closeEvent(event)
