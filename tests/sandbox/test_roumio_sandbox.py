"""The Roumio simulator over real HTTP: auth, documented endpoints, error codes, allocation, lifecycle, shapes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.roumio import DOC_ESIM, INSTALL_AFTER, RoumioSandbox
from esimdesk.sandbox.roumio_catalog import build_catalog
from tests.shapes import assert_same_shape, md_json_blocks

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "roumio"
KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]


def fixture(name: str):
    return json.loads((FIX / f"{name}.json").read_text())


def _unthrottled(srv):
    # These tests speak the protocol directly; the vendor's 8/s limit is tested on its own below.
    srv.sandbox.limiters["roumio"].limit = 1_000_000
    return srv


@pytest.fixture(scope="module")
def server():
    # Only Roumio: these tests must not depend on the other simulators.
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as srv:
        yield _unthrottled(srv)


@pytest.fixture
def fresh():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as srv:
        yield _unthrottled(srv)


def call(srv, path, body=None, *, key=KEY, method="POST", raw=None):
    headers = {"Authorization": key} if key is not None else {}
    content = raw if raw is not None else json.dumps(body if body is not None else {})
    r = httpx.request(
        method,
        f"{srv.urls['roumio']}/{path}",
        content=content,
        headers={**headers, "Content-Type": "application/json"},
        timeout=5,
    )
    assert r.status_code == 200
    return r.json()


def code(answer):
    assert answer["success"] is False and answer["obj"] is None
    return answer["errorCode"]


def plan(srv, code_):
    return call(srv, "package/list", {"packageCode": code_})["obj"]["packageList"][0]


def order(srv, txn, lines, amount=None):
    body = {"transactionId": txn, "packageInfoList": lines}
    body["amount"] = sum(x["price"] for x in lines) if amount is None else amount
    return call(srv, "esim/order", body)


def wait_allocated(srv, order_no, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        ans = call(srv, "esim/query", {"orderNo": order_no, "pager": {"pageNum": 1, "pageSize": 20}})
        if ans["success"] or time.monotonic() > deadline:
            return ans
        assert ans["errorCode"] == "200010"
        time.sleep(0.1)


# --- auth and envelope ------------------------------------------------------------------------------
def test_missing_key_is_000101_and_wrong_key_101003(server):
    assert code(call(server, "balance", key=None)) == "000101"
    assert code(call(server, "balance", key="not-the-key")) == "101003"
    assert call(server, "balance")["success"] is True


def test_wrong_method_invalid_json_and_missing_params(server):
    assert code(call(server, "balance", method="GET", raw="")) == "000103"
    assert code(call(server, "esim/order", raw="{not json")) == "000104"
    assert code(call(server, "esim/order", {"packageInfoList": []})) == "000105"
    assert code(call(server, "esim/order", {"transactionId": "", "packageInfoList": []})) == "000106"
    assert code(call(server, "esim/order", {"transactionId": "x" * 51, "packageInfoList": []})) == "000107"
    assert code(call(server, "esim/query", {})) == "000105"


def test_error_envelope_uses_errorMsg_as_the_samples(server):
    ans = call(server, "balance", key=None)
    assert set(ans) == {"errorCode", "errorMsg", "success", "obj"}
    assert ans["errorMsg"]


def test_documented_rate_limit_answers_429():
    with SandboxServer(SandboxConfig(seed=7), vendors=("roumio",)) as srv:
        statuses = [
            httpx.post(f"{srv.urls['roumio']}/balance", headers={"Authorization": KEY}).status_code
            for _ in range(10)
        ]
    assert statuses[:8] == [200] * 8 and 429 in statuses[8:]


def test_rate_limit_429_comes_in_roumios_envelope():
    with SandboxServer(SandboxConfig(seed=7), vendors=("roumio",)) as srv:
        answers = [httpx.post(f"{srv.urls['roumio']}/balance", headers={"Authorization": KEY}) for _ in range(10)]
    refused = [r for r in answers if r.status_code == 429]
    assert refused
    for r in refused:
        assert r.headers["content-type"].startswith("application/json") and r.headers["retry-after"] == "1"
        # No rate-limit code is documented; 900001 "busy, try again later" is the documented one that fits.
        assert r.json() == {
            "errorCode": "900001",
            "errorMsg": "The system is busy, please try again later.",
            "success": False,
            "obj": None,
        }


def test_injected_429_fault_comes_in_roumios_envelope(fresh):
    fresh.sandbox.faults["roumio"].add({"kind": "http_429", "endpoint": "balance"})
    r = httpx.post(f"{fresh.urls['roumio']}/balance", json={}, headers={"Authorization": KEY})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["success"] is False and r.json()["errorCode"] == "900001" and r.json()["obj"] is None


@pytest.mark.parametrize("method", ["POST", "GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["nope", "esim/nope", "v2/esim/order", "esim/order/extra", ""])
def test_unknown_path_answers_000103_in_roumios_envelope(server, path, method):
    for key in (KEY, None):
        headers = {"Authorization": key} if key else {}
        r = httpx.request(method, f"{server.urls['roumio']}/{path}", json={}, headers=headers, timeout=5)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        assert r.json() == {
            "errorCode": "000103",
            "errorMsg": "This https request method (get/post ) is not supported",
            "success": False,
            "obj": None,
        }


def test_busy_response_is_900001():
    sim = RoumioSandbox(SandboxConfig(), dict(SANDBOX_CREDENTIALS["roumio"]))
    resp = sim.busy_response()
    assert resp.status_code == 200
    assert json.loads(resp.body) == {
        "errorCode": "900001",
        "errorMsg": "The system is busy, please try again later.",
        "success": False,
        "obj": None,
    }


# --- catalog ---------------------------------------------------------------------------------------
def test_package_list_filters(server):
    all_ = call(server, "package/list", {})["obj"]["packageList"]
    assert len(all_) >= 400
    countries = {c for p in all_ for c in p["location"].split(",") if "," not in p["location"]}
    assert len(countries) >= 100
    assert any(p["dataType"] == 2 for p in all_)
    regional = call(server, "package/list", {"locationCode": "!RG"})["obj"]["packageList"]
    global_ = call(server, "package/list", {"locationCode": "!GL"})["obj"]["packageList"]
    assert regional and global_ and all("," in p["location"] for p in regional + global_)
    assert {p["packageCode"] for p in regional}.isdisjoint(p["packageCode"] for p in global_)
    az = call(server, "package/list", {"locationCode": "AZ"})["obj"]["packageList"]
    assert az and all(p["location"] == "AZ" for p in az)
    topups = call(server, "package/list", {"type": "TOPUP", "packageCode": "CKH003"})["obj"]["packageList"]
    assert [p["packageCode"] for p in topups] == ["SM001"]
    by_slug = call(server, "package/list", {"type": "TOPUP", "slug": "ES_5_30"})["obj"]["packageList"]
    assert by_slug == topups
    by_iccid = call(server, "package/list", {"type": "TOPUP", "iccid": DOC_ESIM["iccid"]})["obj"][
        "packageList"
    ]
    assert by_iccid == topups
    assert code(call(server, "package/list", {"type": "TOPUP", "packageCode": "NOPE"})) == "310241"


def test_document_request_samples_are_answered(server):
    ans = call(server, "package/list", fixture("package_list_request"))
    assert [p["slug"] for p in ans["obj"]["packageList"]] == ["NA-3_1_7"]
    # The document's order sample says amount 15000 for one line of price 1500: Roumio's 200006.
    assert code(call(server, "esim/order", fixture("order_request"))) == "200006"
    sample = fixture("query_request")
    got = call(server, "esim/query", sample)
    assert got["obj"]["esimList"] == fixture("query_response")["obj"]["esimList"]  # the sample eSIM, verbatim


def test_catalog_deterministic_and_scales():
    a, b = build_catalog(3, None), build_catalog(3, None)
    assert a.base == b.base and a.topups == b.topups
    assert build_catalog(4, None).base != a.base
    t = time.perf_counter()
    big = build_catalog(1, 50_000)
    assert len(big.base) == 50_000
    assert time.perf_counter() - t < 5
    assert {"JC016", "CKH003", "7aa948d363", "AZ016"} <= set(big.by_code)


def test_fleet_scales_and_sandbox_starts_fast():
    t = time.perf_counter()
    with SandboxServer(SandboxConfig(seed=2), vendors=("roumio",)):
        assert time.perf_counter() - t < 1.5  # includes uvicorn start; the simulator itself builds lazily
    sim = RoumioSandbox(SandboxConfig(seed=2, esims=100_000), dict(SANDBOX_CREDENTIALS["roumio"]))
    t = time.perf_counter()
    assert len(sim.fleet) == 100_000 and len(sim.index) == 200_000
    assert time.perf_counter() - t < 6


def test_seeded_fleet_covers_statuses(server):
    ans = call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 500}})
    pairs = {(e["esimStatus"], e["smdpStatus"]) for e in ans["obj"]["esimList"]}
    statuses = {p[0] for p in pairs}
    assert {
        "GOT_RESOURCE",
        "IN_USE",
        "USED_UP",
        "CANCEL",
        "SUSPENDED",
        "USED_EXPIRED",
        "UNUSED_EXPIRED",
    } <= statuses
    assert any(s == "DELETED" for _, s in pairs)


# --- orders ---------------------------------------------------------------------------------------
def test_the_fleet_listing_leaves_out_profiles_still_allocating(fresh):
    everything = {"pager": {"pageNum": 1, "pageSize": 5}}
    total = call(fresh, "esim/query", everything)["obj"]["pager"]["total"]
    p = plan(fresh, "CKH003")
    placed = order(fresh, "t-listed", [{"packageCode": "CKH003", "count": 1, "price": p["price"]}] * 2)
    assert placed["success"]
    assert call(fresh, "esim/query", everything)["obj"]["pager"]["total"] == total  # not allocated yet
    assert wait_allocated(fresh, placed["obj"]["orderNo"])["success"]
    assert call(fresh, "esim/query", everything)["obj"]["pager"]["total"] == total + 2


def test_order_allocation_idempotency_and_charge(fresh):
    p = plan(fresh, "CKH003")
    before = call(fresh, "balance")["obj"]["balance"]
    first = order(fresh, "t-1", [{"packageCode": "CKH003", "count": 1, "price": p["price"]}] * 2)
    assert first["success"] and first["obj"]["transactionId"] == "t-1"
    order_no = first["obj"]["orderNo"]
    assert (
        code(call(fresh, "esim/query", {"orderNo": order_no, "pager": {"pageNum": 1, "pageSize": 5}}))
        == "200010"
    )
    again = order(fresh, "t-1", [{"packageCode": "CKH003", "count": 1, "price": p["price"]}])
    assert again["obj"]["orderNo"] == order_no
    assert call(fresh, "balance")["obj"]["balance"] == before - 2 * p["price"]
    stats = fresh.sandbox.vendors["roumio"].stats()
    assert (
        stats["orders"] == 1
        and stats["order_requests"] == 2
        and stats["balance_cents"] == before - 2 * p["price"]
    )
    ans = wait_allocated(fresh, order_no)
    esims = ans["obj"]["esimList"]
    assert len(esims) == 2 and {e["esimStatus"] for e in esims} == {"GOT_RESOURCE"}
    assert ans["obj"]["pager"]["total"] == 2
    assert_same_shape(fixture("query_response"), ans)


def test_order_checks(fresh):
    p = plan(fresh, "CKH003")
    line = {"packageCode": "CKH003", "count": 1, "price": p["price"]}
    assert code(order(fresh, "c-1", [{**line, "price": p["price"] + 1}])) == "200005"
    assert code(order(fresh, "c-2", [line], amount=p["price"] + 5)) == "200006"
    assert order(fresh, "c-3", [line], amount=str(p["price"]))["success"]  # amount as a numeric string
    assert code(order(fresh, "c-4", [{**line, "packageCode": "NOPE"}])) == "310241"
    assert code(order(fresh, "c-5", [{**line, "count": 2}])) == "200008"
    fresh.sandbox.vendors["roumio"].balance = 10
    assert code(order(fresh, "c-6", [line])) == "200007"
    # by slug
    fresh.sandbox.vendors["roumio"].balance = 100_000
    assert order(fresh, "c-7", [{"slug": "ES_5_30", "count": 1, "price": p["price"]}])["success"]


def test_daily_plan_period(fresh):
    daily = next(p for p in call(fresh, "package/list", {})["obj"]["packageList"] if p["dataType"] == 2)
    line = {"packageCode": daily["packageCode"], "count": 1, "price": daily["price"], "periodNum": 7}
    assert order(fresh, "d-1", [line], amount=daily["price"] * 7)["success"]
    assert code(order(fresh, "d-2", [{**line, "periodNum": 0}], amount=0)) == "200008"


def test_order_response_shape(fresh):
    p = plan(fresh, "CKH003")
    ans = order(fresh, "shape-1", [{"packageCode": "CKH003", "count": 1, "price": p["price"]}])
    assert_same_shape(fixture("order_response"), ans)


# --- query ----------------------------------------------------------------------------------------
def test_query_paging_and_filters(server):
    assert code(call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 4}})) == "000107"
    assert code(call(server, "esim/query", {"pager": {"pageNum": 0, "pageSize": 5}})) == "000107"
    assert code(call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 501}})) == "000107"
    p1 = call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 5}})["obj"]
    p2 = call(server, "esim/query", {"pager": {"pageNum": 2, "pageSize": 5}})["obj"]
    assert p1["pager"]["total"] >= 40 and len(p1["esimList"]) == 5
    assert {e["iccid"] for e in p1["esimList"]}.isdisjoint(e["iccid"] for e in p2["esimList"])
    one = p1["esimList"][3]
    by_iccid = call(server, "esim/query", {"iccid": one["iccid"], "pager": {"pageNum": 1, "pageSize": 5}})[
        "obj"
    ]
    assert [e["iccid"] for e in by_iccid["esimList"]] == [one["iccid"]]
    assert (
        code(call(server, "esim/query", {"iccid": "89000", "pager": {"pageNum": 1, "pageSize": 5}}))
        == "310403"
    )
    assert (
        code(call(server, "esim/query", {"orderNo": "B0", "pager": {"pageNum": 1, "pageSize": 5}}))
        == "310272"
    )
    ranged = call(
        server,
        "esim/query",
        {
            "startTime": "2023-12-01T00:00+00:00",
            "endTime": "2023-12-02T00:00+00:00",
            "pager": {"pageNum": 1, "pageSize": 5},
        },
    )["obj"]
    assert [e["iccid"] for e in ranged["esimList"]] == [DOC_ESIM["iccid"]]
    for e in p1["esimList"] + p2["esimList"]:
        assert_same_shape(fixture("query_response")["obj"]["esimList"][0], e)


def test_balance(server):
    ans = call(server, "balance")
    assert isinstance(ans["obj"]["balance"], int) and ans["success"] and ans["errorCode"] is None


# --- lifecycle and top-up --------------------------------------------------------------------------
def test_lifecycle_follows_the_clock_and_topup(fresh):
    sim = fresh.sandbox.vendors["roumio"]
    p = plan(fresh, "CKH003")
    order_no = order(fresh, "life-1", [{"packageCode": "CKH003", "count": 1, "price": p["price"]}])["obj"][
        "orderNo"
    ]
    esim = wait_allocated(fresh, order_no)["obj"]["esimList"][0]
    q = {"iccid": esim["iccid"], "pager": {"pageNum": 1, "pageSize": 5}}
    assert (esim["esimStatus"], esim["smdpStatus"]) == ("GOT_RESOURCE", "RELEASED")
    fresh.config.clock.advance(INSTALL_AFTER + 3 * 3600)
    now = call(fresh, "esim/query", q)["obj"]["esimList"][0]
    assert (now["esimStatus"], now["smdpStatus"]) == ("IN_USE", "ENABLED")
    assert now["orderUsage"] >= int(sim.config.usage_mb_per_hour * 2.9) and now["eid"] and now["activateTime"]
    fresh.config.clock.advance(p["volume"] / sim.config.usage_mb_per_hour * 3600)
    used = call(fresh, "esim/query", q)["obj"]["esimList"][0]
    assert used["esimStatus"] == "USED_UP" and used["orderUsage"] == used["totalVolume"]
    balance = sim.balance
    body = {
        "esimTranNo": esim["esimTranNo"],
        "packageCode": "SM001",
        "transactionId": "tu-1",
        "amount": "300",
    }
    top = call(fresh, "esim/topup", body)
    assert top["success"] and top["obj"]["totalVolume"] == used["totalVolume"] + 1024
    assert top["obj"]["totalDuration"] == 37 and top["obj"]["transactionId"] == "tu-1"
    assert call(fresh, "esim/topup", body)["obj"] == top["obj"]  # same transactionId: nothing charged again
    assert sim.balance == balance - 300 and sim.stats()["topups"] == 1
    after = call(fresh, "esim/query", q)["obj"]["esimList"][0]
    assert after["esimStatus"] == "IN_USE"
    assert code(call(fresh, "esim/topup", {**body, "transactionId": "tu-2", "amount": "1"})) == "200005"
    assert (
        code(call(fresh, "esim/topup", {**body, "transactionId": "tu-3", "packageCode": "JC016"})) == "200008"
    )
    assert code(call(fresh, "esim/topup", {"packageCode": "SM001", "transactionId": "tu-4"})) == "000105"
    assert (
        code(call(fresh, "esim/topup", {"iccid": "", "packageCode": "SM001", "transactionId": "tu-4"}))
        == "000106"
    )
    fresh.config.clock.advance(60 * 86400)
    expired = call(fresh, "esim/query", q)["obj"]["esimList"][0]
    assert expired["esimStatus"] == "USED_EXPIRED"
    assert code(call(fresh, "esim/topup", {**body, "transactionId": "tu-5"})) == "200002"


@pytest.mark.parametrize(
    "sample",
    ["webhook_esim_status", "webhook_esim_status_cancel", "webhook_data_usage", "webhook_validity_usage"],
)
def test_query_esims_carry_the_webhook_fields(server, sample):
    # No webhooks are simulated, but an eSIM from esim/query carries every field the notifications describe.
    content = {k: v for k, v in fixture(sample)["content"].items() if k != "remain"}
    esims = call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 10}})["obj"]["esimList"]
    for esim in esims:
        assert_same_shape(content, esim)


def test_doc_json_blocks_all_parse():
    # md_json_blocks skips the two invalid samples; our fixtures hold all ten, syntax-fixed.
    assert len(md_json_blocks("roumio")) == 8
    assert len(list(FIX.glob("*.json"))) == 10
