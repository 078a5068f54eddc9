"""Render the README screenshots: the demo desk under a real display (Xvfb), one PNG per tab.

Run: DISPLAY=:99 python bench/screenshots.py docs/   (start `Xvfb :99 -screen 0 1400x900x24` first)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


def main(out: Path) -> None:
    os.environ.setdefault("ESIMDESK_HOME", tempfile.mkdtemp())
    import qasync
    from PySide6.QtWidgets import QApplication

    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import open_context
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.main_window import MainWindow

    app = QApplication(sys.argv)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx = open_context(demo=True)
    desk = Desk(ctx)
    window = MainWindow(ui_settings(ctx.home), desk, demo=True)
    window.resize(1320, 780)
    window.show()

    async def shoot() -> None:
        await window.startup(sync=True)
        await asyncio.sleep(0.5)
        window.catalog.search.setText("japan")
        await asyncio.sleep(0.6)
        window.catalog.table.selectRow(0)
        await asyncio.sleep(0.2)
        window.grab().save(str(out / "screenshot.png"))
        window.tabs.setCurrentIndex(2)
        window.fleet.table.selectRow(2)
        await asyncio.sleep(0.3)
        window.grab().save(str(out / "fleet.png"))
        window.tabs.setCurrentIndex(1)
        window.orders.table.selectRow(0)
        await asyncio.sleep(0.3)
        window.grab().save(str(out / "orders.png"))
        window.close()

    with loop:
        loop.run_until_complete(shoot())
    desk.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
