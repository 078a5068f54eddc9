"""Handing an eSIM over by e-mail: the reseller's SMTP settings, a customer's address, and the journal entry
of one sending (issue 30)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from esimdesk.domain.errors import InvalidInput
from esimdesk.domain.models import OrderStatus


class Security(StrEnum):
    STARTTLS = "starttls"  # plain connection upgraded with STARTTLS (port 587)
    TLS = "tls"  # TLS from the first byte (port 465)
    NONE = "none"  # no encryption: only to this computer (the demo's mail sink, a relay on localhost)


DEFAULT_PORTS = {Security.STARTTLS: 587, Security.TLS: 465, Security.NONE: 25}
LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, slots=True)
class MailSettings:
    """Settings → E-mail, kept in settings.json; the password is in the OS keychain only (never here)."""

    host: str = ""
    port: int = 587
    security: Security = Security.STARTTLS
    username: str = ""  # empty: the server takes mail without a login (a local relay, the demo's sink)
    from_address: str = ""
    reseller_name: str = ""  # signs the message and names the sender ("Acme Travel <support@acme.example>")
    language: str = "en"  # the default for a customer with none chosen
    timeout: float = 30.0
    ca_file: str = ""  # a server whose certificate comes from the company's own authority: its CA file (PEM)

    def problem(self) -> str | None:
        """Why these settings cannot send, in words; None when they can be tried."""
        if not self.host:
            return "no SMTP server is set: Settings → E-mail"
        if not self.from_address:
            return "no sender address is set: Settings → E-mail"
        if not 0 < self.port < 65536:
            return f"the SMTP port {self.port} is not a port number"
        if self.security is Security.NONE and self.host not in LOCAL_HOSTS and self.username:
            return "a login is never sent without encryption: choose STARTTLS or TLS in Settings → E-mail"
        return None

    def to_json(self) -> dict:
        return {"host": self.host, "port": self.port, "security": self.security.value, "username": self.username,
                "from_address": self.from_address, "reseller_name": self.reseller_name, "language": self.language,
                "timeout": self.timeout, "ca_file": self.ca_file}

    @classmethod
    def from_json(cls, data: dict | None) -> MailSettings:
        data = data or {}
        try:
            security = Security(data.get("security") or Security.STARTTLS)
        except ValueError:
            security = Security.STARTTLS
        try:
            port = int(data.get("port") or DEFAULT_PORTS[security])
        except (TypeError, ValueError):
            port = DEFAULT_PORTS[security]
        try:
            timeout = float(data.get("timeout") or 30.0)
        except (TypeError, ValueError):
            timeout = 30.0
        return cls(host=str(data.get("host") or "").strip(), port=port, security=security,
                   username=str(data.get("username") or "").strip(),
                   from_address=str(data.get("from_address") or "").strip(),
                   reseller_name=str(data.get("reseller_name") or "").strip(),
                   language=str(data.get("language") or "en"), timeout=timeout,
                   ca_file=str(data.get("ca_file") or "").strip())


# Deliberately plain: one @, a dotted domain, no spaces or angle brackets. Whether a mailbox exists only the
# customer's server can tell; this catches what an agent mistypes ("anna@gmail", "anna gmail.com").
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def validate_email(text: str) -> str:
    """The address as it will be used (trimmed), or ``InvalidInput`` saying what is wrong with it."""
    address = (text or "").strip()
    if not address:
        raise InvalidInput("no e-mail address: type the customer's address")
    if len(address) > 254:
        raise InvalidInput("the e-mail address is longer than 254 characters")
    if address.count("@") != 1:
        raise InvalidInput(f"{address!r} is not an e-mail address: it needs exactly one @")
    local, domain = address.split("@")
    if not local or len(local) > 64 or local.startswith(".") or local.endswith(".") or ".." in local:
        raise InvalidInput(f"{address!r} is not an e-mail address: the part before @ is not valid")
    if "." not in domain:
        raise InvalidInput(f"{address!r} is not an e-mail address: {domain!r} needs a dot (e.g. gmail.com)")
    if not _ADDRESS.match(address):
        raise InvalidInput(f"{address!r} is not an e-mail address: it has a space or a character not allowed")
    return address


class DeliveryKind(StrEnum):
    ESIM = "esim"  # one eSIM, from Fleet
    ORDER = "order"  # every eSIM of an order, from Orders


@dataclass(frozen=True, slots=True)
class Delivery:
    """One e-mail to a customer, journaled like an order. ``state``: PENDING (recorded, not yet handed to the
    server), COMPLETED (the server accepted it: sent), FAILED (refused before the message was handed over:
    nothing sent), UNCERTAIN (the line dropped after the message was handed over: the customer may have it;
    only the agent's word sends it again)."""

    id: int
    kind: DeliveryKind
    vendor: str
    ref: str  # the ICCID or the order id
    iccids: tuple[str, ...]
    to_address: str
    language: str
    state: OrderStatus
    desk_id: str
    message_id: str
    created_at: datetime
    updated_at: datetime
    agent: str | None = None
    subject: str | None = None
    server: str | None = None
    smtp_reply: str | None = None
    last_error: str | None = None
    attempts: int = 0
    sent_at: datetime | None = None
    lease_owner: str | None = None  # the process sending it right now
    lease_until: float | None = None
    events: tuple[DeliveryEvent, ...] = field(default=())

    @property
    def sent(self) -> bool:
        return self.state is OrderStatus.COMPLETED

    @property
    def may_have_reached(self) -> bool:
        """Sent, or may have been (the line dropped after DATA): sending it again takes the agent's word."""
        return self.state in REACHED_OR_MAYBE


REACHED_OR_MAYBE = frozenset({OrderStatus.COMPLETED, OrderStatus.UNCERTAIN})


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    at: datetime
    from_state: str | None
    to_state: str
    cause: str


STATE_WORDS = {
    OrderStatus.PENDING: "sending",
    OrderStatus.COMPLETED: "sent",
    OrderStatus.FAILED: "not sent",
    OrderStatus.UNCERTAIN: "may have been sent",
}


def delivery_line(d: Delivery) -> str:
    """A line of an eSIM's or order's history: "2026-12-06 17:40 UTC  e-mail sent to anna@example.com (es) — desk A"."""
    what = STATE_WORDS.get(d.state, d.state.value.lower())
    why = f": {d.last_error}" if d.last_error and d.state is not OrderStatus.COMPLETED else ""
    at = d.sent_at or d.updated_at
    return f"{at:%Y-%m-%d %H:%M} UTC  e-mail {what} to {d.to_address} ({d.language}){why} (desk {d.desk_id})"
