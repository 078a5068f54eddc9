"""A real SMTP server for the tests (aiosmtpd, in-process on 127.0.0.1): STARTTLS or TLS on connect with a
certificate made here by openssl, a login, and the faults a real server shows: a refused address, a refused
login, a line dropped after the message was handed over (DATA), an answer that never comes."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "desk@reseller.example", "s3cret-smtp-pw"
REFUSED = "nobody@refused.example"


def make_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA file: the desk trusts it through ``ca_file``)."""
    key, crt = folder / "smtp.key", folder / "smtp.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return key, crt


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Handler:
    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    drop_after_data: bool = False  # take the message, then close the line without answering
    refuse_data: bool = False  # answer 554 to the message
    data_calls: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() == REFUSED:
            return "550 5.1.1 <nobody@refused.example>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_calls += 1
        if self.refuse_data:
            return "554 5.7.1 Message rejected as spam"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.drop_after_data:
            server.transport.close()  # the message arrived; its answer never does
            return "250 queued (never seen by the client)"
        return f"250 2.0.0 Ok: queued as Q{len(self.messages):04d}"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


class SmtpServer:
    """``security``: "starttls" or "tls"."""

    def __init__(self, folder: Path, security: str = "starttls"):
        self.key, self.cert = make_cert(folder)
        self.handler = Handler()
        self.port = free_port()
        self.security = security
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.cert), str(self.key))
        kwargs = {"authenticator": _authenticate, "auth_required": True, "auth_require_tls": True}
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)
        else:
            # aiosmtpd sees only STARTTLS as TLS when it offers AUTH; on a TLS-from-the-first-byte line it is TLS anyway.
            kwargs["auth_require_tls"] = False
            self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, ssl_context=context,
                                         **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def messages(self):
        return self.handler.messages
