"""Exchange rates that keep themselves (issue 27): the ECB's and Roamify's rates fetched from the sandbox
over real HTTP into the store, kept with their dates when offline, refreshed by a sync when due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from esimdesk.domain.exchange import Quote
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.config import load_accounts
from esimdesk.services.currency import agent_currency
from esimdesk.services.exchange_rates import REFRESH_AFTER, due, refresh_if_due, refresh_rates
from esimdesk.services.preferences import Rates, save_preferences
from esimdesk.services.sync import sync_all
from esimdesk.services.sync_process import child_env
from esimdesk.vendors import build_adapter
from esimdesk.vendors.ecb_rates import EcbRates
from tests.conftest import vendor_config
from tests.services.helpers import accounts_for, open_store, short_factory

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def by_source(store) -> dict[str, dict[str, Quote]]:
    out: dict[str, dict[str, Quote]] = {}
    for q in store.quotes():
        out.setdefault(q.source, {})[q.currency if q.source == "ecb" else q.base] = q
    return out


def test_the_store_keeps_the_newest_quote_of_each_pair(tmp_path):
    store = open_store(tmp_path)
    newer = Quote("ecb", "EUR", "USD", Decimal("1.0705"), date(2024, 6, 28))
    older = Quote("ecb", "EUR", "USD", Decimal("1.0683"), date(2024, 6, 26))
    store.save_quotes([newer], "2024-06-28T15:00:00+00:00")
    store.save_quotes([older], "2024-06-29T08:00:00+00:00")  # an old file read later: never wins
    assert store.quotes() == [newer]
    again = Quote("ecb", "EUR", "USD", Decimal("1.0711"), date(2024, 6, 28))  # the same day corrected
    store.save_quotes([again], "2024-06-28T16:00:00+00:00")
    assert store.quotes() == [again]


def test_due_when_never_read_or_older_than_six_hours(tmp_path):
    store = open_store(tmp_path)
    assert due(store, NOW)
    store.save_quotes([Quote("ecb", "EUR", "USD", Decimal("1.07"), date(2026, 12, 4))], NOW.isoformat())
    assert not due(store, NOW + REFRESH_AFTER - timedelta(minutes=1))
    assert due(store, NOW + REFRESH_AFTER)
    assert due(store, NOW - timedelta(hours=1))  # a clock moved back: read again
    store.save_quotes([Quote("roamify", "USD", "EUR", Decimal("0.93"), date(2026, 12, 7))],
                      (NOW + timedelta(days=1)).isoformat())
    assert due(store, NOW + REFRESH_AFTER)  # only the ECB's last read counts


async def test_refresh_saves_the_ecb_and_roamify_quotes(sandbox, tmp_path):
    store = open_store(tmp_path)
    async with EcbRates(sandbox.ecb_url, timeout=5) as ecb, \
            build_adapter(vendor_config(sandbox, "roamify"), timeout=5) as roamify:
        result = await refresh_rates(store, ecb=ecb, vendor=roamify, agent_currency="eur",
                                     needed_currencies=["USD", "HKD", "EUR", "usd"], now=NOW)
    assert result.ok and result.answered == ["ecb", "roamify"], result.errors
    assert result.quotes == 29 + 2
    stored = by_source(store)
    assert len(stored["ecb"]) == 29 and set(stored["roamify"]) == {"USD", "HKD"}
    assert all(q.currency == "EUR" for q in stored["roamify"].values())
    assert store.quotes_fetched_at("ecb") == NOW.isoformat(timespec="seconds")
    assert result.as_of["ecb"] == stored["ecb"]["USD"].as_of
    assert not due(store, NOW + timedelta(hours=1))


async def test_without_an_agent_currency_only_the_ecb_is_read(sandbox, tmp_path):
    store = open_store(tmp_path)
    async with EcbRates(sandbox.ecb_url, timeout=5) as ecb, \
            build_adapter(vendor_config(sandbox, "roamify"), timeout=5) as roamify:
        result = await refresh_rates(store, ecb=ecb, vendor=roamify, agent_currency=None,
                                     needed_currencies=["USD"], now=NOW)
    assert result.answered == ["ecb"] and result.ok


async def test_offline_keeps_the_stored_rates_with_their_dates(tmp_path):
    store = open_store(tmp_path)
    with SandboxServer(SandboxConfig(seed=7)) as server:
        async with EcbRates(server.ecb_url, timeout=5) as ecb:
            first = await refresh_rates(store, ecb=ecb, agent_currency="EUR", needed_currencies=[], now=NOW)
        url, roamify_cfg = server.ecb_url, vendor_config(server, "roamify")
    before = store.quotes()
    assert first.ok and len(before) == 29
    day = before[0].as_of
    # The sandbox is gone: nothing answers on its port any more.
    async with EcbRates(url, timeout=2, retries=0) as ecb, build_adapter(roamify_cfg, timeout=2) as roamify:
        roamify.http.retries = 0
        later = NOW + timedelta(days=1)
        result = await refresh_rates(store, ecb=ecb, vendor=roamify, agent_currency="EUR",
                                     needed_currencies=["USD"], now=later)
    assert result.answered == [] and result.quotes == 0
    assert len(result.errors) == 2
    assert result.errors[0].startswith("exchange rates: the ECB's reference rates could not be read (ECB: ")
    assert "cannot reach" in result.errors[0] and f"the rates of {day.isoformat()} are kept" in result.errors[0]
    assert "Roamify's rates into EUR could not be read" in result.errors[1]
    assert "no rate of it is stored yet" in result.errors[1]
    assert store.quotes() == before and store.quotes_fetched_at("ecb") == NOW.isoformat(timespec="seconds")
    assert due(store, later)  # still due: the next sync tries again


async def test_a_malformed_ecb_file_keeps_the_stored_rates(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    async with EcbRates(fresh_sandbox.ecb_url, timeout=5, retries=0) as ecb:
        await refresh_rates(store, ecb=ecb, agent_currency="EUR", needed_currencies=[], now=NOW)
        before = store.quotes()
        fresh_sandbox.sandbox.faults["ecb"].add(Fault("malformed", times=None))
        result = await refresh_rates(store, ecb=ecb, agent_currency="EUR", needed_currencies=[],
                                     now=NOW + timedelta(hours=7))
    assert result.errors and "not readable XML" in result.errors[0] and "are kept" in result.errors[0]
    assert store.quotes() == before


# --- the sync -------------------------------------------------------------------------------------------
async def test_a_sync_stores_the_ecb_quotes_once_when_due(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    save_preferences(tmp_path, rates=Rates("EUR", {}))
    accounts = accounts_for(fresh_sandbox, tmp_path)
    notices: list[str] = []
    results = await sync_all(store, accounts, short_factory(5), ecb_url=fresh_sandbox.ecb_url, notices=notices)
    assert all(r.ok for r in results) and notices == []
    assert {r.vendor for r in results} == {"roumio", "roamify", "microesim", "flexiroam"}  # no extra "result"
    stored = by_source(store)
    assert len(stored["ecb"]) == 29
    # Roamify's rate of each currency the catalog prices in (but EUR itself) into the agent's EUR.
    needed = set(store.plan_currencies()) - {"EUR"}
    assert needed and set(stored["roamify"]) == needed
    fetched = store.quotes_fetched_at("ecb")
    # Not due again within six hours: a second sync reads nothing.
    await sync_all(store, accounts, short_factory(5), ecb_url=fresh_sandbox.ecb_url, notices=notices)
    assert store.quotes_fetched_at("ecb") == fetched and notices == []


async def test_a_sync_whose_rates_fail_still_succeeds_and_says_so(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    save_preferences(tmp_path, rates=Rates("USD", {}))
    fresh_sandbox.sandbox.faults["ecb"].add(Fault("http_503", times=None))
    accounts = [a for a in accounts_for(fresh_sandbox, tmp_path) if a.vendor == "flexiroam"]
    notices: list[str] = []
    results = await sync_all(store, accounts, short_factory(5), ecb_url=fresh_sandbox.ecb_url, notices=notices)
    assert [r.ok for r in results] == [True]
    assert len(notices) == 1 and notices[0].startswith("exchange rates: the ECB's reference rates could not be read")
    assert "HTTP 503" in notices[0] and store.quotes() == []


async def test_no_refresh_without_an_ecb_url_and_into_the_locale_s_currency_without_settings(fresh_sandbox,
                                                                                             tmp_path):
    store = open_store(tmp_path)
    accounts = accounts_for(fresh_sandbox, tmp_path)
    await sync_all(store, accounts, short_factory(5))  # the library default: no rates at all
    assert store.quotes() == []
    # No agent currency in Settings: services/currency.py's (the locale's, else USD) is the target.
    refreshed = await refresh_if_due(store, accounts, short_factory(5), ecb_url=fresh_sandbox.ecb_url)
    assert refreshed is not None and refreshed.answered == ["ecb", "roamify"], refreshed
    agent = agent_currency(Rates())
    assert {q.currency for q in store.quotes() if q.source == "roamify"} == {agent}
    assert await refresh_if_due(store, accounts, short_factory(5), ecb_url=fresh_sandbox.ecb_url) is None  # not due


def test_the_accounts_carry_the_ecb_url_the_demo_s_sandbox_gives(fresh_sandbox, tmp_path, monkeypatch):
    assert load_accounts(tmp_path, env=fresh_sandbox.env()).ecb_url == fresh_sandbox.ecb_url
    assert load_accounts(tmp_path).ecb_url == "https://www.ecb.europa.eu/stats/eurofxref/"
    monkeypatch.setenv("ESIMDESK_ECB_URL", "http://127.0.0.1:9/rates")
    assert load_accounts(tmp_path).ecb_url == "http://127.0.0.1:9/rates/"
    env = child_env(tmp_path, [], fresh_sandbox.ecb_url)  # the window's sync child reads the same files
    assert env["ESIMDESK_ECB_URL"] == fresh_sandbox.ecb_url
