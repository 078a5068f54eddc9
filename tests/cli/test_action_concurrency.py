"""Two `esimdesk cancel ICCID` processes at once on one data folder (issue 26 case 5: two cancel requests were
sent 3 times in 5): exactly one cancel request reaches the vendor and one refund is made; the other command
is refused in words — "another cancel on this eSIM is in progress since HH:MM (desk …): nothing was sent" —
and exits 1. Real processes over real HTTP against the sandbox."""

from __future__ import annotations

import json
import subprocess

import pytest

from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from tests.services.helpers import cli, cli_env, open_store

ROUNDS = 5  # the race was lost 3 times in 5


@pytest.fixture
def world(tmp_path):
    home = tmp_path / "home"
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roumio",)) as server:
        env = cli_env(server, home)
        res = subprocess.run(cli("sync"), env=env, capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        yield server, env, home


def unused(env) -> list[str]:
    res = subprocess.run(cli("esims", "--vendor", "roumio", "--json"), env=env, capture_output=True, text=True,
                         timeout=120)
    return [r["iccid"] for r in json.loads(res.stdout)
            if r["vendor_status"] == "GOT_RESOURCE/RELEASED" and r["iccid"] != "8943108170000775671"]


def test_two_cancels_at_once_send_one_request_and_refund_once(world):
    server, env, home = world
    roumio = server.sandbox.vendors["roumio"]
    faults = server.sandbox.faults["roumio"]
    iccids = unused(env)[:ROUNDS]
    assert len(iccids) == ROUNDS
    for iccid in iccids:
        faults.clear()
        # Both commands' status reads are held 2 s, so both are past their check of earlier actions before
        # either records its own (the window of the old race); each cancel request is held 1 s and counted.
        faults.add(Fault("latency", endpoint="esim/query", seconds=2.0, times=2))
        faults.add(Fault("latency", endpoint="esim/cancel", seconds=1.0, times=None))
        seen = len(faults.injected)
        before = roumio.stats()
        procs = [subprocess.Popen(cli("cancel", iccid), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        outs = [(p, *p.communicate(timeout=120)) for p in procs]
        faults.clear()
        after = roumio.stats()
        sent = [f for f in faults.injected[seen:] if f["endpoint"] == "esim/cancel"]
        assert len(sent) == 1, (iccid, outs)  # exactly one cancel request reached the vendor
        refunds = [a for a in after["actions"][len(before["actions"]):] if a["action"] == "cancel"]
        assert len(refunds) == 1 and refunds[0]["iccid"] == iccid
        assert after["balance_cents"] - before["balance_cents"] == refunds[0]["refund_cents"] > 0  # refunded once
        codes = sorted(p.returncode for p, _, _ in outs)
        assert codes == [0, 1], outs
        [(_, won, _)] = [o for o in outs if o[0].returncode == 0]
        [(_, _, lost)] = [o for o in outs if o[0].returncode == 1]
        assert "refunded to the Roumio balance" in won
        store = open_store(home)
        try:
            [aid] = {h.entry_id for h in store.esim_history("roumio", iccid)}  # the refused one recorded nothing
            entry = store.action_get(aid)
        finally:
            store.close()
        since = entry.created_at.astimezone().strftime("%H:%M")  # the agent's local time
        assert lost.strip() == (f"esimdesk cancel: another cancel on this eSIM is in progress since {since} "
                                f"(desk {entry.desk_id}): nothing was sent"), lost
        assert "Traceback" not in lost


def test_the_refusal_in_json_says_nothing_was_sent(world):
    server, env, _ = world
    faults = server.sandbox.faults["roumio"]
    iccid = unused(env)[0]
    faults.add(Fault("latency", endpoint="esim/query", seconds=2.0, times=2))
    faults.add(Fault("latency", endpoint="esim/cancel", seconds=1.0, times=None))
    procs = [subprocess.Popen(cli("cancel", iccid, "--json"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    docs = sorted((json.loads(p.communicate(timeout=120)[0]) for p in procs), key=lambda d: d["status"])
    faults.clear()
    assert [d["status"] for d in docs] == ["COMPLETED", "REFUSED"]
    assert "in progress since" in docs[1]["error"] and docs[1]["error"].endswith(": nothing was sent")
