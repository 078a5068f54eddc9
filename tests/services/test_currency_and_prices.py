"""Issue 27: one currency on screen. Which rate converts each currency (the agent's own, Roamify's, the
ECB's cross rate, the shipped one), its age in working days, the customer's price from the price rules
(Decimal, rounded up), the search box read as an agent says a sale, and the store's converted-price order
kept in step with the rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from esimdesk.domain import ListingQuery, Plan
from esimdesk.domain.exchange import Quote, cross, easter, is_stale, is_working_day, working_days_since
from esimdesk.domain.pricing import PriceRule, quote, round_up, rule_for
from esimdesk.services.currency import (
    SHIPPED_DATE,
    Pricing,
    effective_rates,
    parse_rule,
    price_rules,
    rate_note,
    save_price_rules,
    sort_factors,
)
from esimdesk.services.plan_search import read_plan_search
from esimdesk.services.preferences import Rate, Rates
from esimdesk.store import SqliteStore

ECB = [Quote("ecb", "EUR", "USD", Decimal("1.0500"), date(2026, 12, 4)),
       Quote("ecb", "EUR", "HKD", Decimal("8.2000"), date(2026, 12, 4)),
       Quote("ecb", "EUR", "JPY", Decimal("160.00"), date(2026, 12, 3))]


# --- rates ---------------------------------------------------------------------------------------------
def test_cross_rates_go_through_the_euro_exactly():
    per_eur = {q.currency: q.rate for q in ECB}
    assert cross(per_eur, "HKD", "USD") == Decimal("1.0500") / Decimal("8.2000")
    assert cross(per_eur, "EUR", "USD") == Decimal("1.0500")
    assert cross(per_eur, "USD", "EUR") == 1 / Decimal("1.0500")
    assert cross(per_eur, "GBP", "USD") is None  # not quoted: no guess


def test_the_ecb_rate_is_cross_converted_and_dated_by_its_older_leg():
    rates = effective_rates(Rates("JPY"), ECB, ["USD", "HKD"])
    usd = rates.get("USD")
    assert usd.rate == Decimal("160.00") / Decimal("1.0500") and usd.source == "ecb"
    assert usd.as_of == date(2026, 12, 3)  # the JPY leg is a day older: the pair is as old as its older leg


def test_the_agents_own_rate_overrides_every_source_and_roamify_wins_when_newer():
    roamify = Quote("roamify", "HKD", "EUR", Decimal("0.1300"), date(2026, 12, 5))
    rates = effective_rates(Rates("EUR", {"USD": Rate("USD", Decimal("0.9"), date(2026, 11, 1))}), [*ECB, roamify],
                            ["USD", "HKD"])
    assert rates.get("USD") == Rate("USD", Decimal("0.9"), date(2026, 11, 1), "manual")
    assert rates.get("HKD").source == "roamify" and rates.get("HKD").rate == Decimal("0.1300")
    older = Quote("roamify", "HKD", "EUR", Decimal("0.1300"), date(2026, 12, 1))
    assert effective_rates(Rates("EUR"), [*ECB, older], ["HKD"]).get("HKD").source == "ecb"


def test_with_nothing_fetched_the_shipped_rates_convert_and_say_their_age():
    rates = effective_rates(Rates("USD"), [], ["HKD"])
    hkd = rates.get("HKD")
    assert hkd.source == "shipped" and hkd.as_of == SHIPPED_DATE
    assert hkd.rate == Decimal("1.0705") / Decimal("8.3594")
    assert "days old (shipped with esimdesk 2024-06-28)" in rate_note(hkd, date(2026, 12, 7))
    assert effective_rates(Rates("USD"), [], ["XYZ"]).get("XYZ") is None  # an unknown currency: no rate at all


def test_the_agents_currency_never_needs_a_rate_of_its_own():
    rates = effective_rates(Rates("USD"), ECB, ["USD", "HKD"])
    assert rates.get("USD") is None and rates.agent_currency == "USD"
    assert sort_factors(rates)["USD"] == 1


@pytest.mark.parametrize("as_of,today,days", [
    (date(2026, 12, 4), date(2026, 12, 7), 1),  # Friday's rate on Monday: one working day old
    (date(2026, 12, 4), date(2026, 12, 5), 0),  # ... on Saturday: current
    (date(2026, 12, 23), date(2026, 12, 29), 3),  # the 24th, 28th and 29th: 25/26 December and Sunday are closed
])
def test_working_days_skip_weekends_and_target_holidays(as_of, today, days):
    assert working_days_since(as_of, today) == days


def test_target_holidays_and_staleness():
    assert easter(2026) == date(2026, 4, 5) and easter(2027) == date(2027, 3, 28)
    assert not is_working_day(date(2026, 4, 3))  # Good Friday
    assert not is_working_day(date(2026, 4, 6))  # Easter Monday
    assert not is_working_day(date(2026, 5, 1)) and not is_working_day(date(2026, 1, 1))
    assert is_working_day(date(2026, 4, 7))
    assert not is_stale(date(2026, 12, 1), date(2026, 12, 4))  # 3 working days: still fresh
    assert is_stale(date(2026, 12, 1), date(2026, 12, 7))  # 4 working days: said beside every price


# --- the customer's price ---------------------------------------------------------------------------
JAPAN = Plan("roumio", "JC016", "Japan 5GB 7 days", ("JP",), 5120, 7, Decimal("2.38"), "USD")
EUROPE = Plan("roamify", "eu-7", "Europe 5GB", tuple("AT BE DE FR IT ES NL PT".split()), 5120, 7, Decimal("4.00"), "USD",
              region="regional")


@pytest.mark.parametrize("amount,rounding,want", [
    ("7.20", "99", "7.99"), ("7.99", "99", "7.99"), ("7.995", "99", "8.99"), ("8.00", "99", "8.99"),
    ("7.201", "cent", "7.21"), ("7.20", "whole", "8.00"), ("7.00", "whole", "7.00"), ("7.20", "half", "7.50"),
    ("7.60", "half", "8.00"), ("7.50", "half", "7.50"),
])
def test_rounding_goes_up_never_under_the_rules_price(amount, rounding, want):
    assert round_up(Decimal(amount), rounding) == Decimal(want)


def test_the_most_specific_rule_applies_and_the_margin_is_exact():
    rules = [PriceRule(markup_pct=Decimal(30)), PriceRule(vendor="roumio", markup_pct=Decimal(50)),
             PriceRule(region="JP", markup_pct=Decimal(40), fixed=Decimal("1.00"), rounding="99"),
             PriceRule(vendor="roumio", region="JP", markup_pct=Decimal(20))]
    assert rule_for(JAPAN, rules) is rules[3]
    assert rule_for(EUROPE, rules) is rules[0]
    assert rule_for(EUROPE, [*rules, PriceRule(region="regional", markup_pct=Decimal(10))]).region == "regional"
    q = quote(JAPAN, Decimal("2.1943"), "EUR", rules[:3])  # region beats vendor
    assert q.sell == Decimal("4.99") and q.rule is rules[2]  # 2.1943 × 1.4 + 1 = 4.072 → 4.99
    assert q.margin == Decimal("4.99") - Decimal("2.1943")
    bare = quote(JAPAN, Decimal("2.1943"), "EUR", [])
    assert bare.sell == Decimal("2.19") and bare.rule is None  # no rule: at cost, to the nearest cent


def test_pricing_quotes_in_the_agents_currency():
    pricing = Pricing(effective_rates(Rates("EUR"), ECB, ["USD"]), (PriceRule(markup_pct=Decimal(25), rounding="99"),),
                      date(2026, 12, 4))
    q = pricing.quote(JAPAN)
    cost = Decimal("2.38") / Decimal("1.0500")
    assert q.currency == "EUR" and q.cost == cost and q.sell == round_up(cost * Decimal("1.25"), "99")
    assert pricing.note("USD") == ""  # the rate is today's


def test_price_rules_round_trip_through_settings_and_bad_input_is_said(tmp_path):
    rules = (parse_rule("Roumio", "japan", "25%", "0.50", "99"), parse_rule("", "regional", "10", "", "whole"))
    assert rules[0] == PriceRule("roumio", "JP", Decimal(25), Decimal("0.50"), "99")
    save_price_rules(tmp_path, rules)
    assert price_rules(tmp_path) == rules
    from esimdesk.domain import ValidationError
    with pytest.raises(ValidationError, match="not a number"):
        parse_rule("", "", "lots", "", "cent")
    with pytest.raises(ValidationError, match="not a country"):
        parse_rule("", "Atlantis", "10", "", "cent")


# --- the search box read as a sale ---------------------------------------------------------------------
@pytest.mark.parametrize("text,country,days,mb,rest", [
    ("japan 7 days 5gb", "JP", 7, 5120, ""),
    ("a week in south korea", "KR", 7, None, ""),
    ("usa 2 weeks 500 MB", "US", 14, 500, ""),
    ("Thailand a month", "TH", 30, None, ""),
    ("at least 7 days", None, 7, None, ""),  # "at" is no Austria
    ("africa", None, None, None, "africa"),  # a bundle's name: searched as text
    ("JC016", None, None, None, "JC016"),  # a plan id
    ("jp", "JP", None, None, ""),
])
def test_the_search_box_reads_country_days_and_data(text, country, days, mb, rest):
    ask = read_plan_search(text)
    assert (ask.country, ask.min_days, ask.min_data_mb, ask.text) == (country, days, mb, rest)


# --- the store's order in the agent's currency -----------------------------------------------------------
def test_the_price_order_interleaves_currencies_and_follows_a_rate_change(tmp_path):
    store = SqliteStore(tmp_path / "x.sqlite3")
    plans = [Plan("roumio", "u1", "A", ("JP",), 1024, 7, Decimal("2.00"), "USD"),
             Plan("roumio", "u2", "B", ("JP",), 1024, 7, Decimal("3.00"), "USD"),
             Plan("microesim", "h1", "C", ("JP",), 1024, 7, Decimal("12.00"), "HKD"),  # ≈ 1.54 USD at 0.128
             Plan("microesim", "h2", "D", ("JP",), 1024, 8, Decimal("20.00"), "HKD"),  # ≈ 2.56 USD
             Plan("flexiroam", "x1", "E", ("JP",), 1024, 7, Decimal("1.00"), "XYZ")]  # no rate: last
    store.upsert_plans(plans)
    q = ListingQuery("plans", sort="price")

    def order() -> list[str]:
        total, split = store.listing_count(q)
        return [p.plan_id for _k, p in store.listing_page(q, split, 0, 100)]

    assert store.apply_sort_rates("USD", {"USD": Decimal(1), "HKD": Decimal("0.128")}) == 4
    assert order() == ["h1", "u1", "h2", "u2", "x1"]
    assert store.apply_sort_rates("USD", {"USD": Decimal(1), "HKD": Decimal("0.128")}) == 0  # nothing changed
    assert store.apply_sort_rates("USD", {"USD": Decimal(1), "HKD": Decimal("0.20")}) == 2  # HKD's plans only
    assert order() == ["u1", "h1", "u2", "h2", "x1"]  # 2.00, 2.40, 3.00, 4.00
    # a plan synced later sorts among the others at once (the factors in force)
    store.upsert_plans([Plan("microesim", "h3", "F", ("JP",), 1024, 7, Decimal("11.00"), "HKD")])  # 2.20
    assert order() == ["u1", "h3", "h1", "u2", "h2", "x1"]
    assert store.listing_count(ListingQuery("plans", sort="price", descending=True)) == (6, 5)
    store.close()


def test_at_one_price_more_days_then_more_data_come_first(tmp_path):
    store = SqliteStore(tmp_path / "x.sqlite3")
    store.upsert_plans([Plan("roumio", "short", "A", ("JP",), 5120, 7, Decimal("5.00"), "USD"),
                        Plan("roumio", "long", "B", ("JP",), 5120, 10, Decimal("5.00"), "USD"),
                        Plan("roamify", "more", "C", ("JP",), 10240, 7, Decimal("5.00"), "USD")])
    store.apply_sort_rates("USD", {"USD": Decimal(1)})
    q = ListingQuery("plans", sort="price", min_days=7)
    total, split = store.listing_count(q)
    assert [p.plan_id for _k, p in store.listing_page(q, split, 0, 10)] == ["long", "more", "short"]
    store.close()


def test_a_file_brought_to_schema_11_knows_its_new_indexes(tmp_path):
    """Migration 11 leaves the planner statistics of its indexes: without them a header click sorted every
    plan through the wrong index and a temporary B-tree (1.8 s at 150,000 plans) until a full sync's ANALYZE."""
    import sqlite3

    from esimdesk.store.migrations import migrate

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, 10)
    conn.execute("ANALYZE")  # an older desk's file: statistics of its own indexes only
    conn.close()
    # plans in the old file, as a v10 desk wrote them
    plans = [Plan("roumio", f"p{i}", f"Plan {i}", ("JP",), 1024, 7, Decimal(i + 1), "USD") for i in range(300)]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executemany("INSERT INTO plans (vendor, plan_id, name, countries, data_mb, validity_days, price, price_sort, "
                     "currency, first_seen, last_seen) VALUES (?, ?, ?, 'JP', 1024, 7, ?, ?, 'USD', '', '')",
                     [(p.vendor, p.plan_id, p.name, str(p.price), float(p.price)) for p in plans])
    conn.close()
    store = SqliteStore(path)  # migrates to the latest schema
    indexes = {r[0] for r in store.conn.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'plans'")}
    assert {"plans_sort_price", "plans_sort_per_gb", "plans_by_list"} <= indexes
    plan = store.conn.execute("EXPLAIN QUERY PLAN SELECT p.rowid FROM plans p WHERE p.stale = 0 ORDER BY p.name "
                              "LIMIT 100").fetchall()
    assert "plans_sort_name" in str([r[3] for r in plan]) and "TEMP B-TREE" not in str([r[3] for r in plan])
    store.close()
