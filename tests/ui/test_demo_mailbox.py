"""File → Demo mailbox… (issue 30): the demo window shows what its mail sink was sent, as the customer gets
it: the HTML rendered with its links and cid: image, the card to open or save, the .eml for a mail program.
Nothing external is launched: the dialog's opener is a list here."""

from __future__ import annotations

import mailbox
import smtplib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QUrl
from PySide6.QtGui import QColor, QImage, QTextDocument
from PySide6.QtWidgets import QFileDialog

from esimdesk.domain.install_links import one_tap_links
from esimdesk.services.desk import Desk
from esimdesk.services.mailbox import parse_message
from esimdesk.services.runtime import open_context
from esimdesk.ui.app import ui_settings
from esimdesk.ui.demo_mailbox import DemoMailboxDialog
from esimdesk.ui.main_window import MainWindow
from tests.sandbox.test_mail_sink import CODE, PDF, customer_email


def png(width: int = 6, height: int = 4) -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#3366cc"))
    buffer = QBuffer()
    buffer.open(QBuffer.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


def with_real_image(msg):
    """The test message with a real PNG as its cid: image (the HTML shows it)."""
    for part in msg.walk():
        if part.get_content_type() == "image/png":
            part.set_content(png(), maintype="image", subtype="png", cid=part["Content-ID"], filename="qr.png")
    return msg


def put(folder: Path, **kwargs) -> str:
    return mailbox.Maildir(folder, create=True).add(with_real_image(customer_email(**kwargs)).as_bytes())


class Opener:
    def __init__(self, answer: bool = True):
        self.urls: list[QUrl] = []
        self.answer = answer

    def __call__(self, url: QUrl) -> bool:
        self.urls.append(url)
        return self.answer


@pytest.fixture
def dialog(loop, qtbot, tmp_path):
    folder = tmp_path / "demo-mailbox"
    now = datetime.now(UTC)
    put(folder, subject="Your eSIM for Spain", to="bo@example.org", when=now - timedelta(hours=1))
    put(folder, subject="Your eSIM for Japan", when=now)
    opener = Opener()
    dlg = DemoMailboxDialog(folder, opener=opener, temp_folder=tmp_path / "opened")
    qtbot.addWidget(dlg)
    dlg.show()  # showing it reads the mailbox
    assert dlg.task is not None
    loop.run_until_complete(dlg.task)
    return dlg, opener, loop, folder


def rows(dlg) -> list[list[str]]:
    return [[dlg.list.topLevelItem(i).text(c) for c in range(3)] for i in range(dlg.list.topLevelItemCount())]


def test_the_mailbox_lists_newest_first_and_shows_the_html_as_the_customer_sees_it(dialog):
    dlg, _, _, _ = dialog
    assert [r[1:] for r in rows(dlg)] == [["anna@example.com", "Your eSIM for Japan"],
                                          ["bo@example.org", "Your eSIM for Spain"]]
    assert dlg.count_label.text() == "2 e-mails"
    assert dlg.current.subject == "Your eSIM for Japan"  # the newest is shown at once
    assert dlg.subject.text() == "Your eSIM for Japan"
    header = dlg.header.text()
    assert "From: Demo Travel eSIM <support@demo-travel.example>" in header and "To: anna@example.com" in header
    # The HTML part, rendered (not its source), with both install links as links.
    shown = dlg.view.toPlainText()
    assert "Install on iPhone" in shown and "<a href" not in shown
    links = one_tap_links(CODE)
    rendered = dlg.view.document().toHtml()
    assert links.apple.replace("&", "&amp;") in rendered and links.android.replace("&", "&amp;") in rendered
    assert dlg.codes.text() == f"The one-tap install links carry: {CODE}"
    # Its cid: image comes from the message itself.
    [cid] = dlg.current.inline
    image = dlg.view.loadResource(QTextDocument.ResourceType.ImageResource.value, QUrl(f"cid:{cid}"))
    assert isinstance(image, QImage) and (image.width(), image.height()) == (6, 4)
    assert dlg.view.loadResource(QTextDocument.ResourceType.ImageResource.value, QUrl("file:///etc/hosts")) is None
    # The card is the attachment; choosing the other message shows that one.
    assert dlg.attachments.count() == 1 and dlg.attachments.item(0).text().startswith("esim-card.pdf")
    assert dlg.open_button.isEnabled() and dlg.save_button.isEnabled() and dlg.eml_button.isEnabled()
    dlg.list.setCurrentItem(dlg.list.topLevelItem(1))
    assert "To: bo@example.org" in dlg.header.text() and dlg.current.subject == "Your eSIM for Spain"


def test_a_link_click_opens_the_link_and_only_web_or_mail_links(dialog):
    dlg, opener, _, _ = dialog
    link = QUrl(one_tap_links(CODE).apple)
    dlg.view.anchorClicked.emit(link)
    assert opener.urls == [link] and dlg.status.text().startswith("Opened https://esimsetup.apple.com/")
    dlg.view.anchorClicked.emit(QUrl("file:///etc/passwd"))
    assert opener.urls == [link] and dlg.status.text().startswith("Not opened")


def test_an_attachment_opens_from_a_file_written_for_it_and_saves_where_asked(dialog, tmp_path, monkeypatch):
    dlg, opener, _, _ = dialog
    dlg.open_button.click()
    [url] = opener.urls
    assert url.isLocalFile()
    opened = Path(url.toLocalFile())
    assert opened.name == "esim-card.pdf" and opened.read_bytes() == PDF
    assert (tmp_path / "opened") in opened.parents
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(tmp_path / "kept" / "card.pdf"), "")))
    (tmp_path / "kept").mkdir()
    dlg.save_button.click()
    assert (tmp_path / "kept" / "card.pdf").read_bytes() == PDF
    assert dlg.status.text() == f"Saved {tmp_path / 'kept' / 'card.pdf'}"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    assert dlg.save_attachment() is None  # Cancel: nothing written, nothing said


def test_the_whole_message_opens_in_the_mail_app_as_an_eml(dialog):
    dlg, opener, _, _ = dialog
    dlg.eml_button.click()
    [url] = opener.urls
    eml = Path(url.toLocalFile())
    assert eml.suffix == ".eml"
    again = parse_message(eml.read_bytes())
    assert again.subject == "Your eSIM for Japan" and again.attachments[0].data == PDF


def test_nothing_to_open_it_with_is_said(loop, qtbot, tmp_path):
    folder = tmp_path / "box"
    put(folder)
    dlg = DemoMailboxDialog(folder, opener=Opener(answer=False), temp_folder=tmp_path / "opened")
    qtbot.addWidget(dlg)
    loop.run_until_complete(dlg.refresh())
    assert dlg.open_attachment() is not None
    assert dlg.status.text() == "Nothing on this computer opens esim-card.pdf: Save… it and open it from there"


def test_refresh_shows_a_new_message_and_keeps_the_one_being_read(dialog):
    dlg, _, loop, folder = dialog
    dlg.list.setCurrentItem(dlg.list.topLevelItem(1))  # Spain
    put(folder, subject="Your eSIM for Peru", when=datetime.now(UTC) + timedelta(minutes=1))
    dlg.refresh_button.click()
    loop.run_until_complete(dlg.task)
    assert [r[2] for r in rows(dlg)] == ["Your eSIM for Peru", "Your eSIM for Japan", "Your eSIM for Spain"]
    assert dlg.current.subject == "Your eSIM for Spain"


def test_an_empty_or_missing_mailbox_says_so(loop, qtbot, tmp_path):
    dlg = DemoMailboxDialog(tmp_path / "nothing-yet", opener=Opener(), temp_folder=tmp_path / "opened")
    qtbot.addWidget(dlg)
    assert loop.run_until_complete(dlg.refresh()) == []
    assert dlg.list.topLevelItemCount() == 0 and dlg.count_label.text() == "0 e-mails"
    assert dlg.status.text().startswith("No e-mail has been sent in the demo yet")
    assert not (dlg.open_button.isEnabled() or dlg.save_button.isEnabled() or dlg.eml_button.isEnabled())
    assert dlg.open_in_mail_app() is None and dlg.open_attachment() is None


@pytest.fixture
def demo_desk(tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("ESIMDESK_SANDBOX_PLANS", "20")
    monkeypatch.setenv("ESIMDESK_SANDBOX_ESIMS", "4")
    desk = Desk(open_context(demo=True))
    yield desk
    desk.close()


def test_the_demo_window_opens_what_its_mail_sink_was_sent(loop, qtbot, demo_desk, tmp_path):
    win = MainWindow(ui_settings(demo_desk.ctx.home), demo_desk, demo=True)
    qtbot.addWidget(win)
    file_menu = win.menuBar().actions()[0].menu()
    assert win.demo_mailbox_action in file_menu.actions()
    assert win.demo_mailbox_action.text() == "Demo &mailbox…"
    mail = demo_desk.ctx.demo_mail
    with smtplib.SMTP(mail.host, mail.port, timeout=10) as smtp:  # as the sending side will, to the sink
        smtp.send_message(customer_email())
    win.demo_mailbox_action.trigger()
    dlg = win.demo_mailbox
    assert dlg is not None and dlg.isVisible() and dlg.folder == demo_desk.ctx.mailbox
    loop.run_until_complete(dlg.task)
    assert [r[2] for r in rows(dlg)] == ["Your eSIM for Japan"]
    assert "Demo Travel eSIM" in dlg.view.toPlainText()
    assert win.open_demo_mailbox() is dlg  # one dialog, brought up again
    # A real desk has no demo mailbox.
    real = MainWindow(ui_settings(tmp_path), demo_desk, demo=False)
    qtbot.addWidget(real)
    assert real.demo_mailbox_action is None
    assert not [a for a in real.menuBar().actions()[0].menu().actions() if "mailbox" in a.text().lower()]
