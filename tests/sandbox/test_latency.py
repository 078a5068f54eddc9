"""The sandbox answering like a vendor, over real HTTP: a log-normal latency per request (off by default,
switchable at run time, never blocking the server), Roumio's documented 8 requests/s kept with it on, and
the requests counted per vendor and per path in ``/_sandbox/state``.

Timing bounds are generous on purpose (the machine is shared): each one still fails when the feature it
checks is gone (no delay at all, a delay that blocks the loop, a median far from the one asked for)."""

from __future__ import annotations

import asyncio
import signal
import statistics
import subprocess
import sys
import time

import httpx
import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer
from esimdesk.sandbox.faults import LatencyModel

SMALL = {"plans": 200, "esims": 20}
ROAMIFY = {"Authorization": f"Bearer {SANDBOX_CREDENTIALS['roamify']['TOKEN']}"}
ROUMIO = {"Authorization": SANDBOX_CREDENTIALS["roumio"]["KEY"]}


@pytest.fixture(scope="module")
def server():
    with SandboxServer(SandboxConfig(seed=5, **SMALL)) as srv:
        yield srv


@pytest.fixture(autouse=True)
def _latency_off_after(server):
    yield
    httpx.post(server.root + "/_sandbox/config", json={"latency_ms": 0, "latency_sigma": 0.6})


def set_config(srv: SandboxServer, **changes) -> dict:
    r = httpx.post(srv.root + "/_sandbox/config", json=changes)
    assert r.status_code == 200, r.text
    return r.json()


def timed_get(client: httpx.Client, url: str, **kw) -> tuple[float, httpx.Response]:
    t0 = time.perf_counter()
    r = client.get(url, **kw)
    return time.perf_counter() - t0, r


def balance_times(srv: SandboxServer, n: int) -> list[float]:
    with httpx.Client(headers=ROAMIFY, timeout=10) as c:
        c.get(srv.urls["roamify"] + "/api/balance")  # the connection is open before timing
        out = []
        for _ in range(n):
            seconds, r = timed_get(c, srv.urls["roamify"] + "/api/balance")
            assert r.status_code == 200
            out.append(seconds)
        return out


# --- the model itself (no HTTP: exact, whatever the machine's load) ------------------------------
def test_the_model_is_log_normal_around_the_median_with_a_tail_and_reproducible():
    config = SandboxConfig(latency_ms=100)
    model = LatencyModel(config, "s")
    draws = sorted(model.draw() for _ in range(4000))
    median, p99 = statistics.median(draws), draws[int(len(draws) * 0.99)]
    assert 0.090 < median < 0.110
    assert 3.0 < p99 / median < 5.5  # sigma 0.6: p99 = median * e^(2.33 * 0.6), about 4x
    first, same, other = LatencyModel(config, "s"), LatencyModel(config, "s"), LatencyModel(config, "t")
    assert [first.draw() for _ in range(3)] == [same.draw() for _ in range(3)]  # same seed, same delays
    assert [first.draw() for _ in range(3)] != [other.draw() for _ in range(3)]
    assert LatencyModel(SandboxConfig(latency_ms=80, latency_sigma=0), "s").draw() == pytest.approx(0.080)
    assert LatencyModel(SandboxConfig(), "s").draw() == 0.0  # off by default


# --- over HTTP -----------------------------------------------------------------------------------
def test_latency_is_off_by_default(server):
    assert httpx.get(server.root + "/_sandbox/config").json()["latency_ms"] == 0.0
    assert statistics.median(balance_times(server, 15)) < 0.050  # answers at once (a few ms here)


def test_a_request_takes_about_the_median_asked_for(server):
    set_config(server, latency_ms=100)
    times = balance_times(server, 31)
    assert 0.060 < statistics.median(times) < 0.200
    assert max(times) / min(times) > 1.5  # spread, not one fixed delay


async def _concurrently(url: str, n: int, headers: dict, method: str = "GET") -> tuple[float, list[int]]:
    async with httpx.AsyncClient(headers=headers, timeout=10) as c:
        body = {} if method == "POST" else None
        t0 = time.perf_counter()
        answers = await asyncio.gather(*(c.request(method, url, json=body) for _ in range(n)))
        return time.perf_counter() - t0, [r.status_code for r in answers]


def test_concurrent_requests_wait_together_the_server_is_not_blocked(server):
    set_config(server, latency_ms=300, latency_sigma=0)
    seconds, codes = asyncio.run(_concurrently(server.urls["roamify"] + "/api/balance", 8, ROAMIFY))
    assert codes == [200] * 8
    assert 0.29 < seconds < 1.2  # one latency and some; a blocked loop takes 8 x 0.3 = 2.4 s


def test_latency_applies_to_every_vendor_and_the_ecb_but_not_the_control_api(server):
    set_config(server, latency_ms=250, latency_sigma=0)
    with httpx.Client(timeout=10) as c:
        slow = {
            "roumio": timed_get(c, server.urls["roumio"] + "/package/list", headers=ROUMIO)[0],
            "roamify": timed_get(c, server.urls["roamify"] + "/api/balance", headers=ROAMIFY)[0],
            "microesim": timed_get(c, server.urls["microesim"] + "/allesim/v1/esimDataplanList")[0],
            "flexiroam": timed_get(c, server.urls["flexiroam"] + "/list-inventory")[0],
            "ecb": timed_get(c, server.ecb_url + "eurofxref-daily.xml")[0],
        }
        control = [timed_get(c, server.root + path)[0] for path in ("/_sandbox/state", "/_sandbox/config")]
    assert all(s >= 0.24 for s in slow.values()), slow
    assert max(control) < 0.2


def test_latency_is_switched_at_run_time(server):
    assert statistics.median(balance_times(server, 5)) < 0.050
    assert set_config(server, latency_ms=200, latency_sigma=0)["latency_ms"] == 200.0
    assert min(balance_times(server, 5)) >= 0.19
    set_config(server, latency_ms=0)
    assert statistics.median(balance_times(server, 5)) < 0.050
    r = httpx.post(server.root + "/_sandbox/config", json={"latency_ms": -1})
    assert r.status_code == 400 and "latency_ms" in r.json()["error"]


# --- Roumio's documented limit stays, latency or not ---------------------------------------------
def test_only_roumio_has_a_rate_limit_and_it_holds_with_latency_on():
    with SandboxServer(SandboxConfig(seed=5, latency_ms=100, **SMALL)) as srv:
        assert {name: (lim.limit, lim.per) for name, lim in srv.sandbox.limiters.items()} == {"roumio": (8, 1.0)}
        # 16 at once: 8 go through in their first second, the rest are refused (unless the machine is so
        # slow that they arrive spread over seconds: then still some 429s, never only 200s).
        _, codes = asyncio.run(_concurrently(srv.urls["roumio"] + "/balance", 16, ROUMIO, "POST"))
        assert codes.count(429) >= 1 and codes.count(200) + codes.count(429) == 16
        state = httpx.get(srv.root + "/_sandbox/state").json()["roumio"]
        assert state["requests_by_path"] == {"balance": 16} and state["rate_limited"] == codes.count(429)


# --- requests counted per vendor and path --------------------------------------------------------
def test_requests_are_counted_per_vendor_and_path_and_reset():
    with SandboxServer(SandboxConfig(seed=5, **SMALL)) as srv:
        with httpx.Client(timeout=10) as c:
            for _ in range(3):
                c.get(srv.urls["roamify"] + "/api/balance", headers=ROAMIFY)
            for _ in range(2):
                c.get(srv.urls["roamify"] + "/api/esim/countries", headers=ROAMIFY)
            c.get(srv.urls["roamify"] + "/api/balance")  # refused (no token): still a request
            c.post(srv.urls["roumio"] + "/balance", json={}, headers=ROUMIO)
            c.get(srv.urls["flexiroam"] + "/list-inventory", params={"limit": 5})
            c.get(srv.ecb_url + "eurofxref-daily.xml")  # not a vendor: not in the vendors' counts
            state = c.get(srv.root + "/_sandbox/state").json()
            assert state["roamify"]["requests_by_path"] == {"api/balance": 4, "api/esim/countries": 2}
            assert state["roamify"]["requests_total"] == 6 and state["roamify"]["rate_limited"] == 0
            assert state["roumio"]["requests_by_path"] == {"balance": 1}
            assert state["flexiroam"]["requests_by_path"] == {"list-inventory": 1}
            assert state["microesim"]["requests_total"] == 0 and state["microesim"]["requests_by_path"] == {}
            assert state["roamify"]["orders"] == srv.sandbox.vendors["roamify"].stats()["orders"]  # kept

            reset = c.post(srv.root + "/_sandbox/state", json={"reset_counters": True})
            assert reset.status_code == 200
            assert all(v["requests_total"] == 0 and v["requests_by_path"] == {} for v in reset.json().values())
            c.get(srv.urls["roamify"] + "/api/balance", headers=ROAMIFY)
            again = c.get(srv.root + "/_sandbox/state").json()
            assert again["roamify"]["requests_by_path"] == {"api/balance": 1}  # the control API not counted

            for bad in ({"reset_counters": "yes"}, {"reset": True}, [1]):
                r = c.post(srv.root + "/_sandbox/state", json=bad)
                assert r.status_code == 400 and r.json()["error"]
            assert c.get(srv.root + "/_sandbox/state").json()["roamify"]["requests_total"] == 1


# --- the command line ----------------------------------------------------------------------------
def test_the_command_line_takes_latency_ms_and_keeps_roumios_limit():
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk.sandbox", "--plans", "100", "--esims", "10",
                             "--latency-ms", "120"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        root = None
        for line in proc.stdout:
            if line.startswith("esimdesk sandbox on "):
                root = line.split()[3]
            if line.startswith("Ctrl+C"):
                break
        assert root is not None
        assert httpx.get(root + "/_sandbox/config").json()["latency_ms"] == 120.0
        _, codes = asyncio.run(_concurrently(root + "/roumio/v1/balance", 16, ROUMIO, "POST"))
        assert codes.count(429) >= 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    bad = subprocess.run([sys.executable, "-m", "esimdesk.sandbox", "--latency-ms", "-3"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "milliseconds" in bad.stderr


def test_the_environment_sets_latency_for_the_demo(monkeypatch):
    monkeypatch.setenv("ESIMDESK_SANDBOX_LATENCY_MS", "80")
    assert SandboxConfig.from_env().latency_ms == 80.0
    monkeypatch.delenv("ESIMDESK_SANDBOX_LATENCY_MS")
    assert SandboxConfig.from_env().latency_ms == 0.0
