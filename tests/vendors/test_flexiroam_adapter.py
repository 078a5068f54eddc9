"""Flexiroam adapter: unit tests from the documented sample, contract tests over the sandbox, fuzzing."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esimdesk.domain import EsimStatus, Unsupported, VendorAuthError, VendorConfig, VendorError
from esimdesk.sandbox import FAULT_KINDS, Fault, SandboxConfig, SandboxServer
from esimdesk.vendors import Capability
from esimdesk.vendors.flexiroam import FlexiroamAdapter, map_status, parse_esim, parse_page, remaining_mb
from tests.conftest import vendor_config

SAMPLE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "flexiroam" / "list_inventory_free.json").read_text()
)
KEY = "flexi-secret-key-777"


def adapter(handler) -> FlexiroamAdapter:
    cfg = VendorConfig("flexiroam", "https://flexi.test/v1/public-v2", {"KEY": KEY})
    return FlexiroamAdapter(cfg, timeout=2, transport=httpx.MockTransport(handler))


def test_capabilities_and_no_ordering():
    # GET_ESIM: one eSIM by list-inventory searched by ICCID (usage on demand, issue 21).
    assert FlexiroamAdapter.capabilities == {Capability.INVENTORY, Capability.LIST_ESIMS, Capability.GET_ESIM}
    assert FlexiroamAdapter.name == "flexiroam"


async def test_ordering_is_unsupported():
    async with adapter(lambda r: httpx.Response(500)) as a:
        with pytest.raises(Unsupported):
            await a.place_order("x", 1, "r")
        assert KEY not in repr(a)


def test_parse_sample_page():
    esims, key = parse_page(SAMPLE)
    assert key is None and len(esims) == 17
    first = esims[0]
    assert first.iccid == "89852350824010131081"  # as given
    assert first.status is EsimStatus.NEW and first.vendor_status == "active/normal/free"
    assert first.vendor_ref == "a6a59e57-cb57-4167-b852-b0877e141404"
    assert first.installed_at is None and remaining_mb(first) == 0


@pytest.mark.parametrize(
    "changes,expected",
    [
        ({}, EsimStatus.NEW),
        (
            {"availability_sku": "used___1", "balances": {"billing_cycle_id": "c", "main_data": 300}},
            EsimStatus.ACTIVE,
        ),
        ({"availability_sku": "used___1"}, EsimStatus.DEPLETED),
        ({"availability_sku": "used___1", "state": "paused"}, EsimStatus.SUSPENDED),
        ({"status": "suspended"}, EsimStatus.SUSPENDED),
        ({"status": "terminated"}, EsimStatus.DELETED),
        ({"status": "inactive"}, EsimStatus.CANCELLED),
        ({"status": "weird"}, EsimStatus.UNKNOWN),
    ],
)
def test_status_table(changes, expected):
    item = {**copy.deepcopy(SAMPLE["items"][0]), **changes}
    assert map_status(item) is expected


def test_first_billed_date_is_utc():
    item = {**SAMPLE["items"][0], "first_billed_date": "2024-10-08 01:02:03"}
    assert parse_esim(item).installed_at == datetime(2024, 10, 8, 1, 2, 3, tzinfo=UTC)


async def test_paging_passes_page_key_back_unchanged():
    seen = []
    page1 = {"items": SAMPLE["items"][:2], "page_key": "eyJ0b2tlbiI6IDF9+/="}

    def handler(request):
        seen.append(dict(request.url.params))
        assert request.headers["x-api-key"] == KEY
        return httpx.Response(200, json=page1 if len(seen) == 1 else SAMPLE)

    async with adapter(handler) as a:
        pages = [p async for p in a.iter_esims()]
    assert [len(p) for p in pages] == [2, 17]
    assert seen[0] == {"chip_type": "esim"}
    assert seen[1] == {"chip_type": "esim", "page_key": "eyJ0b2tlbiI6IDF9+/="}


async def test_repeated_page_key_stops_with_typed_error():
    async with adapter(lambda r: httpx.Response(200, json={"items": [], "page_key": "same"})) as a:
        with pytest.raises(VendorError):
            async for _ in a.iter_esims():
                pass


# --- contract tests over the sandbox -------------------------------------------------------------
@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=7, esims=2500), vendors=("flexiroam",)) as srv:
        yield srv


def make(server, timeout=2.0) -> FlexiroamAdapter:
    a = FlexiroamAdapter(vendor_config(server, "flexiroam"), timeout=timeout)
    a.http.backoff = 0.05
    return a


async def test_inventory_pages_to_the_end(server):
    sim = server.sandbox.vendors["flexiroam"]
    expected = sum(
        1 for i in range(len(sim.inventory)) if sim.inventory.item(i, sim.now(), 40)["chip_type"] == "esim"
    )
    async with make(server) as a:
        pages = [p async for p in a.iter_esims()]
        esims = [e for p in pages for e in p]
        assert len(esims) == expected and len(pages) > 20
        assert len({e.iccid for e in esims}) == expected
        statuses = {e.status for e in esims}
        assert {EsimStatus.NEW, EsimStatus.ACTIVE, EsimStatus.SUSPENDED, EsimStatus.DELETED} <= statuses
        free = [e async for p in a.iter_inventory() for e in p]
        assert free and all(e.status is EsimStatus.NEW for e in free)


async def test_bad_key_is_auth_error_and_never_leaks(server, caplog):
    secret = "flexiroam-wrong-but-secret-9"
    caplog.set_level(logging.DEBUG)
    cfg = VendorConfig("flexiroam", server.urls["flexiroam"], {"KEY": secret})
    async with FlexiroamAdapter(cfg, timeout=2) as a:
        with pytest.raises(VendorAuthError) as info:
            async for _ in a.iter_esims():
                pass
        assert secret not in repr(a)
    assert secret not in str(info.value) and secret not in repr(info.value) and secret not in caplog.text


@pytest.mark.parametrize("kind", FAULT_KINDS)
async def test_every_fault_recovers_or_fails_typed(server, kind):
    faults = server.sandbox.faults["flexiroam"]
    faults.clear()
    faults.add(Fault(kind, endpoint="list-inventory", seconds=2.5 if kind == "timeout" else 0.3))
    async with make(server, timeout=1.0) as a:
        try:
            pages = [p async for p in a.iter_inventory()]
        except VendorError:
            pytest.fail(f"{kind}: one fault on a read should be retried away")
    assert pages
    faults.clear()


@pytest.mark.parametrize("kind", ["http_503", "busy", "html", "malformed", "wrong_content_type"])
async def test_persistent_fault_fails_typed(server, kind):
    faults = server.sandbox.faults["flexiroam"]
    faults.add(Fault(kind, endpoint="list-inventory", times=None))
    try:
        async with make(server, timeout=1.0) as a:
            a.http.retries = 1
            with pytest.raises(VendorError):
                async for _ in a.iter_esims():
                    pass
    finally:
        faults.clear()


# --- fuzzing -------------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
item_keys = sorted(SAMPLE["items"][0])


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        json_values,
        st.builds(
            lambda key, value, drop: {
                "items": [
                    {k: v for k, v in {**SAMPLE["items"][0], key: value}.items() if k != drop},
                    SAMPLE["items"][1],
                ],
                "page_key": None,
            },
            st.sampled_from(item_keys),
            json_values,
            st.sampled_from([*item_keys, None]),
        ),
    )
)
async def test_fuzz_only_vendor_errors_escape(value):
    body = json.dumps(value).encode()
    async with adapter(
        lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"})
    ) as a:
        a.http.retries = 0  # the same bytes again prove nothing
        try:
            async for page in a.iter_esims():
                for esim in page:
                    remaining_mb(esim)
        except VendorError:
            pass
