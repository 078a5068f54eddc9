"""MicroESIM adapter unit tests: every vendor sample (tests/fixtures/microesim, copied verbatim from the
document; all samples there are valid JSON) through the adapter over a mock transport."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from esimdesk.domain import (
    ConfigError,
    EsimStatus,
    InsufficientBalance,
    MalformedResponse,
    NotFound,
    OrderStatus,
    Unsupported,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorRejected,
)
from esimdesk.vendors import Capability
from esimdesk.vendors.microesim import (
    MicroesimAdapter,
    mb_from_decimal,
    parse_time,
    parse_volume_mb,
)
from esimdesk.vendors.microesim_auth import MicroesimAuth, derive_key, signature

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "microesim"
SECRETS = {"ACCOUNT": "acct-demo", "SECRET": "s3cr3t-value", "SALT": "a1b2c3d4e5f60718"}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def adapter_for(handler) -> MicroesimAdapter:
    config = VendorConfig("microesim", "https://test.microesim.com", SECRETS)
    adapter = MicroesimAdapter(config, timeout=2, transport=httpx.MockTransport(handler))
    adapter.http.backoff = 0.01  # keep retried reads quick
    return adapter


def serve(routes: dict[str, dict], seen: list | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(200, json=routes[request.url.path.rsplit("/", 1)[1]])

    return handler


# --- signing -------------------------------------------------------------------------------------
def test_signature_matches_the_vendor_algorithm_computed_by_hand():
    # Expected values computed separately with hashlib.pbkdf2_hmac + hmac (scratch script), following the
    # vendor's Python reference code.
    key = derive_key("s3cr3t-value", "a1b2c3d4e5f60718")
    assert key == "1cc3052ec63d3dc61f83613207d3747ca716b7b46339df40e71a471c14d220dd"
    sig = signature(key, "acct-demo", "n0nce123abc", "1723788008000")
    assert sig == "30cd08f99cfc636e69ff6892554f0b294a42ff995ae1f4bd9a3789843a406877"
    auth = MicroesimAuth(
        "acct-demo",
        "s3cr3t-value",
        "a1b2c3d4e5f60718",
        clock=lambda: 1723788008.0,
        nonce=lambda: "n0nce123abc",
    )
    assert auth.headers() == {
        "MICROESIM-ACCOUNT": "acct-demo",
        "MICROESIM-NONCE": "n0nce123abc",
        "MICROESIM-TIMESTAMP": "1723788008000",
        "MICROESIM-SIGN": sig,
    }


def test_every_request_gets_a_fresh_nonce_and_13_digit_timestamp():
    seen: list[httpx.Request] = []
    auth = MicroesimAuth("a", "b", "00ff")
    with httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200)), auth=auth
    ) as c:
        c.get("https://x/")
        c.get("https://x/")
    nonces = {r.headers["MICROESIM-NONCE"] for r in seen}
    assert len(nonces) == 2 and all(6 <= len(n) <= 32 for n in nonces)
    assert all(len(r.headers["MICROESIM-TIMESTAMP"]) == 13 for r in seen)


async def test_secrets_and_derived_key_stay_hidden(caplog):
    caplog.set_level(logging.DEBUG)
    adapter = adapter_for(
        serve({"accountBalance": {"code": 401, "msg": "MICROESIM-SIGN verification failed"}})
    )
    key = derive_key(SECRETS["SECRET"], SECRETS["SALT"])
    texts = [repr(adapter), str(adapter), repr(adapter.config), repr(adapter._auth), repr(adapter.http)]
    for text in texts:
        assert SECRETS["SECRET"] not in text and SECRETS["SALT"] not in text and key not in text
    logging.getLogger("esimdesk.vendors.microesim").debug("leak %s %s", key, SECRETS["SECRET"])
    with pytest.raises(VendorAuthError) as err:
        await adapter.get_balance()
    for text in (caplog.text, str(err.value), repr(err.value)):
        assert key not in text and SECRETS["SECRET"] not in text and SECRETS["SALT"] not in text


def test_missing_or_bad_secrets_are_config_errors():
    with pytest.raises(ConfigError):
        MicroesimAdapter(VendorConfig("microesim", "https://x", {"ACCOUNT": "a"}))
    with pytest.raises(ConfigError) as err:
        MicroesimAdapter(
            VendorConfig("microesim", "https://x", {"ACCOUNT": "a", "SECRET": "b", "SALT": "zz-secret"})
        )
    assert "zz-secret" not in str(err.value)


def test_declares_what_the_document_offers():
    assert MicroesimAdapter.name == "microesim" and MicroesimAdapter.idempotent_orders
    assert MicroesimAdapter.default_url == "https://www.microesim.top"
    assert Capability.LIST_ORDERS not in MicroesimAdapter.capabilities
    assert Capability.TOPUP not in MicroesimAdapter.capabilities
    assert {Capability.PLANS, Capability.ORDER, Capability.EVENTS} <= MicroesimAdapter.capabilities


# --- normalisation -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, mb",
    [
        ("unlimited", None),
        ("Unlimited", None),
        ("1GB", 1024),
        ("500MB", 500),
        ("0.5GB", 512),
        ("20GB", 20480),
        ("1 GB", 1024),
    ],
)
def test_volumes(text, mb):
    assert parse_volume_mb(text) == mb


def test_usage_rounds_half_up_to_whole_mb():
    assert mb_from_decimal("17135.6") == 17136 and mb_from_decimal("4904.49") == 4904
    assert mb_from_decimal("0.5") == 1 and mb_from_decimal("0") == 0


def test_times_are_utc8_and_java_cst():
    assert parse_time("2023-07-05 12:50:46") == datetime(2023, 7, 5, 4, 50, 46, tzinfo=UTC)
    assert parse_time("Fri Aug 16 14:00:08 CST 2024") == datetime(2024, 8, 16, 6, 0, 8, tzinfo=UTC)
    assert parse_time("") is None and parse_time(None) is None
    with pytest.raises(ValueError):
        parse_time("Fri Aug 16 14:00:08 XYZ 2024")


async def test_plan_list_sample():
    adapter = adapter_for(serve({"esimDataplanList": fixture("esimDataplanList")}))
    plans = await adapter.list_all_plans()
    assert [p.plan_id for p in plans][:2] == [
        "b1a926e1-d770-4e03-804e-c527b9397eb9",
        "202408136e79772A718449EEE9290CAC3",
    ]
    first = plans[0]
    assert first.price == Decimal("524.00") and first.currency == "HKD" and first.data_mb is None
    assert (
        first.validity_days == 30 and first.countries == ("JP",) and not first.daily and first.region is None
    )
    assert plans[4].price == Decimal("71.62")


async def test_plan_page_sample_and_paging_stops_at_total_pages():
    seen: list[httpx.Request] = []
    adapter = adapter_for(serve({"esimDataplanListPage": fixture("esimDataplanListPage")}, seen))
    pages = [page async for page in adapter.iter_plans()]
    assert len(pages) == 1 and len(pages[0]) == 5
    assert seen[0].url.params["pageNo"] == "1" and seen[0].url.params["pageSize"] == "500"
    assert pages[0][1].raw["special_desc"] == "ekyc required esim"


async def test_generated_plan_forms():
    adapter = adapter_for(serve({}))
    base = fixture("esimDataplanList")["result"][0]
    regional = adapter.parse_plan(
        base
        | {
            "code": "FR,DE,IT",
            "networks": "FR:Orange[4G]|DE:Vodafone[4G]|",
            "channel_dataplan_name": "Europe 3-Total5GB-30",
            "data": "5GB",
        }
    )
    assert (
        regional.countries == ("FR", "DE", "IT")
        and regional.region == "regional"
        and regional.data_mb == 5120
    )
    daily = adapter.parse_plan(base | {"channel_dataplan_name": "Japan-Daily1GB-7", "data": "1GB"})
    assert daily.daily and daily.data_mb == 1024
    assert adapter.parse_plans([base | {"status": "0"}, base | {"data": "lots"}, "x", base]) == [
        adapter.parse_plan(base)
    ]


async def test_balance_sample():
    balance = await adapter_for(serve({"accountBalance": fixture("accountBalance")})).get_balance()
    assert balance.amount == Decimal("14860.23") and balance.currency == "HKD"


async def test_subscribe_sample_sends_multipart_once():
    seen: list[httpx.Request] = []
    adapter = adapter_for(serve({"esimSubscribe": fixture("esimSubscribe")}, seen))
    order = await adapter.place_order("b1a926e1-d770-4e03-804e-c527b9397eb9", 2, "ref-42", Decimal("524.00"))
    assert order.order_id == "202308161431187762753800" and order.reference == "ref-42"
    assert (
        order.status is OrderStatus.ALLOCATING
        and order.total == Decimal("1048.00")
        and order.currency == "HKD"
    )
    assert len(seen) == 1 and seen[0].headers["content-type"].startswith("multipart/form-data")
    body = seen[0].content.decode()
    assert 'name="custom_order_no"\r\n\r\nref-42' in body and 'name="number"\r\n\r\n2' in body


async def test_repeated_custom_order_no_returns_the_first_order():
    answer = {
        "code": 409,
        "msg": "custom_order_no already exists",
        "result": {"topup_id": "2024000000000001"},
    }
    order = await adapter_for(serve({"esimSubscribe": answer})).place_order("p", 1, "ref-1")
    assert order.order_id == "2024000000000001" and order.status is OrderStatus.ALLOCATING


async def test_topup_sample_is_a_completed_order():
    adapter = adapter_for(serve({"topupDetail": fixture("topupDetail")}))
    order = await adapter.get_order("202308161431187762753800", "ref-42")
    assert order.status is OrderStatus.COMPLETED and order.reference == "ref-42"
    assert order.created_at == datetime(2024, 8, 16, 6, 0, 8, tzinfo=UTC)
    assert [e.iccid for e in order.esims] == ["9000024081603874", "9000024081684603"]
    assert order.esims[0].activation_code == "LPA:1$rsp-eu.simlessly.com$580FFE02FFEE57965B6EECA132DA088D"
    assert order.esims[1].qr_url == "https://microesim.top/files/9999-9000024081684603"
    assert order.esims[0].install_url.startswith("https://esimsetup.apple.com/")


async def test_topup_still_allocating():
    sample = fixture("topupDetail")
    sample["result"] |= {"success_number": 0, "device_ids": [], "lpa_str": []}
    order = await adapter_for(serve({"topupDetail": sample})).get_order("202308161431187762753800")
    assert order.status is OrderStatus.ALLOCATING and order.esims == ()


async def test_order_lookup_needs_the_topup_id():
    with pytest.raises(Unsupported):
        await adapter_for(serve({})).get_order(None, "ref-1")


async def test_device_and_event_samples():
    routes = {"deviceDetail": fixture("deviceDetail"), "eventDetail": fixture("eventDetail")}
    esim = await adapter_for(serve(routes)).get_esim("9000024081684603")
    assert esim.iccid == "9000024081684603" and esim.order_id == "202308161431187762753800"
    assert esim.data_used_mb == 17136 and esim.data_total_mb == 1024
    assert esim.expires_at == datetime(2023, 7, 8, 4, 50, 45, tzinfo=UTC)
    assert esim.installed_at == datetime(2023, 7, 4, 20, 16, 28, tzinfo=UTC)
    assert esim.status is EsimStatus.EXPIRED and esim.vendor_status == "success/ENABLE"


def test_device_status_table():
    adapter = adapter_for(serve({}))
    sample = fixture("deviceDetail")["result"]
    before = datetime(2023, 7, 6, tzinfo=UTC)
    events = adapter.parse_events("9000024081684603", fixture("eventDetail")["result"])
    fresh = sample | {"active_time": "", "expire_time": "", "data_usage": "0"}
    assert adapter.parse_device(fresh, [], now=before).status is EsimStatus.NEW
    assert adapter.parse_device(fresh, events[:2], now=before).status is EsimStatus.INSTALLED
    live = sample | {"data_usage": "100"}
    assert adapter.parse_device(live, events, now=before).status is EsimStatus.ACTIVE
    assert adapter.parse_device(sample, events, now=before).status is EsimStatus.DEPLETED
    delete = events[-1].raw | {"notify_type": "DELETE"}
    deleted = adapter.parse_events("x", [e.raw for e in events] + [delete])
    assert adapter.parse_device(live, deleted, now=before).status is EsimStatus.DELETED
    assert (
        adapter.parse_device(live | {"pause_time": "2023-07-05 13:00:00"}, events, now=before).status
        is EsimStatus.SUSPENDED
    )
    assert (
        adapter.parse_device(live | {"terminate_time": "2023-07-05 13:00:00"}, events, now=before).status
        is EsimStatus.CANCELLED
    )
    assert adapter.parse_device(live | {"status": "weird"}, [], now=before).status is EsimStatus.ACTIVE
    no_total = sample | {"data_usage": "", "channel_dataplan_name": "Japan-unlimited-3"}
    assert adapter.parse_device(no_total, events, now=before).data_used_mb == round(
        (5021805.120 + 8182245.451 + 4342800.965) / 1024
    )


async def test_event_sample():
    events = await adapter_for(serve({"eventDetail": fixture("eventDetail")})).esim_events("9000024081684603")
    assert [e.kind for e in events] == ["DOWNLOADED", "INSTALLED", "ENABLE", "DISABLE", "ENABLE"]
    assert events[0].occurred_at == datetime(2023, 7, 4, 20, 16, 15, tzinfo=UTC)
    assert "Executed-Success" in events[0].detail and "89033023426300000000032653960548" in events[0].detail


def test_async_callback_sample_is_kept_as_a_fixture():
    # The adapter polls topupDetail and never takes callbacks; the sample is kept so a future callback
    # receiver has it, and it carries its payload under "data" (not "result").
    assert fixture("topupDetail_async")["data"]["device_id"] == "9000024081603874"


# --- errors --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, error",
    [
        ({"code": 401, "msg": "MICROESIM-SIGN verification failed", "result": None}, VendorAuthError),
        ({"code": 0, "msg": "Invalid signature"}, VendorAuthError),
        ({"code": 402, "msg": "Insufficient account balance"}, InsufficientBalance),
        ({"code": 0, "msg": "Insufficient account balance"}, InsufficientBalance),
        ({"code": 404, "msg": "Topup order does not exist"}, NotFound),
        ({"code": 503, "msg": "System busy"}, VendorBusy),
        ({"code": 7, "msg": "Data plan is off sale"}, VendorRejected),
        ({"code": "x"}, VendorRejected),
        ({"msg": "no code"}, MalformedResponse),
        (["not", "an", "envelope"], MalformedResponse),
        ({"code": 1, "msg": "Success", "result": {"balance": "lots"}}, MalformedResponse),
    ],
)
async def test_vendor_errors_are_typed(answer, error):
    with pytest.raises(error) as err:
        await adapter_for(serve({"accountBalance": answer})).get_balance()
    assert err.value.vendor == "microesim"
    if isinstance(answer, dict) and isinstance(answer.get("msg"), str) and error is not MalformedResponse:
        assert answer["msg"] in str(err.value)


async def test_unknown_order_is_not_found_and_write_errors_are_never_retried():
    seen: list[httpx.Request] = []
    busy = {"code": 503, "msg": "System busy"}
    adapter = adapter_for(
        serve(
            {"topupDetail": {"code": 404, "msg": "Topup order does not exist"}, "esimSubscribe": busy}, seen
        )
    )
    with pytest.raises(NotFound):
        await adapter.get_order("202401010000009999999999")
    with pytest.raises(VendorBusy):
        await adapter.place_order("p", 1, "ref")
    assert [r.url.path.rsplit("/", 1)[1] for r in seen] == ["topupDetail", "esimSubscribe"]
