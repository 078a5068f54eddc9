"""Roamify's exchange rates (roamify-support.md §4): the undocumented answer shapes the adapter accepts,
and the adapter against the sandbox over real HTTP (whose rates are the ECB's cross rates)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from esimdesk.domain import MalformedResponse, VendorAuthError, VendorRejected
from esimdesk.domain.exchange import Quote, cross
from esimdesk.sandbox import SANDBOX_CREDENTIALS, Fault
from esimdesk.vendors import Capability, VendorConfig, build_adapter
from esimdesk.vendors.ecb_rates import EcbRates
from esimdesk.vendors.roamify_rates import parse_currencies, parse_rate
from tests.conftest import vendor_config

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize("payload, as_of", [
    ({"status": "success", "data": {"rate": 0.92, "timestamp": "2026-12-04T15:00:00Z"}}, date(2026, 12, 4)),
    ({"status": "success", "data": {"source": "USD", "target": "EUR", "rate": "0.92", "timestamp": 1796396400}},
     date(2026, 12, 4)),
    ({"data": {"rate": 0.92, "timestamp": 1796396400000}}, date(2026, 12, 4)),  # milliseconds
    ({"data": [{"source": "USD", "target": "EUR", "rate": 0.92, "datetime": "2026-12-03T10:00:00+01:00"}]},
     date(2026, 12, 3)),
    ({"data": {"rates": {"EUR": 0.92, "GBP": 0.79}, "date": "2026-12-02"}}, date(2026, 12, 2)),
    ({"rate": 0.92}, TODAY),  # no envelope, no time: today
    ({"status": "success", "data": {"value": 0.92}}, TODAY),
    ({"data": {"exchangeRate": 0.92, "timestamp": "not a time"}}, TODAY),
])
def test_the_shapes_accepted(payload, as_of):
    assert parse_rate(payload, "usd", "eur", TODAY) == Quote("roamify", "USD", "EUR", Decimal("0.92"), as_of)


def test_a_series_gives_its_latest_point_of_the_pair_asked_for():
    series = {"data": [
        {"source": "USD", "target": "EUR", "rate": 0.91, "datetime": "2026-12-01T00:00:00Z"},
        {"source": "USD", "target": "EUR", "rate": 0.93, "datetime": "2026-12-03T00:00:00Z"},
        {"source": "USD", "target": "GBP", "rate": 0.79, "datetime": "2026-12-04T00:00:00Z"},
        {"source": "USD", "target": "EUR", "rate": 0.92, "datetime": "2026-12-02T00:00:00Z"},
    ]}
    assert parse_rate(series, "USD", "EUR", TODAY) == Quote("roamify", "USD", "EUR", Decimal("0.93"),
                                                           date(2026, 12, 3))


def test_a_float_rate_stays_exactly_as_written():
    quote = parse_rate({"data": {"rate": 6.2573e-05}}, "IDR", "USD", TODAY)
    assert quote.rate == Decimal("0.000062573")


@pytest.mark.parametrize("payload, words", [
    ({"status": "success", "data": {}}, "holds no rate"),
    ({"status": "success", "data": {"source": "HKD", "target": "EUR", "rate": 0.11}}, "holds no rate of that pair"),
    ({"status": "success", "data": []}, "holds no rate"),
    ({"status": "success", "data": {"rate": "abc"}}, "'abc' is not a number"),
    ({"status": "success", "data": {"rate": 0}}, "not a positive number"),
    ({"status": "success", "data": {"rate": True}}, "not a number"),
    ("a text", "holds no rate"),
])
def test_answers_without_a_rate_are_refused_in_words(payload, words):
    with pytest.raises(MalformedResponse, match=words):
        parse_rate(payload, "USD", "EUR", TODAY)


def test_currencies_in_every_plausible_shape():
    assert parse_currencies({"status": "success", "data": ["usd", "EUR", "x"]}) == ["EUR", "USD"]
    assert parse_currencies({"data": [{"code": "HKD", "name": "Hong Kong Dollar"}, {"currency": "JPY"}]}) == [
        "HKD", "JPY"]
    assert parse_currencies({"data": {"currencies": {"GBP": "Pound", "CHF": "Franc"}}}) == ["CHF", "GBP"]
    with pytest.raises(MalformedResponse):
        parse_currencies({"data": 3})


# --- the adapter against the sandbox --------------------------------------------------------------------
async def test_one_request_per_currency_agreeing_with_the_ecb_cross_rates(sandbox):
    async with build_adapter(vendor_config(sandbox, "roamify"), timeout=5) as roamify, \
            EcbRates(sandbox.ecb_url, timeout=5) as ecb:
        assert roamify.supports(Capability.EXCHANGE_RATES)
        quotes = await roamify.exchange_rates(["usd", "HKD", "EUR", "JPY", "HKD"], "eur")
        per_eur = {q.currency: q.rate for q in await ecb.latest()}
        currencies = await roamify.rate_currencies()
    assert [(q.source, q.base, q.currency) for q in quotes] == [
        ("roamify", "HKD", "EUR"), ("roamify", "JPY", "EUR"), ("roamify", "USD", "EUR")]  # EUR into EUR: none
    today = datetime.now(UTC).date()
    for q in quotes:
        assert q.as_of in (today, today - timedelta(days=1), today + timedelta(days=1))  # the sandbox's clock
        expected = cross(per_eur, q.base, "EUR")
        assert abs(q.rate / expected - 1) < Decimal("0.00001"), (q, expected)
    assert {"USD", "EUR", "HKD", "JPY", "GBP"} <= set(currencies) and len(currencies) == 30


async def test_a_currency_roamify_refuses_is_left_out_unless_all_are(sandbox):
    async with build_adapter(vendor_config(sandbox, "roamify"), timeout=5) as roamify:
        quotes = await roamify.exchange_rates(["XTS", "USD"], "GBP")
        assert [(q.base, q.currency) for q in quotes] == [("USD", "GBP")]
        with pytest.raises(VendorRejected, match="XTS is not supported"):
            await roamify.exchange_rates(["XTS"], "GBP")
        assert await roamify.exchange_rates([], "GBP") == []


async def test_a_refused_token_and_a_malformed_answer_are_errors_in_words(fresh_sandbox):
    wrong = VendorConfig("roamify", fresh_sandbox.urls["roamify"], {"TOKEN": "wrong-token-1234"})
    async with build_adapter(wrong, timeout=5) as roamify:
        with pytest.raises(VendorAuthError):
            await roamify.exchange_rates(["USD"], "EUR")
    assert SANDBOX_CREDENTIALS["roamify"]["TOKEN"] != "wrong-token-1234"
    fresh_sandbox.sandbox.faults["roamify"].add(Fault("malformed", endpoint="api/rates", times=None))
    async with build_adapter(vendor_config(fresh_sandbox, "roamify"), timeout=2) as roamify:
        roamify.http.retries = 0
        with pytest.raises(MalformedResponse, match="not valid JSON"):
            await roamify.exchange_rates(["USD"], "EUR")
