"""The main window: three tabs, menus, geometry and last tab remembered, clean close."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QRect

from esimdesk import __version__
from esimdesk.services.config import Accounts
from esimdesk.services.desk import Desk
from esimdesk.services.runtime import AppContext
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow


@pytest.fixture
def desk(tmp_path):
    d = Desk(AppContext(home=tmp_path, accounts=Accounts()))
    yield d
    d.close()


def make_window(qtbot, desk):
    window = MainWindow(ui_settings(desk.ctx.home), desk)
    qtbot.addWidget(window)
    return window


def test_window_has_three_tabs_and_menus(qtbot, desk):
    window = make_window(qtbot, desk)
    window.show()
    qtbot.waitExposed(window)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Catalog", "Orders", "Fleet"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Help"]
    assert __version__ in window.about_text()
    assert not window.windowIcon().isNull()
    assert "No vendor account" in window.statusBar().currentMessage()


def test_geometry_and_tab_are_restored(qtbot, desk):
    first = make_window(qtbot, desk)
    first.show()
    first.setGeometry(QRect(40, 50, 640, 480))
    first.tabs.setCurrentIndex(2)
    first.close()

    second = make_window(qtbot, desk)
    second.show()
    assert second.tabs.currentIndex() == 2
    assert (second.width(), second.height()) == (640, 480)


def test_quit_action_closes_window(qtbot, desk):
    window = make_window(qtbot, desk)
    window.show()
    with qtbot.waitSignal(window.closing, timeout=2000):
        window.quit_action.trigger()
    assert not window.isVisible()


def test_gui_process_closes_cleanly_with_status_0(tmp_path):
    """The real entry point: open the window, close it, and the process exits 0 with no pending task."""
    script = textwrap.dedent(
        """
        import asyncio, sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        app = QApplication(sys.argv)
        async def forever():
            await asyncio.sleep(3600)
        def later():
            asyncio.ensure_future(forever())  # pending work the close must cancel
            QTimer.singleShot(200, lambda: [w.close() for w in app.topLevelWidgets() if w.isWindow()])
        QTimer.singleShot(300, later)
        from esimdesk.cli.main import main
        sys.exit(main([]))
        """
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "ESIMDESK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert (tmp_path / "ui.ini").exists()


def test_demo_gui_syncs_from_the_sandbox_and_closes_with_status_0(tmp_path):
    """`esimdesk --demo`: the window fills from the sandbox, then closes cleanly mid-way of nothing."""
    script = textwrap.dedent(
        """
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        from esimdesk.ui.main_window import MainWindow
        app = QApplication(sys.argv)
        def on_sync(results):
            w = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)][0]
            def report():  # the tabs reload from the cache right after the sync
                print("SYNC", sorted(r.vendor for r in results if r.ok), w.catalog.model.rowCount(),
                      w.fleet.model.rowCount(), flush=True)
                w.close()
            QTimer.singleShot(1500, report)
        def hook():
            w = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)][0]
            w.syncFinished.connect(on_sync)
        from PySide6.QtCore import QTimer
        QTimer.singleShot(0, hook)
        from esimdesk.cli.main import main
        sys.exit(main(["--demo"]))
        """
    )
    env = {"QT_QPA_PLATFORM": "offscreen", "ESIMDESK_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("SYNC"))
    assert "'roumio'" in line and "'microesim'" in line and "'flexiroam'" in line
    _, _, plans, esims = line.rsplit(" ", 3)
    assert int(plans) > 500 and int(esims) > 50
