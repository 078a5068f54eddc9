"""Exchange rates, low-balance thresholds and Test connection at the services level (no window)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from datetime import date
from decimal import Decimal

import pytest

from esimdesk.domain import Balance, ValidationError
from esimdesk.sandbox import SANDBOX_CREDENTIALS
from esimdesk.services.config import settings_path
from esimdesk.services.connection_check import check_connection
from esimdesk.services.preferences import (
    Rate,
    Rates,
    convert,
    exchange_rates,
    low_balance_thresholds,
    low_balance_warnings,
    make_rates,
    parse_amount,
    parse_rate,
    save_preferences,
)

RATES = Rates("EUR", {"USD": Rate("USD", Decimal("0.9213"), date(2026, 11, 28)),
                      "HKD": Rate("HKD", Decimal("0.1183"), date(2026, 11, 27))})


def test_convert_is_exact_and_names_the_rates_date():
    usd = convert(Decimal("5.00"), "USD", RATES)
    assert usd.amount == Decimal("4.606500") and usd.currency == "EUR" and usd.as_of == date(2026, 11, 28)
    hkd = convert(Decimal("8.00"), "hkd", RATES)
    assert hkd.amount == Decimal("0.946400") and hkd.as_of == date(2026, 11, 27)
    # Binary floats would give 0.30000000000000004 here.
    assert convert(Decimal("0.1"), "USD", Rates("EUR", {"USD": Rate("USD", Decimal("3"), date(2026, 1, 1))})).amount \
        == Decimal("0.3")


def test_convert_without_a_rate_is_none():
    assert convert(Decimal("5.00"), "GBP", RATES) is None
    assert convert(Decimal("5.00"), "USD", Rates()) is None  # no agent currency configured
    assert convert(Decimal("5.00"), "USD", Rates(None, RATES.by_currency)) is None
    same = convert(Decimal("5.00"), "EUR", RATES)  # already the agent's currency: no rate, no date
    assert same.amount == Decimal("5.00") and same.as_of is None


def test_rates_and_thresholds_round_trip_through_the_settings_file_exactly(tmp_path):
    settings_path(tmp_path).write_text(json.dumps({"urls": {"roumio": "http://127.0.0.1:9/roumio"}}))
    save_preferences(tmp_path, thresholds={"roumio": Decimal("50.00"), "roamify": None}, rates=RATES)
    raw = json.loads(settings_path(tmp_path).read_text())
    assert raw["exchange_rates"]["rates"]["USD"] == {"rate": "0.9213", "date": "2026-11-28"}  # strings, not floats
    assert raw["low_balance"] == {"roumio": "50.00"} and raw["urls"] == {"roumio": "http://127.0.0.1:9/roumio"}
    assert exchange_rates(tmp_path) == RATES
    assert low_balance_thresholds(tmp_path) == {"roumio": Decimal("50.00")}
    save_preferences(tmp_path, thresholds={}, rates=Rates())
    raw = json.loads(settings_path(tmp_path).read_text())
    assert "exchange_rates" not in raw and "low_balance" not in raw


def test_what_the_agent_types_is_checked_in_words():
    assert parse_rate(" usd ", "0.92", "2026-11-28") == Rate("USD", Decimal("0.92"), date(2026, 11, 28))
    assert parse_amount("1,234.50", "x") == Decimal("1234.50") and parse_amount("  ", "x") is None
    for args, words in ((("US", "1", "2026-01-01"), "three letters"), (("USD", "abc", "2026-01-01"), "not a number"),
                        (("USD", "-1", "2026-01-01"), "above zero"), (("USD", "1", "yesterday"), "not a date")):
        with pytest.raises(ValidationError, match=words):
            parse_rate(*args)
    with pytest.raises(ValidationError, match="your own currency"):
        make_rates("", [Rate("USD", Decimal(1), date(2026, 1, 1))])
    with pytest.raises(ValidationError, match="two rates"):
        make_rates("EUR", [Rate("USD", Decimal(1), date(2026, 1, 1))] * 2)
    with pytest.raises(ValidationError, match="needs no rate"):
        make_rates("EUR", [Rate("EUR", Decimal(1), date(2026, 1, 1))])


def test_low_balance_warning_only_under_the_threshold():
    balances = [Balance("roumio", Decimal("12.00"), "USD"), Balance("roamify", Decimal("50.00"), "USD")]
    thresholds = {"roumio": Decimal("50.00"), "roamify": Decimal("50.00")}
    assert low_balance_warnings(balances, thresholds) == ["⚠ Roumio balance 12.00 USD below 50.00"]
    assert low_balance_warnings(balances, {"roumio": Decimal("12.00")}) == []  # at the threshold: fine
    assert low_balance_warnings(balances, {}) == []


async def test_check_connection_against_the_sandbox(sandbox):
    url = sandbox.urls["roumio"]
    good = await check_connection("roumio", url, dict(SANDBOX_CREDENTIALS["roumio"]))
    assert good.ok and good.text.startswith("Connected — balance ") and good.text.endswith(" USD")
    wrong = await check_connection("roumio", url, {"KEY": "not-the-key"})
    assert not wrong.ok and wrong.text.startswith("Wrong credentials: Roumio refused them")
    # Flexiroam has no balance: the first page of its eSIMs proves the key.
    flexi = await check_connection("flexiroam", sandbox.urls["flexiroam"], dict(SANDBOX_CREDENTIALS["flexiroam"]))
    assert flexi.ok and "no balance offered" in flexi.text


async def test_check_connection_says_why_it_could_not_ask():
    closed = await check_connection("roumio", "http://127.0.0.1:9/v1", {"KEY": "k"})
    assert not closed.ok and closed.text.startswith("Cannot reach 127.0.0.1:9")
    bad_url = await check_connection("roumio", "platform.roumio.com", {"KEY": "k"})
    assert not bad_url.ok and "is not a web address" in bad_url.text
    missing = await check_connection("microesim", "http://127.0.0.1:9", {"ACCOUNT": "a"})
    assert not missing.ok and missing.text == "Enter the MicroESIM secret, salt first (none is stored yet)."


async def test_check_connection_times_out_in_words():
    # A server that accepts the connection and never answers.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = server.getsockname()[1]
        started = asyncio.get_running_loop().time()
        result = await check_connection("roumio", f"http://127.0.0.1:{port}/v1", {"KEY": "k"}, timeout=0.5)
        assert not result.ok and result.text.startswith(f"No answer from 127.0.0.1:{port} within 0.5 s")
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()
