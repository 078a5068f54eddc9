"""One message through the reseller's SMTP server (aiosmtplib on the running loop), step by step, so that what
went wrong is known exactly: everything refused before the message itself was handed over (connect, TLS,
login, sender, recipient, the DATA command) means nothing was sent; a line that drops or times out after the
message was handed over means the customer may have it. ``on_handover`` runs just before the message goes,
so the journal counts it durably first."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import errors as E

from esimdesk.domain import EsimdeskError
from esimdesk.domain.mail import MailSettings, Security


class NotSent(EsimdeskError):
    """The server refused, or was never reached, before the message was handed over: nothing was sent."""


class MaybeSent(EsimdeskError):
    """The line dropped or timed out after the message was handed over: the server may have accepted it."""


@dataclass(frozen=True, slots=True)
class Accepted:
    reply: str  # the server's answer to the message ("250 2.0.0 Ok: queued as 4F1A2")


def _where(settings: MailSettings) -> str:
    return f"{settings.host}:{settings.port}"


def tls_context(settings: MailSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=settings.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise NotSent(f"the CA file {settings.ca_file} cannot be read ({exc}): Settings → E-mail") from None


def _reply(exc: E.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


async def deliver(settings: MailSettings, password: str | None, sender: str, recipient: str, message: bytes,
                  on_handover: Callable[[], Awaitable[None]]) -> Accepted:
    where = _where(settings)
    tls = settings.security is Security.TLS
    client = aiosmtplib.SMTP(hostname=settings.host, port=settings.port, timeout=settings.timeout, use_tls=tls,
                             start_tls=False, tls_context=tls_context(settings) if settings.security is not Security.NONE else None)
    handed_over = False
    try:
        try:
            await client.connect()
            if settings.security is Security.STARTTLS:
                await client.starttls(tls_context=tls_context(settings))
            if settings.username:
                await client.login(settings.username, password or "")
            await client.mail(sender)
            await client.rcpt(recipient)
            await on_handover()
            handed_over = True
            response = await client.data(message)
        except E.SMTPRecipientRefused as exc:
            raise NotSent(f"{where} refused the address {recipient}: {_reply(exc)}") from None
        except E.SMTPSenderRefused as exc:
            raise NotSent(f"{where} refused the sender {sender}: {_reply(exc)}; check Settings → E-mail") from None
        except E.SMTPAuthenticationError as exc:
            raise NotSent(f"{where} refused the login of {settings.username}: {_reply(exc)}; check the user and "
                          "password in Settings → E-mail") from None
        except E.SMTPDataError as exc:  # an answer in words: the server took responsibility for nothing
            raise NotSent(f"{where} refused the message: {_reply(exc)}") from None
        except E.SMTPNotSupported as exc:
            raise NotSent(f"{where} does not offer {exc}: choose another security in Settings → E-mail") from None
        except (E.SMTPConnectError, E.SMTPConnectTimeoutError) as exc:
            raise NotSent(f"cannot reach the SMTP server {where}: {exc}") from None
        except ssl.SSLError as exc:
            if handed_over:
                raise MaybeSent(f"{where} dropped the TLS line after the message was handed over: the customer may have it") from None
            raise NotSent(f"the TLS connection to {where} failed: {exc.reason or exc}") from None
        except (E.SMTPServerDisconnected, E.SMTPTimeoutError, OSError) as exc:
            if handed_over:
                raise MaybeSent(f"{where} dropped the line after the message was handed over ({_why(exc)}): "
                                "the customer may have it") from None
            raise NotSent(f"{where} dropped the line before the message was handed over ({_why(exc)})") from None
        except E.SMTPResponseException as exc:
            if handed_over:
                raise MaybeSent(f"{where} answered {_reply(exc)} after the message was handed over") from None
            raise NotSent(f"{where} refused: {_reply(exc)}") from None
        except E.SMTPException as exc:
            if handed_over:
                raise MaybeSent(f"{where}: {exc} after the message was handed over") from None
            raise NotSent(f"{where}: {exc}") from None
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (E.SMTPException, OSError):
                client.close()
    return Accepted(f"{response.code} {response.message}".strip())


def _why(exc: BaseException) -> str:
    if isinstance(exc, E.SMTPTimeoutError):
        return "no answer in time"
    text = str(exc).strip()
    return text or type(exc).__name__
