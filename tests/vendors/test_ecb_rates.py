"""The ECB's reference-rate files (rates-and-install-links.md §1): the documented sample, the sandbox's
files over real HTTP (daily and 90-day), and every answer that is not such a file refused in words."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from esimdesk.domain import EsimdeskError, MalformedResponse, VendorError
from esimdesk.domain.exchange import Quote, cross, is_working_day
from esimdesk.sandbox import Fault
from esimdesk.vendors.ecb_rates import ECB_URL, EcbRates, ecb_url, parse_rates

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ecb" / "eurofxref-daily-2024-06-28.xml"
SAMPLE_SHA256 = "dee9f74b6bda41dfa94f97c6a7d9f7282b3fb14b5c6ceba1e4a4b88e53ecfbea"
NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"


def envelope(*days: tuple[str, dict[str, str]], prefix: str = "") -> str:
    """An ECB file with these (date, {currency: rate}) days; ``prefix``: the namespace bound to a prefix."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    body = "".join(f"<{p}Cube time='{when}'>" + "".join(f"<{p}Cube currency='{c}' rate='{r}'/>"
                                                      for c, r in rates.items()) + f"</{p}Cube>"
                   for when, rates in days)
    return ('<?xml version="1.0" encoding="UTF-8"?><gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" '
            f'{xmlns}><gesmes:subject>Reference rates</gesmes:subject><{p}Cube>{body}</{p}Cube></gesmes:Envelope>')


def test_the_documented_sample_is_unchanged_and_parses_as_decimals():
    raw = SAMPLE.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SAMPLE_SHA256, "the ECB sample is copied verbatim, never edited"
    quotes = {q.currency: q for q in parse_rates(raw)}
    assert set(quotes) == {"USD", "JPY", "HKD", "IDR"}  # read from the file, EUR not listed
    assert quotes["USD"] == Quote("ecb", "EUR", "USD", Decimal("1.0705"), date(2024, 6, 28))
    assert quotes["IDR"].rate == Decimal("17487.21") and quotes["JPY"].rate == Decimal("171.94")
    # The document's worked example: 1 HKD = 1.0705 / 8.3594 USD = 0.12806 USD.
    per_eur = {c: q.rate for c, q in quotes.items()}
    assert round(cross(per_eur, "HKD", "USD"), 5) == Decimal("0.12806")


def test_the_namespace_is_matched_by_uri_not_prefix():
    text = envelope(("2024-06-28", {"USD": "1.0705"}), prefix="ecb")
    assert [q.currency for q in parse_rates(text)] == ["USD"]
    other = text.replace(NS, "http://example.com/not-the-ecb")
    with pytest.raises(MalformedResponse, match="no day of rates"):
        parse_rates(other)


def test_ninety_days_keep_the_newest_day_of_each_currency_even_one_missing_lately():
    text = envelope(
        ("2024-06-28", {"USD": "1.0705", "JPY": "171.94"}),  # newest first, as the ECB writes it
        ("2024-06-27", {"USD": "1.0713", "JPY": "171.97", "RUB": "91.0000"}),
        ("2024-06-26", {"USD": "1.0683", "ISK": "148.90", "JPY": "171.10"}),
    )
    quotes = {q.currency: q for q in parse_rates(text)}
    assert quotes["USD"] == Quote("ecb", "EUR", "USD", Decimal("1.0705"), date(2024, 6, 28))
    assert quotes["RUB"].as_of == date(2024, 6, 27) and quotes["RUB"].rate == Decimal("91.0000")
    assert quotes["ISK"].as_of == date(2024, 6, 26)
    # Oldest first gives the same answer: the newest day wins whatever the order.
    reverse = envelope(("2024-06-26", {"USD": "1.0683"}), ("2024-06-28", {"USD": "1.0705"}))
    assert parse_rates(reverse)[0].as_of == date(2024, 6, 28)


@pytest.mark.parametrize("body, words", [
    (b"", "empty"),
    (b"   \n", "empty"),
    (b"<gesmes:Envelope><Cube>", "not readable XML"),
    (b'{"status": "ok"}', "not readable XML"),
    (b"<html><body>Maintenance</body></html>", "no day of rates"),
    (envelope(("2024-06-28", {})).encode(), "days without any rate"),
    (envelope(("28/06/2024", {"USD": "1.07"})).encode(), "not YYYY-MM-DD"),
    (envelope(("2024-06-28", {"USD": "one"})).encode(), "'one', is not a positive number"),
    (envelope(("2024-06-28", {"USD": "-1.07"})).encode(), "is not a positive number"),
    (envelope(("2024-06-28", {"US$": "1.07"})).encode(), "no ISO code"),
    (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "DOCTYPE"),
])
def test_malformed_answers_are_refused_in_words(body, words):
    with pytest.raises(MalformedResponse, match=words) as err:
        parse_rates(body)
    # the agent reads the source by its name; the file read stays in the detail the log gets (issue 29, 8)
    assert str(err.value).startswith("ECB: ") and "not read" in str(err.value)
    assert err.value.detail.startswith("ECB eurofxref-daily.xml: ")


def test_the_base_url_comes_from_the_environment_or_the_ecb(monkeypatch):
    assert ecb_url() == ECB_URL == "https://www.ecb.europa.eu/stats/eurofxref/"
    monkeypatch.setenv("ESIMDESK_ECB_URL", "http://mirror.example/eurofxref")
    assert ecb_url() == "http://mirror.example/eurofxref/"
    assert ecb_url({"ESIMDESK_ECB_URL": "http://127.0.0.1:9/ecb/stats/eurofxref/"}).startswith("http://127.0.0.1:9/")


# --- the sandbox's files over real HTTP ---------------------------------------------------------------
def sandbox_today(server) -> date:
    return datetime.fromtimestamp(server.config.clock.now(), UTC).date()


def last_working_day(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


async def test_the_sandbox_daily_file_parses_like_the_ecb_s(sandbox):
    assert sandbox.env()["ESIMDESK_ECB_URL"] == sandbox.ecb_url
    async with EcbRates(sandbox.ecb_url, timeout=5) as ecb:
        quotes = await ecb.latest()
    codes = {q.currency for q in quotes}
    assert len(quotes) == 29 and {"USD", "HKD", "JPY", "GBP"} <= codes and "EUR" not in codes and "BGN" not in codes
    assert {q.as_of for q in quotes} == {last_working_day(sandbox_today(sandbox))}
    assert all(q.source == "ecb" and q.base == "EUR" and isinstance(q.rate, Decimal) for q in quotes)
    usd = next(q.rate for q in quotes if q.currency == "USD")
    assert Decimal("1.0") < usd < Decimal("1.15")


async def test_the_sandbox_files_are_the_ecb_s_verbatim_format(sandbox):
    async with httpx.AsyncClient(timeout=5) as client:
        daily = await client.get(sandbox.ecb_url + "eurofxref-daily.xml")
        history = await client.get(sandbox.ecb_url + "eurofxref-hist-90d.xml")
    assert daily.headers["content-type"].startswith("text/xml")
    text = daily.text
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<gesmes:Envelope ')
    assert 'xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"' in text and f'xmlns="{NS}"' in text
    assert "<gesmes:name>European Central Bank</gesmes:name>" in text and "currency='USD' rate='" in text
    times = [line.split("'")[1] for line in history.text.splitlines() if "time='" in line]
    days = [date.fromisoformat(t) for t in times]
    assert days == sorted(days, reverse=True) and all(is_working_day(d) for d in days)  # newest first
    today = sandbox_today(sandbox)
    assert days[0] == last_working_day(today) and (today - days[-1]).days < 90 and 55 <= len(days) <= 66


async def test_the_sandbox_ninety_days_drift_and_parse_to_the_newest(sandbox):
    async with EcbRates(sandbox.ecb_url, timeout=5) as ecb:
        latest = {q.currency: q for q in await ecb.latest()}
        newest = {q.currency: q for q in await ecb.last_90_days()}
    assert newest == latest  # every currency is quoted every day: the newest day is the daily file


async def test_the_sandbox_file_is_dated_the_last_working_day_on_a_weekend(fresh_sandbox):
    today = sandbox_today(fresh_sandbox)
    saturday = today + timedelta(days=(5 - today.weekday()) % 7)
    fresh_sandbox.config.clock.advance((saturday - today).days * 86400)
    async with EcbRates(fresh_sandbox.ecb_url, timeout=5) as ecb:
        quotes = await ecb.latest()
    assert {q.as_of for q in quotes} == {last_working_day(saturday)} and last_working_day(saturday) < saturday


@pytest.mark.parametrize("kind, words", [
    ("malformed", "not readable XML"),
    ("truncated", "not readable XML"),
    ("html", "server failed"),
    ("http_503", "server failed"),
    ("drop", "connection dropped"),
])
async def test_a_faulty_answer_is_an_error_in_words(fresh_sandbox, kind, words):
    fresh_sandbox.sandbox.faults["ecb"].add(Fault(kind, times=None))
    async with EcbRates(fresh_sandbox.ecb_url, timeout=2, retries=0) as ecb:
        with pytest.raises(VendorError, match=words) as err:
            await ecb.latest()
    assert "Traceback" not in str(err.value) and str(err.value).startswith("ECB: ")


async def test_a_missing_file_and_a_closed_port_are_errors_in_words(sandbox):
    async with EcbRates(sandbox.root + "/ecb/nowhere/", timeout=2, retries=0) as ecb:
        with pytest.raises(VendorError, match="not at this address"):
            await ecb.latest()
    async with EcbRates("http://127.0.0.1:9/", timeout=2, retries=0) as ecb:
        with pytest.raises(EsimdeskError, match="cannot reach"):
            await ecb.latest()
