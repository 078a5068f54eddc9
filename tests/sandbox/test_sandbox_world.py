"""One sandbox world per state file (issue 19): what one run did is there in the next, order numbers never
repeat, two processes on one file see each other's orders; without a file the sandbox stays in memory."""

from __future__ import annotations

import json
import logging
import time

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.app import Sandbox
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID
from esimdesk.sandbox.state import StateFileError
from esimdesk.vendors.microesim_auth import MicroesimAuth

ROUMIO_PLAN = "CKH003"


def config(**kw) -> SandboxConfig:
    kw.setdefault("allocation_delay", 0.2)
    return SandboxConfig(**kw)


def client(srv: SandboxServer, vendor: str) -> httpx.Client:
    creds, base = SANDBOX_CREDENTIALS[vendor], srv.urls[vendor]
    if vendor == "roumio":
        return httpx.Client(base_url=base, headers={"Authorization": creds["KEY"]}, timeout=5)
    if vendor == "roamify":
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {creds['TOKEN']}"}, timeout=5)
    auth = MicroesimAuth(creds["ACCOUNT"], creds["SECRET"], creds["SALT"])
    return httpx.Client(base_url=base, auth=auth, timeout=5)


def roumio_order(srv: SandboxServer, txn: str) -> str:
    with client(srv, "roumio") as c:
        body = c.post("/esim/order", json={"transactionId": txn, "packageInfoList": [{"packageCode": ROUMIO_PLAN}]})
    assert body.json()["success"], body.text
    return body.json()["obj"]["orderNo"]


def roumio_esims(srv: SandboxServer, order_no: str) -> list[dict]:
    with client(srv, "roumio") as c:
        body = c.post("/esim/query", json={"orderNo": order_no, "pager": {"pageSize": 10, "pageNum": 1}}).json()
    assert body["success"], body
    return body["obj"]["esimList"]


def roumio_balance(srv: SandboxServer) -> int:
    with client(srv, "roumio") as c:
        return c.post("/balance", json={}).json()["obj"]["balance"]


def roamify_order(srv: SandboxServer, reference: str) -> str:
    with client(srv, "roamify") as c:
        body = c.post("/api/esim/order", json={"items": [{"packageId": SAMPLE_PACKAGE_ID, "quantity": 1}],
                                               "referenceId": reference})
    assert body.status_code == 200, body.text
    return body.json()["data"]["id"]


def microesim_order(srv: SandboxServer, custom_no: str) -> str:
    plan = srv.sandbox.vendors["microesim"].catalog.plan(7)["channel_dataplan_id"]
    fields = {"number": "1", "channel_dataplan_id": plan, "custom_order_no": custom_no}
    with client(srv, "microesim") as c:
        body = c.post("/allesim/v1/esimSubscribe", files={k: (None, v) for k, v in fields.items()}).json()
    assert body["code"] == 1, body
    return body["result"]["topup_id"]


def listed_order_ids(srv: SandboxServer) -> dict[str, set[str]]:
    """What a sync would see of each vendor's orders (MicroESIM keeps no list: its ledger instead)."""
    with client(srv, "roumio") as c:
        fleet = c.post("/esim/query", json={"pager": {"pageSize": 500, "pageNum": 1}}).json()["obj"]["esimList"]
    with client(srv, "roamify") as c:
        roamify = c.get("/api/esim/orders", params={"limit": 1000}).json()["data"]["orders"]
    micro = httpx.get(srv.root + "/_sandbox/orders", params={"vendor": "microesim"}).json()
    return {"roumio": {e["orderNo"] for e in fleet}, "roamify": {o["id"] for o in roamify},
            "microesim": {o["order_id"] for o in micro}}


def test_a_world_outlives_its_process(tmp_path):
    state = tmp_path / "world.json"
    with SandboxServer(config(), state_file=state) as srv:
        seeded = listed_order_ids(srv)
        first = roumio_order(srv, "txn-1")
        ref_order = roamify_order(srv, "ref-1")
        micro = microesim_order(srv, "cust-1")
        httpx.post(srv.root + "/_sandbox/clock", json={"vendor": "roamify", "offset": -120}).raise_for_status()
        time.sleep(0.3)
        esims = roumio_esims(srv, first)
        balance = roumio_balance(srv)
    assert state.exists()
    with SandboxServer(config(), state_file=state) as srv:
        # The same seeded sample orders (same ids) plus what the first run ordered; nothing new by itself.
        assert listed_order_ids(srv) == {
            "roumio": seeded["roumio"] | {first}, "roamify": seeded["roamify"] | {ref_order},
            "microesim": seeded["microesim"] | {micro}}
        again = roumio_esims(srv, first)
        assert [e["iccid"] for e in again] == [e["iccid"] for e in esims]
        assert again[0]["ac"] == esims[0]["ac"]
        assert roumio_balance(srv) == balance
        # The same transactionId is the same order, as the vendor promises, across runs too.
        assert roumio_order(srv, "txn-1") == first
        second = roumio_order(srv, "txn-2")
        time.sleep(0.3)
        assert second != first and roumio_esims(srv, second)[0]["iccid"] != esims[0]["iccid"]
        with client(srv, "roamify") as c:
            found = c.get("/api/esim/order", params={"referenceId": "ref-1"}).json()["data"]
        assert found["id"] == ref_order
        clock = httpx.get(srv.root + "/_sandbox/clock").json()
        assert clock["vendors"]["roamify"]["offset"] == -120
        fields = {"number": "1", "channel_dataplan_id": srv.sandbox.vendors["microesim"].catalog.plan(7)[
            "channel_dataplan_id"], "custom_order_no": "cust-1"}
        with client(srv, "microesim") as c:
            dup = c.post("/allesim/v1/esimSubscribe", files={k: (None, v) for k, v in fields.items()}).json()
        assert dup["code"] == 409 and dup["result"] == {"topup_id": micro}


def test_order_numbers_never_repeat_within_a_world(tmp_path):
    state = tmp_path / "world.json"
    seen: dict[str, set[str]] = {"roumio": set(), "roamify": set(), "microesim": set()}
    for run in range(3):  # three processes in one minute, as three CLI commands
        with SandboxServer(config(), state_file=state) as srv:
            for n in range(2):
                for vendor, place in (("roumio", roumio_order), ("roamify", roamify_order),
                                      ("microesim", microesim_order)):
                    order_id = place(srv, f"{vendor}-{run}-{n}")
                    assert order_id not in seen[vendor]
                    seen[vendor].add(order_id)
    assert all(len(ids) == 6 for ids in seen.values())


def test_two_processes_on_one_world_see_each_others_orders(tmp_path):
    """The window's sandbox and a command's sandbox run side by side on the demo's world file."""
    state = tmp_path / "world.json"
    with SandboxServer(config(), state_file=state) as window, SandboxServer(config(), state_file=state) as command:
        placed = roumio_order(command, "from-the-command")
        time.sleep(0.3)
        assert [e["orderNo"] for e in roumio_esims(window, placed)] == [placed]
        other = roumio_order(window, "from-the-window")
        assert other != placed
        assert roumio_order(command, "from-the-window") == other  # the command's sandbox knows it too


def test_the_seeded_world_and_the_catalogs_follow_from_the_seed(tmp_path):
    """A new world is seeded from the seed alone; catalogs are not stored, so they must not depend on time."""
    early = Sandbox(config(seed=5), state_file=tmp_path / "a.json")
    later_config = config(seed=5)
    later_config.clock.advance(3 * 86400)
    later = Sandbox(later_config, state_file=tmp_path / "b.json")
    for name in ("roumio", "roamify", "microesim"):
        a, b = early.vendors[name], later.vendors[name]
        if name == "roumio":
            assert a.catalog.base == b.catalog.base and a.catalog.topups == b.catalog.topups
        elif name == "roamify":
            assert [a.catalog.package(i) for i in range(len(a.catalog))] == \
                   [b.catalog.package(i) for i in range(len(b.catalog))]
        else:
            assert a.catalog.page(0, len(a.catalog)) == b.catalog.page(0, len(b.catalog))
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["format"] == "esimdesk-sandbox-world" and doc["version"] == 1
    assert "catalog" not in json.dumps(doc)  # derived, never stored
    assert set(doc["vendors"]) == {"roumio", "roamify", "microesim", "flexiroam"}


def test_a_world_keeps_its_seed(tmp_path, caplog):
    state = tmp_path / "world.json"
    Sandbox(config(seed=3), state_file=state)
    with caplog.at_level(logging.WARNING, logger="esimdesk.sandbox"):
        again = Sandbox(config(seed=4), state_file=state)
    assert again.config.seed == 3
    assert "made with seed=3" in caplog.text


def test_a_damaged_world_is_refused_in_words(tmp_path):
    state = tmp_path / "world.json"
    state.write_text("{not json")
    with pytest.raises(StateFileError, match="damaged"):
        Sandbox(config(), state_file=state)
    state.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(StateFileError, match="not an esimdesk sandbox world"):
        Sandbox(config(), state_file=state)


def test_without_a_state_file_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with SandboxServer(config(), vendors=("roumio",)) as srv:
        roumio_order(srv, "txn-1")
    assert list(tmp_path.iterdir()) == []
