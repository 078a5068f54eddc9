"""Render docs/demo-mailbox.png: File → Demo mailbox… showing one e-mail to a customer, as the customer gets it.

Run under a real display: `Xvfb :93 -screen 0 1400x900x24 &` then
`DISPLAY=:93 QT_QPA_PLATFORM=xcb python bench/demo_mailbox_shot.py docs/demo-mailbox.png`.
The message is composed by services/mail_message.py for a sample card (the PDF attached is a stand-in: this
shows the mailbox, not the card) and sent over SMTP to the demo's mail sink, in a fresh temporary folder.
"""

from __future__ import annotations

import asyncio
import smtplib
import sys
import tempfile
from pathlib import Path

CODE = "LPA:1$rsp.demo-sandbox.example$7QX1-K2AB-9PLM-3ZZD"


def main(out: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from esimdesk.services.cards import Card
    from esimdesk.services.mail_message import compose, new_message_id
    from esimdesk.services.runtime import start_demo_mail_sink
    from esimdesk.ui.demo_mailbox import DemoMailboxDialog
    from esimdesk.ui.event_loop import DeskEventLoop, close_qt_loop

    sink = start_demo_mail_sink(Path(tempfile.mkdtemp()))
    card = Card(iccid="8985200012345678901", activation_code=CODE, vendor="roumio", plan_name="Japan 5 GB",
                data="5 GB", validity_days=30, countries="Japan", smdp_address="rsp.demo-sandbox.example",
                matching_id="7QX1-K2AB-9PLM-3ZZD", ios_link=None, android_link=None, reference="ORD-1042",
                reseller=sink.settings.reseller_name)
    message = compose([card], sink.settings, "anna.berg@example.com", "en",
                      new_message_id(sink.settings.from_address), b"%PDF-1.4\n" + b"0" * 48_000)
    with smtplib.SMTP(sink.settings.host, sink.settings.port, timeout=10) as smtp:
        smtp.send_message(message)
    app = QApplication(sys.argv)
    loop = DeskEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        dialog = DemoMailboxDialog(sink.maildir, opener=lambda _url: True)
        dialog.show()
        loop.run_until_complete(dialog.task)
        loop.run_until_complete(asyncio.sleep(0.5))  # laid out and painted
        dialog.grab().save(str(out))
        dialog.close()
    finally:
        close_qt_loop(loop)
        sink.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/demo-mailbox.png"))
