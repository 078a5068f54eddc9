"""A plan is found by every name its vendor gives it (issue 27): a bundle's own name ("Africa Adventure",
MicroESIM's "Europe 42") is its ``coverage_name``, searchable and shown as its coverage, and a bundle
that repeats a country's code ("AF") is never that country. The adapters read the simulators over real
HTTP; the store is a real SQLite file."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from esimdesk.domain import Esim, EsimStatus, ListingQuery, Plan, coverage_text
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.countries import REGIONS
from esimdesk.sandbox.roamify_catalog import AREAS
from esimdesk.services import cards as C
from esimdesk.store.sqlite_store import SqliteStore
from esimdesk.vendors.microesim import MicroesimAdapter, area_name
from esimdesk.vendors.roamify import RoamifyAdapter
from esimdesk.vendors.roamify_catalog import CountryMap, parse_packages
from tests.conftest import vendor_config
from tests.shapes import fixture_json

AFRICA = tuple(REGIONS["Africa"])


@pytest.fixture(scope="module")
def server():
    # Every Roamify area has packages (the catalog cycles through them), Afghanistan's and Africa Adventure's too.
    with SandboxServer(SandboxConfig(seed=5, plans=3 * len(AREAS) + 7, esims=4),
                       vendors=("roamify", "microesim")) as srv:
        yield srv


async def _all(adapter) -> list[Plan]:
    async with adapter as a:
        return [p async for page in a.iter_plans() for p in page]


@pytest.fixture(scope="module")
def roamify_plans(server) -> list[Plan]:
    import asyncio
    return asyncio.run(_all(RoamifyAdapter(vendor_config(server, "roamify"), timeout=5.0, page_size=97)))


@pytest.fixture(scope="module")
def microesim_plans(server) -> list[Plan]:
    import asyncio
    return asyncio.run(_all(MicroesimAdapter(vendor_config(server, "microesim"), timeout=5.0)))


@pytest.fixture(scope="module")
def store(tmp_path_factory, roamify_plans, microesim_plans):
    s = SqliteStore(tmp_path_factory.mktemp("coverage") / "esimdesk.sqlite3")
    s.upsert_plans(roamify_plans)
    s.upsert_plans(microesim_plans)
    yield s
    s.close()


def listed(store, **query) -> list[Plan]:
    q = ListingQuery("plans", **query)
    _total, split = store.listing_count(q)
    return [p for _k, p in store.listing_page(q, split, 0, 100_000)]


def africa_adventure(plans: list[Plan]) -> list[Plan]:
    return [p for p in plans if p.plan_id.startswith("esim-africa-")]


# --- Roamify over HTTP ---------------------------------------------------------------------------------

def test_roamifys_africa_adventure_is_its_signals_under_its_own_name(roamify_plans):
    bundle = africa_adventure(roamify_plans)
    assert len(bundle) == 3 and {p.name for p in bundle} >= {"1 GB - 7 Days"}  # no word of Africa in the names
    for p in bundle:
        assert p.coverage_name == "Africa Adventure"
        assert p.countries == AFRICA and p.region == "regional"  # from its signals, not its code "AF"
        assert "AF" not in p.countries


def test_roamifys_afghanistan_shares_the_code_and_stays_a_country(roamify_plans):
    afghanistan = [p for p in roamify_plans if p.plan_id.startswith("esim-afghanistan-")]
    assert len(afghanistan) == 3
    assert all(p.countries == ("AF",) and p.region is None and p.coverage_name is None for p in afghanistan)


def test_roamify_names_every_region_and_no_country(roamify_plans):
    named = {}
    for p in roamify_plans:
        if len(p.countries) == 1:
            assert p.coverage_name is None, p
        else:
            named.setdefault(p.coverage_name, set()).add(p.countries)
    assert set(named) == {"Europe", "Asia", "Middle East", "Americas", "Africa Adventure", "Oceania", "Global"}
    assert all(len(c) == 1 for c in named.values())


# --- MicroESIM over HTTP -------------------------------------------------------------------------------

def test_microesims_regional_plans_carry_their_areas_name(microesim_plans):
    multi = [p for p in microesim_plans if len(p.countries) > 1]
    assert multi and all(p.coverage_name == area_name(p.name) for p in multi)
    names = {p.coverage_name for p in multi}
    assert {"Europe 42", "Middle East 14", "Africa 21"} <= names  # "MiddleEast 14-Total1GB-7": in words
    assert all(n.startswith(("Europe", "Asia", "Middle East", "Americas", "Africa", "Oceania", "Global"))
               for n in names)
    assert all(p.coverage_name is None for p in microesim_plans if len(p.countries) <= 1)


@pytest.mark.parametrize("name, area", [
    ("Global 66-Total1GB-7-A0-test", "Global 66"),  # the document's sample
    ("MiddleEast 14-Daily1GB-7", "Middle East 14"),
    ("Europe 33-unlimited-15", "Europe 33"),
    ("Asia 8 countries-10GB-30", "Asia 8 countries"),
    ("Asia-Pacific 12-Total5GB-30", "Asia-Pacific 12"),
    ("Europe33 5GB 30 days", None),  # no allowance after a dash: no area to tell
    ("-Total1GB-7", None),
])
def test_microesim_area_name(name, area):
    assert area_name(name) == area


# --- the documents' own samples ----------------------------------------------------------------------

@pytest.mark.parametrize("geography", ["regional", "local", None])
def test_a_bundle_named_no_country_is_never_the_country_whose_code_it_repeats(geography):
    countries = CountryMap(fixture_json("roamify", "countries.json")["data"]["countries"])  # AF twice
    group = {**fixture_json("roamify", "packages.json")["data"]["packages"][0],
             "countryName": "Africa Adventure", "countryCode": "AF", "geography": geography,
             "signals": [{"code": "KE", "name": "Kenya"}, {"code": "TZ", "name": "Tanzania"}]}
    [plan] = parse_packages({"packages": [group]}, countries)
    assert plan.countries == ("KE", "TZ") and plan.region == "regional"
    assert plan.coverage_name == "Africa Adventure"
    afghanistan = {**group, "countryName": "Afghanistan", "geography": "local",
                   "signals": [{"code": "AF", "name": "Afghanistan"}]}
    [plan] = parse_packages({"packages": [afghanistan]}, countries)
    assert plan.countries == ("AF",) and plan.coverage_name is None


def test_a_global_group_is_named_and_a_countrys_group_is_not():
    countries = CountryMap([{"code": "GL", "name": "Global"}, {"code": "JP", "name": "Japan"}])
    base = fixture_json("roamify", "packages.json")["data"]["packages"][0]
    glob = {**base, "countryName": " Global ", "countryCode": "GL", "geography": "global",
            "signals": [{"code": "JP"}, {"code": "FR"}, {"code": "US"}]}
    japan = {**base, "countryName": "Japan", "countryCode": "JP", "geography": "local", "signals": [{"code": "JP"}]}
    [g], [j] = parse_packages({"packages": [glob]}, countries), parse_packages({"packages": [japan]}, countries)
    assert (g.countries, g.region, g.coverage_name) == (("JP", "FR", "US"), "global", "Global")
    assert (j.countries, j.region, j.coverage_name) == (("JP",), None, None)


# --- the store: found by the name, not filed under the code -------------------------------------------

def test_searching_africa_finds_the_africa_adventure_packages(store, roamify_plans):
    found = listed(store, text="africa", vendor="roamify")
    want = {p.plan_id for p in africa_adventure(roamify_plans)}
    assert want and want <= {p.plan_id for p in found}
    assert all(p.coverage_name == "Africa Adventure" for p in found if p.plan_id in want)
    assert {p.plan_id for p in listed(store, text="adventure")} == want
    assert {p.plan_id for p in store.plans(search="africa adventure")} == want  # the command line's search


def test_searching_a_microesim_area_finds_it_in_words(store, microesim_plans):
    want = {p.plan_id for p in microesim_plans if p.coverage_name == "Middle East 14"}
    assert want and want <= {p.plan_id for p in listed(store, text="middle east", vendor="microesim")}


def test_afghanistan_lists_afghanistan_not_africa_adventure(store, roamify_plans):
    af = listed(store, country="AF")
    assert af and all(p.countries == ("AF",) and p.coverage_name is None for p in af)
    assert not {p.plan_id for p in af} & {p.plan_id for p in africa_adventure(roamify_plans)}
    ke = {p.plan_id for p in listed(store, country="KE", vendor="roamify")}
    assert {p.plan_id for p in africa_adventure(roamify_plans)} <= ke  # its countries are its signals


def test_the_stored_plan_keeps_its_name(store, roamify_plans):
    p = africa_adventure(roamify_plans)[0]
    assert store.plan("roamify", p.plan_id).coverage_name == "Africa Adventure"


# --- how it reads ------------------------------------------------------------------------------------

def test_coverage_text_says_the_vendors_name():
    africa = ("KE", "TZ", "UG")
    assert coverage_text(africa, "regional", "Africa Adventure") == "Africa Adventure (3 countries)"
    assert coverage_text(africa, "regional") == "Regional (3 countries)"
    assert coverage_text(("JP",) * 1, None) == "Japan"
    assert coverage_text(("ES",), None, "Canary Islands") == "Canary Islands (Spain)"
    assert coverage_text((), "regional", "Europe") == "Europe"
    assert coverage_text(("JP", "FR") * 60, "global", "") == "Global (120 countries)"


def test_a_card_on_a_bundle_names_it(tmp_path):
    store = SqliteStore(tmp_path / "esimdesk.sqlite3")
    try:
        plan = Plan("roamify", "esim-africa-7days-1gb-all", "1 GB - 7 Days", AFRICA, 1024, 7, Decimal("4.83"), "USD",
                    region="regional", coverage_name="Africa Adventure")
        store.upsert_plans([plan, replace(plan, plan_id="esim-kenya-7days-1gb-all", countries=("KE",),
                                          region=None, coverage_name=None)])
        for n, plan_id in enumerate(("esim-africa-7days-1gb-all", "esim-kenya-7days-1gb-all")):
            store.upsert_esims([Esim("roamify", f"8900000000000000{n:03d}", EsimStatus.NEW, "READY", plan_id=plan_id,
                                     activation_code="LPA:1$smdp.example.com$ABC-123")])
        bundle, kenya = (C.cards_for(store, f"8900000000000000{n:03d}", reseller="Shop")[0] for n in (0, 1))
        assert bundle.countries == f"Africa Adventure ({len(AFRICA)} countries)"
        assert kenya.countries == "KE"
    finally:
        store.close()
