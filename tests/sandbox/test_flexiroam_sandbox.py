"""The Flexiroam simulator against the documented list-inventory sample, over real HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.flexiroam import PAGE_SIZE, FlexiroamSandbox
from tests.shapes import assert_same_shape, md_json_blocks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "flexiroam"
KEY = SANDBOX_CREDENTIALS["flexiroam"]["KEY"]
SAMPLE = json.loads((FIXTURES / "list_inventory_free.json").read_text())


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, esims=450), vendors=("flexiroam",)) as srv:
        yield srv


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.urls["flexiroam"], headers={"x-api-key": KEY}) as c:
        yield c


def test_fixture_is_the_documented_sample():
    blocks = md_json_blocks("flexiroam")
    assert blocks == [SAMPLE]  # the document's only JSON sample


def test_wrong_key_is_forbidden(server):
    for headers in ({"x-api-key": "nope"}, {}):
        r = httpx.get(server.urls["flexiroam"] + "/list-inventory", headers=headers)
        assert r.status_code == 403 and r.json() == {"message": "Forbidden"}


def test_documented_query_matches_sample_shape(client):
    r = client.get(
        "/list-inventory", params={"chip_type": "esim", "search_by": "availability", "search": "free"}
    )
    assert r.status_code == 200
    body = r.json()
    assert_same_shape(SAMPLE, body)
    assert body["items"][: len(SAMPLE["items"])] == SAMPLE["items"]  # the samples, verbatim, first
    for item in body["items"]:
        assert_same_shape(SAMPLE["items"][0], item)
        assert item["availability_sku"].startswith("free___") and item["chip_type"] == "esim"


def _all(client, **params):
    items, key, pages = [], None, 0
    while True:
        q = dict(params)
        if key is not None:
            q["page_key"] = key
        body = client.get("/list-inventory", params=q).json()
        pages += 1
        items.extend(body["items"])
        key = body["page_key"]
        if key is None:
            return items, pages
        assert isinstance(key, str)
        assert len(body["items"]) == PAGE_SIZE


def test_paging_to_the_end_null_on_last_page(server, client):
    items, pages = _all(client)
    assert len(items) == 450 and pages == 5
    assert len({i["iccid"] for i in items}) == 450
    esims, _ = _all(client, chip_type="esim")
    assert 0 < len(esims) < 450 and all(i["chip_type"] == "esim" for i in esims)
    for item in items:
        assert_same_shape(SAMPLE["items"][0], item)


def test_search_by_fields(client):
    iccid = SAMPLE["items"][3]["iccid"]
    r = client.get("/list-inventory", params={"search_by": "iccid", "search": iccid}).json()
    assert [i["iccid"] for i in r["items"]] == [iccid] and r["page_key"] is None
    generated = client.get("/list-inventory", params={"search_by": "status", "search": "suspended"}).json()
    assert generated["items"] and all(i["status"] == "suspended" for i in generated["items"])
    iccid = generated["items"][0]["iccid"]
    r = client.get("/list-inventory", params={"search_by": "iccid", "search": iccid}).json()
    assert [i["iccid"] for i in r["items"]] == [iccid]
    assert client.get("/list-inventory", params={"search_by": "colour", "search": "x"}).status_code == 400
    assert client.get("/list-inventory", params={"page_key": "%%%"}).status_code == 400


def test_usage_moves_with_the_clock(server, client):
    def in_use():
        items, _ = _all(client, search_by="availability", search="used")
        return {i["iccid"]: i["balances"]["main_data"] for i in items if i["state"] == "normal"}

    before = in_use()
    server.config.clock.advance(3600 * 24)
    after = in_use()
    assert any(after[k] < v for k, v in before.items() if v > 0)
    assert all(after[k] <= v for k, v in before.items())


def test_stats(server, client):
    client.get("/list-inventory")
    s = server.sandbox.vendors["flexiroam"].stats()
    assert s["orders"] == 0 and s["requests"] > 0 and s["esims"] == 450


def test_scale_and_startup():
    t0 = time.perf_counter()
    sim = FlexiroamSandbox(SandboxConfig(seed=3, esims=100_000), {"KEY": "k"})
    assert len(sim.inventory) == 100_000
    assert time.perf_counter() - t0 < 1.5
    t0 = time.perf_counter()
    FlexiroamSandbox(SandboxConfig(seed=3), {"KEY": "k"})
    assert time.perf_counter() - t0 < 0.5


def test_deterministic_by_seed():
    a = FlexiroamSandbox(SandboxConfig(seed=5, esims=200), {"KEY": "k"})
    b = FlexiroamSandbox(SandboxConfig(seed=5, esims=200), {"KEY": "k"})
    now = a.now()
    assert [a.inventory.item(i, now, 40) for i in range(200)] == [
        b.inventory.item(i, now, 40) for i in range(200)
    ]
