"""Roamify adapter from the documented samples (no network: httpx.MockTransport), plus fuzzing."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esimdesk.domain import (
    InsufficientBalance,
    NotFound,
    OrderStatus,
    Unsupported,
    VendorAuthError,
    VendorConfig,
    VendorError,
    VendorRejected,
)
from esimdesk.vendors import Capability
from esimdesk.vendors.roamify import (
    ORDER_STATUS,
    RoamifyAdapter,
    area_of,
    parse_order,
    parse_orders,
    parse_package_name,
    plans_from_orders,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "roamify"
TOKEN = "tok-roamify-secret-123"


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def adapter(handler) -> RoamifyAdapter:
    cfg = VendorConfig("roamify", "https://roamify.test", {"TOKEN": TOKEN})
    return RoamifyAdapter(cfg, timeout=2, transport=httpx.MockTransport(handler))


def test_declares_documented_capabilities():
    assert RoamifyAdapter.name == "roamify"
    # The current API (roamify-more.md): catalog, balance, eSIMs and compatible top-ups besides orders.
    assert RoamifyAdapter.capabilities == {
        Capability.PLANS,
        Capability.TOPUP_PLANS,
        Capability.BALANCE,
        Capability.ORDER,
        Capability.ORDER_STATUS,
        Capability.LIST_ORDERS,
        Capability.LIST_ESIMS,
        Capability.GET_ESIM,
        Capability.TOPUP,
        Capability.START_DATE,
        Capability.SHARE_LINK,
        Capability.ORDER_BY_REFERENCE,
        Capability.FIND_ORDERS,
        Capability.EXCHANGE_RATES,  # roamify-support.md §4
        Capability.REFUNDS,  # refund requests Roamify support decides (issue 30)
    }
    assert RoamifyAdapter.idempotent_orders is False
    assert TOKEN not in repr(adapter(lambda r: httpx.Response(200)))


def test_parse_sample_order():
    order = parse_order(fixture("create_order")["data"], "ref-1")
    assert order.order_id == "67bbabb7-e893-410a-b0a8-4fa62d347b6c"
    assert order.reference == "ref-1"
    assert order.status is OrderStatus.COMPLETED
    assert order.total == Decimal("5") and isinstance(order.total, Decimal)
    assert order.currency == "USD"
    assert order.created_at == datetime(2024, 11, 17, 9, 58, 55, tzinfo=UTC)
    assert order.lines[0].plan_id == "esim-cambodia-7days-1gb-all"
    assert order.lines[0].quantity == 1 and order.lines[0].unit_price == Decimal("5")
    assert order.esims == ()
    assert order.raw["items"][0]["esimId"] == "b06036c5-eadc-4f88-aa31-8c207fec91ec"


def test_parse_sample_listing_and_topup():
    orders = parse_orders(fixture("get_orders")["data"])
    assert [o.order_id for o in orders] == ["67bbabb7-e893-410a-b0a8-4fa62d347b6c"]
    topup = parse_order(fixture("create_topup")["data"], "r", "topup")
    assert topup.kind == "topup" and topup.order_id == "0501aef3-7cf1-4b4c-a293-c03a6bd7a8ab"
    assert parse_order(fixture("get_order")["data"]).status is OrderStatus.COMPLETED


@pytest.mark.parametrize(
    "status,expected",
    [
        ("PENDING", OrderStatus.ALLOCATING),
        ("COMPLETED", OrderStatus.COMPLETED),
        ("ARCHIVED", OrderStatus.COMPLETED),
        ("CANCELLED", OrderStatus.FAILED),
        ("REFUNDED", OrderStatus.FAILED),
        ("REQUIRE_ACTION", OrderStatus.ALLOCATING),
        ("SOMETHING_NEW", OrderStatus.UNCERTAIN),
    ],
)
def test_status_table(status, expected):
    data = copy.deepcopy(fixture("get_order")["data"])
    data["status"] = status
    assert parse_order(data).status is expected
    assert set(ORDER_STATUS) == {
        "PENDING",
        "COMPLETED",
        "ARCHIVED",
        "CANCELLED",
        "REFUNDED",
        "REQUIRE_ACTION",
    }


def test_money_goes_through_str_not_float():
    data = copy.deepcopy(fixture("get_order")["data"])
    data["total"] = 4.99
    data["items"][0]["price"] = 0.1
    order = parse_order(data)
    assert order.total == Decimal("4.99") and order.lines[0].unit_price == Decimal("0.1")


def test_plans_from_orders():
    orders = parse_orders(fixture("get_orders")["data"])
    extra = copy.deepcopy(fixture("get_order")["data"])
    extra["createdAt"] += 10
    extra["items"] = [
        {
            **extra["items"][0],
            "packageId": "esim-europe-30days-unlimited-all",
            "package": "Unlimited - 30 Days",
            "price": 39.5,
        },
        {**extra["items"][0], "packageId": "esim-japan-7days-1gbday-all", "package": "1 GB/Day - 7 Days"},
        {**extra["items"][0], "packageId": "esim-global-15days-500mb-all", "package": "500 MB - 15 Days"},
        {**extra["items"][0], "packageId": "esim-cote-d-ivoire-7days-3gb-all", "package": "3 GB - 7 Days"},
        {**extra["items"][0], "packageId": "esim-mars-7days-3gb-all", "package": "nonsense"},
    ]
    plans = {p.plan_id: p for p in plans_from_orders([*orders, extra])}
    kh = plans["esim-cambodia-7days-1gb-all"]
    assert kh.countries == ("KH",) and kh.data_mb == 1024 and kh.validity_days == 7
    assert kh.price == Decimal("5") and kh.currency == "USD" and not kh.daily
    eu = plans["esim-europe-30days-unlimited-all"]
    assert eu.data_mb is None and eu.region == "regional" and eu.price == Decimal("39.5")
    assert plans["esim-japan-7days-1gbday-all"].daily and plans["esim-japan-7days-1gbday-all"].countries == (
        "JP",
    )
    assert plans["esim-global-15days-500mb-all"].region == "global"
    assert plans["esim-global-15days-500mb-all"].data_mb == 500
    assert plans["esim-cote-d-ivoire-7days-3gb-all"].countries == ("CI",)
    assert "esim-mars-7days-3gb-all" not in plans


def test_every_simulated_country_slug_maps_back():
    from esimdesk.sandbox.roamify_catalog import AREAS

    for slug, codes in AREAS:
        countries, region = area_of(f"esim-{slug}-7days-1gb-all")
        if len(codes) == 1:
            assert countries == codes, slug
        else:
            assert region in ("regional", "global"), slug


def test_parse_package_name():
    assert parse_package_name("1 GB - 7 Days") == (1024, 7, False)
    assert parse_package_name("Unlimited - 1 Day") == (None, 1, False)
    assert parse_package_name("2 GB/Day - 15 Days") == (2048, 15, True)
    assert parse_package_name("0.5 GB - 3 Days") == (512, 3, False)
    assert parse_package_name("whatever") is None


async def test_place_order_sends_items_once_and_keeps_reference():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=fixture("create_order"))

    async with adapter(handler) as a:
        order = await a.place_order("esim-cambodia-7days-1gb-all", 1, "ref-9")
    assert len(seen) == 1
    assert seen[0].method == "POST" and seen[0].url.path == "/api/esim/order"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(seen[0].content)
    # The older document's body plus the current API's referenceId (roamify-more.md §4a): our handle.
    assert sent == {"items": [{"packageId": "esim-cambodia-7days-1gb-all", "quantity": 1}], "referenceId": "ref-9"}
    assert sent.keys() == fixture("create_order_request").keys() | {"referenceId"}
    # Roamify says COMPLETED, but the answer has no ICCID or LPA code: the profiles are still to generate.
    assert order.reference == "ref-9" and order.status is OrderStatus.ALLOCATING and order.esims == ()


async def test_topup_body_matches_document():
    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=fixture("create_topup"))

    async with adapter(handler) as a:
        order = await a.topup("8988247000000000031", "esim-cambodia-7days-1gb-all", "r")
    assert seen[0].keys() == fixture("create_topup_request").keys() | {"referenceId"}
    assert seen[0]["referenceId"] == "r"
    assert order.kind == "topup"


@pytest.mark.parametrize(
    "status,body,err",
    [
        (200, {"status": "error", "message": "Package not found"}, NotFound),
        (400, {"status": "error", "message": "Insufficient balance"}, InsufficientBalance),
        (404, {"status": "error", "message": "Order not found"}, NotFound),
        (400, {"status": "error", "message": "quantity must be a number"}, VendorRejected),
        (401, {"status": "error", "message": "Unauthorized"}, VendorAuthError),
    ],
)
async def test_error_envelopes_are_typed_with_vendor_message(status, body, err):
    async with adapter(lambda r: httpx.Response(status, json=body)) as a:
        with pytest.raises(err) as info:
            await a.get_order("x")
    if status != 401:
        assert body["message"] in str(info.value)
    assert TOKEN not in str(info.value)


async def test_malformed_answer_to_an_order_is_maybe_sent():
    async with adapter(lambda r: httpx.Response(200, json={"status": "success", "data": {"id": 3}})) as a:
        with pytest.raises(VendorError) as info:
            await a.place_order("p", 1, "r")
    assert info.value.maybe_sent


async def test_find_orders_filters_package_quantity_time():
    listing = fixture("get_orders")
    async with adapter(lambda r: httpx.Response(200, json=listing)) as a:
        sent = datetime(2024, 11, 17, 9, 58, 55, 500000, tzinfo=UTC)  # same second as the order
        assert len(await a.find_orders("esim-cambodia-7days-1gb-all", 1, sent, sent)) == 1
        assert await a.find_orders("esim-cambodia-7days-1gb-all", 2, sent, sent) == []
        assert await a.find_orders("other", 1, sent, sent) == []
        later = datetime(2025, 1, 1, tzinfo=UTC)
        assert await a.find_orders("esim-cambodia-7days-1gb-all", 1, later, later) == []


@pytest.mark.parametrize("skew", [-300, 300])
async def test_find_orders_compares_on_roamifys_clock_from_its_date_header(skew):
    """The desk's clock is ``skew`` seconds off Roamify's: the window moves by the Date header's offset."""
    from email.utils import formatdate

    listing = fixture("get_orders")
    created = datetime.fromtimestamp(listing["data"]["orders"][0]["createdAt"], UTC)

    def handler(request):
        # Roamify's clock reads "now - skew" while ours reads now.
        return httpx.Response(200, json=listing, headers={"Date": formatdate(time.time() - skew, usegmt=True)})

    async with adapter(handler) as a:
        sent_on_desk = created + timedelta(seconds=skew)
        assert len(await a.find_orders("esim-cambodia-7days-1gb-all", 1, sent_on_desk, sent_on_desk)) == 1
        assert abs(a.clock_offset + skew) < 2


async def test_order_by_reference_found_absent_or_not_answered():
    order = fixture("create_order")["data"]
    with_ref = {**order, "referenceId": "h-1"}

    def current(request):
        if request.url.path.endswith("/orders"):
            return httpx.Response(200, json={"status": "success", "data": {"orders": [with_ref]}})
        if request.url.params.get("referenceId") == "h-1":
            return httpx.Response(200, json={"status": "success", "data": with_ref})
        return httpx.Response(404, json={"status": "error", "message": "Order not found"})

    async with adapter(current) as a:
        found = await a.order_by_reference("h-1")
        assert found is not None and found.order_id == order["id"] and found.reference == "h-1"
        assert await a.order_by_reference("h-2") is None  # this API knows referenceId: not placed

    def older(request):  # roamify.md's API: looks orders up by orderId only, lists no referenceId
        if request.url.path.endswith("/orders"):
            return httpx.Response(200, json={"status": "success", "data": {"orders": [order]}})
        return httpx.Response(400, json={"status": "error", "message": "orderId is required"})

    async with adapter(older) as a:
        with pytest.raises(Unsupported):
            await a.order_by_reference("h-1")


# --- fuzzing: arbitrary JSON and mangled samples must only ever raise VendorError ------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _mangle(sample, data):
    doc = copy.deepcopy(sample)
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(doc, ())
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths[1:]))
        try:
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if data.draw(st.booleans()):
                parent[path[-1]] = data.draw(json_values)
            elif isinstance(parent, dict):
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            pass
    return doc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(json_values, st.data()))
async def test_fuzz_only_vendor_errors_escape(value):
    if isinstance(value, st.DataObject):
        name = value.draw(st.sampled_from(["create_order", "create_topup", "get_order", "get_orders"]))
        value = _mangle(fixture(name), value)
    body = json.dumps(value).encode()

    def handler(request):
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    async with adapter(handler) as a:
        a.http.retries = 0  # malformed reads are retryable; retrying the same bytes proves nothing here
        for call in (
            lambda: a.place_order("p", 1, "r"),
            lambda: a.get_order("o"),
            lambda: a.list_orders(),
            lambda: a.topup("8988247000000000031", "p", "r"),
        ):
            try:
                await call()
            except VendorError:
                pass
    plans_from_orders([value] if isinstance(value, dict) else [])
    if isinstance(value, dict) and isinstance(value.get("data"), dict):
        plans_from_orders(
            value["data"].get("orders") or [] if isinstance(value["data"].get("orders"), list) else []
        )
