"""Support actions over the sandbox (real HTTP, real SQLite): every action in every Roumio state, allowed
and refused; a vendor refusal (200002) in words; SMS limits; usage with its age."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from esimdesk.domain import Action, OrderStatus, ValidationError
from esimdesk.domain.actions import ESIM_ACTIONS
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.services.actions import ActionOutcome, ActionService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory

# The test's own statement of Roumio's rules (roumio-more.md), by the vendor's (esimStatus/smdpStatus):
# which actions the vendor carries out. Written out here, not taken from the adapter, so a wrong rule
# in either place fails.
OK = {
    "GOT_RESOURCE/RELEASED": {Action.CANCEL, Action.REVOKE},
    "IN_USE/ENABLED": {Action.SUSPEND, Action.REVOKE, Action.SMS},
    "IN_USE/DISABLED": {Action.SUSPEND, Action.REVOKE, Action.SMS},
    "USED_UP/ENABLED": {Action.REVOKE},
    "SUSPENDED/ENABLED": {Action.RESUME, Action.REVOKE},
    "USED_EXPIRED/DISABLED": set(),
    "UNUSED_EXPIRED/RELEASED": set(),
    "CANCEL/RELEASED": set(),
    "REVOKE/DISABLED": set(),
    "USED_UP/DELETED": set(),
}
# What the vendor shows after each action that went through.
AFTER = {Action.CANCEL: "CANCEL/", Action.SUSPEND: "SUSPENDED/", Action.RESUME: "IN_USE/",
         Action.REVOKE: "REVOKE/"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One sandbox with enough eSIMs that every (state, action) pair gets an eSIM of its own."""
    home = tmp_path_factory.mktemp("actions")
    with SandboxServer(SandboxConfig(seed=7, esims=220, allocation_delay=0.3), vendors=("roumio",)) as server:
        # Each test builds its own adapter (its own client-side limiter): back to back, the tests together could
        # pass Roumio's 8 a second. These are about the states, not the rate limit (tests/vendors has that).
        server.sandbox.limiters["roumio"].limit = 1_000_000
        store = open_store(home)
        accounts = accounts_for(server, home)
        asyncio.run(sync_all(store, accounts, short_factory(10)))
        pool: dict[str, list[str]] = {}
        for e in store.esims(vendor="roumio"):
            if e.iccid != "8943108170000775671":  # the document's own sample: a fixed CANCEL profile
                pool.setdefault(e.vendor_status, []).append(e.iccid)
        yield server, store, accounts, pool
        store.close()


def service(world, **kw) -> ActionService:
    _, store, accounts, _ = world
    return ActionService(store, accounts, short_factory(2), settle_pause=0.05, settle_delay=0, **kw)


def vendor_log(server) -> list[dict]:
    return server.sandbox.vendors["roumio"].stats()["actions"]


UNKNOWN = "8944000000000000001"  # a well-formed ICCID (Luhn) that no vendor gave this desk

CASES = [(state, action) for state in OK for action in ESIM_ACTIONS]  # refund requests: test_refunds.py


@pytest.mark.parametrize("state, action", CASES, ids=[f"{s}-{a.value}" for s, a in CASES])
async def test_every_action_in_every_state(world, state, action):
    server, store, _, pool = world
    assert pool.get(state), f"the seeded fleet has no {state} eSIM"
    # Refused actions change nothing, so they may share an eSIM; an allowed one takes an eSIM of its own.
    iccid = pool[state].pop() if action in OK[state] else pool[state][0]
    before = len(vendor_log(server))
    svc = service(world)
    message = "Your data plan is ready" if action is Action.SMS else None
    if action in OK[state]:
        result = await svc.run(iccid, action, message)
        assert result.entry.state is OrderStatus.COMPLETED
        assert len(vendor_log(server)) == before + 1
        if action in AFTER:
            assert result.esim.vendor_status.startswith(AFTER[action])
            assert store.esim(iccid).vendor_status.startswith(AFTER[action])  # the cache follows
        else:
            assert server.sandbox.vendors["roumio"].stats()["sms_outbox"][-1]["message"] == message
        lines = store.esim_history("roumio", iccid)
        assert [ln.to_state for ln in lines] == ["PENDING", "COMPLETED"]
        assert lines[-1].desk_id == store.desk_id() and lines[-1].action is action
    else:
        with pytest.raises(ActionOutcome) as refused:
            await svc.run(iccid, action, message)
        text = str(refused.value)
        assert f"{action.value} refused: " in text and "nothing was sent" in text and state in text
        assert refused.value.entry is None
        assert len(vendor_log(server)) == before  # nothing reached the vendor
        assert store.esim_history("roumio", iccid) == [] or all(
            ln.action is not action for ln in store.esim_history("roumio", iccid))


def test_installed_esim_cannot_be_cancelled_in_the_issues_words(world):
    _, store, _, pool = world
    esim = store.esim(pool["IN_USE/ENABLED"][0])
    reasons = service(world).availability(esim)
    assert reasons[Action.CANCEL] == "installed eSIMs cannot be cancelled: suspend or revoke"
    assert reasons[Action.SUSPEND] is None and reasons[Action.REVOKE] is None


async def test_sms_limits_are_checked_before_anything_is_recorded(world):
    server, store, _, pool = world
    iccid = pool["IN_USE/ENABLED"][0]
    svc = service(world)
    with pytest.raises(ValidationError, match="501 characters; at most 500"):
        await svc.run(iccid, Action.SMS, "x" * 501)
    with pytest.raises(ValidationError, match="empty"):
        await svc.run(iccid, Action.SMS, "   ")
    result = await svc.run(iccid, Action.SMS, "y" * 500)  # exactly the limit goes
    assert result.entry.state is OrderStatus.COMPLETED
    assert server.sandbox.vendors["roumio"].stats()["sms_outbox"][-1]["message"] == "y" * 500


async def test_unknown_or_mistyped_iccid_is_said_in_words(world):
    svc = service(world)
    with pytest.raises(ValidationError, match="not in this desk's cache"):
        await svc.run(UNKNOWN, Action.CANCEL)  # valid shape, never synced
    with pytest.raises(ValidationError):
        await svc.run("12345", Action.CANCEL)


async def test_usage_check_carries_the_vendors_time_and_is_stored(world):
    server, store, _, pool = world
    iccids = pool["IN_USE/ENABLED"][:12]  # more than one request of 10
    # Roumio's figures are of its last refresh (each two hours): two hours on, that refresh is newer than the
    # sync's readings, which it then replaces (an older one never does: tests/cli/test_action_cli.py).
    server.config.clock.advance(2 * 3600)
    report = await service(world).usage(iccids)
    assert not report.problems
    assert sorted(u.iccid for u in report.readings) == sorted(iccids)
    now = server.sandbox.vendors["roumio"].now()
    boundary = datetime.fromtimestamp(now - now % 7200, UTC)
    for u in report.readings:
        assert u.as_of == boundary  # the network's refresh time, not when we asked
        assert u.data_used_mb is not None and u.data_total_mb
        cached = store.esim(u.iccid)
        assert cached.usage_as_of == boundary and cached.data_used_mb == u.data_used_mb
        assert store.usage("roumio", u.iccid)[-1].as_of == boundary


async def test_usage_of_an_unknown_esim_is_a_problem_not_a_failure(world):
    _, _, _, pool = world
    report = await service(world).usage([pool["IN_USE/ENABLED"][0], UNKNOWN])
    assert len(report.readings) == 1
    assert report.problems == [f"eSIM {UNKNOWN} is not in this desk's cache; run 'esimdesk sync' first"]


def test_rules_for_statuses_the_sandbox_never_shows():
    from esimdesk.domain import Esim, EsimStatus
    from esimdesk.vendors.roumio import RoumioAdapter
    from esimdesk.vendors.roumio_status import esim_status

    odd = Esim("roumio", UNKNOWN, EsimStatus.UNKNOWN, "PAUSING/WHATEVER")
    for action in ESIM_ACTIONS:
        assert RoumioAdapter.refusal(odd, action) == ("Roumio's status PAUSING/WHATEVER is not one esimdesk knows: "
                                                      "sync and look again")
    revoked = Esim("roumio", UNKNOWN, esim_status("REVOKED", "DISABLED"), "REVOKED/DISABLED")
    assert revoked.status is EsimStatus.CANCELLED
    assert RoumioAdapter.refusal(revoked, Action.REVOKE) == "this eSIM is revoked: nothing more can be done with it"
    assert RoumioAdapter.expected_after(Action.REVOKE, revoked) is True
    preparing = Esim("roumio", UNKNOWN, esim_status("GETTING_RESOURCE", None), "GETTING_RESOURCE/None")
    assert RoumioAdapter.refusal(preparing, Action.CANCEL).startswith("only an eSIM ready and never installed")
