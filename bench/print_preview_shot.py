"""Render docs/print-preview.png: the demo desk's print preview of the customer cards of one eSIM.

Run under a real display: `Xvfb :97 -screen 0 1400x900x24 &` then
`DISPLAY=:97 QT_QPA_PLATFORM=xcb python bench/print_preview_shot.py docs/print-preview.png`
(the demo is synced in a fresh ESIMDESK_HOME, so the eSIM and its code are the sandbox's).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


def main(out: Path) -> None:
    os.environ.setdefault("ESIMDESK_HOME", tempfile.mkdtemp())
    from PySide6.QtWidgets import QApplication

    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import open_context
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.cards_dialogs import print_preview
    from esimdesk.ui.event_loop import DeskEventLoop
    from esimdesk.ui.main_window import MainWindow

    app = QApplication(sys.argv)
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx = open_context(demo=True)
    desk = Desk(ctx)
    window = MainWindow(ui_settings(ctx.home), desk, demo=True)
    window.resize(1320, 780)
    window.show()

    async def shoot() -> None:
        await window.startup(sync=True)
        await asyncio.sleep(0.5)
        window.tabs.setCurrentWidget(window.fleet)
        model = window.fleet.model
        row = next(r for r in range(model.rowCount()) if model.item(r).activation_code)
        window.fleet.table.selectRow(row)
        await asyncio.sleep(0.3)
        cards = await desk.cards(window.fleet.card_actions.target)
        dialog = print_preview(cards, window)  # as Print… opens it, but shown, not exec'd
        dialog.resize(1100, 820)
        dialog.show()
        await asyncio.sleep(1.5)  # the preview paints the pages
        dialog.grab().save(str(out))
        print(f"{out}: print preview of {window.fleet.current.iccid}")
        dialog.close()
        window.close()

    with loop:
        loop.run_until_complete(shoot())
    desk.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/print-preview.png"))
