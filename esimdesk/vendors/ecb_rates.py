"""The European Central Bank's euro reference rates (rates-and-install-links.md §1) as ``Quote``s.

Two public files, no key: ``eurofxref-daily.xml`` (the latest working day) and ``eurofxref-hist-90d.xml``
(one ``Cube time=…`` block per working day of the last 90 days). Every rate is "units of the currency per
1 EUR", so each becomes ``Quote('ecb', 'EUR', currency, rate, day)``. The XML is read by namespace URI
(the old ``ecb.int`` one), never by prefix; rates are ``Decimal`` from their text; the list of currencies
is read from the file (it changes: HRK went in 2023, BGN in 2026). Of several days, the newest of each
currency is kept: a currency missing from the newest day keeps its last quoted day.

The answer is read through ``VendorHttp`` (the vendors' one HTTP path: timeouts, the whole answer's
deadline, a size cap, errors in words); only its decoding differs: XML, not JSON. An answer that is not
the rates file (HTML, truncated XML, no rate at all) is a ``MalformedResponse`` in words.
"""

from __future__ import annotations

import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from esimdesk.domain import MalformedResponse, VendorRejected
from esimdesk.domain.exchange import Quote
from esimdesk.vendors.http import VendorHttp

log = logging.getLogger("esimdesk.vendors.ecb")

ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/"
ECB_URL_ENV = "ESIMDESK_ECB_URL"  # another base URL (the files' folder): a mirror, or the sandbox
DAILY = "eurofxref-daily.xml"
HIST_90D = "eurofxref-hist-90d.xml"
NAMESPACE = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
CUBE = f"{{{NAMESPACE}}}Cube"
SOURCE = "ecb"
LABEL = "ECB"  # how errors name it: "ECB eurofxref-daily.xml: …"
# The 90-day file is about 100 KB; the full history (never asked for here) about 6 MB.
MAX_BYTES = 4 * 2**20


def ecb_url(env: Mapping[str, str] | None = None) -> str:
    """The ECB files' base URL: ``ESIMDESK_ECB_URL`` from ``env`` (the demo sandbox's, see
    SandboxServer.env), else from the process environment, else the ECB's own."""
    url = (env or {}).get(ECB_URL_ENV) or os.environ.get(ECB_URL_ENV) or ECB_URL
    return url.rstrip("/") + "/"


def _bad(endpoint: str, what: str) -> MalformedResponse:
    return MalformedResponse(LABEL, endpoint, f"{what}; the reference rates were not read")


def parse_rates(content: bytes | str, endpoint: str = DAILY) -> list[Quote]:
    """The quotes of an ECB rates file (daily or 90-day), the newest day of each currency, sorted by
    currency. ``MalformedResponse`` in words for anything that is not such a file."""
    raw = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    if not raw.strip():
        raise _bad(endpoint, "the answer is empty")
    if b"<!DOCTYPE" in raw[:4096].upper() or b"<!ENTITY" in raw[:4096].upper():
        raise _bad(endpoint, "the answer declares a DOCTYPE or entities, which the ECB's file never does")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise _bad(endpoint, f"the answer is not readable XML ({exc})") from None
    newest: dict[str, Quote] = {}
    days = 0
    for day_cube in root.iter(CUBE):
        when = day_cube.get("time")
        if when is None:
            continue
        try:
            day = date.fromisoformat(when.strip())
        except ValueError:
            raise _bad(endpoint, f"a day is dated '{when}', not YYYY-MM-DD") from None
        days += 1
        for cube in day_cube.findall(CUBE):
            code, text = (cube.get("currency") or "").strip().upper(), (cube.get("rate") or "").strip()
            if len(code) != 3 or not code.isalpha():
                raise _bad(endpoint, f"the day {when} lists a currency '{code}' that is no ISO code")
            try:
                quote = Quote(SOURCE, "EUR", code, Decimal(text), day)
            except (InvalidOperation, ValueError):
                raise _bad(endpoint, f"the {code} rate of {when}, '{text}', is not a positive number") from None
            if code not in newest or newest[code].as_of < day:
                newest[code] = quote
    if not newest:
        where = "no day of rates" if days == 0 else "days without any rate"
        raise _bad(endpoint, f"the answer has {where} (no Cube elements in the ECB's namespace {NAMESPACE})")
    return [newest[c] for c in sorted(newest)]


class _XmlHttp(VendorHttp):
    """``VendorHttp`` whose answer is the body's bytes (an XML file), not decoded JSON."""

    def _decode(self, resp: httpx.Response, ep: str, idempotent: bool, content: Any = None) -> Any:
        status = resp.status_code
        content = resp.content if content is None else content
        if status == 429 or status >= 500:
            return super()._decode(resp, ep, idempotent, content)  # busy: VendorBusy, retried
        if 300 <= status < 400:
            where = resp.headers.get("location", "another address")
            raise MalformedResponse(LABEL, ep, f"the file moved to {where}: set {ECB_URL_ENV} to its folder",
                                    http_status=status, retryable=False)
        if status >= 400:
            raise VendorRejected(LABEL, ep, "the rates file is not at this address (check "
                                 f"{ECB_URL_ENV})", http_status=status)
        ctype = resp.headers.get("content-type", "").lower()
        if "html" in ctype:
            raise MalformedResponse(LABEL, ep, "answered with an HTML page instead of the XML rates file",
                                    http_status=status)
        return bytes(content)


class EcbRates:
    """``async with EcbRates(url) as ecb: quotes = await ecb.latest()``."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 20.0, retries: int = 1,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.base_url = (base_url or ecb_url()).rstrip("/") + "/"
        # One retry: the rates are asked again at the next sync, a desk offline should not wait long.
        self.http = _XmlHttp(LABEL, self.base_url, headers={"Accept": "application/xml, text/xml"},
                             timeout=timeout, retries=retries, transport=transport, max_answer_bytes=MAX_BYTES)

    async def fetch(self, name: str = DAILY) -> list[Quote]:
        """The quotes of one of the ECB's files (``DAILY`` or ``HIST_90D``) below the base URL."""
        content = await self.http.request("GET", name, idempotent=True)
        return parse_rates(content, name)

    async def latest(self) -> list[Quote]:
        return await self.fetch(DAILY)

    async def last_90_days(self) -> list[Quote]:
        """The 90-day file, the newest day of each currency (one missing lately keeps its last day)."""
        return await self.fetch(HIST_90D)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> EcbRates:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
