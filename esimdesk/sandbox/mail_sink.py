"""The demo's mail sink: an SMTP server on 127.0.0.1 that takes every message (no TLS, no login) and keeps
it in a Maildir folder, where the window's demo mailbox reads it as the customer would get it.

``MailSink(folder).start()`` listens on a free port (``.port``) from a background thread (aiosmtpd's
``Controller``); ``stop()`` closes it. Several sinks (the window, ``esimdesk --demo send``) may write into
one folder at once: a Maildir is made for that (each message its own file, moved into ``new/`` whole).
"""

from __future__ import annotations

import logging
import mailbox
from pathlib import Path

from aiosmtpd.controller import Controller

log = logging.getLogger("esimdesk.sandbox.mail")

HOST = "127.0.0.1"


class _KeepEverything:
    """aiosmtpd's handler: every message accepted, stored as it came (with the envelope's recipients)."""

    def __init__(self, folder: Path):
        self.folder = folder

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        head = f"Return-Path: <{envelope.mail_from or ''}>\r\nDelivered-To: {', '.join(envelope.rcpt_tos)}\r\n"
        try:
            key = mailbox.Maildir(self.folder, create=True).add(head.encode("utf-8") + content)
        except OSError as exc:
            log.warning("the demo mail sink could not keep a message in %s: %s", self.folder, exc)
            return "451 Requested action aborted: the demo mailbox cannot be written"
        log.info("demo mail sink: message %s to %s", key, ", ".join(envelope.rcpt_tos))
        return f"250 Message accepted for delivery (demo mailbox {key})"


class _FreePortController(Controller):
    """aiosmtpd's threaded controller on a port the system picks (its own port 0 cannot be reached back)."""

    def _create_server(self):
        return self._bind()

    async def _bind(self):
        server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=0)
        self.port = server.sockets[0].getsockname()[1]  # before start() connects to it
        return server


class MailSink:
    """``with MailSink(folder) as sink: smtp to 127.0.0.1:sink.port`` — every message lands in ``folder``."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.port = 0
        self._controller: _FreePortController | None = None

    def start(self) -> MailSink:
        mailbox.Maildir(self.folder, create=True)  # the folder exists (empty) even before the first message
        controller = _FreePortController(_KeepEverything(self.folder), hostname=HOST, port=0,
                                         server_hostname="demo-mail-sink.localhost")
        controller.start()
        self._controller, self.port = controller, controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
