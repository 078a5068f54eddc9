"""Roumio normalisation, from the document's own samples (fixtures) and its tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from esimdesk.domain import (
    EsimStatus,
    InsufficientBalance,
    MalformedResponse,
    NotFound,
    OrderStatus,
    PriceChanged,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorRejected,
)
from esimdesk.vendors import DEFAULT_URLS, adapter_class
from esimdesk.vendors.base import Capability
from esimdesk.vendors.roumio import (
    RoumioAdapter,
    countries,
    esim_from,
    make_check,
    money,
    parse_time,
    plan_from,
    topup_support,
)
from esimdesk.vendors.roumio_errors import ERRORS, AllocationPending, error_for
from esimdesk.vendors.roumio_status import PAIRS, esim_status
from tests.shapes import assert_same_shape

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "roumio"
KEY = "unit-test-roumio-key-42"


def fixture(name: str):
    return json.loads((FIX / f"{name}.json").read_text())


# A package as the document's field table describes it (the document has no package/list sample).
TABLE_PACKAGE = {
    "packageCode": "JC016",
    "slug": "AU_1_7",
    "name": "Asia 11 countries 1GB 30 Days",
    "price": 1570,
    "currencyCode": "USD",
    "volume": 1024,
    "smsStatus": 0,
    "dataType": 1,
    "unusedValidTime": 30,
    "duration": 30,
    "durationUnit": "DAY",
    "location": "CN,HK,ID,JP,MO,MY,PH,SG,KR,TW,TH,IN,VN,SA,KH,PK,LK",
    "description": "Asia 11 countries",
    "activeType": 1,
    "favorite": False,
    "speed": "3G/4G",
    "locationNetworkList": [{"locationName": "Spain", "locationLogo": "/img/es.png"}],
    "operatorList": [{"operatorName": "T-Mobile", "networkType": "4G/5G"}],
    "ipExport": "HK",
    "supportTopUpType": 2,
}


def mock_adapter(handler) -> RoumioAdapter:
    cfg = VendorConfig("roumio", "https://roumio.test/v1", {"KEY": KEY})
    adapter = RoumioAdapter(cfg, transport=httpx.MockTransport(handler), timeout=2)
    adapter.http.limiter = None  # no network here: the rate limit only slows the test
    return adapter


def answer(body, status=200):
    return httpx.Response(status, json=body)


def test_class_declarations():
    assert adapter_class("roumio") is RoumioAdapter
    assert RoumioAdapter.default_url == DEFAULT_URLS["roumio"]
    assert RoumioAdapter.max_quantity_per_line == 1 and RoumioAdapter.idempotent_orders is True
    assert RoumioAdapter.capabilities == {
        Capability.PLANS,
        Capability.TOPUP_PLANS,
        Capability.BALANCE,
        Capability.ORDER,
        Capability.ORDER_STATUS,
        Capability.LIST_ORDERS,
        Capability.LIST_ESIMS,
        Capability.GET_ESIM,
        Capability.TOPUP,
        Capability.PLAN_TOPUPS,
    }


def test_money_and_units():
    assert money(1570) == Decimal("15.70")
    assert money("1570") == Decimal("15.70")
    assert money(500000) == Decimal("5000.00")
    with pytest.raises(TypeError):
        money(True)


def test_times():
    assert parse_time("2024-05-29T18:34:17+0000") == datetime(2024, 5, 29, 18, 34, 17, tzinfo=UTC)
    assert parse_time("2024-01-11T08:10:19Z") == datetime(2024, 1, 11, 8, 10, 19, tzinfo=UTC)
    assert parse_time("2010-06-30T01:20+00:00") == datetime(2010, 6, 30, 1, 20, tzinfo=UTC)
    assert parse_time("2023-03-03T14:20:00+0800") == datetime(2023, 3, 3, 6, 20, tzinfo=UTC)
    assert parse_time(None) is None


def test_location_and_topup_flag():
    assert countries("CN,HK, JP") == (("CN", "HK", "JP"), "regional")
    assert countries("ES") == (("ES",), None)
    assert countries("!GL") == ((), "global")
    assert countries("!RG") == ((), "regional")
    assert topup_support(2) is True and topup_support(1) is False
    assert topup_support(True) is True and topup_support(False) is False
    assert topup_support("2") is True and topup_support(None) is None


def test_plan_from_table_example():
    p = plan_from(TABLE_PACKAGE)
    assert p.plan_id == "JC016" and p.price == Decimal("15.70") and p.currency == "USD"
    assert p.data_mb == 1024 and p.validity_days == 30 and p.daily is False and p.topup is True
    assert p.countries[:3] == ("CN", "HK", "ID") and len(p.countries) == 17 and p.region == "regional"
    daily = plan_from({**TABLE_PACKAGE, "dataType": 2, "supportTopUpType": False, "volume": 5368709120})
    assert daily.daily is True and daily.topup is False and daily.data_mb == 5120  # bytes recognised


def test_esim_from_query_sample():
    raw = fixture("query_response")["obj"]["esimList"][0]
    e = esim_from(raw)
    assert e.iccid == "8943108170000775671"
    assert e.status is EsimStatus.CANCELLED and e.vendor_status == "CANCEL/RELEASED"
    assert e.order_id == "B23120118131854" and e.plan_id == "CKH003"
    assert e.activation_code == "LPA:1$rsp-eu.roumiomobile.com$43DE23C67EE747BCAD6B63E8B67B261F"
    assert e.qr_url == "https://qr.roumio.com/?id=31068bd2-9d77-49f6-80d8-92692536f66b"
    assert e.vendor_ref == "23120118156818"
    assert e.data_used_mb == 5000 and e.data_total_mb == 15000
    assert e.expires_at == datetime(2024, 5, 29, 18, 34, 17, tzinfo=UTC) and e.installed_at is None


@pytest.mark.parametrize(
    ("esim", "smdp", "usage", "expected"),
    [
        ("GOT_RESOURCE", "RELEASED", 0, EsimStatus.NEW),
        ("GOT_RESOURCE", "ENABLED", 0, EsimStatus.INSTALLED),
        ("IN_USE", "ENABLED", 0, EsimStatus.INSTALLED),  # the document's "Onboard"
        ("IN_USE", "ENABLED", 123, EsimStatus.ACTIVE),
        ("IN_USE", "DISABLED", 123, EsimStatus.ACTIVE),
        ("IN_USE", "INSTALLATION", None, EsimStatus.ACTIVE),
        ("USED_UP", "ENABLED", 999, EsimStatus.DEPLETED),
        ("USED_UP", "DISABLED", 999, EsimStatus.DEPLETED),
        ("USED_UP", "DELETED", 999, EsimStatus.DELETED),
        ("IN_USE", "DELETED", 999, EsimStatus.DELETED),
        ("USED_EXPIRED", "DISABLED", 5, EsimStatus.EXPIRED),
        ("UNUSED_EXPIRED", "RELEASED", 0, EsimStatus.EXPIRED),
        ("CANCEL", "RELEASED", 0, EsimStatus.CANCELLED),
        ("REVOKE", "DISABLED", 0, EsimStatus.CANCELLED),
        ("SUSPENDED", "ENABLED", 0, EsimStatus.SUSPENDED),
        ("PAYING", "", None, EsimStatus.NEW),
        ("SOMETHING_NEW", "ENABLED", 1, EsimStatus.UNKNOWN),
        (None, None, None, EsimStatus.UNKNOWN),
    ],
)
def test_status_table(esim, smdp, usage, expected):
    assert esim_status(esim, smdp, usage) is expected


def test_status_table_rows_are_valid_pairs():
    assert all(isinstance(v, EsimStatus) for v in PAIRS.values())


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("200005", PriceChanged),
        ("200006", PriceChanged),
        ("200007", InsufficientBalance),
        ("310241", NotFound),
        ("310403", NotFound),
        ("310272", NotFound),
        ("900001", VendorBusy),
        ("101003", VendorAuthError),
        ("000101", VendorAuthError),
        ("000102", VendorAuthError),
        ("200010", AllocationPending),
        ("200011", VendorRejected),
        ("999999", VendorRejected),
    ],
)
def test_error_codes(code, cls):
    err = error_for(code, "vendor words", "esim/order", write=True)
    assert type(err) is cls and err.code == code and err.vendor == "roumio"
    assert err.retryable is (cls is VendorBusy)
    assert not err.maybe_sent


def test_every_documented_code_has_words():
    assert len(ERRORS) == 29
    assert all(words and not words.endswith(".") for _, words in ERRORS.values())


def test_envelope_check_accepts_both_success_forms_and_both_message_keys():
    check = make_check("esim/query", write=False)
    check(fixture("query_response"))  # errorCode "0"
    check(fixture("order_response"))  # errorCode null
    check({"success": True, "obj": {}})  # errorCode missing
    with pytest.raises(PriceChanged) as e1:
        check({"success": False, "errorCode": "200005", "errorMessage": "Package price error."})
    assert e1.value.code == "200005"
    with pytest.raises(VendorRejected, match="odd thing"):
        check({"success": False, "errorCode": "123456", "errorMsg": "odd thing"})
    with pytest.raises(VendorRejected):
        check({"success": False, "errorCode": None, "errorMsg": None, "obj": None})
    with pytest.raises(MalformedResponse):
        check(["not", "an", "envelope"])
    with pytest.raises(VendorBusy) as busy:
        check({"success": False, "errorCode": 900001, "errorMsg": "busy"})  # a number, not a string
    assert busy.value.retryable


# --- the adapter over a mock transport, answering with the document's samples ------------------------------
async def test_place_order_from_sample():
    seen = []

    def handler(request: httpx.Request):
        seen.append((request.url.path, request.headers.get("authorization"), json.loads(request.content)))
        return answer(fixture("order_response"))

    async with mock_adapter(handler) as a:
        order = await a.place_order("7aa948d363", 3, "Your_txn_id", Decimal("15.00"))
    path, auth, body = seen[0]
    assert path == "/v1/esim/order" and auth == KEY and len(seen) == 1
    assert_same_shape(fixture("order_request"), body)
    assert body["transactionId"] == "Your_txn_id" and body["amount"] == 4500
    assert body["packageInfoList"] == [{"packageCode": "7aa948d363", "count": 1, "price": 1500}] * 3
    assert order.order_id == "B23051616050537" and order.reference == "Your_txn_id"
    assert (
        order.status is OrderStatus.ALLOCATING and order.total == Decimal("45.00") and order.currency == "USD"
    )


async def test_place_order_looks_up_the_price_first():
    paths = []

    def handler(request: httpx.Request):
        paths.append(request.url.path)
        if request.url.path.endswith("package/list"):
            return answer(
                {"success": True, "errorCode": "0", "errorMsg": None, "obj": {"packageList": [TABLE_PACKAGE]}}
            )
        assert json.loads(request.content)["packageInfoList"][0]["price"] == 1570
        return answer(fixture("order_response"))

    async with mock_adapter(handler) as a:
        order = await a.place_order("JC016", 1, "ref-1")
    assert paths == ["/v1/package/list", "/v1/esim/order"] and order.total == Decimal("15.70")


async def test_get_order_pending_then_completed():
    replies = [
        {
            "success": False,
            "errorCode": "200010",
            "errorMsg": "Profile is being downloaded for the order.",
            "obj": None,
        },
        fixture("query_response"),
    ]

    def handler(request):
        body = json.loads(request.content)
        assert body["orderNo"] == "B23120118131854" and 5 <= body["pager"]["pageSize"] <= 500
        return answer(replies.pop(0))

    async with mock_adapter(handler) as a:
        pending = await a.get_order("B23120118131854", "test344343433")
        assert pending.status is OrderStatus.ALLOCATING and pending.order_id == "B23120118131854"
        done = await a.get_order("B23120118131854")
    assert done.status is OrderStatus.COMPLETED and done.reference == "test344343433"
    assert [e.iccid for e in done.esims] == ["8943108170000775671"]
    assert done.created_at == datetime(2023, 12, 1, 18, 34, 17, tzinfo=UTC)


async def test_balance_and_topup_requests():
    seen = []

    def handler(request):
        body = json.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path.endswith("balance"):
            return answer({"success": True, "errorCode": None, "errorMsg": None, "obj": {"balance": 1000}})
        return answer(
            {
                "success": True,
                "errorCode": None,
                "errorMsg": None,
                "obj": {
                    "transactionId": "TXN-123",
                    "iccid": "89852245280001354019",
                    "expiredTime": "2023-08-17T17:01:37+0000",
                    "totalVolume": 12000,
                    "totalDuration": 28,
                    "orderUsage": 207239584,
                },
            }
        )

    async with mock_adapter(handler) as a:
        bal = await a.get_balance()
        top = await a.topup(
            "89852245280001354019", "SM001", "TXN-123", Decimal("100.00"), vendor_ref="24111319542101"
        )
        await a.topup("89852245280001354019", "SM001", "TXN-124")
    assert bal.amount == Decimal("10.00") and bal.currency == "USD"
    assert seen[0] == ("/v1/balance", {})
    assert seen[1][1] == {
        "transactionId": "TXN-123",
        "packageCode": "SM001",
        "esimTranNo": "24111319542101",
        "amount": "10000",
    }
    assert seen[2][1] == {"transactionId": "TXN-124", "packageCode": "SM001", "iccid": "89852245280001354019"}
    assert top.kind == "topup" and top.status is OrderStatus.COMPLETED and top.reference == "TXN-123"


async def test_write_with_unreadable_success_is_maybe_sent():
    def handler(request):
        return answer({"success": True, "errorCode": None, "errorMsg": None, "obj": {"transactionId": "x"}})

    async with mock_adapter(handler) as a:
        with pytest.raises(MalformedResponse) as err:
            await a.place_order("JC016", 1, "ref", Decimal("1.00"))
    assert err.value.maybe_sent


async def test_get_esim_not_found():
    def handler(request):
        return answer(
            {
                "success": False,
                "errorCode": "310403",
                "errorMsg": "The ICCID does not exist in the order.",
                "obj": None,
            }
        )

    async with mock_adapter(handler) as a:
        with pytest.raises(NotFound) as err:
            await a.get_esim("8943108170000775671")
    assert err.value.code == "310403" and not err.value.retryable
