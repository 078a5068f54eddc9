"""Handing eSIMs over by e-mail, as safe as an order (issue 30).

1. resolve what to send (an eSIM by ICCID, or every eSIM of an order) and check the address and language;
2. refuse to send again what was already sent to that address, or may have been, unless the agent says so
   (``again``): a double click, or a retry after a lost answer, never sends twice by itself;
3. record the sending (PENDING, durable, claimed by this process) before the server is reached; the file
   refuses a second unfinished sending of the same eSIM or order (two windows, the CLI beside the window);
4. count the hand-over durably just before the message goes (DATA); then SENT with the server's answer, or
   FAILED (refused before the hand-over: nothing sent), or UNCERTAIN (the line dropped after it);
5. at start-up, a sending left PENDING by a process that stopped is FAILED if it never reached the hand-over,
   else UNCERTAIN: never resent by itself.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from esimdesk.domain import EsimdeskError, InvalidInput, OrderStatus, ValidationError, vendor_title
from esimdesk.domain.mail import Delivery, DeliveryKind, MailSettings, validate_email
from esimdesk.services.cards import Card, cards_for
from esimdesk.services.mail_message import VendorPage, compose, new_message_id, test_message
from esimdesk.services.mail_settings import require_password
from esimdesk.services.mail_templates import LANGUAGES
from esimdesk.services.orders import SEND_LEASE_S, lease_is_live, process_owner
from esimdesk.services.smtp import MaybeSent, NotSent, deliver
from esimdesk.services.team_config import default_agent
from esimdesk.store.deliveries import AlreadyDelivered, DeliveryInProgress

log = logging.getLogger("esimdesk.mail")

PageLookup = Callable[[str, str], Awaitable[VendorPage | None]]  # (vendor, iccid) -> the vendor's install page
PAGE_TIMEOUT_S = 8.0  # a vendor page is a nicety: the e-mail does not wait longer for it


class MailRefused(EsimdeskError):
    """Nothing was sent (or nothing more): ``delivery`` is the journal entry, if one was recorded."""

    def __init__(self, message: str, delivery: Delivery | None = None, *, needs_word: bool = False):
        super().__init__(message)
        self.delivery = delivery
        self.needs_word = needs_word  # sending again needs the agent's word (``again``)


@dataclass(frozen=True)
class Handover:
    """What an e-mail of ``target`` would carry, before anything is sent: the dialog's and the CLI's view."""

    kind: DeliveryKind
    vendor: str
    ref: str  # the ICCID, or the order id
    cards: list[Card]
    email: str | None  # the address kept for this eSIM or order (or its order), if any
    language: str
    history: list[Delivery]

    @property
    def iccids(self) -> list[str]:
        return [c.iccid for c in self.cards]

    def earlier_to(self, address: str) -> list[Delivery]:
        """Sendings to ``address`` that reached the customer or may have."""
        return [d for d in self.history if d.to_address.lower() == address.lower() and d.may_have_reached]


@dataclass(frozen=True)
class MailResult:
    delivery: Delivery
    message: str

    def to_json(self) -> dict:
        d = self.delivery
        return {"id": d.id, "kind": d.kind.value, "vendor": d.vendor, "target": d.ref, "iccids": list(d.iccids),
                "to": d.to_address, "language": d.language, "status": "sent" if d.sent else d.state.value.lower(),
                "message_id": d.message_id, "server": d.server, "smtp_reply": d.smtp_reply, "desk": d.desk_id,
                "agent": d.agent, "sent_at": d.sent_at.isoformat() if d.sent_at else None, "message": self.message}


def check_language(code: str | None, default: str) -> str:
    lang = (code or default or "en").strip().lower()
    if lang not in LANGUAGES:
        raise InvalidInput(f"no e-mail words in '{lang}': choose one of {', '.join(LANGUAGES)}")
    return lang


def sent_words(d: Delivery) -> str:
    at = (d.sent_at or d.updated_at).astimezone().strftime("%Y-%m-%d %H:%M")
    what = {OrderStatus.COMPLETED: "was sent", OrderStatus.UNCERTAIN: "may have been sent"}.get(d.state, "was tried")
    return f"it {what} to {d.to_address} at {at} (desk {d.desk_id})"


class MailService:
    def __init__(self, store, settings: Callable[[], MailSettings], *,
                 pages: PageLookup | None = None, password: Callable[[MailSettings], str | None] = require_password,
                 page_size: str = "A4"):
        self.store = store
        self.settings = settings
        self.pages = pages
        self.password = password
        self.page_size = page_size
        self.owner = process_owner()

    # --- before anything is sent ----------------------------------------------------------------------
    async def prepare(self, target: str) -> Handover:
        return await asyncio.to_thread(self._prepare, target)

    def _prepare(self, target: str) -> Handover:
        text = (target or "").strip()
        if not text:
            raise InvalidInput("no eSIM or order given: pass an ICCID or an order id")
        settings = self.settings()
        reseller = settings.reseller_name or None
        esim = self.store.esim(text)
        if esim is not None:
            kind, vendor, ref = DeliveryKind.ESIM, esim.vendor, esim.iccid
            contact = (self.store.contact(vendor, kind, ref)
                       or (self.store.contact(vendor, DeliveryKind.ORDER, esim.order_id) if esim.order_id else None))
            history = self.store.deliveries_of(vendor, [ref], esim.order_id)
        else:
            orders = [o for o in self.store.orders(search=text) if text in (o.order_id, o.reference, o.typed_reference)]
            if not orders:
                raise ValidationError(f"no eSIM or order '{text}' in the local cache; run a sync")
            if len({(o.vendor, o.order_id) for o in orders}) > 1:
                raise ValidationError(f"'{text}' names {len(orders)} orders: give the order id")
            order = orders[0]
            kind, vendor, ref = DeliveryKind.ORDER, order.vendor, order.order_id
            contact = self.store.contact(vendor, kind, ref)
            history = self.store.deliveries_of(vendor, [e.iccid for e in order.esims], ref)
            text = order.order_id
        cards = cards_for(self.store, text, reseller)  # ValidationError in words: no code yet, no eSIM yet
        email, language = contact if contact else (None, settings.language)
        return Handover(kind, vendor, ref, cards, email, language, history)

    # --- the agent's word -------------------------------------------------------------------------------
    async def send(self, target: str, to: str, language: str | None = None, *, again: bool = False) -> MailResult:
        address = validate_email(to)
        settings = self.settings()
        problem = settings.problem()
        if problem:
            raise MailRefused(f"{problem}; nothing was sent")
        lang = check_language(language, settings.language)
        await self.settle()  # a sending a stopped process left behind is decided first
        h = await self.prepare(target)  # its history as of now, after the settling
        earlier = h.earlier_to(address)
        if earlier and not again:
            last = earlier[-1]
            raise MailRefused(f"not sent again: {sent_words(last)}. Send again only on the agent's word "
                              "('Send again' in the window, --again on the command line)", last, needs_word=True)
        password = await asyncio.to_thread(self.password, settings)  # the keychain may be slow (or ask)
        pdf = await self._pdf(h.cards)
        pages = await self._pages(h)
        message_id = new_message_id(settings.from_address)
        # Pure Python (e-mail parts, QR PNGs: ~5 ms an eSIM): off the window's thread.
        message = await asyncio.to_thread(compose, h.cards, settings, address, lang, message_id, pdf, pages)
        server = f"{settings.host}:{settings.port}"
        try:
            entry = await asyncio.to_thread(lambda: self.store.delivery_create(
                kind=h.kind, vendor=h.vendor, ref=h.ref, iccids=h.iccids, to_address=address, language=lang,
                message_id=message_id, subject=str(message["Subject"]), server=server, agent=default_agent(),
                owner=self.owner, lease_seconds=SEND_LEASE_S + settings.timeout, again=again))
        except AlreadyDelivered as exc:  # went meanwhile, from another window or command
            raise MailRefused(f"not sent again: {sent_words(exc.entry)}. Send again only on the agent's word",
                              exc.entry, needs_word=True) from None
        except DeliveryInProgress as exc:
            raise MailRefused("another e-mail of this " + ("eSIM" if h.kind is DeliveryKind.ESIM else "order")
                              + " is being sent right now; nothing more was sent", exc.entry) from None
        await asyncio.to_thread(self.store.save_contact, h.vendor, h.kind, h.ref, address, lang)

        async def handing_over() -> None:
            await asyncio.to_thread(self.store.delivery_handed_over, entry.id)

        try:
            accepted = await deliver(settings, password, settings.from_address, address, message.as_bytes(), handing_over)
        except NotSent as exc:
            done = await self._finish(entry, OrderStatus.FAILED, f"not sent: {exc}", error=str(exc))
            raise MailRefused(f"{exc}; nothing was sent", done) from None
        except MaybeSent as exc:
            done = await self._finish(entry, OrderStatus.UNCERTAIN, str(exc), error=str(exc))
            raise MailRefused(f"{exc}. It is not sent again by itself: ask the customer, then 'Send again' if it "
                              "did not arrive", done, needs_word=True) from None
        done = await self._finish(entry, OrderStatus.COMPLETED, f"accepted by {server}: {accepted.reply}",
                                  smtp_reply=accepted.reply)
        count = len(h.cards)
        what = f"eSIM {h.ref}" if h.kind is DeliveryKind.ESIM else f"the {count} eSIM{'s' if count != 1 else ''} of order {h.ref}"
        return MailResult(done, f"E-mailed {what} to {address} ({LANGUAGES[lang]}); {server} answered {accepted.reply}")

    async def send_test(self, to: str | None = None) -> str:
        """Settings → E-mail → "Send a test message": to ``to`` (else the sender address). Not journaled: it
        carries no eSIM."""
        settings = self.settings()
        problem = settings.problem()
        if problem:
            raise MailRefused(problem)
        address = validate_email(to or settings.from_address)
        message = test_message(settings, address, new_message_id(settings.from_address))

        async def nothing() -> None:
            return None

        password = await asyncio.to_thread(self.password, settings)
        try:
            accepted = await deliver(settings, password, settings.from_address, address, message.as_bytes(), nothing)
        except (NotSent, MaybeSent) as exc:
            raise MailRefused(str(exc)) from None
        return f"Test message sent to {address}; {settings.host}:{settings.port} answered {accepted.reply}"

    async def settle(self) -> list[Delivery]:
        """Decide each sending a stopped process left PENDING; never sends."""
        out = []
        for entry in await asyncio.to_thread(self.store.deliveries_unfinished):
            if lease_is_live(entry) and entry.lease_owner != self.owner:
                continue  # being sent right now by another window or command
            if entry.lease_owner == self.owner:
                continue  # ours, in flight in this process
            dead = entry.lease_owner if entry.lease_owner and not lease_is_live(entry) else None
            claimed = await asyncio.to_thread(lambda e=entry, d=dead: self.store.delivery_claim(
                e.id, self.owner, lease_seconds=SEND_LEASE_S, steal_from=d))
            if claimed is None:
                continue
            if claimed.attempts == 0:
                out.append(await self._finish(claimed, OrderStatus.FAILED, "the sending process stopped before the "
                                              "message was handed over: nothing was sent", error="never sent"))
            else:
                out.append(await self._finish(claimed, OrderStatus.UNCERTAIN, "the sending process stopped after the "
                                              "message was handed over: the customer may have it",
                                              error="stopped after the hand-over"))
        return out

    async def history(self, vendor: str, iccids: list[str], order_id: str | None = None) -> list[Delivery]:
        return await asyncio.to_thread(self.store.deliveries_of, vendor, iccids, order_id)

    # --- steps ------------------------------------------------------------------------------------------
    async def _pdf(self, cards: list[Card]) -> bytes:
        """The cards as a PDF. Qt paints on this thread (a QPdfWriter, as every card is painted), a page at a time
        with the loop's turn between pages; the QR codes, most of the time, are computed first in a worker thread
        (pure Python)."""
        from esimdesk.services.card_paint import pdf_pages, prepare_symbols  # Qt (QtGui): only to paint a PDF

        await asyncio.to_thread(prepare_symbols, cards)
        with tempfile.TemporaryDirectory(prefix="esimdesk-mail-") as tmp:
            path = Path(tmp) / "cards.pdf"
            for _ in pdf_pages(cards, path, self.page_size):
                await asyncio.sleep(0)  # the window repaints between pages (~20 ms each)
            return await asyncio.to_thread(path.read_bytes)

    async def _pages(self, h: Handover) -> dict[str, VendorPage]:
        """The vendor's own page for each eSIM: its share link asked now where it offers one (Roamify), else the
        hosted QR page it gave with the eSIM (Roumio's shortUrl)."""
        out: dict[str, VendorPage] = {}
        for card in h.cards:
            page = None
            if self.pages is not None:
                try:
                    page = await asyncio.wait_for(self.pages(h.vendor, card.iccid), PAGE_TIMEOUT_S)
                except (EsimdeskError, TimeoutError) as exc:  # the install links still go: the page is extra
                    log.info("no %s install page for %s: %s", vendor_title(h.vendor), card.iccid, exc)
            if page is None:
                esim = await asyncio.to_thread(self.store.esim, card.iccid, h.vendor)
                if esim is not None and isinstance(esim.qr_url, str) and esim.qr_url.startswith("https://"):
                    page = VendorPage(esim.qr_url)
            if page is not None:
                out[card.iccid] = page
        return out

    async def _finish(self, entry: Delivery, state: OrderStatus, cause: str, *, error: str | None = None,
                      smtp_reply: str | None = None) -> Delivery:
        return await asyncio.to_thread(lambda: self.store.delivery_transition(
            entry.id, state, cause, error=error, smtp_reply=smtp_reply))
