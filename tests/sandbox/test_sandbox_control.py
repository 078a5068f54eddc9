"""The sandbox's control API over real HTTP: per-vendor clocks and Date headers, run-time config, the
order ledger (``/_sandbox/orders``), and faults ``when="after"`` that let the vendor act first."""

from __future__ import annotations

import socket
import time
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.faults import FAULT_KINDS
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.vendors.microesim_auth import MicroesimAuth

ORDERING = ("roumio", "roamify", "microesim")
ORDER_ENDPOINTS = {
    "roumio": "esim/order",
    "roamify": "api/esim/order",
    "microesim": "allesim/v1/esimSubscribe",
}
ROUMIO_PLAN = "CKH003"
CST = timezone(timedelta(hours=8))  # MicroESIM's create_time
LEDGER_KEYS = {"order_id", "handle", "plan_id", "quantity", "kind", "created_at"}


def _unthrottled(srv: SandboxServer) -> SandboxServer:
    srv.sandbox.limiters["roumio"].limit = 1_000_000  # these tests are not about Roumio's 8/s
    return srv


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3)) as srv:
        yield _unthrottled(srv)


@pytest.fixture
def fresh():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3)) as srv:
        yield _unthrottled(srv)


@pytest.fixture(autouse=True)
def _no_faults_left(server):
    yield
    for injector in server.sandbox.faults.values():
        injector.clear()


# --- talking to each ordering vendor -------------------------------------------------------------
def vendor_client(srv: SandboxServer, vendor: str, timeout: float = 5.0) -> httpx.Client:
    creds = SANDBOX_CREDENTIALS[vendor]
    base = srv.urls[vendor]
    if vendor == "roumio":
        return httpx.Client(base_url=base, headers={"Authorization": creds["KEY"]}, timeout=timeout)
    if vendor == "roamify":
        return httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {creds['TOKEN']}"}, timeout=timeout
        )
    if vendor == "microesim":
        auth = MicroesimAuth(creds["ACCOUNT"], creds["SECRET"], creds["SALT"])
        return httpx.Client(base_url=base, auth=auth, timeout=timeout)
    return httpx.Client(base_url=base, headers={"x-api-key": creds["KEY"]}, timeout=timeout)


def microesim_plan(srv: SandboxServer) -> str:
    return srv.sandbox.vendors["microesim"].catalog.plan(7)["channel_dataplan_id"]


def send_order(srv: SandboxServer, vendor: str, handle: str, quantity: int = 1, timeout: float = 5.0):
    """One order request as the vendor's document has it; returns the response (or the transport error)."""
    with vendor_client(srv, vendor, timeout) as c:
        try:
            if vendor == "roumio":
                lines = [{"packageCode": ROUMIO_PLAN, "count": 1}] * quantity
                return c.post("/esim/order", json={"transactionId": handle, "packageInfoList": lines})
            if vendor == "roamify":
                return c.post(
                    "/api/esim/order",
                    json={
                        "items": [{"packageId": SAMPLE_PACKAGE_ID, "quantity": quantity}],
                        "referenceId": handle,
                    },
                )
            fields = {
                "number": str(quantity),
                "channel_dataplan_id": microesim_plan(srv),
                "custom_order_no": handle,
            }
            return c.post("/allesim/v1/esimSubscribe", files={k: (None, v) for k, v in fields.items()})
        except httpx.HTTPError as exc:
            return exc


def ledger(srv: SandboxServer, vendor: str | None = None):
    params = {"vendor": vendor} if vendor else {}
    r = httpx.get(srv.root + "/_sandbox/orders", params=params, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def set_clock(srv: SandboxServer, **body) -> dict:
    r = httpx.post(srv.root + "/_sandbox/clock", json=body, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


def date_of(resp: httpx.Response) -> float:
    dates = resp.headers.get_list("date")
    assert len(dates) == 1, dates
    return parsedate_to_datetime(dates[0]).timestamp()


def a_read(srv: SandboxServer, vendor: str) -> httpx.Response:
    with vendor_client(srv, vendor) as c:
        if vendor == "roumio":
            return c.post("/balance", json={})
        if vendor == "roamify":
            return c.get("/api/esim/orders", params={"limit": 1})
        if vendor == "microesim":
            return c.post("/allesim/v1/accountBalance")
        return c.get("/list-inventory")


def raw_head(
    url: str,
    method: str = "GET",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> list[tuple[str, str]]:
    """The response header lines as the socket delivered them (also for an answer cut off mid-body)."""
    parts = urlsplit(url)
    lines = [
        f"{method} {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Connection: close",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    data = b""
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in head)]


# --- clocks --------------------------------------------------------------------------------------
def test_every_vendor_answer_has_one_date_header_from_its_own_clock(fresh):
    state = set_clock(fresh, advance=-180, vendor="roamify")
    assert state["vendors"]["roamify"]["offset"] == -180
    assert {v["offset"] for n, v in state["vendors"].items() if n != "roamify"} == {0}
    now = time.time()
    for vendor in fresh.sandbox.vendors:
        expected = now - 180 if vendor == "roamify" else now
        assert abs(date_of(a_read(fresh, vendor)) - expected) < 3, vendor


def test_vendor_clock_moves_both_ways_and_stamps_the_vendors_times(fresh):
    set_clock(fresh, advance=-180, vendor="roamify")
    set_clock(fresh, advance=240, vendor="roumio")
    set_clock(fresh, offset=-300, vendor="microesim")  # absolute; the signature check keeps wall time
    now = time.time()
    expected = {"roamify": now - 180, "roumio": now + 240, "microesim": now - 300}
    answers = {v: send_order(fresh, v, f"clock-{v}") for v in ORDERING}
    for vendor, resp in answers.items():
        assert isinstance(resp, httpx.Response) and resp.status_code == 200, resp
        assert abs(date_of(resp) - expected[vendor]) < 3, vendor
        (row,) = ledger(fresh, vendor)
        assert abs(row["created_at"] - expected[vendor]) < 3, vendor
    # The vendors' own fields say the same time.
    assert abs(answers["roamify"].json()["data"]["createdAt"] - expected["roamify"]) < 3
    assert abs(date_of(a_read(fresh, "flexiroam")) - now) < 3  # untouched
    time.sleep(0.4)  # allocated
    order_no = answers["roumio"].json()["obj"]["orderNo"]
    with vendor_client(fresh, "roumio") as c:
        esim = c.post(
            "/esim/query", json={"orderNo": order_no, "pager": {"pageNum": 1, "pageSize": 5}}
        ).json()
    created = esim["obj"]["esimList"][0]["packageList"][0]["createTime"]
    assert abs(parsedate_iso(created) - expected["roumio"]) < 3
    topup_id = answers["microesim"].json()["result"]["topup_id"]
    with vendor_client(fresh, "microesim") as c:
        detail = c.post("/allesim/v1/topupDetail", files={"topup_id": (None, topup_id)}).json()["result"]
    assert abs(parse_java(detail["create_time"]) - expected["microesim"]) < 3


def parsedate_iso(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").timestamp()


def parse_java(text: str) -> float:
    return datetime.strptime(text, "%a %b %d %H:%M:%S CST %Y").replace(tzinfo=CST).timestamp()


def test_shared_advance_moves_every_vendor_and_keeps_their_offsets(fresh):
    set_clock(fresh, advance=-120, vendor="roamify")
    before = set_clock(fresh)  # no change: reads the clocks
    state = set_clock(fresh, advance=3600)
    assert state["now"] == pytest.approx(before["now"] + 3600, abs=2)
    for name, clock in state["vendors"].items():
        assert clock["now"] == pytest.approx(before["vendors"][name]["now"] + 3600, abs=2)
        assert clock["offset"] == before["vendors"][name]["offset"]
    assert state["vendors"]["roamify"]["now"] == pytest.approx(state["now"] - 120, abs=1)
    assert httpx.get(fresh.root + "/_sandbox/clock").json()["vendors"]["roamify"]["offset"] == -120
    # The in-process handle moves the shared clock as before.
    fresh.config.clock.advance(60)
    assert abs(date_of(a_read(fresh, "roamify")) - (time.time() + 3600 + 60 - 120)) < 3


@pytest.mark.parametrize(
    "body",
    [
        {"advance": 5, "vendor": "nowhere"},
        {"advance": "5"},
        {"advance": True, "vendor": "roumio"},
        {"offset": 5},
        {"offset": None, "advance": [1], "vendor": "roumio"},
    ],
)
def test_bad_clock_requests_are_400(server, body):
    before = set_clock(server)
    r = httpx.post(server.root + "/_sandbox/clock", json=body)
    assert r.status_code == 400 and r.json()["error"]
    after = set_clock(server)
    assert {n: v["offset"] for n, v in after["vendors"].items()} == {
        n: v["offset"] for n, v in before["vendors"].items()
    }


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_faulted_answers_carry_one_date_from_the_vendor_clock(fresh, kind):
    set_clock(fresh, offset=-240, vendor="roamify")
    fault = {
        "kind": kind,
        "endpoint": "api/esim/orders",
        "seconds": 0.05 if kind in ("latency", "late", "timeout") else None,
    }
    fresh.sandbox.faults["roamify"].add(fault)
    token = SANDBOX_CREDENTIALS["roamify"]["TOKEN"]
    head = raw_head(fresh.urls["roamify"] + "/api/esim/orders", headers={"Authorization": f"Bearer {token}"})
    dates = [v for k, v in head if k == "date"]
    assert len(dates) == 1, head
    assert abs(parsedate_to_datetime(dates[0]).timestamp() - (time.time() - 240)) < 3


def test_rate_limited_and_control_answers_are_dated_once():
    with SandboxServer(SandboxConfig(seed=7), vendors=("roumio",)) as srv:
        srv.sandbox.vendors["roumio"].clock.set_offset(90)
        answers = [a_read(srv, "roumio") for _ in range(10)]
        assert any(r.status_code == 429 for r in answers)
        for r in answers:
            assert abs(date_of(r) - (time.time() + 90)) < 3
        assert abs(date_of(httpx.get(srv.root + "/_sandbox/state")) - time.time()) < 3


# --- run-time config -----------------------------------------------------------------------------
def test_config_reads_and_switches(fresh):
    assert httpx.get(fresh.root + "/_sandbox/config").json() == {
        "roamify_reference_ids": True,
        "allocation_delay": 0.3,
        "usage_mb_per_hour": 40.0,
        "latency_ms": 0.0,
        "latency_sigma": 0.6,
        "refund_decision_s": 0.0,
    }
    r = httpx.post(
        fresh.root + "/_sandbox/config", json={"roamify_reference_ids": False, "allocation_delay": 0}
    )
    assert r.status_code == 200
    assert r.json() == {"roamify_reference_ids": False, "allocation_delay": 0.0, "usage_mb_per_hour": 40.0,
                        "latency_ms": 0.0, "latency_sigma": 0.6, "refund_decision_s": 0.0}
    assert fresh.config.roamify_reference_ids is False and fresh.config.allocation_delay == 0


@pytest.mark.parametrize(
    "body",
    [
        {"nope": 1},
        {"roamify_reference_ids": "no"},
        {"allocation_delay": -1},
        {"seed": 3},
        {"roamify_reference_ids": False, "usage_mb_per_hour": "x"},
        {"latency_ms": -5},
        {"latency_sigma": True},
    ],
)
def test_bad_config_changes_are_400_and_change_nothing(fresh, body):
    before = httpx.get(fresh.root + "/_sandbox/config").json()
    r = httpx.post(fresh.root + "/_sandbox/config", json=body)
    assert r.status_code == 400 and r.json()["error"]
    assert httpx.get(fresh.root + "/_sandbox/config").json() == before


# --- the ledger ----------------------------------------------------------------------------------
def test_ledger_starts_empty_seeded_history_left_out(fresh):
    assert ledger(fresh) == {v: [] for v in fresh.sandbox.vendors}
    for vendor in fresh.sandbox.vendors:
        assert ledger(fresh, vendor) == []
    # Roamify holds seeded history (its list is not empty), yet none of it was created in this run.
    assert a_read(fresh, "roamify").json()["data"]["orders"]
    r = httpx.get(fresh.root + "/_sandbox/orders", params={"vendor": "nowhere"})
    assert r.status_code == 400


def test_ledger_lists_every_api_order_with_its_handle(fresh):
    roumio = send_order(fresh, "roumio", "txn-1", quantity=2).json()["obj"]["orderNo"]
    assert (
        send_order(fresh, "roumio", "txn-1").json()["obj"]["orderNo"] == roumio
    )  # same handle: no new order
    roamify = send_order(fresh, "roamify", "ref-1", quantity=3).json()["data"]["id"]
    again = send_order(fresh, "roamify", "ref-1").json()["data"]["id"]  # Roamify does not dedupe
    micro = send_order(fresh, "microesim", "cno-1", quantity=2).json()["result"]["topup_id"]
    assert send_order(fresh, "microesim", "cno-1").json()["code"] == 409  # refused: nothing created
    with vendor_client(fresh, "microesim") as c:
        fields = {"number": "1", "channel_dataplan_id": microesim_plan(fresh)}
        plain = c.post("/allesim/v1/esimSubscribe", files={k: (None, v) for k, v in fields.items()}).json()
    with vendor_client(fresh, "roamify") as c:
        r = c.post(
            "/api/esim/order/topup",
            json={"iccid": fresh.sandbox.vendors["roamify"].known_iccids[0], "packageId": SAMPLE_PACKAGE_ID},
        )
        roamify_topup = r.json()["data"]["id"]
    rows = ledger(fresh)
    for vendor_rows in rows.values():
        for row in vendor_rows:
            assert set(row) == LEDGER_KEYS and isinstance(row["created_at"], float | int)
    strip = [{k: v for k, v in row.items() if k != "created_at"} for row in rows["roumio"]]
    assert strip == [
        {"order_id": roumio, "handle": "txn-1", "plan_id": ROUMIO_PLAN, "quantity": 2, "kind": "order"}
    ]
    strip = [{k: v for k, v in row.items() if k != "created_at"} for row in rows["roamify"]]
    assert strip == [
        {
            "order_id": roamify,
            "handle": "ref-1",
            "plan_id": SAMPLE_PACKAGE_ID,
            "quantity": 3,
            "kind": "order",
        },
        {"order_id": again, "handle": "ref-1", "plan_id": SAMPLE_PACKAGE_ID, "quantity": 1, "kind": "order"},
        {
            "order_id": roamify_topup,
            "handle": None,
            "plan_id": SAMPLE_PACKAGE_ID,
            "quantity": 1,
            "kind": "topup",
        },
    ]
    strip = [{k: v for k, v in row.items() if k != "created_at"} for row in rows["microesim"]]
    plan = microesim_plan(fresh)
    assert strip == [
        {"order_id": micro, "handle": "cno-1", "plan_id": plan, "quantity": 2, "kind": "order"},
        {
            "order_id": plain["result"]["topup_id"],
            "handle": None,
            "plan_id": plan,
            "quantity": 1,
            "kind": "order",
        },
    ]
    assert rows["flexiroam"] == []
    assert ledger(fresh, "roamify") == rows["roamify"]


def test_ledger_keeps_creation_order_when_a_clock_goes_back(fresh):
    first = send_order(fresh, "roamify", "early").json()["data"]["id"]
    set_clock(fresh, advance=-600, vendor="roamify")
    second = send_order(fresh, "roamify", "late").json()["data"]["id"]
    rows = ledger(fresh, "roamify")
    assert [r["order_id"] for r in rows] == [first, second]
    assert rows[1]["created_at"] < rows[0]["created_at"]


def test_ledger_lists_roumio_topups_by_transaction_id(fresh):
    order_no = send_order(fresh, "roumio", "for-topup").json()["obj"]["orderNo"]
    time.sleep(0.4)
    with vendor_client(fresh, "roumio") as c:
        esim = c.post(
            "/esim/query", json={"orderNo": order_no, "pager": {"pageNum": 1, "pageSize": 5}}
        ).json()
        tran = esim["obj"]["esimList"][0]["esimTranNo"]
        top = c.post(
            "/esim/topup", json={"esimTranNo": tran, "packageCode": "SM001", "transactionId": "tu-9"}
        )
        assert top.json()["success"], top.text
    rows = ledger(fresh, "roumio")
    assert [(r["order_id"], r["handle"], r["plan_id"], r["kind"]) for r in rows] == [
        (order_no, "for-topup", ROUMIO_PLAN, "order"),
        ("tu-9", "tu-9", "SM001", "topup"),
    ]


# --- faults after the vendor acted ------------------------------------------------------------------
LOSING_KINDS = ("http_500", "html", "drop", "timeout", "truncated", "busy", "http_429")


@pytest.mark.parametrize("kind", LOSING_KINDS)
@pytest.mark.parametrize("vendor", ORDERING)
def test_fault_after_lets_the_vendor_act_then_loses_the_answer(server, vendor, kind):
    before = ledger(server, vendor)
    handle = f"after-{kind}-{uuid.uuid4().hex[:8]}"
    server.sandbox.faults[vendor].add(
        {
            "kind": kind,
            "endpoint": ORDER_ENDPOINTS[vendor],
            "when": "after",
            "seconds": 0.3 if kind == "timeout" else None,
        }
    )
    resp = send_order(server, vendor, handle, timeout=2.0)
    assert server.sandbox.faults[vendor].injected[-1] == {
        "endpoint": ORDER_ENDPOINTS[vendor],
        "kind": kind,
        "when": "after",
    }
    if isinstance(resp, httpx.Response):  # the client got something, but never the vendor's answer
        assert resp.status_code != 200 or handle not in resp.text
    after = ledger(server, vendor)
    assert len(after) == len(before) + 1  # the vendor acted once
    assert after[-1]["handle"] == handle and after[-1]["kind"] == "order"


@pytest.mark.parametrize("kind", LOSING_KINDS)
@pytest.mark.parametrize("vendor", ORDERING)
def test_fault_before_answers_instead_of_the_vendor(server, vendor, kind):
    before = ledger(server, vendor)
    server.sandbox.faults[vendor].add(
        {
            "kind": kind,
            "endpoint": ORDER_ENDPOINTS[vendor],
            "when": "before",
            "seconds": 0.3 if kind == "timeout" else None,
        }
    )
    send_order(server, vendor, f"before-{kind}-{uuid.uuid4().hex[:8]}", timeout=2.0)
    assert ledger(server, vendor) == before  # nothing placed


@pytest.mark.parametrize(
    ("vendor", "body"),
    [
        (
            "roumio",
            {
                "errorCode": "900001",
                "errorMsg": "The system is busy, please try again later.",
                "success": False,
                "obj": None,
            },
        ),
        ("roamify", {"status": "error", "message": "Too Many Requests"}),
        ("microesim", {"code": 429, "msg": "Too many requests, please try again later", "result": None}),
        ("flexiroam", {"message": "Too Many Requests"}),
    ],
)
def test_injected_429_answers_in_each_vendors_own_envelope(server, vendor, body):
    server.sandbox.faults[vendor].add({"kind": "http_429"})
    r = a_read(server, vendor)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json() == body
