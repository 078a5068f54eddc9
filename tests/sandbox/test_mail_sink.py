"""The demo's mail sink (issue 30): a real SMTP server on 127.0.0.1 keeps what it is sent in a Maildir, and
the demo mailbox reads it back as the customer's mail program would (subject, sender, card, links)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import aiosmtplib
import pytest

from esimdesk.domain.install_links import carddata_of, one_tap_links
from esimdesk.domain.mail import Security
from esimdesk.sandbox.mail_sink import MailSink
from esimdesk.services import demo
from esimdesk.services.mailbox import (
    Attachment,
    list_messages,
    parse_message,
    read_message,
    write_attachment,
    write_eml,
)
from esimdesk.services.runtime import DEMO_MAILBOX, open_context, start_demo_mail_sink

CODE = "LPA:1$smdp.demo.example$K2-7QX1-ABC&D"
PDF = b"%PDF-1.4\n% the customer card\n%%EOF\n"


def customer_email(to: str = "anna@example.com", subject: str = "Your eSIM for Japan",
                   when: datetime | None = None) -> EmailMessage:
    links = one_tap_links(CODE)
    msg = EmailMessage()
    msg["From"] = "Demo Travel eSIM <support@demo-travel.example>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when or datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="demo-travel.example")
    msg.set_content(f"Hello,\n\niPhone: {links.apple}\nAndroid: {links.android}.\n\nDemo Travel eSIM\n")
    cid = make_msgid(domain="demo-travel.example")
    msg.add_alternative(f'<p>Hello,</p><p><a href="{links.apple.replace("&", "&amp;")}">Install on iPhone</a> '
                        f'<a href="{links.android.replace("&", "&amp;")}">Install on Android</a></p>'
                        f'<p><img src="cid:{cid[1:-1]}"></p><p>Demo Travel eSIM</p>', subtype="html")
    # With a file name, as the composer gives it: Content-Disposition attachment, yet shown in the HTML.
    msg.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\nnot-really", "image", "png", cid=cid, filename="qr.png")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="esim-card.pdf")
    return msg


@pytest.fixture
def sink(tmp_path):
    with MailSink(tmp_path / "mailbox") as running:
        yield running


def test_a_message_sent_over_smtp_is_kept_and_read_back_as_sent(sink):
    async def send():
        return await aiosmtplib.send(customer_email(), hostname="127.0.0.1", port=sink.port,
                                     start_tls=False, use_tls=False, timeout=10)

    errors, reply = asyncio.run(send())
    assert errors == {} and reply.startswith("Message accepted")
    [message] = list_messages(sink.folder)
    assert message.subject == "Your eSIM for Japan"
    assert message.sender == "Demo Travel eSIM <support@demo-travel.example>"
    assert message.to == "anna@example.com" and message.to_addresses == ("anna@example.com",)
    assert message.date.tzinfo is not None and abs(message.date - datetime.now(UTC)) < timedelta(minutes=1)
    assert "Demo Travel eSIM" in message.text and "Install on iPhone" in message.html
    assert message.attachments == (Attachment("esim-card.pdf", "application/pdf", PDF),)
    [(cid, image)] = message.inline.items()  # the HTML's cid: image is shown in it, not an attachment
    assert f"cid:{cid}" in message.html and image.content_type == "image/png"
    # The links (from the HTML's hrefs, then the text's), each decoding to the same LPA code.
    assert len(message.links) == 2
    assert [carddata_of(link) for link in message.links] == [CODE, CODE]
    assert message.links[0].startswith("https://esimsetup.apple.com/")
    assert message.links[1].startswith("https://esimsetup.android.com/")
    assert read_message(sink.folder, message.key) == message
    assert b"Return-Path: <support@demo-travel.example>" in message.raw


def test_messages_are_listed_newest_first_from_every_sink_of_the_folder(sink, tmp_path):
    now = datetime.now(UTC).replace(microsecond=0)
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.send_message(customer_email(subject="older", when=now - timedelta(hours=2)))
    with MailSink(sink.folder) as second, smtplib.SMTP("127.0.0.1", second.port, timeout=10) as smtp:  # a CLI's
        assert second.port != sink.port
        smtp.send_message(customer_email(to="Bo <bo@example.org>", subject="newest", when=now))
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.send_message(customer_email(subject="middle", when=now - timedelta(hours=1)))
    listed = list_messages(sink.folder)
    assert [m.subject for m in listed] == ["newest", "middle", "older"]
    assert listed[0].date == now and listed[0].to_addresses == ("bo@example.org",)


def test_a_stopped_sink_takes_nothing(tmp_path):
    sink = MailSink(tmp_path / "mailbox").start()
    port = sink.port
    sink.stop()
    assert not sink.running
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", port, timeout=5)
    assert (tmp_path / "mailbox" / "new").is_dir()  # an empty mailbox from the start
    assert list_messages(tmp_path / "mailbox") == []


def test_no_folder_is_an_empty_mailbox(tmp_path):
    assert list_messages(tmp_path / "never-made") == []
    assert list_messages(None) == []
    assert read_message(tmp_path / "never-made", "123.x") is None


def test_a_file_that_is_not_an_email_is_left_out_and_logged(sink, caplog):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.send_message(customer_email(subject="good"))
    (sink.folder / "new" / "1700000000.M1P1Q1.broken").write_bytes(b"\x00\x01\xff\xfe binary, no header at all")
    with caplog.at_level(logging.WARNING, logger="esimdesk.mailbox"):
        listed = list_messages(sink.folder)
    assert [m.subject for m in listed] == ["good"]
    assert "1700000000.M1P1Q1.broken" in caplog.text and "left out" in caplog.text
    assert read_message(sink.folder, "1700000000.M1P1Q1.broken") is None


def test_a_message_without_a_date_is_dated_when_it_was_kept():
    raw = b"From: a@example.com\r\nTo: b@example.com\r\nSubject: no date\r\nDate: not a date\r\n\r\nhello\r\n"
    kept = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    message = parse_message(raw, "k", kept)
    assert message.date == kept and message.text.strip() == "hello" and message.html == ""
    assert message.attachments == () and message.links == ()


def test_attachments_and_eml_are_written_inside_the_folder_given(tmp_path):
    message = parse_message(customer_email().as_bytes(), "1700000000.M5P5Q5.host")
    [card] = message.attachments
    path = write_attachment(card, tmp_path / "open")
    assert path == tmp_path / "open" / "esim-card.pdf" and path.read_bytes() == PDF
    hostile = write_attachment(Attachment("../../etc/passwd", "text/plain", b"x"), tmp_path / "open")
    assert hostile.parent == tmp_path / "open" and hostile.name == "passwd"
    eml = write_eml(message, tmp_path / "open")
    assert eml.parent == tmp_path / "open" and eml.suffix == ".eml"
    assert parse_message(eml.read_bytes()).subject == "Your eSIM for Japan"


def test_the_demo_sink_settings_reach_it_and_it_fills_the_demo_mailbox(tmp_path):
    running = start_demo_mail_sink(tmp_path)
    try:
        settings = running.settings
        assert (settings.host, settings.security, settings.username) == ("127.0.0.1", Security.NONE, "")
        assert settings.from_address == "support@demo-travel.example"
        assert settings.reseller_name == "Demo Travel eSIM" and settings.language == "en"
        assert settings.port == running.server.port and settings.problem() is None
        assert running.maildir == tmp_path / DEMO_MAILBOX
        with smtplib.SMTP(settings.host, settings.port, timeout=10) as smtp:
            smtp.send_message(customer_email())
        assert [m.subject for m in list_messages(running.maildir)] == ["Your eSIM for Japan"]
    finally:
        running.stop()


def test_the_demo_context_has_its_sink_and_a_reset_empties_the_mailbox(tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    monkeypatch.setenv("ESIMDESK_SANDBOX_PLANS", "20")
    monkeypatch.setenv("ESIMDESK_SANDBOX_ESIMS", "4")
    ctx = open_context(demo=True)
    try:
        assert ctx.mailbox == tmp_path / "demo" / DEMO_MAILBOX
        assert ctx.mail_sink is None  # started at the first e-mail, not by every demo command
        mail = ctx.demo_mail
        assert ctx.mail_sink is not None and ctx.demo_mail == mail  # one sink for the context
        assert mail is not None and mail.host == "127.0.0.1" and mail.security is Security.NONE
        with smtplib.SMTP(mail.host, mail.port, timeout=10) as smtp:
            smtp.send_message(customer_email())
        assert len(list_messages(ctx.mailbox)) == 1
    finally:
        ctx.close()
    assert ctx.demo_mail is None
    with pytest.raises(OSError):
        smtplib.SMTP("127.0.0.1", mail.port, timeout=5)
    removed = demo.reset_demo_folder(tmp_path / "demo")
    assert tmp_path / "demo" / DEMO_MAILBOX in removed and not (tmp_path / "demo" / DEMO_MAILBOX).exists()
    assert list_messages(ctx.mailbox) == []


def test_outside_the_demo_there_is_no_sink(tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path))
    ctx = open_context(demo=False)
    assert ctx.demo_mail is None and ctx.mailbox is None and ctx.mail_sink is None
