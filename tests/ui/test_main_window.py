"""The main window: three tabs, menus, geometry and last tab remembered, clean close."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from PySide6.QtCore import QRect

from esimdesk import __version__
from esimdesk.ui.app import ui_settings
from esimdesk.ui.main_window import MainWindow


def make_window(qtbot, home):
    window = MainWindow(ui_settings(home))
    qtbot.addWidget(window)
    return window


def test_window_has_three_tabs_and_menus(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
    window.show()
    qtbot.waitExposed(window)
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Catalog", "Orders", "Fleet"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Help"]
    assert __version__ in window.about_text()
    assert not window.windowIcon().isNull()
    assert window.statusBar().currentMessage()


def test_geometry_and_tab_are_restored(qtbot, tmp_path):
    first = make_window(qtbot, tmp_path)
    first.show()
    first.setGeometry(QRect(40, 50, 640, 480))
    first.tabs.setCurrentIndex(2)
    first.close()

    second = make_window(qtbot, tmp_path)
    second.show()
    assert second.tabs.currentIndex() == 2
    assert (second.width(), second.height()) == (640, 480)


def test_quit_action_closes_window(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)
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
