"""The one HTTP path every vendor adapter uses: timeouts, rate limit, retries, typed errors, redaction.

Kept here once so the four adapters only describe their vendor (paths, envelopes, units) and never
re-implement resilience. Reads may be retried; writes (orders, top-ups) are sent exactly once and a
lost answer surfaces as a ``VendorError`` with ``maybe_sent=True`` for the orders service to settle.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
import re
import threading
import urllib.parse
import weakref
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from esimdesk.domain.errors import (
    MalformedResponse,
    VendorAuthError,
    VendorBusy,
    VendorError,
    VendorRejected,
    VendorTimeout,
    VendorUnavailable,
)

log = logging.getLogger("esimdesk.vendors.http")

Check = Callable[[Any], None]


class RedactingFilter(logging.Filter):
    """Replaces known secret values in every log record that passes through.

    A secret can reach a log line in more than its raw form: trimmed (a key pasted with its CR/LF),
    escaped by ``repr`` or JSON, URL-encoded in a query or form, or base64-encoded. Every such form of
    every secret is replaced, longest first at each position, so no partial replacement leaves a tail.
    """

    def __init__(self, secrets: Iterable[str] = ()):
        super().__init__()
        self.secrets: set[str] = {s for s in secrets if s}
        self._lock = threading.Lock()
        self._cache: tuple[int, re.Pattern[str] | None] = (0, None)  # (number of secrets it covers, pattern)

    def add(self, values: Iterable[str]) -> None:
        with self._lock:
            self.secrets.update(v for v in values if v)

    @staticmethod
    def _escaped(value: str) -> set[str]:
        """``value`` as ``repr``, ``unicode_escape``, a bytes ``repr`` and JSON write it (without quotes)."""
        return {
            value,
            repr(value)[1:-1],
            value.encode("unicode_escape").decode("ascii"),
            repr(value.encode("utf-8", "surrogatepass"))[2:-1],
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
        }

    @classmethod
    def forms(cls, secret: str) -> set[str]:
        """Every way ``secret`` can be written into a log line: raw and trimmed, each escaped, URL-encoded
        or base64-encoded, and those escaped once more (a JSON body shown by ``%r``)."""
        first: set[str] = set()
        for value in {secret, secret.strip()} - {""}:
            first |= cls._escaped(value)
            first |= {urllib.parse.quote(value), urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
            raw = value.encode("utf-8", "surrogatepass")
            if len(raw) <= 4096:
                for b64 in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
                    text = b64.decode("ascii")
                    first |= {text, text.rstrip("=")}
        out = set(first)
        for form in first:
            out |= cls._escaped(form)
        out.discard("")
        return out

    def _compiled(self) -> re.Pattern[str] | None:
        covered, pattern = self._cache
        if covered == len(self.secrets):  # secrets are only ever added
            return pattern
        with self._lock:
            known = list(self.secrets)
        forms = set().union(*(self.forms(s) for s in known)) if known else set()
        # Longest first: the regex takes the first alternative that matches at a position, so a longer
        # form (the escaped key with its CR/LF) wins over the shorter one it contains.
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._cache = (len(known), pattern)
        return pattern

    def redact(self, text: str) -> str:
        pattern = self._compiled()
        return pattern.sub("***", text) if pattern is not None else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.redact(record.getMessage())
            record.args = None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        return True


_redactor = RedactingFilter()
log.addFilter(_redactor)
logging.getLogger("esimdesk").addFilter(_redactor)


def install_log_redaction() -> None:
    """Redact known secrets in every record any handler of the root logger emits (logger filters do not
    apply to child loggers' records, handler filters do)."""
    for handler in logging.getLogger().handlers:
        if _redactor not in handler.filters:
            handler.addFilter(_redactor)


def register_secrets(values: Iterable[str]) -> None:
    """Make the app-wide log redactor aware of more secret values (each in every form it can be logged in)."""
    _redactor.add(values)


def redact(text: str) -> str:
    return _redactor.redact(text)


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import datetime as _dt

        when = parsedate_to_datetime(value)
        return max(0.0, (when - _dt.datetime.now(_dt.UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, AsyncLimiter]] = weakref.WeakKeyDictionary()


def _shared_limiter(vendor: str, base_url: str, rate: tuple[float, float]) -> AsyncLimiter:
    """One limiter per vendor account and event loop: every adapter the process opens (an order, the
    reconcile after it, a sync) counts against the same budget, as the vendor counts them."""
    per_loop = _limiters.setdefault(asyncio.get_running_loop(), {})
    key = (vendor, base_url, rate)
    if key not in per_loop:
        per_loop[key] = AsyncLimiter(rate[0], rate[1])
    return per_loop[key]


class VendorHttp:
    """An ``httpx.AsyncClient`` for one vendor plus the rules above.

    ``rate``: (max requests, per seconds) enforced client-side for the whole vendor (all callers share
    it), e.g. Roumio's documented 8 per second.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        timeout: float = 20.0,
        rate: tuple[float, float] | None = None,
        retries: int = 4,
        backoff: float = 0.3,
        max_backoff: float = 8.0,
        secrets: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.vendor = vendor
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate = rate
        self.limiter: AsyncLimiter | None = None  # an explicit one (tests); else the process-wide one for rate
        self.clock_offset: float | None = None  # seconds the vendor's clock is ahead of ours (last answer)
        register_secrets(secrets)
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers or {},
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"VendorHttp(vendor={self.vendor!r}, base_url={str(self.client.base_url)!r})"

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        check: Check | None = None,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        files: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON after ``check`` accepted it.

        ``check`` inspects the vendor's envelope and raises a ``VendorError`` subclass for the
        vendor's own error codes (set ``retryable`` for "busy" codes). ``idempotent`` reads are
        retried with exponential backoff and jitter, honouring ``Retry-After``; writes never are.
        """
        endpoint = path.lstrip("/")
        attempt = 0
        while True:
            try:
                payload = await self._once(method, endpoint, idempotent, json_body, params, data, files, headers, timeout)
                if check is not None:
                    try:
                        check(payload)
                    except VendorError:
                        raise
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        raise MalformedResponse(
                            self.vendor, endpoint, f"unexpected answer shape ({type(exc).__name__})", maybe_sent=not idempotent
                        ) from None
                return payload
            except VendorError as err:
                if not idempotent or not err.retryable or attempt >= self.retries:
                    raise
                delay = min(self.max_backoff, self.backoff * (2**attempt)) * (0.5 + random.random())
                if err.retry_after is not None:
                    delay = max(delay, min(err.retry_after, self.max_backoff * 4))
                attempt += 1
                log.info("%s %s: %s; retry %d in %.2fs", self.vendor, endpoint, err.message, attempt, delay)
                await asyncio.sleep(delay)

    async def _once(self, method, endpoint, idempotent, json_body, params, data, files, headers, timeout) -> Any:
        limiter = self.limiter or (_shared_limiter(self.vendor, str(self.client.base_url), self.rate)
                                   if self.rate is not None else None)
        if limiter is not None:
            await limiter.acquire()
        kwargs: dict[str, Any] = {"params": params, "headers": headers}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None or files is not None:
            kwargs["data"] = data
            kwargs["files"] = files
        if timeout is not None:
            kwargs["timeout"] = timeout
        v, ep = self.vendor, endpoint
        try:
            resp = await self.client.request(method, endpoint, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never reached the vendor: safe to say nothing was sent.
            raise VendorUnavailable(v, ep, f"cannot reach the vendor ({type(exc).__name__})") from None
        except httpx.TimeoutException:
            raise VendorTimeout(v, ep, "no answer in time", maybe_sent=True) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise VendorTimeout(v, ep, f"connection dropped before the answer ({type(exc).__name__})", maybe_sent=True) from None
        except httpx.HTTPError as exc:
            raise VendorUnavailable(v, ep, f"network error ({type(exc).__name__})", maybe_sent=True) from None
        log.debug("%s %s %s -> %s", v, method, ep, resp.status_code)
        self._note_clock(resp.headers.get("Date"))
        return self._decode(resp, ep, idempotent)

    def _note_clock(self, date_header: str | None) -> None:
        """The vendor's clock minus ours, from its ``Date`` header (whole seconds): a vendor's own times
        (e.g. Roamify's ``createdAt``) are compared on its clock, never on a desk clock that may be off."""
        if not date_header:
            return
        try:
            import datetime as _dt

            vendor_now = parsedate_to_datetime(date_header)
            self.clock_offset = (vendor_now - _dt.datetime.now(_dt.UTC)).total_seconds()
        except (TypeError, ValueError, IndexError):
            pass

    def _decode(self, resp: httpx.Response, ep: str, idempotent: bool) -> Any:
        v, status = self.vendor, resp.status_code
        retry_after = _retry_after_seconds(resp.headers.get("Retry-After"))
        if status == 429:
            raise VendorBusy(v, ep, "too many requests; the vendor asks us to slow down", http_status=status,
                             retry_after=retry_after, maybe_sent=False)
        if status >= 500:
            raise VendorBusy(v, ep, "the vendor's server failed", http_status=status, retry_after=retry_after,
                             maybe_sent=not idempotent)
        ctype = resp.headers.get("content-type", "")
        body: Any
        try:
            body = json.loads(resp.content) if resp.content else None
        except (ValueError, UnicodeDecodeError):
            kind = "an HTML page" if "html" in ctype or resp.content[:1] == b"<" else "malformed JSON"
            err_cls = VendorAuthError if status in (401, 403) else MalformedResponse
            raise err_cls(v, ep, (f"answered with {kind} instead of JSON" if kind == "an HTML page" else "answered with a body that is not valid JSON (truncated or malformed)"), http_status=status,
                          maybe_sent=not idempotent) from None
        if status in (401, 403):
            raise VendorAuthError(v, ep, "credentials refused; check the account's key in Settings",
                                  http_status=status, retryable=False)
        if status >= 400:
            msg = _error_text(body) or "request refused"
            raise VendorRejected(v, ep, msg, http_status=status)
        if "json" not in ctype.lower():
            # Body parsed as JSON, but the vendor labelled it otherwise: a proxy or misconfiguration.
            raise MalformedResponse(v, ep, f"answered with content type '{ctype or 'none'}' instead of JSON",
                                    http_status=status, maybe_sent=not idempotent)
        return body


def _error_text(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "msg", "errorMessage", "errorMsg", "error"):
            val = body.get(key)
            if isinstance(val, str) and val:
                return val
    return None
