"""Roamify's current API (roamify-more.md) read from the documents' own sample JSON (tests/fixtures/roamify)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from esimdesk.domain import EsimStatus, MalformedResponse, ValidationError, VendorConfig
from esimdesk.vendors.roamify import RoamifyAdapter
from esimdesk.vendors.roamify_catalog import CountryMap, parse_packages, parse_topup_packages
from esimdesk.vendors.roamify_esims import (
    NO_USAGE,
    parse_balance,
    parse_esim,
    parse_link,
    profile_ready,
    usage_mb,
)
from tests.shapes import fixture_json


def sample(name: str):
    return fixture_json("roamify", f"{name}.json")


def test_packages_sample_becomes_a_plan_with_the_others_fields():
    countries = CountryMap(sample("countries")["data"]["countries"])
    assert countries.shared == {"AF"}  # "Afghanistan" and "Africa Adventure" share it
    [plan] = parse_packages(sample("packages")["data"], countries)
    assert plan.plan_id == "esim-canada-15days-un2gb-all"
    assert plan.name == "Unlimited Data - 15 Days (2 GB / 128 KBPS)"
    assert plan.countries == ("AF",) and plan.region is None  # the group: Afghanistan, local, found by its name
    assert plan.data_mb is None  # isUnlimited with dataAmount 9007199254740991
    assert plan.validity_days == 15
    assert plan.price == Decimal("1.32") and isinstance(plan.price, Decimal) and plan.currency == "USD"


def test_a_regional_group_reusing_a_country_code_is_not_that_country():
    countries = CountryMap(sample("countries")["data"]["countries"])
    group = {**sample("packages")["data"]["packages"][0], "countryName": "Africa Adventure", "countryCode": "AF",
             "geography": "regional",
             "signals": [{"code": "KE", "name": "Kenya"}, {"code": "TZ", "name": "Tanzania"}]}
    [plan] = parse_packages({"packages": [group]}, countries)
    assert plan.countries == ("KE", "TZ") and plan.region == "regional"


def test_esim_sample_has_iccid_lpa_qr_and_ios_link():
    data = sample("esim")["data"]
    assert profile_ready(data)
    esim = parse_esim(data, order_id="67bbabb7-e893-410a-b0a8-4fa62d347b6c")
    assert esim.iccid == "894000000000029365"
    assert esim.activation_code == "LPA:1$lpa.roamify.com$TEST"
    assert esim.status is EsimStatus.NEW and esim.vendor_status == "READY"
    assert esim.install_url.startswith("https://esimsetup.apple.com/") and esim.qr_url.startswith("https://")
    assert esim.vendor_ref == "b06036c5-eadc-4f88-aa31-8c207fec91ec"
    assert esim.expires_at == datetime.fromtimestamp(1732442794, UTC)


def test_lpa_code_is_built_from_address_and_matching_id_when_missing():
    data = sample("esim")["data"]
    data = {**data, "esim": {**data["esim"], "lpaCode": ""}}
    assert parse_esim(data).activation_code == "LPA:1$lpa.roamify.com$TEST"
    assert not profile_ready({**data, "iccid": ""})


def test_usage_sample_is_mb_against_the_known_1gb_plan():
    """The usage sample belongs to the sample eSIM of the 1 GB plan (dataAmount 1024 MB): allowedData 1024."""
    usage = sample("usage")["data"]
    [topup] = parse_topup_packages(sample("topup_packages")["data"])
    assert topup.plan_id == "esim-cambodia-7days-1gb-all" and topup.data_mb == usage["allowedData"] == 1024
    assert usage_mb(usage) == (100, 1024)
    esim = parse_esim({**sample("esim")["data"], "status": "INSTALLED"}, usage=usage)
    assert (esim.data_used_mb, esim.data_total_mb, esim.status) == (100, 1024, EsimStatus.ACTIVE)


def test_esim_without_usage_check_says_so():
    esim = parse_esim({**sample("esim")["data"], "withUsageCheck": False})
    assert NO_USAGE in esim.vendor_status and esim.data_used_mb is None


def test_topup_sample_is_a_topup_plan():
    [plan] = parse_topup_packages(sample("topup_packages")["data"])
    assert plan.topup is True and plan.validity_days == 7 and plan.price == Decimal("5")


def test_balance_and_link_samples():
    bal = parse_balance(sample("balance")["data"])
    assert bal.amount == Decimal("3723.35") and bal.currency == "USD"
    link = parse_link(sample("esim_link")["data"])
    assert link.url == "https://dev.esims.link/acme/4OYONUH79IW1" and link.access_code == "5897"


def test_instant_order_sample_esim_is_ready():
    [obj] = sample("instant_order")["data"]["esims"]
    assert profile_ready(obj) and parse_esim(obj).activation_code == "LPA:1$lpa.roamify.com$TEST"


@pytest.mark.parametrize("bad", [None, [], {"packages": {}}, {"packages": [{"packages": [{"day": 3}]}]},
                                 {"packages": [{"packages": [{"packageId": "x", "day": 1, "price": "n/a"}]}]}])
def test_malformed_catalog_is_typed(bad):
    with pytest.raises(MalformedResponse):
        parse_packages(bad, CountryMap())


def adapter(handler) -> RoamifyAdapter:
    cfg = VendorConfig("roamify", "https://roamify.test", {"TOKEN": "samples-token-1f9c"})
    return RoamifyAdapter(cfg, timeout=2, transport=httpx.MockTransport(handler))


async def test_withtopup_false_is_refused_in_words_before_listing_or_ordering():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={**sample("esim"), "data": {**sample("esim")["data"], "withTopUp": False}})

    async with adapter(handler) as a:
        with pytest.raises(ValidationError, match="cannot be topped up"):
            await a.list_topup_plans("894000000000029365")
    assert seen == ["/api/esim"]


async def test_catalog_pages_until_a_short_page_with_the_documented_params():
    pages = {1: sample("packages"), 2: {"status": "success", "data": {"packages": []}}}
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/esim/countries":
            return httpx.Response(200, json=sample("countries"))
        seen.append(dict(request.url.params))
        return httpx.Response(200, json=pages[int(request.url.params["page"])])

    async with adapter(handler) as a:
        a.page_size = 1
        plans = [p async for page in a.iter_plans() for p in page]
    assert [p.plan_id for p in plans] == ["esim-canada-15days-un2gb-all"]
    assert seen == [{"page": "1", "pageSize": "1"}, {"page": "2", "pageSize": "1"}]
    assert json.dumps(seen)  # plain strings
