"""The e-mail to the customer, composed: plain text and HTML (with each eSIM's QR code inline), the one-tap
install links for iPhone and Android built from the LPA code (the vendor's own share page where it gives one),
the activation code as text for manual entry, and the customer cards as a PDF attachment. No sending here."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from esimdesk.domain import vendor_title
from esimdesk.domain.install_links import lpa_string
from esimdesk.domain.mail import MailSettings
from esimdesk.services.cards import Card, card_install_links
from esimdesk.services.mail_templates import language_of, words
from esimdesk.services.qr_codes import QUIET_ZONE, qr

PDF_NAME = "esim-cards.pdf"


@dataclass(frozen=True, slots=True)
class VendorPage:
    """A vendor's hosted install page for one eSIM (Roamify's share link), opened with ``access_code``."""

    url: str
    access_code: str | None = None


def _qr_png(code: str) -> bytes:
    out = io.BytesIO()
    qr(code).save(out, kind="png", scale=6, border=QUIET_ZONE)
    return out.getvalue()


def new_message_id(from_address: str) -> str:
    return make_msgid(domain=from_address.rpartition("@")[2] or "esimdesk.invalid")


def _facts(w: dict[str, str], card: Card) -> str:
    plan = card.plan_name or f"{vendor_title(card.vendor)} eSIM"
    data = card.data or "—"
    countries = card.countries or ""
    if card.validity_days:
        text = w["facts"].format(plan=plan, data=data, days=card.validity_days, countries=countries)
    else:
        text = w["facts_no_days"].format(plan=plan, data=data, countries=countries)
    return text.rstrip(", ")


def compose(cards: list[Card], settings: MailSettings, to: str, language: str, message_id: str,
            pdf: bytes | None, pages: Mapping[str, VendorPage] | None = None) -> EmailMessage:
    """The message for ``cards`` (one per eSIM, in order); ``pages``: vendor install pages by ICCID."""
    w = words(language)
    lang = language_of(language)
    pages = pages or {}
    reseller = settings.reseller_name or cards[0].reseller
    count = len(cards)
    subject = (w["subject_one"].format(reseller=reseller, plan=cards[0].plan_name or "eSIM") if count == 1
               else w["subject_many"].format(reseller=reseller, count=count))

    text: list[str] = [w["hello"], "", w["intro_one" if count == 1 else "intro_many"].format(reseller=reseller, count=count), ""]
    parts: list[str] = [f"<p>{html.escape(w['hello'])}</p>",
                        f"<p>{html.escape(w['intro_one' if count == 1 else 'intro_many'].format(reseller=reseller, count=count))}</p>"]
    images: list[tuple[str, bytes]] = []
    for n, card in enumerate(cards, 1):
        links = card_install_links(card)  # the same links as the card's QR codes
        head = w["esim_head"].format(n=n, count=count) if count > 1 else "eSIM"
        facts = _facts(w, card)
        page = pages.get(card.iccid)
        code = lpa_string(card.activation_code)
        text += [f"{head} — ICCID {card.iccid}", facts, "", w["one_tap"],
                 f"  {w['iphone']}: {links.apple}", f"  {w['android']}: {links.android}"]
        if page is not None:
            access = f" ({w['access_code'].format(code=page.access_code)})" if page.access_code else ""
            text.append(f"  {w['vendor_page'].format(vendor=vendor_title(card.vendor))}: {page.url}{access}")
        text += ["", w["or_scan"], "", w["manual"], f"  {w['smdp']}: {card.smdp_address}",
                 f"  {w['matching']}: {card.matching_id}", f"  {w['full_code']}: {code}", ""]
        cid = make_msgid(domain="esimdesk.qr")
        images.append((cid, _qr_png(card.activation_code)))
        vendor_page = ""
        if page is not None:
            access = f" ({html.escape(w['access_code'].format(code=page.access_code))})" if page.access_code else ""
            vendor_page = (f'<li><a href="{html.escape(page.url)}">'
                           f"{html.escape(w['vendor_page'].format(vendor=vendor_title(card.vendor)))}</a>{access}</li>")
        parts.append(
            f"<h3>{html.escape(head)} <small>ICCID {html.escape(card.iccid)}</small></h3>"
            f"<p>{html.escape(facts)}</p>"
            f"<p>{html.escape(w['one_tap'])}</p><ul>"
            f'<li><a href="{html.escape(links.apple)}">{html.escape(w["iphone"])}</a></li>'
            f'<li><a href="{html.escape(links.android)}">{html.escape(w["android"])}</a></li>{vendor_page}</ul>'
            f"<p>{html.escape(w['or_scan'])}</p>"
            f'<p><img src="cid:{cid[1:-1]}" width="220" height="220" alt="QR {html.escape(code)}"></p>'
            f"<p>{html.escape(w['manual'])}<br>{html.escape(w['smdp'])}: <code>{html.escape(card.smdp_address)}</code>"
            f"<br>{html.escape(w['matching'])}: <code>{html.escape(card.matching_id)}</code>"
            f"<br>{html.escape(w['full_code'])}: <code>{html.escape(code)}</code></p>")
    refs = sorted({c.reference for c in cards if c.reference})
    tail = [w["arrive"]]
    if refs:
        tail.append(w["reference"].format(reference=", ".join(refs)))
    if pdf:
        tail.append(w["attached"])
    text += tail + ["", w["bye"].format(reseller=reseller)]
    parts += [f"<p>{html.escape(line)}</p>" for line in tail]
    parts.append("<p>" + "<br>".join(html.escape(x) for x in w["bye"].format(reseller=reseller).split("\n")) + "</p>")

    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = formataddr((reseller, settings.from_address))
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg["Content-Language"] = lang
    msg.set_content("\n".join(text))
    msg.add_alternative(f'<!doctype html><html lang="{lang}"><body style="font-family: sans-serif">'
                        + "\n".join(parts) + "</body></html>", subtype="html")
    related = msg.get_payload()[1]
    for cid, png in images:
        related.add_related(png, maintype="image", subtype="png", cid=cid, disposition="inline",
                            filename=f"qr-{cid[1:9]}.png")
    if pdf:
        msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=PDF_NAME)
    return msg


def test_message(settings: MailSettings, to: str, message_id: str) -> EmailMessage:
    w = words(settings.language)
    reseller = settings.reseller_name or "esimdesk"
    msg = EmailMessage()
    msg["Subject"] = w["test_subject"].format(reseller=reseller)
    msg["From"] = formataddr((reseller, settings.from_address))
    msg["To"] = to
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    msg.set_content(w["test_body"].format(reseller=reseller))
    return msg
