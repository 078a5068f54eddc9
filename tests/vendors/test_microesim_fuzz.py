"""Whatever JSON MicroESIM answers, the adapter either returns domain objects or raises a VendorError."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esimdesk.domain import VendorConfig, VendorError
from esimdesk.vendors.microesim import MicroesimAdapter

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "microesim"
SECRETS = {"ACCOUNT": "acct", "SECRET": "secret", "SALT": "a1b2"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
leaves = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10) | st.just([]) | st.just({})
)

OPERATIONS = {
    "accountBalance": lambda a: a.get_balance(),
    "esimDataplanListPage": lambda a: a.list_plans(),
    "esimDataplanList": lambda a: a.list_all_plans(),
    "esimSubscribe": lambda a: a.place_order("plan", 1, "ref"),
    "topupDetail": lambda a: a.get_order("202308161431187762753800"),
    "deviceDetail": lambda a: a.get_esim("9000024081684603"),
    "eventDetail": lambda a: a.esim_events("9000024081684603"),
}
SAMPLES = {name: json.loads((FIXTURES / f"{name}.json").read_text()) for name in OPERATIONS}


def run(answers: dict[str, Any], endpoint: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        name = request.url.path.rsplit("/", 1)[1]
        body = answers.get(name, SAMPLES.get(name))
        try:
            content = json.dumps(body).encode()
        except ValueError:
            content = b"{"  # NaN and friends: not JSON
        return httpx.Response(200, content=content, headers={"content-type": "application/json"})

    async def go() -> None:
        adapter = MicroesimAdapter(
            VendorConfig("microesim", "https://x", SECRETS), timeout=1, transport=httpx.MockTransport(handler)
        )
        adapter.http.retries = 0
        try:
            await OPERATIONS[endpoint](adapter)
        except VendorError:
            pass
        finally:
            await adapter.aclose()

    asyncio.run(go())


def mangle(doc: Any, path: list[int], replacement: Any, drop: bool) -> Any:
    """Replace (or drop) one node of a sample, chosen by ``path`` of indexes."""
    if not path or not isinstance(doc, dict | list) or not doc:
        return replacement
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[path[0] % len(keys)]
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    if drop and len(path) == 1:
        del out[key]
        return out
    out[key] = mangle(doc[key], path[1:], replacement, drop)
    return out


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(endpoint=st.sampled_from(sorted(OPERATIONS)), body=json_values)
def test_arbitrary_json_only_raises_vendor_errors(endpoint, body):
    run({endpoint: body}, endpoint)


@FAST
@given(endpoint=st.sampled_from(sorted(OPERATIONS)), result=json_values)
def test_arbitrary_result_in_a_success_envelope(endpoint, result):
    run({endpoint: {"code": 1, "msg": "Success", "result": result}}, endpoint)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(sorted(OPERATIONS)),
    path=st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=5),
    replacement=leaves,
    drop=st.booleans(),
)
def test_mangled_samples_only_raise_vendor_errors(endpoint, path, replacement, drop):
    run({endpoint: mangle(SAMPLES[endpoint], path, replacement, drop)}, endpoint)
