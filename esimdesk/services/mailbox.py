"""The demo mailbox: the messages the demo's mail sink kept (a Maildir folder), read as the customer's mail
program would show them — subject, sender, date, the text and HTML bodies, the attachments, the links.

Plain file I/O and parsing, no Qt: the window calls ``list_messages`` in a worker thread
(``asyncio.to_thread``). A folder that is not there yet is an empty mailbox; a file that is not an e-mail
(or vanishes while read: a reset) is left out and logged, never the end of the listing.
"""

from __future__ import annotations

import email
import email.errors
import logging
import mailbox
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

from esimdesk.domain.install_links import carddata_of

log = logging.getLogger("esimdesk.mailbox")

_HEADERS = ("from", "to", "subject", "date", "message-id")  # an e-mail has at least one of these
_URL = re.compile(r"""https?://[^\s<>"]+""")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]+")


class Attachment(NamedTuple):
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MailboxMessage:
    key: str  # the Maildir's key (the file's name)
    subject: str
    sender: str  # the From header as written: "Demo Travel eSIM <support@demo-travel.example>"
    to: str
    date: datetime  # UTC: the Date header, or when the sink kept the message when it has none
    text: str  # the plain-text body ("" when there is none)
    html: str  # the HTML body ("" when there is none)
    attachments: tuple[Attachment, ...] = ()
    inline: dict[str, Attachment] = field(default_factory=dict)  # the HTML's cid: images, by Content-ID
    links: tuple[str, ...] = ()  # http(s) links of the HTML (href) and the text, in order, once each
    raw: bytes = b""  # the message as kept: what an .eml file holds

    @property
    def to_addresses(self) -> tuple[str, ...]:
        return tuple(address for _, address in getaddresses([self.to]) if address)

    @property
    def install_codes(self) -> tuple[str, ...]:
        """The LPA codes the message's one-tap install links carry (decoded), once each: what the customer's
        phone would be given, to compare with the eSIM's activation code."""
        return tuple(dict.fromkeys(code for code in map(carddata_of, self.links) if code))


def list_messages(folder: Path | str | None) -> list[MailboxMessage]:
    """Every message in the Maildir ``folder``, newest first; [] when there is no such folder."""
    box = _open(folder)
    if box is None:
        return []
    found = []
    for key in sorted(_keys(box)):
        message = _read(box, key)
        if message is not None:
            found.append(message)
    found.sort(key=lambda m: m.date, reverse=True)  # stable: one second's messages stay in key order
    return found


def read_message(folder: Path | str | None, key: str) -> MailboxMessage | None:
    """One message by its key; None when it is not there (or is not an e-mail)."""
    box = _open(folder)
    return _read(box, key) if box is not None else None


def parse_message(raw: bytes, key: str = "", delivered: datetime | None = None) -> MailboxMessage:
    """A message from its bytes. ``ValueError`` when they are not an e-mail (no header of one)."""
    msg = email.message_from_bytes(raw, policy=default_policy)
    if not isinstance(msg, EmailMessage) or not any(msg.get(name) is not None for name in _HEADERS):
        raise ValueError("not an e-mail: none of From, To, Subject, Date or Message-ID")
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    html = _content(html_part) if html_part is not None else ""
    text = _content(text_part) if text_part is not None else ""
    attachments, inline = [], {}
    for number, part in enumerate(msg.walk()):
        if part.is_multipart() or part is html_part or part is text_part:
            continue
        item = Attachment(_filename(part, number), part.get_content_type(), part.get_payload(decode=True) or b"")
        cid = (part.get("Content-ID") or "").strip().strip("<>")
        if cid and f"cid:{cid}" in html:  # shown in the HTML (whatever its disposition says), as mail apps do
            inline[cid] = item
        else:
            attachments.append(item)
    return MailboxMessage(key=key, subject=str(msg.get("Subject") or ""), sender=str(msg.get("From") or ""),
                          to=str(msg.get("To") or ""), date=_date(msg, delivered), text=text, html=html,
                          attachments=tuple(attachments), inline=inline, links=_links(html, text), raw=raw)


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A name that is only a name (no folder, no '..', nothing a file system refuses)."""
    name = _SAFE_NAME.sub("_", Path(name.replace("\\", "/")).name).strip(" .")
    return name[:120] or fallback


def write_attachment(attachment: Attachment, folder: Path) -> Path:
    """Write ``attachment`` into ``folder`` under its own (made safe) name; the path written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / safe_filename(attachment.filename)
    path.write_bytes(attachment.data)
    return path


def write_eml(message: MailboxMessage, folder: Path) -> Path:
    """The message as an .eml file in ``folder`` (what a mail program opens); the path written."""
    folder.mkdir(parents=True, exist_ok=True)
    name = safe_filename(message.subject or "message", "message")[:60]
    path = folder / f"{name} ({safe_filename(message.key, 'message')[:24]}).eml"
    path.write_bytes(message.raw)
    return path


# --- inside ---------------------------------------------------------------------------------------------

def _open(folder: Path | str | None) -> mailbox.Maildir | None:
    if folder is None or not Path(folder).is_dir():
        return None
    return mailbox.Maildir(Path(folder), factory=None, create=False)


def _keys(box: mailbox.Maildir) -> list[str]:
    try:
        return box.keys()
    except OSError as exc:  # cur/ or new/ missing or unreadable: nothing to show
        log.warning("the demo mailbox cannot be read: %s", exc)
        return []


def _read(box: mailbox.Maildir, key: str) -> MailboxMessage | None:
    try:
        raw = box.get_bytes(key)
        delivered = datetime.fromtimestamp(box.get_message(key).get_date(), UTC)
        return parse_message(raw, key, delivered)
    except KeyError:
        log.info("demo mailbox: message %s is gone", key)
    except (OSError, ValueError, TypeError, LookupError, UnicodeError, AttributeError,
            email.errors.MessageError) as exc:
        log.warning("demo mailbox: message %s left out, it cannot be read as an e-mail (%s)", key, exc)
    return None


def _content(part) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError):  # an unknown charset: the bytes as best they go
        return (part.get_payload(decode=True) or b"").decode("utf-8", "replace")


def _filename(part, number: int) -> str:
    name = part.get_filename()
    if name:
        return str(name)
    subtype = part.get_content_subtype()
    return f"part-{number}.{'txt' if subtype == 'plain' else subtype}"


def _date(msg, delivered: datetime | None) -> datetime:
    try:
        header = msg.get("Date")
        when = parsedate_to_datetime(str(header)) if header else None
    except (TypeError, ValueError, IndexError):
        when = None
    if when is not None and when.tzinfo is not None:
        return when.astimezone(UTC)
    if when is not None:  # no zone given: RFC 5322's -0000, "UTC, as far as we know"
        return when.replace(tzinfo=UTC)
    return delivered or datetime.fromtimestamp(0, UTC)


class _Hrefs(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs += [value.strip() for name, value in attrs if name == "href" and value]


def _links(html: str, text: str) -> tuple[str, ...]:
    found = []
    if html:
        parser = _Hrefs()
        parser.feed(html)
        parser.close()
        found += [h for h in parser.hrefs if h.lower().startswith(("http://", "https://"))]
    found += [_trimmed(u) for u in _URL.findall(text)]
    return tuple(dict.fromkeys(found))


def _trimmed(url: str) -> str:
    """A link as written in running text, without the sentence's punctuation after it ("… at https://x.)")."""
    while url and (url[-1] in ".,;:!?'" or (url[-1] == ")" and url.count(")") > url.count("("))):
        url = url[:-1]
    return url
