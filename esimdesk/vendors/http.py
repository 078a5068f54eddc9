"""The one HTTP path every vendor adapter uses: timeouts, rate limit, retries, typed errors, redaction.

Kept here once so the four adapters only describe their vendor (paths, envelopes, units) and never
re-implement resilience. Reads may be retried; writes (orders, top-ups) are sent exactly once and a
lost answer surfaces as a ``VendorError`` with ``maybe_sent=True`` for the orders service to settle.

Every answer is bounded: read as a stream under one overall deadline (``ANSWER_DEADLINE_S``, never
shorter than the request's own timeout, e.g. Roamify's 90 s profile generation) and a size cap
(``MAX_ANSWER_BYTES``); the per-read timeout alone lets an answer that trickles a byte at a time run
forever. Past either the request ends in a sentence (``maybe_sent`` on a write). A body that cannot be
decoded (not JSON, nested too deeply) and a header that cannot be sent (a credential with an invisible
or non-ASCII character) are sentences too, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import re
import ssl
import threading
import unicodedata
import urllib.parse
import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from aiolimiter import AsyncLimiter

from esimdesk.domain.errors import (
    AnswerTooLarge,
    ConfigError,
    MalformedResponse,
    VendorAuthError,
    VendorBusy,
    VendorError,
    VendorRejected,
    VendorTimeout,
    VendorUnavailable,
)
from esimdesk.domain.words import vendor_title
from esimdesk.vendors.credential_names import SECRET_NAMES

log = logging.getLogger("esimdesk.vendors.http")

Check = Callable[[Any], None]

# The longest any one answer may take, from sending the request to its last byte (a documented slower
# call, e.g. Roamify's profile generation, passes its own longer ``timeout``/``deadline``). The per-read
# timeout (20 s) alone lets an answer that trickles a byte every few seconds run forever.
ANSWER_DEADLINE_S = 60.0
# The most any one answer may weigh. The biggest the sandbox serves at its largest scale (50,000 plans,
# 100,000 eSIMs per vendor) is Roamify's eSIM list, one answer of 99.5 MiB (Roumio's whole catalog: 24 MiB).
MAX_ANSWER_BYTES = 256 * 2**20
DEADLINE_ENV = "ESIMDESK_ANSWER_DEADLINE"  # seconds; overrides ANSWER_DEADLINE_S
MAX_ANSWER_ENV = "ESIMDESK_ANSWER_MAX_MB"  # MiB; overrides MAX_ANSWER_BYTES

_CONTROL_NAMES = {"\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x00": "NULL",
                  "\x7f": "DELETE"}


def character_words(ch: str) -> str:
    """``U+200B (ZERO WIDTH SPACE)``: a character named without showing it (it may be invisible)."""
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def unusable_character(value: str) -> tuple[int, str] | None:
    """The first character of a credential that no vendor's key has and no HTTP header can carry as
    typed: a control character or anything outside ASCII (a zero-width space pasted after a key). As
    (1-based position, character); None when every character is plain ASCII."""
    for i, ch in enumerate(value):
        if not " " <= ch <= "~":
            return i + 1, ch
    return None


def credential_problem(what: str, value: str | None) -> str | None:
    """Why ``value`` cannot be used as ``what`` ("the Roumio key"), in a sentence that names the character
    and its position; None when it can. Nothing is stripped silently: the agent pastes it again."""
    found = unusable_character(value or "")
    if found is None:
        return None
    position, ch = found
    invisible = unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cn", "Mn", "Me")
    kind = "an invisible character" if invisible else "a character that is not plain ASCII,"
    return f"{what} has {kind} {character_words(ch)} at position {position}: paste it again without it"


def _credential_name(vendor: str, index: int, count: int) -> str | None:
    """The name (``KEY``) of the index-th of the ``secrets`` an adapter gives (its config's order)."""
    names = SECRET_NAMES.get(vendor, ())
    if len(names) == 1:
        return names[0]
    return names[index] if index < len(names) <= count else None


def _settings_hint(vendor: str, name: str | None = None) -> str:
    names = [name] if name else SECRET_NAMES.get(vendor, ())
    env = " or ".join(f"ESIMDESK_{vendor.upper()}_{n}" for n in names) if names else f"ESIMDESK_{vendor.upper()}_*"
    return f"File → Settings → Vendor accounts, or {env}"


def _env_amount(name: str, default: float, unit: str) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name} must be a number of {unit} above 0, not '{raw}'")
    return value


def _size_words(size: int) -> str:
    return f"{size / 2**20:g} MiB" if size >= 2**20 else f"{size:,} bytes"


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
        if isinstance(record.args, tuple) and any(isinstance(a, VendorError) for a in record.args):
            # The agent reads a vendor's error without its endpoint; the log line keeps where it was said.
            record.args = tuple(a.detail if isinstance(a, VendorError) else a for a in record.args)
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


# json.loads is one call into C: decoding Roamify's 100,000-eSIM listing (104 MB) held Python's GIL for 0.6 s at a
# stretch, and every other thread of the sync (the store's writers, each finishing a SQLite call) waited that long.
# A Python function called for each decoded object is a point where the interpreter hands the GIL over when another
# thread asks for it (every 5 ms): the same decode, no slower (0.60 s against 0.60-0.71 s), in turns of at most
# ~50 ms. Smaller answers (a few ms) are decoded in one go.
TAKES_TURNS_BYTES = 256 * 1024


def _other_threads_may_run(obj: dict) -> dict:
    return obj


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
        when = parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


_tls_lock = threading.Lock()
_tls: ssl.SSLContext | None = None
tls_built_in: str | None = None  # the name of the thread that built it (the tests check it is no GUI's)


def tls_context() -> ssl.SSLContext:
    """The one verifying TLS context every vendor client shares, built on first use: httpx's default (certifi's
    CA file, or SSL_CERT_FILE / SSL_CERT_DIR), whose loading takes ~80 ms. Each client building its own
    cost that on the window's thread at each order, top-up or vendor check; the window builds this one in a
    worker thread at start-up (services/adapters.py ``prepare_tls``)."""
    global _tls, tls_built_in
    with _tls_lock:
        if _tls is None:
            _tls = httpx.create_ssl_context()
            tls_built_in = threading.current_thread().name
        return _tls


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
        answer_deadline: float | None = None,
        max_answer_bytes: int | None = None,
    ):
        self.vendor = vendor
        secrets = list(secrets)
        # A credential no header can carry (a zero-width space pasted after a key): refused in words here,
        # before any request, instead of a UnicodeEncodeError from deep inside httpx.
        for index, value in enumerate(secrets):
            name = _credential_name(vendor, index, len(secrets))
            what = f"the {vendor_title(vendor)} {name.lower()}" if name else f"a {vendor_title(vendor)} credential"
            problem = credential_problem(what, value)
            if problem:
                raise ConfigError(f"{problem} ({_settings_hint(vendor, name)}); nothing was sent to "
                                  f"{vendor_title(vendor)}")
        # The whole answer's deadline and size cap: ESIMDESK_ANSWER_DEADLINE / _MAX_MB, else the constants.
        self.answer_deadline = (answer_deadline if answer_deadline is not None
                                else _env_amount(DEADLINE_ENV, ANSWER_DEADLINE_S, "seconds"))
        self.max_answer_bytes = (max_answer_bytes if max_answer_bytes is not None
                                 else int(_env_amount(MAX_ANSWER_ENV, MAX_ANSWER_BYTES / 2**20, "MiB") * 2**20))
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.rate = rate
        self.limiter: AsyncLimiter | None = None  # an explicit one (tests); else the process-wide one for rate
        self.clock_offset: float | None = None  # seconds the vendor's clock is ahead of ours (last answer)
        register_secrets(secrets)
        try:
            self.client = httpx.AsyncClient(
                base_url=base_url.rstrip("/") + "/",
                headers=headers or {},
                auth=auth,
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                transport=transport,
                verify=tls_context() if transport is None else True,  # a given transport makes no TLS of its own
                follow_redirects=False,
            )
        except UnicodeEncodeError as exc:  # a header that is no credential: still words, never a traceback
            raise ConfigError(f"{_header_problem(exc)} ({_settings_hint(vendor)}); nothing was sent to "
                              f"{vendor_title(vendor)}") from None

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
        deadline: float | None = None,
    ) -> Any:
        """Send one request and return its decoded JSON after ``check`` accepted it.

        ``check`` inspects the vendor's envelope and raises a ``VendorError`` subclass for the
        vendor's own error codes (set ``retryable`` for "busy" codes). ``idempotent`` reads are
        retried with exponential backoff and jitter, honouring ``Retry-After``; writes never are.
        ``timeout``: this request's per-read timeout; ``deadline``: its whole answer's, for a call the
        vendor documents as slower. Each attempt's deadline is the longest of those and the desk's.
        """
        endpoint = path.lstrip("/")
        attempt = 0
        while True:
            try:
                payload = await self._once(method, endpoint, idempotent, json_body, params, data, files, headers, timeout,
                                           deadline)
                if check is not None:
                    try:
                        check(payload)
                    except VendorError:
                        raise
                    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
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

    def deadline_for(self, timeout: float | None = None, deadline: float | None = None) -> float:
        """One attempt's overall deadline: the desk's, or longer where the call asks for longer."""
        return max(self.answer_deadline, timeout or 0.0, deadline or 0.0)

    async def _once(self, method, endpoint, idempotent, json_body, params, data, files, headers, timeout,
                    deadline=None) -> Any:
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
        limit = self.deadline_for(timeout, deadline)
        budget = asyncio.timeout(limit)
        try:
            async with budget:
                try:
                    async with self.client.stream(method, endpoint, **kwargs) as resp:
                        content = await self._read_capped(resp, ep, idempotent)
                except UnicodeEncodeError as exc:
                    # A header httpx cannot encode (checked before anything is sent): nothing left here.
                    raise VendorAuthError(v, ep, f"{_header_problem(exc)} (check the account's credentials in "
                                          "Settings); nothing was sent", retryable=False) from None
                except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                    # Never reached the vendor: safe to say nothing was sent.
                    raise VendorUnavailable(v, ep, f"cannot reach the vendor ({type(exc).__name__})") from None
                except httpx.TimeoutException:
                    raise VendorTimeout(v, ep, "no answer in time", maybe_sent=True) from None
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                    raise VendorTimeout(v, ep, f"connection dropped before the answer ({type(exc).__name__})",
                                        maybe_sent=True) from None
                except httpx.HTTPError as exc:
                    raise VendorUnavailable(v, ep, f"network error ({type(exc).__name__})", maybe_sent=True) from None
        except TimeoutError:
            if not budget.expired():
                raise
            # The vendor may be acting on it (an order placed, its answer trickling): a write is UNCERTAIN.
            # Not retried: an answer that took the whole deadline would take it again.
            raise VendorTimeout(v, ep, f"no complete answer within {limit:g} s", maybe_sent=True,
                                retryable=False) from None
        log.debug("%s %s %s -> %s (%d bytes)", v, method, ep, resp.status_code, len(content))
        self._note_clock(resp.headers.get("Date"))
        return self._decode(resp, ep, idempotent, content)

    async def _read_capped(self, resp: httpx.Response, ep: str, idempotent: bool) -> bytearray:
        """The answer's body, read as it streams in, refused past ``max_answer_bytes`` (the declared
        length is believed only when it already says too much)."""
        cap = self.max_answer_bytes

        def too_large() -> AnswerTooLarge:
            return AnswerTooLarge(self.vendor, ep, f"the answer passed {_size_words(cap)}: not read (no page of a "
                                  "vendor's API is that big: check the vendor's address in Settings, or try again "
                                  "later)", http_status=resp.status_code, maybe_sent=not idempotent)

        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise too_large()
        body = bytearray()
        async for chunk in resp.aiter_bytes():
            body += chunk
            if len(body) > cap:
                raise too_large()
        return body  # json.loads takes it as it is: no second copy of a big answer

    def _note_clock(self, date_header: str | None) -> None:
        """The vendor's clock minus ours, from its ``Date`` header (whole seconds): a vendor's own times
        (e.g. Roamify's ``createdAt``) are compared on its clock, never on a desk clock that may be off."""
        if not date_header:
            return
        try:
            vendor_now = parsedate_to_datetime(date_header)
            self.clock_offset = (vendor_now - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError, IndexError):
            pass

    def _decode(self, resp: httpx.Response, ep: str, idempotent: bool, content: bytes | bytearray | None = None) -> Any:
        v, status = self.vendor, resp.status_code
        content = resp.content if content is None else content
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
            hook = _other_threads_may_run if len(content) >= TAKES_TURNS_BYTES else None  # None: json's own
            body = json.loads(content, object_hook=hook) if content else None
        except RecursionError:
            # Valid JSON nested deeper than Python's parser goes (thousands of levels): no vendor's answer.
            err_cls = VendorAuthError if status in (401, 403) else MalformedResponse
            raise err_cls(v, ep, "answered with JSON nested too deeply to read", http_status=status,
                          maybe_sent=not idempotent) from None
        except (ValueError, UnicodeDecodeError):
            kind = "an HTML page" if "html" in ctype or content[:1] == b"<" else "malformed JSON"
            err_cls = VendorAuthError if status in (401, 403) else MalformedResponse
            raise err_cls(v, ep, (f"answered with {kind} instead of JSON" if kind == "an HTML page" else "answered with a body that is not valid JSON (truncated or malformed)"), http_status=status,
                          maybe_sent=not idempotent) from None
        if status in (401, 403):
            raise VendorAuthError(v, ep, "credentials refused; check the account's key in Settings",
                                  http_status=status, retryable=False)
        if status >= 400:
            msg = _error_text(body) or "request refused"
            refused = VendorRejected(v, ep, msg, http_status=status)
            refused.payload = body
            raise refused
        if "json" not in ctype.lower():
            # Body parsed as JSON, but the vendor labelled it otherwise: a proxy or misconfiguration.
            raise MalformedResponse(v, ep, f"answered with content type '{ctype or 'none'}' instead of JSON",
                                    http_status=status, maybe_sent=not idempotent)
        return body


def _header_problem(exc: UnicodeEncodeError) -> str:
    """A header value httpx could not encode, in words: which character, where (never the value)."""
    text = exc.object if isinstance(exc.object, str) else ""
    ch = text[exc.start] if 0 <= exc.start < len(text) else "?"
    return f"a request header has a character that cannot be sent, {character_words(ch)} at position {exc.start + 1}"


def _error_text(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "msg", "errorMessage", "errorMsg", "error"):
            val = body.get(key)
            if isinstance(val, str) and val:
                return val
    return None
