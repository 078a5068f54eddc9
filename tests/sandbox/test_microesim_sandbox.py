"""The MicroESIM simulator against the vendor's own samples, signing rules and behaviour."""

from __future__ import annotations

import time

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.countries import COUNTRIES
from esimdesk.sandbox.microesim import MicroesimSandbox
from esimdesk.sandbox.microesim_catalog import SAMPLE_PLANS, MicroesimCatalog
from esimdesk.vendors.microesim_auth import MicroesimAuth, derive_key, signature
from tests.shapes import assert_same_shape, postman_samples

CREDS = SANDBOX_CREDENTIALS["microesim"]
P = "/allesim/v1/"


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("microesim",)) as srv:
        yield srv


@pytest.fixture
def fresh():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("microesim",)) as srv:
        yield srv


def client(srv: SandboxServer) -> httpx.Client:
    auth = MicroesimAuth(CREDS["ACCOUNT"], CREDS["SECRET"], CREDS["SALT"])
    return httpx.Client(base_url=srv.urls["microesim"], auth=auth, timeout=5)


def form(**fields) -> dict:
    return {k: (None, str(v)) for k, v in fields.items()}


def sim(srv: SandboxServer) -> MicroesimSandbox:
    return srv.sandbox.vendors["microesim"]  # type: ignore[return-value]


def order(cl: httpx.Client, plan_id: str, number: int = 1, ref: str | None = None) -> dict:
    fields = {"number": number, "channel_dataplan_id": plan_id}
    if ref:
        fields["custom_order_no"] = ref
    return cl.post(P + "esimSubscribe", files=form(**fields)).json()


def first_plan(cl: httpx.Client, index: int = 7) -> str:
    page = cl.get(P + "esimDataplanListPage", params={"pageNo": 1, "pageSize": 20}).json()
    return page["result"]["list"][index]["channel_dataplan_id"]


# --- every Postman sample ------------------------------------------------------------------------
SAMPLES = postman_samples("microesim")


@pytest.mark.parametrize("sample", SAMPLES, ids=[s["name"] for s in SAMPLES])
def test_answer_has_the_shape_of_the_postman_sample(server, sample):
    if "NOTIFY_URL" in (sample["url"] or ""):
        pytest.skip("topupDetail-async is the vendor's push to our callback URL, not a vendor endpoint")
    cl = client(server)
    endpoint = sample["url"].split("{{url}}/", 1)[1].split("?")[0]
    name = endpoint.rsplit("/", 1)[1]
    s = sim(server)
    fleet_iccid, fleet_topup = s.known_devices[4], s.known_orders[3]  # generated, active fleet eSIM
    if name == "esimDataplanListPage":
        resp = cl.get(endpoint, params={"pageNo": 1, "pageSize": 500})
    elif sample["method"] == "GET":
        resp = cl.get(endpoint)
    elif name == "esimSubscribe":
        resp = cl.post(endpoint, files=form(number=1, channel_dataplan_id=first_plan(cl)))
    elif name == "topupDetail":
        resp = cl.post(endpoint, files=form(topup_id=fleet_topup))
    elif name in ("deviceDetail", "eventDetail"):
        resp = cl.post(endpoint, files=form(device_id=fleet_iccid))
    else:
        resp = cl.post(endpoint)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == 1, body
    for response in sample["responses"]:
        assert_same_shape(response["json"], body)


def test_sample_objects_are_served_verbatim(server):
    cl = client(server)
    samples = {s["name"].rsplit("/", 1)[1]: s["responses"][0]["json"] for s in SAMPLES}
    assert cl.get(P + "esimDataplanList").json()["result"][:5] == samples["esimDataplanList"]["result"]
    page = cl.get(P + "esimDataplanListPage", params={"pageNo": 1, "pageSize": 5}).json()
    assert page["result"]["list"] == samples["esimDataplanListPage"]["result"]["list"]
    topup = cl.post(P + "topupDetail", files=form(topup_id="202308161431187762753800")).json()
    assert topup == samples["topupDetail"]
    device = cl.post(
        P + "deviceDetail", files=form(topup_id="202308161431187762753800", device_id="9000024081684603")
    )
    assert device.json() == samples["deviceDetail"]
    events = cl.post(P + "eventDetail", files=form(device_id="9000024081684603")).json()
    assert events == samples["eventDetail"]


# --- auth ----------------------------------------------------------------------------------------
def signed(
    nonce: str = "abcdef123456",
    stamp: str | None = None,
    secret: str = CREDS["SECRET"],
    account: str = CREDS["ACCOUNT"],
) -> dict[str, str]:
    stamp = stamp or str(int(time.time() * 1000))
    key = derive_key(secret, CREDS["SALT"])
    return {
        "MICROESIM-ACCOUNT": account,
        "MICROESIM-NONCE": nonce,
        "MICROESIM-TIMESTAMP": stamp,
        "MICROESIM-SIGN": signature(key, account, nonce, stamp),
    }


@pytest.mark.parametrize(
    "headers, words",
    [
        ({}, "Missing"),
        (lambda: signed(secret="wrong-secret"), "SIGN"),
        (lambda: signed(account="someone-else"), "ACCOUNT"),
        (lambda: signed(nonce="abc"), "NONCE"),
        (lambda: signed(nonce="x" * 33), "NONCE"),
        (lambda: signed(stamp=str(int(time.time()))), "TIMESTAMP"),  # 10 digits: seconds
        (lambda: signed(stamp=str(int((time.time() - 600) * 1000))), "expired"),
    ],
)
def test_bad_signatures_get_the_vendor_envelope(server, headers, words):
    hdrs = headers() if callable(headers) else headers
    resp = httpx.post(server.urls["microesim"] + P + "accountBalance", headers=hdrs)
    body = resp.json()
    assert resp.status_code == 200 and body["code"] == 401 and words in body["msg"] and body["result"] is None


def test_a_nonce_is_accepted_once(server):
    hdrs = signed(nonce=f"once{time.time_ns()}")
    url = server.urls["microesim"] + P + "accountBalance"
    assert httpx.post(url, headers=hdrs).json()["code"] == 1
    again = httpx.post(url, headers=hdrs).json()
    assert again["code"] == 401 and "NONCE" in again["msg"]


def test_stale_check_uses_wall_time_not_the_sandbox_clock(fresh):
    fresh.config.clock.advance(86400)
    assert client(fresh).post(P + "accountBalance").json()["code"] == 1


# --- catalog -------------------------------------------------------------------------------------
def test_paging_walks_the_whole_catalog(server):
    cl = client(server)
    seen, page_no = [], 1
    while True:
        result = cl.get(P + "esimDataplanListPage", params={"pageNo": page_no, "pageSize": 70}).json()[
            "result"
        ]
        seen += [p["channel_dataplan_id"] for p in result["list"]]
        if page_no >= result["totalPages"]:
            break
        page_no += 1
    assert len(seen) == len(set(seen)) == result["total"] == 300
    beyond = cl.get(P + "esimDataplanListPage", params={"pageNo": 99, "pageSize": 70}).json()["result"]
    assert beyond["list"] == []
    assert cl.get(P + "esimDataplanListPage", params={"pageNo": "x"}).json()["code"] == 400


def test_catalog_covers_countries_regions_unlimited_and_daily():
    cat = MicroesimCatalog(seed=7)
    plans = cat.page(0, len(cat))
    countries = {c for p in plans for c in p["code"].split(",")}
    assert len(countries) >= 100 and countries <= set(COUNTRIES) | {"JP"}
    assert any(p["channel_dataplan_name"].startswith("Global") for p in plans)
    assert any(p["channel_dataplan_name"].startswith("Europe") for p in plans)
    assert any(p["data"] == "unlimited" for p in plans) and any(p["data"].endswith("MB") for p in plans)
    assert any("Daily" in p["channel_dataplan_name"] for p in plans)
    assert all(p["price"].count(".") == 1 and len(p["price"].split(".")[1]) == 2 for p in plans)
    assert plans[:5] == list(SAMPLE_PLANS)
    assert (
        MicroesimCatalog(seed=7).page(0, 300) == plans and MicroesimCatalog(seed=8).page(5, 300) != plans[5:]
    )
    assert all(cat.find(p["channel_dataplan_id"]) == p for p in plans[:50])
    assert cat.find("MX9999999ABCDEF123456") is None


def test_scale_knobs_reach_50k_plans_and_100k_esims_quickly():
    start = time.perf_counter()
    sb = MicroesimSandbox(SandboxConfig(seed=3, plans=50_000, esims=100_000), dict(CREDS))
    last = sb.catalog.page(49_500, 50_000)
    assert len(sb.catalog) == 50_000 and len(last) == 500 and len(sb.known_devices) == 100_002
    assert sb._lookup(sb.known_devices[-1]) is not None
    assert time.perf_counter() - start < 3.0


def test_default_sandbox_starts_fast():
    start = time.perf_counter()
    sb = MicroesimSandbox(SandboxConfig(seed=1), dict(CREDS))
    assert time.perf_counter() - start < 0.5
    assert 30 <= sb.stats()["known_devices"] <= 60


# --- orders --------------------------------------------------------------------------------------
def test_order_allocates_asynchronously_and_charges_the_balance(fresh):
    cl = client(fresh)
    before = cl.post(P + "accountBalance").json()["result"]["balance"]
    plan = cl.get(P + "esimDataplanListPage", params={"pageNo": 1, "pageSize": 20}).json()["result"]["list"][
        7
    ]
    topup_id = order(cl, plan["channel_dataplan_id"], number=2, ref="ref-1")["result"]["topup_id"]
    assert len(topup_id) == 24 and topup_id.isdigit()
    pending = cl.post(P + "topupDetail", files=form(topup_id=topup_id)).json()["result"]
    assert pending["success_number"] == 0 and pending["device_ids"] == [] and pending["number"] == 2
    assert cl.post(P + "accountBalance").json()["result"]["balance"] == round(
        before - 2 * float(plan["price"]), 2
    )
    time.sleep(0.8)
    done = cl.post(P + "topupDetail", files=form(topup_id=topup_id)).json()["result"]
    assert done["success_number"] == 2 and len(done["device_ids"]) == 2
    assert all(s.startswith("LPA:1$") for s in done["lpa_str"])
    assert fresh.sandbox.vendors["microesim"].stats()["orders"] == 1


def test_repeated_custom_order_no_never_creates_a_second_order(fresh):
    cl = client(fresh)
    plan_id = first_plan(cl)
    first = order(cl, plan_id, ref="same-ref")["result"]["topup_id"]
    balance = cl.post(P + "accountBalance").json()["result"]["balance"]
    again = order(cl, plan_id, ref="same-ref")
    assert again["code"] == 409 and again["result"] == {"topup_id": first}
    assert cl.post(P + "accountBalance").json()["result"]["balance"] == balance
    stats = sim(fresh).stats()
    assert (stats["orders"], stats["order_requests"]) == (1, 2)


def test_order_errors(fresh):
    cl = client(fresh)
    assert order(cl, "no-such-plan")["code"] == 404
    assert cl.post(P + "esimSubscribe", files=form(channel_dataplan_id=first_plan(cl))).json()["code"] == 400
    assert cl.post(P + "topupDetail", files=form(topup_id="202401010000009999999999")).json()["code"] == 404
    sim(fresh).balance_cents = 100
    assert order(cl, first_plan(cl))["code"] == 402
    assert sim(fresh).stats()["orders"] == 0


def test_json_and_urlencoded_bodies_are_accepted_too(server):
    cl = client(server)
    topup = sim(server).known_orders[3]
    assert cl.post(P + "topupDetail", json={"topup_id": topup}).json()["code"] == 1
    assert cl.post(P + "topupDetail", data={"topup_id": topup}).json()["code"] == 1


# --- devices -------------------------------------------------------------------------------------
def test_usage_grows_with_the_clock_and_events_follow_the_lifecycle(fresh):
    cl = client(fresh)
    topup_id = order(cl, first_plan(cl, 8))["result"]["topup_id"]
    time.sleep(0.5)
    iccid = cl.post(P + "topupDetail", files=form(topup_id=topup_id)).json()["result"]["device_ids"][0]
    detail = cl.post(P + "deviceDetail", files=form(topup_id=topup_id, device_id=iccid)).json()["result"]
    assert detail["data_usage"] == "0.0" and detail["active_time"] == ""
    assert cl.post(P + "eventDetail", files=form(device_id=iccid)).json()["result"] == []
    fresh.config.clock.advance(3 * 3600)
    detail = cl.post(P + "deviceDetail", files=form(device_id=iccid)).json()["result"]
    assert float(detail["data_usage"]) > 0 and detail["active_time"] and detail["expire_time"]
    row = detail["data_usage_daily"][0]
    assert float(row["total_usage_kb"]) == pytest.approx(float(row["total_usage"]) * 1024, rel=1e-3)
    kinds = [
        e["notify_type"] for e in cl.post(P + "eventDetail", files=form(device_id=iccid)).json()["result"]
    ]
    assert kinds == ["DOWNLOADED", "INSTALLED", "ENABLE"]
    used = float(detail["data_usage"])
    fresh.config.clock.advance(3600)
    assert (
        float(cl.post(P + "deviceDetail", files=form(device_id=iccid)).json()["result"]["data_usage"]) > used
    )


def test_unknown_or_mismatched_device_is_not_found(server):
    cl = client(server)
    assert cl.post(P + "deviceDetail", files=form(device_id="89000000000000000000")).json()["code"] == 404
    iccid = sim(server).known_devices[4]
    assert cl.post(P + "deviceDetail", files=form(device_id=iccid, topup_id="1")).json()["code"] == 404
    assert cl.post(P + "eventDetail", files=form(device_id="1")).json()["code"] == 404


def test_fleet_has_every_lifecycle(server):
    cl = client(server)
    s = sim(server)
    kinds = set()
    for iccid in s.known_devices[2:18]:
        events = cl.post(P + "eventDetail", files=form(device_id=iccid)).json()["result"]
        kinds.add(events[-1]["notify_type"] if events else "none")
    assert {"none", "INSTALLED", "ENABLE", "DELETE"} <= kinds


def test_busy_response_is_a_503_in_the_vendor_envelope():
    resp = MicroesimSandbox(SandboxConfig(), dict(CREDS)).busy_response()
    assert resp.status_code == 503 and b'"code":503' in resp.body
