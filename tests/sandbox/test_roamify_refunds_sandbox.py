"""The Roamify simulator's refund requests and SMS over real HTTP (issue 30): a request PENDING, a second one
409 with the open one's refundId, cancel while open, a decision through the control API (approve credits the
price to the balance, reject says why), 422 once refunded, the demo's decisions by the clock, SMS only to an
installed eSIM, and a world file that keeps it all."""

from __future__ import annotations

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer

TOKEN = SANDBOX_CREDENTIALS["roamify"]["TOKEN"]


@pytest.fixture
def srv():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as server:
        yield server


@pytest.fixture
def client(srv):
    with httpx.Client(base_url=srv.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as c:
        yield c


def esim_with(client, status: str) -> dict:
    return next(e for e in client.get("/api/esims", params={"limit": 200}).json()["data"] if e["status"] == status)


def balance(client) -> float:
    return client.get("/api/balance").json()["data"]["balance"]


def control(srv, method: str, **kw) -> httpx.Response:
    return httpx.request(method, f"{srv.root}/_sandbox/refunds", timeout=10, **kw)


def test_refund_lifecycle_approved_credits_the_balance(srv, client):
    esim = esim_with(client, "INSTALLED")  # installed and used eSIMs are accepted for review
    before = balance(client)
    r = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "NOT_WORKING", "notes": "no service"})
    assert r.status_code == 200 and r.json()["status"] == "success"
    refund = r.json()["data"]
    assert refund["status"] == "PENDING" and refund["iccid"] == esim["iccid"] and refund["esimId"] == esim["id"]
    assert refund["amount"] > 0 and refund["currency"] == "USD" and refund["rejectionReason"] is None
    assert balance(client) == before  # nothing is refunded until Roamify approves
    # The eSIM keeps working: its status is unchanged.
    assert client.get("/api/esim", params={"iccid": esim["iccid"]}).json()["data"]["status"] == "INSTALLED"

    again = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "OTHER"})
    assert again.status_code == 409
    assert again.json() == {"message": "A refund request is already open for this eSIM", "status": "failed",
                            "code": "REFUND_ALREADY_OPEN", "refundId": refund["refundId"]}

    got = client.get("/api/refund", params={"refundId": refund["refundId"]}).json()["data"]
    assert got == refund
    listed = client.get("/api/refunds", params={"iccid": esim["iccid"]}).json()["data"]
    assert [x["refundId"] for x in listed] == [refund["refundId"]]
    assert client.get("/api/refunds", params={"status": "REFUNDED"}).json()["data"] == []

    assert control(srv, "POST", json={"refund_id": refund["refundId"], "decision": "process"}).json()["status"] \
        == "PROCESSING"
    decided = control(srv, "POST", json={"vendor": "roamify", "refund_id": refund["refundId"], "decision": "approve"})
    assert decided.status_code == 200 and decided.json()["status"] == "REFUNDED"
    assert balance(client) == pytest.approx(before + refund["amount"])
    # Decided once: a second decision and a cancel are refused in words; a new request is 422.
    assert "already REFUNDED" in control(srv, "POST", json={"refund_id": refund["refundId"],
                                                           "decision": "reject"}).json()["error"]
    cancel = client.post("/api/refund/cancel", json={"refundId": refund["refundId"]})
    assert cancel.status_code == 409 and "already REFUNDED" in cancel.json()["message"]
    third = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "OTHER"})
    assert third.status_code == 422 and third.json()["code"] == "ALREADY_REFUNDED"
    assert srv.sandbox.vendors["roamify"].stats()["refunds"][0]["status"] == "REFUNDED"


def test_cancel_while_open_then_a_new_request_and_a_rejection(srv, client):
    esim = esim_with(client, "READY")
    first = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "NOT_INSTALLED"}).json()["data"]
    cancelled = client.post("/api/refund/cancel", json={"refundId": first["refundId"]})
    assert cancelled.status_code == 200 and cancelled.json()["data"]["status"] == "CANCELLED"
    second = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "DUPLICATE"}).json()["data"]
    assert second["refundId"] != first["refundId"] and second["status"] == "PENDING"
    before = balance(client)
    rejected = control(srv, "POST", json={"refund_id": second["refundId"], "decision": "reject",
                                          "reason": "the eSIM was used"}).json()
    assert rejected["status"] == "REJECTED" and rejected["rejectionReason"] == "the eSIM was used"
    assert balance(client) == before
    assert [x["status"] for x in control(srv, "GET", params={"vendor": "roamify"}).json()] == ["REJECTED", "CANCELLED"]


def test_refused_requests_in_roamifys_error_body(client):
    esim = esim_with(client, "INSTALLED")
    r = client.post("/api/refund", json={"iccid": esim["iccid"], "reason": "BECAUSE"})
    assert r.status_code == 400 and r.json()["status"] == "failed" and "reason must be one of" in r.json()["message"]
    r = client.post("/api/refund", json={"iccid": "8944000000000000001", "reason": "OTHER"})
    assert r.status_code == 404 and r.json()["code"] == "NOT_FOUND"
    assert client.get("/api/refund", params={"refundId": "nope"}).status_code == 404
    assert client.post("/api/refund/cancel", json={"refundId": "nope"}).status_code == 404


def test_the_demo_decides_by_the_clock(srv, client):
    httpx.post(f"{srv.root}/_sandbox/config", json={"refund_decision_s": 30}, timeout=10)
    esims = [e for e in client.get("/api/esims", params={"limit": 200}).json()["data"] if e["status"] == "INSTALLED"]
    ok = client.post("/api/refund", json={"iccid": esims[0]["iccid"], "reason": "NOT_WORKING"}).json()["data"]
    test = client.post("/api/refund", json={"iccid": esims[1]["iccid"], "reason": "OTHER",
                                            "notes": "a test request"}).json()["data"]
    before = balance(client)
    httpx.post(f"{srv.root}/_sandbox/clock", json={"advance": 31}, timeout=10)
    assert client.get("/api/refund", params={"refundId": ok["refundId"]}).json()["data"]["status"] == "PROCESSING"
    httpx.post(f"{srv.root}/_sandbox/clock", json={"advance": 30}, timeout=10)
    assert client.get("/api/refund", params={"refundId": ok["refundId"]}).json()["data"]["status"] == "REFUNDED"
    rejected = client.get("/api/refund", params={"refundId": test["refundId"]}).json()["data"]
    assert rejected["status"] == "REJECTED" and "test" in rejected["rejectionReason"]
    assert balance(client) == pytest.approx(before + ok["amount"])


def test_sms_only_to_an_installed_esim_and_kept_in_the_state(srv, client):
    installed, ready = esim_with(client, "INSTALLED"), esim_with(client, "READY")
    r = client.post("/api/esim/sms", json={"iccid": installed["iccid"], "message": "Welcome to Japan"})
    assert r.status_code == 200 and r.json()["status"] == "success"
    refused = client.post("/api/esim/sms", json={"iccid": ready["iccid"], "message": "hello"})
    assert refused.status_code == 400 and refused.json()["code"] == "ESIM_NOT_INSTALLED"
    assert client.post("/api/esim/sms", json={"iccid": installed["iccid"]}).status_code == 400
    outbox = httpx.get(f"{srv.root}/_sandbox/state", timeout=10).json()["roamify"]["sms_outbox"]
    assert [(m["iccid"], m["message"]) for m in outbox] == [(installed["iccid"], "Welcome to Japan")]


def test_a_world_file_keeps_requests_and_sms(tmp_path):
    world = tmp_path / "world.json"
    with SandboxServer(SandboxConfig(seed=7), vendors=("roamify",), state_file=world) as srv, \
            httpx.Client(base_url=srv.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        esim = esim_with(c, "INSTALLED")
        refund = c.post("/api/refund", json={"iccid": esim["iccid"], "reason": "OTHER"}).json()["data"]
        c.post("/api/esim/sms", json={"iccid": esim["iccid"], "message": "hi"})
        control(srv, "POST", json={"refund_id": refund["refundId"], "decision": "reject", "reason": "no"})
    with SandboxServer(SandboxConfig(seed=7), vendors=("roamify",), state_file=world) as srv, \
            httpx.Client(base_url=srv.urls["roamify"], headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        again = c.get("/api/refund", params={"refundId": refund["refundId"]}).json()["data"]
        assert again["status"] == "REJECTED" and again["rejectionReason"] == "no"
        assert srv.sandbox.vendors["roamify"].stats()["sms_outbox"][0]["message"] == "hi"
