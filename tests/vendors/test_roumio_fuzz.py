"""Arbitrary JSON and mangled samples into the Roumio parsers: only VendorError may come out."""

from __future__ import annotations

import asyncio
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esimdesk.domain import VendorConfig, VendorError
from esimdesk.vendors.roumio import (
    RoumioAdapter,
    balance_from,
    esim_from,
    esim_list,
    make_check,
    obj_of,
    plan_from,
    plan_list,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "roumio"
QUERY = json.loads((FIX / "query_response.json").read_text())
ORDER = json.loads((FIX / "order_response.json").read_text())
PACKAGE = {
    "packageCode": "JC016",
    "slug": "AU_1_7",
    "name": "Asia 1GB",
    "price": 1570,
    "currencyCode": "USD",
    "volume": 1024,
    "dataType": 1,
    "duration": 30,
    "durationUnit": "DAY",
    "location": "CN,HK",
    "supportTopUpType": 2,
}
SAMPLES = [
    QUERY,
    ORDER,
    {"success": True, "errorCode": None, "obj": {"packageList": [PACKAGE]}},
    {"success": True, "errorCode": None, "obj": {"balance": 1000}},
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
    | st.sampled_from(
        ["0", "200010", "900001", "1e999", "NaN", "-1", "2024-05-29T18:34:17+0000", "9" * 40, "", "!GL"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(paths(v, (*prefix, i)))
    return out


@st.composite
def mangled(draw) -> Any:
    """A sample with one part replaced by arbitrary JSON, or deleted."""
    doc = copy.deepcopy(draw(st.sampled_from(SAMPLES)))
    path = draw(st.sampled_from(paths(doc)))
    if not path:
        return draw(json_values)
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return doc


def only_vendor_errors(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except VendorError:
        pass


PARSERS = [
    lambda d: make_check("esim/query", write=False)(d),
    lambda d: make_check("esim/order", write=True)(d),
    lambda d: obj_of(d, "balance"),
    lambda d: plan_from(d),
    lambda d: esim_from(d),
    lambda d: esim_list(d),
    lambda d: plan_list(d),
    lambda d: balance_from(d),
    lambda d: (
        [plan_from(p) for p in (d.get("obj") or {}).get("packageList", [])]
        if isinstance(d, dict)
        and isinstance(d.get("obj"), dict)
        and isinstance(d["obj"].get("packageList"), list)
        else None
    ),
    lambda d: esim_list(d["obj"]) if isinstance(d, dict) and "obj" in d else None,
]


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_only_vendor_errors(doc):
    for parse in PARSERS:
        only_vendor_errors(parse, doc)


@settings(max_examples=400, deadline=None)
@given(mangled())
def test_mangled_samples_only_vendor_errors(doc):
    for parse in PARSERS:
        only_vendor_errors(parse, doc)


def _adapter(body: bytes) -> RoumioAdapter:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    a = RoumioAdapter(
        VendorConfig("roumio", "https://roumio.test/v1", {"KEY": "k-fuzz"}),
        transport=httpx.MockTransport(handler),
        timeout=1,
    )
    a.http.rate = None  # no client-side rate limit against the mock
    a.http.retries = 0
    return a


async def _every_operation(body: bytes) -> None:
    async with _adapter(body) as a:
        calls = [
            lambda: a.get_balance(),
            lambda: a.list_plans(),
            lambda: a.list_topup_plans("8943108170000775671"),
            lambda: a.place_order("JC016", 2, "ref", Decimal("15.70")),
            lambda: a.place_order("JC016", 1, "ref"),
            lambda: a.get_order("B1"),
            lambda: a.get_order(None, "ref"),
            lambda: a.get_esim("8943108170000775671"),
            lambda: a.topup("8943108170000775671", "SM001", "t", Decimal("1.00")),
        ]
        for make in calls:  # each coroutine is created only when it runs: a failure leaves none unawaited
            try:
                await make()
            except VendorError:
                pass
        for gen in (a.iter_esims(), a.iter_orders()):
            try:
                async for _ in gen:
                    pass
            except VendorError:
                pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(mangled(), json_values))
def test_adapter_operations_only_vendor_errors(doc):
    asyncio.run(_every_operation(json.dumps(doc).encode()))
