"""Simulated European Central Bank reference-rate files (rates-and-install-links.md §1), for the demo and tests.

Mounted at ``/ecb`` so the files are ``/ecb/stats/eurofxref/eurofxref-daily.xml`` and
``/ecb/stats/eurofxref/eurofxref-hist-90d.xml`` (the ECB's own paths below its host). Written in the
ECB's verbatim format: the gesmes envelope with both namespaces, tab-indented, single-quoted attributes,
``text/xml``. The daily file is dated the last TARGET working day on or before the sandbox's today (its
shared clock, UTC); the 90-day file holds one ``Cube time=…`` per working day of the last 90 calendar days,
newest first. 29 currencies (the 2026 list: BGN left on 1 January 2026), EUR not listed; each rate drifts
a little from day to day, deterministically (the same day always has the same rates).

Roamify's simulated ``/api/rates`` (roamify.py) quotes the cross rates of the same day's table.
Faults: ``Sandbox.faults["ecb"]`` (e.g. ``Fault("malformed")``, ``Fault("http_503")``, ``Fault("drop")``).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from dateutil.easter import easter  # Good Friday and Easter Monday: the ECB publishes no rates on them
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MOUNT = "/ecb"
FOLDER = "/stats/eurofxref"
DAILY = "eurofxref-daily.xml"
HIST_90D = "eurofxref-hist-90d.xml"

# The ECB's rates of 2024-06-28 (the documented sample's USD, JPY, HKD, IDR; the others of that day),
# without BGN: 29 currencies.
BASE_RATES: dict[str, str] = {
    "USD": "1.0705", "JPY": "171.94", "CZK": "25.025", "DKK": "7.4575", "GBP": "0.84638", "HUF": "395.65",
    "PLN": "4.3090", "RON": "4.9768", "SEK": "11.3503", "CHF": "0.9634", "ISK": "148.70", "NOK": "11.3965",
    "TRY": "35.1634", "AUD": "1.6079", "BRL": "5.8915", "CAD": "1.4670", "CNY": "7.7748", "HKD": "8.3594",
    "IDR": "17487.21", "ILS": "4.0324", "INR": "89.2495", "KRW": "1482.47", "MXN": "19.5654", "MYR": "5.0501",
    "NZD": "1.7601", "PHP": "62.743", "SGD": "1.4513", "THB": "39.322", "ZAR": "19.4970",
}
PEGGED = {"DKK"}  # held in ERM II: barely moves
HISTORY_DAYS = 90


def is_working_day(day: date) -> bool:
    """A TARGET working day: not a weekend, New Year's Day, Good Friday, Easter Monday, 1 May, 25/26 Dec."""
    if day.weekday() >= 5 or (day.month, day.day) in {(1, 1), (5, 1), (12, 25), (12, 26)}:
        return False
    sunday = easter(day.year)
    return day not in (sunday - timedelta(days=2), sunday + timedelta(days=1))


def last_working_day(today: date) -> date:
    day = today
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def rates_on(day: date) -> dict[str, Decimal]:
    """The day's rates per 1 EUR: each base rate moved by a small deterministic drift (under ±1.5 %),
    rounded to the base rate's own decimal places."""
    out: dict[str, Decimal] = {}
    n = day.toordinal()
    for i, (code, text) in enumerate(BASE_RATES.items()):
        base = Decimal(text)
        swing = 0.0005 if code in PEGGED else 0.012
        drift = swing * math.sin(n / (9.0 + i % 7) + i) + swing / 4 * math.sin(n * 0.61 + i * 1.7)
        out[code] = (base * Decimal(str(round(1 + drift, 8)))).quantize(base, rounding=ROUND_HALF_EVEN)
    return out


def cross_rate(day: date, source: str, target: str) -> Decimal | None:
    """1 ``source`` in ``target`` on ``day`` from the ECB's table (EUR is 1); None for a code it lacks."""
    table = {**rates_on(day), "EUR": Decimal(1)}
    a, b = table.get(source.upper()), table.get(target.upper())
    return None if a is None or b is None else b / a


def _day_block(day: date) -> list[str]:
    lines = [f"\t\t<Cube time='{day.isoformat()}'>"]
    lines += [f"\t\t\t<Cube currency='{code}' rate='{rate}'/>" for code, rate in rates_on(day).items()]
    lines.append("\t\t</Cube>")
    return lines


def rates_file(days: list[date]) -> str:
    """An ECB rates file holding ``days`` in the order given (the ECB puts the newest first)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
        'xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">',
        "\t<gesmes:subject>Reference rates</gesmes:subject>",
        "\t<gesmes:Sender>",
        "\t\t<gesmes:name>European Central Bank</gesmes:name>",
        "\t</gesmes:Sender>",
        "\t<Cube>",
    ]
    for day in days:
        lines += _day_block(day)
    lines += ["\t</Cube>", "</gesmes:Envelope>"]
    return "\n".join(lines) + "\n"


def daily_file(today: date) -> str:
    return rates_file([last_working_day(today)])


def history_file(today: date, days: int = HISTORY_DAYS) -> str:
    span = [today - timedelta(days=k) for k in range(days)]
    return rates_file([d for d in span if is_working_day(d)])


class EcbSandbox:
    """The two files, dated from ``clock`` (the sandbox's shared clock: ``now()`` in epoch seconds)."""

    def __init__(self, clock) -> None:
        self.clock = clock

    def today(self) -> date:
        return datetime.fromtimestamp(self.clock.now(), UTC).date()

    def routes(self) -> list[Route]:
        return [Route(f"{FOLDER}/{DAILY}", self._daily, methods=["GET"]),
                Route(f"{FOLDER}/{HIST_90D}", self._history, methods=["GET"])]

    async def _daily(self, request: Request) -> Response:
        return Response(daily_file(self.today()), media_type="text/xml")

    async def _history(self, request: Request) -> Response:
        return Response(history_file(self.today()), media_type="text/xml")

    @staticmethod
    def busy_response() -> Response:
        return Response("<html><body><h1>503 Service Unavailable</h1></body></html>", status_code=503,
                        media_type="text/html", headers={"Retry-After": "1"})
