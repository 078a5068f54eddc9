"""The Roamify simulator's current-API endpoints over real HTTP, against the documents' sample JSON."""

from __future__ import annotations

import time

import httpx
import pytest

from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.sandbox.base import SANDBOX_CREDENTIALS
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.sandbox.roamify_packages import MAX_PAGE_SIZE
from tests.shapes import assert_same_shape, fixture_json

TOKEN = SANDBOX_CREDENTIALS["roamify"]["TOKEN"]


def sample(name: str):
    return _unelided(fixture_json("roamify", f"{name}.json"))


def _unelided(value):
    """The document elides fields as ``"...": "..."``: that key is no field to expect."""
    if isinstance(value, dict):
        return {k: _unelided(v) for k, v in value.items() if k != "..."}
    if isinstance(value, list):
        return [_unelided(v) for v in value]
    return value


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=5, plans=700, esims=30, allocation_delay=0.4), vendors=("roamify",)) as s:
        yield s


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=10) as c:
        yield c


def order(client, package=SAMPLE_PACKAGE_ID, quantity=1, reference=None) -> dict:
    body = {"items": [{"packageId": package, "quantity": quantity}], "referenceId": reference}
    r = client.post("/api/esim/order", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_countries_and_packages_keep_the_documented_shapes(client):
    countries = client.get("/api/esim/countries").json()
    assert_same_shape(sample("countries"), countries)
    codes = [c["code"] for c in countries["data"]["countries"]]
    assert len(codes) > len(set(codes)), "regions reuse country codes, as Roamify's do"
    page = client.get("/api/esim/packages", params={"page": 1, "pageSize": 20}).json()
    assert_same_shape(sample("packages"), page)


def test_packages_are_paged_and_an_unpaged_call_is_page_one(server, client):
    size = len(server.sandbox.vendors["roamify"].catalog)
    unpaged = client.get("/api/esim/packages").json()["data"]["packages"]
    assert sum(len(g["packages"]) for g in unpaged) == 50  # the documented default page size
    ids, page = [], 1
    while True:
        groups = client.get("/api/esim/packages", params={"page": page, "pageSize": 64}).json()["data"]["packages"]
        got = [p["packageId"] for g in groups for p in g["packages"]]
        ids += got
        if len(got) < 64:
            break
        page += 1
    assert len(ids) == len(set(ids)) == size
    capped = client.get("/api/esim/packages", params={"pageSize": 10_000}).json()["data"]["packages"]
    assert sum(len(g["packages"]) for g in capped) == MAX_PAGE_SIZE  # cut without a word


def test_one_package_by_id_carries_requirements_where_needed(server, client):
    sim = server.sandbox.vendors["roamify"]
    travel = next(p for p in sim.catalog if p.travel_date)
    [group] = client.get("/api/esim/packages", params={"packageId": travel.package_id}).json()["data"]["packages"]
    assert group["packages"][0]["requirements"] == {"travelDate": True}


def test_apply_generates_profiles_then_esim_usage_link_match_samples(server, client):
    data = order(client, quantity=2, reference="shape-1")
    [first, second] = [i["esimId"] for i in data["items"]]
    before = client.get("/api/esim", params={"esimId": first}).json()["data"]
    assert before["status"] == "NEW" and before["iccid"] == "" and before["esim"]["lpaCode"] == ""
    r = client.post("/api/esim/apply", json={"esimId": first, "referenceId": "shape-1"})
    assert r.status_code == 200, r.text
    applied = r.json()["data"]
    assert isinstance(applied, list) and {e["id"] for e in applied} == {first, second}  # the whole order
    esim = client.get("/api/esim", params={"esimId": second}).json()
    assert_same_shape(sample("esim"), esim)
    iccid = esim["data"]["iccid"]
    assert esim["data"]["esim"]["lpaCode"].startswith("LPA:1$")
    assert client.get("/api/esim", params={"iccid": iccid}).json()["data"]["id"] == second
    assert_same_shape(sample("usage"), client.get("/api/esim/usage", params={"iccid": iccid}).json())
    link = client.post("/api/esim/link", json={"iccid": iccid}).json()
    assert_same_shape(sample("esim_link"), link)
    assert client.post("/api/esim/link", json={"esimId": second}).json() == link  # the same link again


def test_a_second_apply_while_generating_is_still_pending_processing(server, client):
    sim = server.sandbox.vendors["roamify"]
    [item] = order(client)["items"]
    sim.config.update({"allocation_delay": 1.5})
    try:
        sim.apply_hold = 0.2
        r = client.post("/api/esim/apply", json={"esimId": item["esimId"]})
        assert r.status_code == 400 and r.json()["message"] == "eSIM is still pending processing"
        r = client.post("/api/esim/apply", json={"esimId": item["esimId"]})
        assert r.json()["message"] == "eSIM is still pending processing"
        time.sleep(1.5)
        assert client.get("/api/esim", params={"esimId": item["esimId"]}).json()["data"]["status"] == "READY"
    finally:
        sim.apply_hold = 60.0
        sim.config.update({"allocation_delay": 0.4})


def test_travel_date_package_needs_start_date_at_apply(server, client):
    sim = server.sandbox.vendors["roamify"]
    travel = next(p for p in sim.catalog if p.travel_date)
    [item] = order(client, travel.package_id)["items"]
    r = client.post("/api/esim/apply", json={"esimId": item["esimId"]})
    assert r.status_code == 400 and "startDate" in r.json()["message"]
    r = client.post("/api/esim/apply", json={"esimId": item["esimId"], "startDate": "2026-12-24"})
    assert r.status_code == 200 and sim.fleet.ordered[item["esimId"]].start_date == "2026-12-24"


def test_usage_grows_with_the_clock_and_balance_is_charged(server, client):
    sim = server.sandbox.vendors["roamify"]
    iccid = sim.known_iccids[1]  # seeded INSTALLED
    used = lambda: (lambda u: u["allowedData"] - u["remainingData"])(  # noqa: E731
        client.get("/api/esim/usage", params={"iccid": iccid}).json()["data"])
    first = used()
    sim.clock.advance(3600)
    try:
        assert used() > first
    finally:
        sim.clock.advance(-3600)
    bal = client.get("/api/balance").json()
    assert_same_shape(sample("balance"), bal)
    data = order(client)
    assert client.get("/api/balance").json()["data"]["balance"] == pytest.approx(bal["data"]["balance"] - data["total"])


def test_topups_offer_only_compatible_packages_and_refuse_others(server, client):
    sim = server.sandbox.vendors["roamify"]
    iccid = sim.known_iccids[0]  # on the sample package
    offered = client.get("/api/esim/topup/packages", params={"iccid": iccid}).json()
    assert_same_shape(sample("topup_packages"), offered)
    ids = {p["packageId"] for p in offered["data"]}
    assert SAMPLE_PACKAGE_ID in ids and all(i.startswith("esim-cambodia-") for i in ids)
    other = next(p.package_id for p in sim.catalog if p.package_id not in ids)
    r = client.post("/api/esim/order/topup", json={"iccid": iccid, "packageId": other})
    assert r.status_code == 400 and "compatible" in r.json()["message"]
    no_topup = next(i for i in range(30) if not sim.fleet.seeded_package(i).top_up)
    assert client.get("/api/esim", params={"iccid": sim.known_iccids[no_topup]}).json()["data"]["withTopUp"] is False
    assert client.get("/api/esim/topup/packages", params={"iccid": sim.known_iccids[no_topup]}).json()["data"] == []


def test_instant_order_matches_its_sample(client):
    r = client.post("/api/esim/order/instant", json={"items": [{"packageId": SAMPLE_PACKAGE_ID, "quantity": 1}],
                                                      "referenceId": "instant-1"})
    assert r.status_code == 200, r.text
    assert_same_shape(sample("instant_order"), r.json())
    assert r.json()["data"]["esims"][0]["esim"]["lpaCode"].startswith("LPA:1$")


def test_esims_list_filters_and_unknowns_are_404(server, client):
    listed = client.get("/api/esims", params={"limit": 1000}).json()["data"]
    assert_same_shape(sample("esim")["data"], listed[0])
    ready = client.get("/api/esims", params={"status": "READY", "limit": 1000}).json()["data"]
    assert ready and all(e["status"] == "READY" for e in ready)
    assert client.get("/api/esims", params={"status": "NOPE"}).status_code == 400
    assert client.get("/api/esim", params={"iccid": "8900000000000000001"}).status_code == 404
    assert client.get("/api/esim").status_code == 400
    assert client.post("/api/esim/apply", json={"esimId": "nope"}).status_code == 404
