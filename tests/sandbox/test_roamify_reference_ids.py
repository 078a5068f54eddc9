"""Roamify's ``referenceId`` (roamify-more.md section 4) and the switch back to the older API, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from tests.shapes import assert_same_shape

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "roamify"
TOKEN = SANDBOX_CREDENTIALS["roamify"]["TOKEN"]
NOT_FOUND = {"status": "error", "message": "Order not found"}


def fixture(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with httpx.Client(
        base_url=server.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ) as c:
        yield c


def place(client, reference=None, *, quantity=1, package=SAMPLE_PACKAGE_ID, omit=False) -> dict:
    body: dict = {"items": [{"packageId": package, "quantity": quantity}]}
    if not omit:
        body["referenceId"] = reference
    r = client.post("/api/esim/order", json=body)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def lookup(client, **params) -> httpx.Response:
    return client.get("/api/esim/order", params=params)


def listed(client, **params) -> list[dict]:
    r = client.get("/api/esim/orders", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]["orders"]


def switch(server, on: bool) -> dict:
    r = httpx.post(server.root + "/_sandbox/config", json={"roamify_reference_ids": on})
    assert r.status_code == 200, r.text
    return r.json()


# --- the current API --------------------------------------------------------------------------------
def test_order_stores_and_echoes_reference_and_is_found_by_it(client):
    data = place(client, "desk1-shop-17")
    assert data["referenceId"] == "desk1-shop-17"
    assert list(data)[:2] == ["id", "referenceId"]  # where the doc's samples put it
    got = lookup(client, referenceId="desk1-shop-17")
    assert got.status_code == 200
    assert got.json() == {
        "status": "success",
        "data": {
            **data,
            "status": got.json()["data"]["status"],
            "updatedAt": got.json()["data"]["updatedAt"],
        },
    }
    assert lookup(client, orderId=data["id"]).json()["data"]["referenceId"] == "desk1-shop-17"
    assert [o["id"] for o in listed(client, referenceId="desk1-shop-17")] == [data["id"]]


def test_every_order_carries_reference_key_null_when_none_sent(client):
    for data in (place(client, omit=True), place(client, None), place(client, "")):
        assert "referenceId" in data and data["referenceId"] is None
        assert lookup(client, orderId=data["id"]).json()["data"]["referenceId"] is None
    orders = listed(client)
    assert orders and all("referenceId" in o for o in orders)  # seeded history and samples too


def test_answers_keep_the_documented_shapes(client):
    data = place(client, "shape-1")
    assert_same_shape(fixture("create_order")["data"], data)
    assert_same_shape(fixture("get_order"), lookup(client, referenceId="shape-1").json())
    assert_same_shape(
        fixture("get_orders"), client.get("/api/esim/orders", params={"referenceId": "shape-1"}).json()
    )


def test_unknown_reference_is_404_in_the_error_envelope(client):
    place(client, "known-ref")
    r = lookup(client, referenceId="never-sent")
    assert r.status_code == 404 and r.json() == NOT_FOUND
    assert listed(client, referenceId="never-sent") == []
    r = lookup(client, orderId="00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json() == NOT_FOUND


def test_neither_order_id_nor_reference_is_400(client):
    r = lookup(client)
    assert r.status_code == 400 and r.json()["status"] == "error" and r.json()["message"]
    r = lookup(client, referenceId="")
    assert r.status_code == 400


def test_order_id_decides_when_both_are_given(client):
    a, b = place(client, "both-a"), place(client, "both-b")
    got = lookup(client, orderId=a["id"], referenceId="both-b").json()["data"]
    assert got["id"] == a["id"] and b["id"] != a["id"]


def test_reused_reference_is_accepted_and_makes_a_second_order(server, client):
    sim = server.sandbox.vendors["roamify"]
    before, balance = sim.stats()["orders"], sim.balance_cents
    first = place(client, "reused")
    second = place(client, "reused", quantity=2)
    assert first["id"] != second["id"] and second["referenceId"] == "reused"
    assert sim.stats()["orders"] == before + 2
    assert sim.balance_cents == balance - 3 * 500  # both charged (5 USD each eSIM)
    # The look-up answers one of them (undocumented which): the earliest.
    assert lookup(client, referenceId="reused").json()["data"]["id"] == first["id"]
    # The list, newest first, has both.
    assert [o["id"] for o in listed(client, referenceId="reused")] == [second["id"], first["id"]]


def test_list_filter_combines_with_status_and_limit(server, client):
    ids = [place(client, "batch")["id"] for _ in range(3)]
    assert {o["id"] for o in listed(client, referenceId="batch")} == set(ids)
    assert len(listed(client, referenceId="batch", limit=2)) == 2
    assert listed(client, referenceId="batch", status="COMPLETED") == []
    server.config.clock.advance(1)
    assert {o["id"] for o in listed(client, referenceId="batch", status="COMPLETED")} == set(ids)


def test_topup_stores_reference(server, client):
    iccid = server.sandbox.vendors["roamify"].known_iccids[2]
    r = client.post(
        "/api/esim/order/topup",
        json={"iccid": iccid, "packageId": SAMPLE_PACKAGE_ID, "referenceId": "topup-ref"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["referenceId"] == "topup-ref"
    assert lookup(client, referenceId="topup-ref").json()["data"]["id"] == data["id"]
    assert [o["id"] for o in listed(client, referenceId="topup-ref")] == [data["id"]]
    r = client.post("/api/esim/order/topup", json={"iccid": iccid, "packageId": SAMPLE_PACKAGE_ID})
    assert r.status_code == 200 and r.json()["data"]["referenceId"] is None


@pytest.mark.parametrize("bad", [17, True, ["x"], {"a": 1}])
def test_reference_that_is_not_a_string_is_refused(server, client, bad):
    sim = server.sandbox.vendors["roamify"]
    before = sim.stats()["orders"]
    r = client.post(
        "/api/esim/order",
        json={"items": [{"packageId": SAMPLE_PACKAGE_ID, "quantity": 1}], "referenceId": bad},
    )
    assert r.status_code == 400 and r.json()["status"] == "error"
    iccid = sim.known_iccids[2]
    r = client.post(
        "/api/esim/order/topup", json={"iccid": iccid, "packageId": SAMPLE_PACKAGE_ID, "referenceId": bad}
    )
    assert r.status_code == 400
    assert sim.stats()["orders"] == before and sim.stats()["topups"] == 0


# --- the older API (roamify.md), by configuration and switched at run time --------------------------
def assert_older_api(server, client):
    sim = server.sandbox.vendors["roamify"]
    before = sim.stats()["orders"]
    data = place(client, "old-api-ref")
    assert "referenceId" not in data  # the field was ignored and is not rendered
    assert sim.stats()["orders"] == before + 1
    r = lookup(client, referenceId="old-api-ref")
    assert r.status_code == 400 and r.json() == {"status": "error", "message": "orderId is required"}
    assert "referenceId" not in lookup(client, orderId=data["id"]).json()["data"]
    everything = listed(client)
    assert listed(client, referenceId="old-api-ref") == everything  # the filter is ignored
    assert all("referenceId" not in o for o in everything)
    sample = fixture("get_order")
    assert lookup(client, orderId=sample["data"]["id"]).json() == sample  # verbatim roamify.md sample
    iccid = sim.known_iccids[1]
    r = client.post(
        "/api/esim/order/topup", json={"iccid": iccid, "packageId": SAMPLE_PACKAGE_ID, "referenceId": 17}
    )
    assert r.status_code == 200 and "referenceId" not in r.json()["data"]  # not even looked at
    return data


def test_older_api_by_configuration():
    with SandboxServer(SandboxConfig(seed=7, roamify_reference_ids=False), vendors=("roamify",)) as srv:
        with httpx.Client(base_url=srv.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            assert_older_api(srv, c)
            assert srv.sandbox.ledger("roamify")[-2]["handle"] is None  # nothing stored


def test_switch_at_run_time_through_the_control_api(server, client):
    assert httpx.get(server.root + "/_sandbox/config").json()["roamify_reference_ids"] is True
    kept = place(client, "kept-ref")
    assert switch(server, False)["roamify_reference_ids"] is False
    assert server.config.roamify_reference_ids is False
    old = assert_older_api(server, client)
    # Back on: what was stored before is found again; what the older API ignored was never stored.
    assert switch(server, True)["roamify_reference_ids"] is True
    assert lookup(client, referenceId="kept-ref").json()["data"]["id"] == kept["id"]
    assert lookup(client, referenceId="old-api-ref").status_code == 404
    assert lookup(client, orderId=old["id"]).json()["data"]["referenceId"] is None
