"""E-mail to the customer (issue 30) through a real SMTP server (aiosmtpd with TLS and a login): what the
customer gets (card PDF attached, links that carry the eSIM's own LPA code, the reseller's name, the words of
their language), and that a sending is recorded once whatever the server does: refused address, refused
login, a line dropped after the message was handed over, a process killed in between."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from esimdesk.domain import Esim, EsimStatus, InvalidInput, Order, OrderStatus, Plan
from esimdesk.domain.install_links import carddata_of
from esimdesk.domain.mail import DeliveryKind, MailSettings, Security, validate_email
from esimdesk.services.mail import MailRefused, MailService
from esimdesk.services.mail_message import VendorPage
from esimdesk.services.mail_settings import load_mail_settings, mail_password, save_mail_settings
from esimdesk.store import SqliteStore
from tests.smtp_server import PASSWORD, REFUSED, USER, SmtpServer

# The card PDF is painted by Qt: the session's QApplication first (a QGuiApplication made for painting alone
# would stop the window tests that follow from making theirs).
pytestmark = pytest.mark.usefixtures("qapp")

CODES = ["LPA:1$rsp.roumio.example$A1B2-C3D4-E5F6", "LPA:1$rsp.roumio.example$Q9W8-E7R6-T5Y4"]


def _iccid(n: int) -> str:
    return f"89852000{n:011d}"


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "esimdesk.sqlite3")
    now = datetime.now(UTC)
    s.upsert_plans([Plan("roumio", "CKH003", "Spain 5GB 30Days", ("ES",), 5120, 30, Decimal("4.50"), "USD")])
    esims = [Esim("roumio", _iccid(i + 1), EsimStatus.NEW, "allocated", order_id="B1001", plan_id="CKH003",
                  activation_code=code) for i, code in enumerate(CODES)]
    s.upsert_esims(esims)
    s.upsert_orders([Order("roumio", "B1001", "ref-1001", OrderStatus.COMPLETED, now, esims=tuple(esims))])
    yield s
    s.close()


@pytest.fixture
def server(tmp_path):
    with SmtpServer(tmp_path, "starttls") as srv:
        yield srv


def settings_for(srv: SmtpServer, **over) -> MailSettings:
    base = dict(host="127.0.0.1", port=srv.port, security=Security(srv.security), username=USER,
                from_address="support@acme-travel.example", reseller_name="Acme Travel", language="en",
                timeout=5.0, ca_file=str(srv.cert))
    base.update(over)
    return MailSettings(**base)


def service(store, settings: MailSettings, password: str | None = PASSWORD, pages=None) -> MailService:
    return MailService(store, lambda: settings, password=lambda s: password, pages=pages)


def qr_texts(png: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "qr.png"
    path.write_bytes(png)
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path))]


def pdf_qr_texts(pdf: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "cards.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(path), str(tmp_path / "page")], check=True, timeout=120)
    out = []
    for page in sorted(tmp_path.glob("page*.png")):
        out += [r.text for r in zxingcpp.read_barcodes(Image.open(page))]
    return out


async def test_an_order_goes_to_the_customer_with_its_cards_links_and_the_reseller_name(store, server, tmp_path):
    mail = service(store, settings_for(server), pages=None)
    result = await mail.send("B1001", "anna@example.com", "es")
    assert result.delivery.state is OrderStatus.COMPLETED
    assert result.delivery.smtp_reply.startswith("250")
    assert len(server.messages) == 1
    msg = server.messages[0]
    assert msg["To"] == "anna@example.com"
    assert "Acme Travel" in msg["From"] and "Acme Travel" in msg["Subject"]
    assert msg["Message-ID"] == result.delivery.message_id
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Tus 2 eSIM de Acme Travel" == msg["Subject"]  # Spanish, chosen for this customer
    for code in CODES:
        assert code in text  # the activation code as text, for manual entry
    # Every one-tap link in the text and the HTML carries one of the eSIMs' own codes, both platforms each.
    links = re.findall(r"https://esimsetup\.(?:apple|android)\.com/\S+", text)
    assert sorted(carddata_of(x) for x in links) == sorted(CODES * 2)
    hrefs = re.findall(r'href="(https://esimsetup[^"]+)"', html)
    assert sorted(carddata_of(x.replace("&amp;", "&")) for x in hrefs) == sorted(CODES * 2)
    # The inline QR codes and the attached cards decode to the codes.
    inline = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert sorted(t for p in inline for t in qr_texts(p.get_content(), tmp_path)) == sorted(CODES)
    pdf = [p for p in msg.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(pdf) == 1 and pdf[0].get_filename() == "esim-cards.pdf"
    assert set(CODES) <= set(pdf_qr_texts(pdf[0].get_content(), tmp_path))
    # Journaled: who, which desk, to whom, when, the server's answer; the address kept on the order.
    d = store.delivery_get(result.delivery.id)
    assert (d.kind, d.ref, d.to_address, d.language, d.attempts) == (DeliveryKind.ORDER, "B1001", "anna@example.com", "es", 1)
    assert d.desk_id == store.desk_id() and d.agent and d.sent_at is not None
    assert store.contact("roumio", DeliveryKind.ORDER, "B1001") == ("anna@example.com", "es")
    # An eSIM of the order lists the e-mail in its history.
    assert [x.id for x in store.deliveries_of("roumio", [_iccid(1)], None)] == [d.id]


async def test_one_esim_in_english_with_the_vendor_page(store, server):
    async def page(vendor, iccid):
        return VendorPage("https://dev.esims.link/acme/4OYONUH79IW1", "5897")

    mail = service(store, settings_for(server), pages=page)
    result = await mail.send(_iccid(2), "bob@example.org")
    msg = server.messages[0]
    assert msg["Subject"] == "Your eSIM from Acme Travel: Spain 5GB 30Days"
    text = msg.get_body(("plain",)).get_content()
    assert "https://dev.esims.link/acme/4OYONUH79IW1 (access code 5897)" in text
    assert CODES[1] in text and CODES[0] not in text
    assert result.delivery.kind is DeliveryKind.ESIM


async def test_sent_once_a_second_send_needs_the_agents_word(store, server):
    mail = service(store, settings_for(server))
    await mail.send("B1001", "anna@example.com")
    with pytest.raises(MailRefused) as refused:
        await mail.send("B1001", "anna@example.com")  # the double click, the retry
    assert refused.value.needs_word and "not sent again" in str(refused.value)
    assert len(server.messages) == 1
    again = await mail.send("B1001", "anna@example.com", again=True)  # "Send again"
    assert again.delivery.sent and len(server.messages) == 2
    await mail.send("B1001", "other@example.com")  # another address is another e-mail
    assert len(server.messages) == 3


async def test_two_clicks_at_once_send_one_email(store, server):
    mail = service(store, settings_for(server))
    results = await asyncio.gather(mail.send("B1001", "anna@example.com"), mail.send("B1001", "anna@example.com"),
                                   return_exceptions=True)
    sent = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, MailRefused)]
    assert len(sent) == 1 and len(refused) == 1, results
    assert len(server.messages) == 1


async def test_a_refused_address_is_a_sentence_and_nothing_is_sent(store, server):
    mail = service(store, settings_for(server))
    with pytest.raises(MailRefused) as refused:
        await mail.send("B1001", REFUSED)
    assert "refused the address" in str(refused.value) and "nothing was sent" in str(refused.value)
    d = refused.value.delivery
    assert d.state is OrderStatus.FAILED and d.attempts == 0
    assert server.messages == []
    # Not sent, so no word is needed to send it once it is fixed.
    assert not refused.value.needs_word


async def test_a_refused_login_is_a_sentence_and_nothing_is_sent(store, server):
    mail = service(store, settings_for(server), password="wrong")
    with pytest.raises(MailRefused) as refused:
        await mail.send("B1001", "anna@example.com")
    assert "refused the login" in str(refused.value) and "Settings → E-mail" in str(refused.value)
    assert refused.value.delivery.state is OrderStatus.FAILED
    assert server.messages == []
    assert "wrong" not in str(refused.value)


async def test_a_line_dropped_after_data_never_sends_again_without_the_agents_word(store, server):
    server.handler.drop_after_data = True
    mail = service(store, settings_for(server))
    with pytest.raises(MailRefused) as lost:
        await mail.send("B1001", "anna@example.com")
    d = lost.value.delivery
    assert d.state is OrderStatus.UNCERTAIN and d.attempts == 1
    assert lost.value.needs_word and "may have it" in str(lost.value)
    assert len(server.messages) == 1  # the customer has it
    server.handler.drop_after_data = False
    with pytest.raises(MailRefused):  # a plain retry sends nothing
        await mail.send("B1001", "anna@example.com")
    await mail.settle()  # nor does settling it at start-up
    assert len(server.messages) == 1 and server.handler.data_calls == 1
    again = await mail.send("B1001", "anna@example.com", again=True)  # the agent's word
    assert again.delivery.sent and len(server.messages) == 2


async def test_a_message_refused_in_words_is_not_sent(store, server):
    server.handler.refuse_data = True
    with pytest.raises(MailRefused) as refused:
        await service(store, settings_for(server)).send("B1001", "anna@example.com")
    assert "554" in str(refused.value) and refused.value.delivery.state is OrderStatus.FAILED


async def test_a_server_that_never_answers_the_message_leaves_it_uncertain(store, tmp_path):
    # A server that accepts the connection and then says nothing: the connect step times out: not sent.
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        s = MailSettings(host="127.0.0.1", port=listener.getsockname()[1], security=Security.NONE,
                         from_address="support@acme-travel.example", timeout=1.0)
        with pytest.raises(MailRefused) as refused:
            await service(store, s, password=None).send("B1001", "anna@example.com")
        assert refused.value.delivery.state is OrderStatus.FAILED and refused.value.delivery.attempts == 0
    finally:
        listener.close()


async def test_tls_on_connect(store, tmp_path):
    with SmtpServer(tmp_path, "tls") as srv:
        result = await service(store, settings_for(srv)).send(_iccid(1), "anna@example.com", "de")
        assert result.delivery.sent
        assert srv.messages[0]["Subject"] == "Ihre eSIM von Acme Travel: Spain 5GB 30Days"


async def test_an_untrusted_certificate_is_refused_before_anything_is_sent(store, server):
    with pytest.raises(MailRefused) as refused:
        await service(store, settings_for(server, ca_file="")).send("B1001", "anna@example.com")
    assert "TLS" in str(refused.value) and refused.value.delivery.state is OrderStatus.FAILED
    assert server.messages == []


def test_addresses_are_checked_in_words():
    assert validate_email("  anna@example.com ") == "anna@example.com"
    for bad, words in [("anna@gmail", "needs a dot"), ("anna gmail.com", "exactly one @"), ("", "no e-mail address"),
                       ("a b@example.com", "not allowed"), ("a@@b.com", "exactly one @")]:
        with pytest.raises(InvalidInput, match=words):
            validate_email(bad)


async def test_an_unknown_language_is_refused_in_words(store, server):
    with pytest.raises(InvalidInput, match="choose one of en, es, de"):
        await service(store, settings_for(server)).send("B1001", "anna@example.com", "xx")
    assert server.messages == []


async def test_no_server_set_says_where_to_set_it(store):
    with pytest.raises(MailRefused, match="Settings → E-mail"):
        await service(store, MailSettings()).send("B1001", "anna@example.com")


def test_the_password_lives_in_the_keychain_only(tmp_path):
    s = MailSettings(host="smtp.acme.example", port=587, username=USER, from_address="support@acme.example")
    save_mail_settings(tmp_path, s, password=PASSWORD)
    assert PASSWORD not in (tmp_path / "settings.json").read_text()
    assert load_mail_settings(tmp_path) == s
    assert mail_password() == PASSWORD
    with pytest.raises(InvalidInput):
        save_mail_settings(tmp_path, MailSettings(host="x", from_address="not-an-address"))


KILLED_SEND = r"""
import asyncio, os, sys
from esimdesk.domain.mail import MailSettings, Security
from esimdesk.services.mail import MailService
from esimdesk.services import smtp
from esimdesk.store import SqliteStore

store = SqliteStore(sys.argv[1])
settings = MailSettings(host="127.0.0.1", port=int(sys.argv[2]), security=Security.STARTTLS, username=sys.argv[4],
                        from_address="support@acme-travel.example", timeout=5.0, ca_file=sys.argv[3])
real = smtp.deliver

async def deliver(settings, password, sender, recipient, message, on_handover):
    async def then_die():
        await on_handover()
        os.kill(os.getpid(), 9)  # killed at the line after the hand-over was counted
    return await real(settings, password, sender, recipient, message, then_die)

import esimdesk.services.mail as M
M.deliver = deliver
asyncio.run(MailService(store, lambda: settings, password=lambda s: sys.argv[5]).send("B1001", "anna@example.com"))
"""


async def test_a_kill_after_the_hand_over_is_uncertain_and_never_resent_by_itself(store, server, tmp_path):
    script = tmp_path / "killed.py"
    script.write_text(KILLED_SEND)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, str(script), str(store.path), str(server.port), str(server.cert), USER,
                           PASSWORD], env=env, timeout=120, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    [left] = store.deliveries()
    assert left.state is OrderStatus.PENDING and left.attempts == 1
    mail = service(store, settings_for(server))
    [settled] = await mail.settle()
    assert settled.state is OrderStatus.UNCERTAIN
    with pytest.raises(MailRefused) as refused:
        await mail.send("B1001", "anna@example.com")
    assert refused.value.needs_word
    assert server.handler.data_calls == 0  # killed before the message went: and nothing was sent since


async def test_two_command_lines_that_both_found_nothing_sent_send_one_email(store, server, monkeypatch):
    """Two processes each read the history before either sent (the race the file itself closes): the second's
    record is refused in its own write, since the first went to the same address meanwhile."""
    from esimdesk.services.mail import Handover

    first = service(store, settings_for(server))
    await first.send("B1001", "anna@example.com")
    monkeypatch.setattr(Handover, "earlier_to", lambda self, address: [])  # the second read before the first sent
    second = service(store, settings_for(server))
    with pytest.raises(MailRefused) as refused:
        await second.send("B1001", "Anna@Example.com")
    assert refused.value.needs_word and "not sent again" in str(refused.value)
    assert len(server.messages) == 1
    assert (await second.send("B1001", "anna@example.com", again=True)).delivery.sent  # the agent's word
