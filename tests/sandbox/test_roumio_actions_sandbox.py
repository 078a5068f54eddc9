"""The Roumio simulator's support actions over real HTTP (roumio-more.md): state checks answered with
200002, the refund to the balance, parameter lengths (000107), usage refreshed every 2 hours, the SMS
outbox in /_sandbox/state, and a world file that keeps it all."""

from __future__ import annotations

import json

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.roumio import USAGE_REFRESH

KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]


@pytest.fixture
def srv():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as server:
        server.sandbox.limiters["roumio"].limit = 1_000_000  # the protocol, not the rate limit
        yield server


def call(server, path, body):
    r = httpx.post(f"{server.urls['roumio']}/{path}", content=json.dumps(body),
                   headers={"Authorization": KEY, "Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200
    return r.json()


def fleet(server) -> list[dict]:
    return call(server, "esim/query", {"pager": {"pageNum": 1, "pageSize": 500}})["obj"]["esimList"]


def one(server, esim_status: str, smdp: str) -> dict:
    return next(e for e in fleet(server) if (e["esimStatus"], e["smdpStatus"]) == (esim_status, smdp)
                and e["iccid"] != "8943108170000775671")


def status(server, iccid: str) -> tuple[str, str]:
    e = call(server, "esim/query", {"iccid": iccid, "pager": {"pageNum": 1, "pageSize": 5}})["obj"]["esimList"][0]
    return e["esimStatus"], e["smdpStatus"]


def code(answer: dict) -> str | None:
    return None if answer["success"] else answer["errorCode"]


def balance(server) -> int:
    return call(server, "balance", {})["obj"]["balance"]


def test_cancel_only_while_unused_and_refunds_the_price(srv):
    new = one(srv, "GOT_RESOURCE", "RELEASED")
    in_use = one(srv, "IN_USE", "ENABLED")
    price = srv.sandbox.vendors["roumio"].catalog.find(new["packageList"][0]["packageCode"])["price"]
    before = balance(srv)
    assert code(call(srv, "esim/cancel", {"iccid": in_use["iccid"]})) == "200002"
    assert balance(srv) == before
    assert code(call(srv, "esim/cancel", {"esimTranNo": new["esimTranNo"]})) is None
    assert status(srv, new["iccid"]) == ("CANCEL", "RELEASED")
    assert balance(srv) == before + price
    assert code(call(srv, "esim/cancel", {"iccid": new["iccid"]})) == "200002"  # once only
    assert balance(srv) == before + price


def test_suspend_resume_revoke_follow_the_state(srv):
    in_use = one(srv, "IN_USE", "ENABLED")
    new = one(srv, "GOT_RESOURCE", "RELEASED")
    assert code(call(srv, "esim/suspend", {"iccid": new["iccid"]})) == "200002"  # not installed
    assert code(call(srv, "esim/unsuspend", {"iccid": in_use["iccid"]})) == "200002"  # not suspended
    assert code(call(srv, "esim/suspend", {"iccid": in_use["iccid"]})) is None
    assert status(srv, in_use["iccid"]) == ("SUSPENDED", "ENABLED")
    assert code(call(srv, "esim/unsuspend", {"iccid": in_use["iccid"]})) is None
    assert status(srv, in_use["iccid"]) == ("IN_USE", "ENABLED")
    before = balance(srv)
    assert code(call(srv, "esim/revoke", {"iccid": in_use["iccid"]})) is None
    assert status(srv, in_use["iccid"])[0] == "REVOKE"
    assert balance(srv) == before  # no refund
    for path in ("esim/suspend", "esim/unsuspend", "esim/revoke", "esim/cancel"):
        assert code(call(srv, path, {"iccid": in_use["iccid"]})) == "200002"


def test_a_suspended_esim_uses_no_data(srv):
    in_use = one(srv, "IN_USE", "ENABLED")
    call(srv, "esim/suspend", {"iccid": in_use["iccid"]})
    used = lambda: call(srv, "esim/query", {"iccid": in_use["iccid"], "pager": {"pageNum": 1, "pageSize": 5}})[  # noqa: E731
        "obj"]["esimList"][0]["orderUsage"]
    held = used()
    srv.config.clock.advance(6 * 3600)
    assert used() == held


def test_sms_needs_an_installed_profile_and_at_most_500_characters(srv):
    in_use = one(srv, "IN_USE", "ENABLED")
    new = one(srv, "GOT_RESOURCE", "RELEASED")
    assert code(call(srv, "esim/sendSms", {"iccid": in_use["iccid"], "message": "x" * 501})) == "000107"
    assert code(call(srv, "esim/sendSms", {"iccid": in_use["iccid"]})) == "000105"
    assert code(call(srv, "esim/sendSms", {"iccid": new["iccid"], "message": "hi"})) == "200002"
    assert code(call(srv, "esim/sendSms", {"iccid": in_use["iccid"], "message": "x" * 500})) is None
    state = httpx.get(f"{srv.root}/_sandbox/state", timeout=10).json()
    [sent] = state["roumio"]["sms_outbox"]
    assert sent["iccid"] == in_use["iccid"] and sent["message"] == "x" * 500


def test_usage_check_is_refreshed_every_two_hours(srv):
    in_use = one(srv, "IN_USE", "ENABLED")
    tran = in_use["esimTranNo"]
    assert code(call(srv, "esim/usage/query", {"esimTranNoList": [tran] * 11})) == "000107"
    assert code(call(srv, "esim/usage/query", {"esimTranNoList": []})) == "000106"
    sim = srv.sandbox.vendors["roumio"]
    now = sim.now()
    srv.config.clock.advance(USAGE_REFRESH - now % USAGE_REFRESH + 60)  # one minute past a refresh
    first = call(srv, "esim/usage/query", {"esimTranNoList": [tran]})["obj"][0]
    assert first["lastUpdateTime"].endswith(":00:00+0000")
    srv.config.clock.advance(3600)  # data keeps flowing, the figure does not move until the next refresh
    assert call(srv, "esim/usage/query", {"esimTranNoList": [tran]})["obj"][0] == first
    live = call(srv, "esim/query", {"iccid": in_use["iccid"], "pager": {"pageNum": 1, "pageSize": 5}})[
        "obj"]["esimList"][0]["orderUsage"]
    assert live > first["dataUsage"]
    srv.config.clock.advance(USAGE_REFRESH)
    later = call(srv, "esim/usage/query", {"esimTranNoList": [tran]})["obj"][0]
    assert later["lastUpdateTime"] != first["lastUpdateTime"] and later["dataUsage"] > first["dataUsage"]
    assert later["totalData"] == in_use["totalVolume"]


def test_the_world_file_keeps_actions_and_the_outbox(tmp_path):
    state = tmp_path / "world.json"
    cfg = lambda: SandboxConfig(seed=3, allocation_delay=0.2)  # noqa: E731
    with SandboxServer(cfg(), vendors=("roumio",), state_file=state) as first:
        first.sandbox.limiters["roumio"].limit = 1_000_000
        in_use = one(first, "IN_USE", "ENABLED")
        call(first, "esim/suspend", {"iccid": in_use["iccid"]})
        other = one(first, "IN_USE", "ENABLED")
        call(first, "esim/sendSms", {"iccid": other["iccid"], "message": "kept"})
    with SandboxServer(cfg(), vendors=("roumio",), state_file=state) as second:
        second.sandbox.limiters["roumio"].limit = 1_000_000
        assert status(second, in_use["iccid"]) == ("SUSPENDED", "ENABLED")
        assert code(call(second, "esim/unsuspend", {"iccid": in_use["iccid"]})) is None
        assert status(second, in_use["iccid"]) == ("IN_USE", "ENABLED")
        assert [m["message"] for m in second.sandbox.vendors["roumio"].stats()["sms_outbox"]] == ["kept"]
