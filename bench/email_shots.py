"""Render the README's e-mail pictures from the real demo window (issue 30): Orders → E-mail to customer… with an
address typed (docs/email-dialog.png), the e-mail it sent as the customer gets it in File → Demo mailbox…
(docs/demo-mailbox.png), and Settings → E-mail (docs/settings-email.png); the attached card PDF is kept as
docs/email-cards.pdf's first page rasterised by pdftoppm is what to look at (not committed).

Run under a real display: `Xvfb :93 -screen 0 1400x900x24 &` then
`DISPLAY=:93 QT_QPA_PLATFORM=xcb python bench/email_shots.py docs/`, in a fresh temporary data folder.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)  # QWidget.grab().save() into a missing folder fails without a word
    home = Path(tempfile.mkdtemp(prefix="esimdesk-email-shots-"))
    os.environ["ESIMDESK_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from esimdesk.domain import OrderStatus
    from esimdesk.services.desk import Desk
    from esimdesk.services.runtime import open_context
    from esimdesk.ui.app import ui_settings
    from esimdesk.ui.event_loop import DeskEventLoop, close_qt_loop
    from esimdesk.ui.main_window import MainWindow
    from esimdesk.ui.settings_dialog import SettingsDialog

    app = QApplication(sys.argv)
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    desk = Desk(open_context(demo=True))
    win = MainWindow(ui_settings(desk.ctx.home), desk, demo=True)
    win.resize(1280, 800)
    win.show()

    async def until(condition, timeout=30.0) -> None:
        for _ in range(int(timeout / 0.05)):
            if condition():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("the window did not get there")

    async def shoot() -> None:
        await win.startup(sync=True)
        order = next(o for o in desk.store.orders(vendor="roumio") if o.status is OrderStatus.COMPLETED
                     and len(o.esims) > 1 and all(e.activation_code for e in o.esims))
        win.tabs.setCurrentWidget(win.orders)
        win.orders.show_detail(order)
        panel = win.orders.email
        await panel.reload_task
        panel.email_button.click()
        await until(lambda: panel.dialog is not None and panel.dialog.isVisible())
        dialog = panel.dialog
        dialog.to.setText("anna.berg@example.com")
        await asyncio.sleep(0.3)
        dialog.grab().save(str(out / "email-dialog.png"))
        dialog.send_button.click()
        await dialog.task
        await until(lambda: panel.list.count() == 1)
        win.demo_mailbox_action.trigger()
        box = win.demo_mailbox
        await box.task
        box.resize(1100, 780)
        await asyncio.sleep(0.5)
        box.grab().save(str(out / "demo-mailbox.png"))
        pdf = next(a for a in box.current.attachments if a[0].endswith(".pdf"))
        (home / "email-cards.pdf").write_bytes(pdf[2])
        print(f"the attached cards: {home / 'email-cards.pdf'}")
        box.close()
        settings = SettingsDialog(desk.ctx.home, desk.ctx.accounts, (), win, page="email", demo=True)
        page = settings.email_page
        page.host.setText("smtp.acme-travel.example")
        page.username.setText("desk@acme-travel.example")
        page.from_address.setText("support@acme-travel.example")
        page.reseller.setText("Acme Travel")
        settings.resize(760, 560)
        settings.show()
        await asyncio.sleep(0.5)
        settings.grab().save(str(out / "settings-email.png"))
        settings.reject()

    try:
        loop.run_until_complete(shoot())
    finally:
        win.close()
        desk.close()
        close_qt_loop(loop)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))
