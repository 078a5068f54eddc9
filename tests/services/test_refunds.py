"""Roamify refund requests through the service (issue 30), over the sandbox (real HTTP) and a real SQLite file:
journaled like support actions, stored in refund_requests, a second one refused with the open one shown, a lost
answer settled by the eSIM's request list without a second request, cancel while open, refresh after the
vendor's decision; and SMS to a Roamify eSIM through the ordinary action path."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from esimdesk.domain import Action, InvalidInput, OrderStatus
from esimdesk.domain.refunds import RefundStatus
from esimdesk.sandbox import Fault, SandboxConfig, SandboxServer
from esimdesk.services.actions import ActionService
from esimdesk.services.refunds import RefundOutcome, RefundService
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory

CONSEQUENCE = "Roamify support decides; nothing is refunded until they approve; the eSIM keeps working"


@pytest.fixture
def desk(tmp_path):
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as server:
        store = open_store(tmp_path)
        accounts = accounts_for(server, tmp_path)
        asyncio.run(sync_all(store, accounts, short_factory(10)))
        yield server, store, accounts
        store.close()


def make(desk, cls=RefundService, **kw):
    _, store, accounts = desk
    return cls(store, accounts, short_factory(2), **({"settle_pause": 0.05, "settle_delay": 0} | kw))


def installed(store, n: int = 0):
    return [e for e in store.esims(vendor="roamify") if e.vendor_status == "INSTALLED"][n]


def roamify(server):
    return server.sandbox.vendors["roamify"]


def decide(server, refund_id: str, decision: str, reason: str | None = None) -> None:
    r = httpx.post(f"{server.root}/_sandbox/refunds",
                   json={"refund_id": refund_id, "decision": decision, "reason": reason})
    assert r.status_code == 200, r.text


async def test_request_is_journaled_stored_and_says_nothing_moves_yet(desk):
    server, store, _ = desk
    esim = installed(store)
    before = roamify(server).stats()["balance_cents"]
    result = await make(desk).request(esim.iccid, "not_working", "no data since landing")
    assert result.entry.state is OrderStatus.COMPLETED and result.entry.action is Action.REFUND
    assert result.entry.message == "NOT_WORKING: no data since landing"
    assert result.refund.status is RefundStatus.PENDING
    assert CONSEQUENCE in result.message and result.refund.refund_id in result.message
    assert roamify(server).stats()["balance_cents"] == before  # nothing refunded on sending
    kept = store.refunds("roamify", esim.iccid)
    assert [(r.refund_id, r.status, r.desk_id) for r in kept] == [
        (result.refund.refund_id, RefundStatus.PENDING, store.desk_id())]
    assert [ln.to_state for ln in store.esim_history("roamify", esim.iccid)] == ["PENDING", "COMPLETED"]

    # A second request: refused here from the live list, the open one shown; nothing reaches Roamify.
    sent = roamify(server).stats()["refund_requests"]
    with pytest.raises(RefundOutcome) as second:
        await make(desk).request(esim.iccid, "OTHER")
    assert "already has an open refund request" in str(second.value) and "nothing was sent" in str(second.value)
    assert second.value.refund.refund_id == result.refund.refund_id and second.value.entry is None
    assert roamify(server).stats()["refund_requests"] == sent

    # Roamify decides; a refresh shows it with the money back to the balance.
    decide(server, result.refund.refund_id, "approve")
    shown, problems = await make(desk).refresh("roamify")
    assert problems == [] and shown[0].status is RefundStatus.REFUNDED
    assert "credited back to the Roamify balance" in shown[0].words()
    with pytest.raises(RefundOutcome, match="was refunded already"):
        await make(desk).request(esim.iccid, "OTHER")


async def test_roamifys_409_is_shown_with_the_open_request(desk):
    """Another desk's request this desk never saw: the live list is stale (an injected empty answer is not
    possible), so the 409 itself must carry the open request."""
    server, store, _ = desk
    esim = installed(store, 1)
    other = roamify(server)
    with other.lock:  # a request made elsewhere, moments after this desk read the list
        other.refunds.create_refund("elsewhere-1", esim.iccid, esim.vendor_ref, None, "OTHER", None, 500, other.now())
    svc = make(desk)

    async def stale_list(adapter, esim_, action):
        return []

    svc._requests_of = stale_list  # the list read before the other desk's request arrived
    with pytest.raises(RefundOutcome) as refused:
        await svc.request(esim.iccid, "DUPLICATE")
    assert refused.value.refund.refund_id == "elsewhere-1" and refused.value.entry.state is OrderStatus.FAILED
    assert "A refund request is already open" in str(refused.value) and "elsewhere-1" in str(refused.value)
    assert store.refund("roamify", "elsewhere-1").status is RefundStatus.PENDING  # kept, to be shown


async def test_a_lost_answer_is_settled_by_the_list_never_sent_twice(desk):
    server, store, _ = desk
    esim = installed(store, 2)
    server.sandbox.faults["roamify"].add(Fault("drop", endpoint="api/refund", when="after"))
    result = await make(desk).request(esim.iccid, "NOT_INSTALLED")
    assert result.entry.state is OrderStatus.COMPLETED
    assert "its answer was lost; its request list shows it" in result.message and CONSEQUENCE in result.message
    assert roamify(server).stats()["refund_requests"] == 1  # exactly one request reached Roamify
    lines = store.esim_history("roamify", esim.iccid)
    assert [ln.to_state for ln in lines] == ["PENDING", "UNCERTAIN", "COMPLETED"]
    assert lines[1].cause.startswith("answer lost") and "the lost answer was a success" in lines[2].cause
    assert store.refunds("roamify", esim.iccid)[0].desk_id == store.desk_id()


async def test_a_request_that_never_arrived_is_settled_as_not_done(desk):
    server, store, _ = desk
    esim = installed(store, 3)
    server.sandbox.faults["roamify"].add(Fault("http_500", endpoint="api/refund", when="before"))
    with pytest.raises(RefundOutcome, match="shows no refund request for this eSIM: nothing was requested") as lost:
        await make(desk).request(esim.iccid, "OTHER")
    assert lost.value.entry.state is OrderStatus.FAILED
    assert roamify(server).stats()["refunds"] == []  # and it was not sent again


async def test_cancel_while_open_then_nothing_to_cancel(desk):
    server, store, _ = desk
    esim = installed(store, 4)
    asked = await make(desk).request(esim.iccid, "CUSTOMER_REQUEST")
    done = await make(desk).cancel(esim.iccid)
    assert done.entry.action is Action.CANCEL_REFUND and done.entry.message == asked.refund.refund_id
    assert done.refund.status is RefundStatus.CANCELLED and "nothing is refunded" in done.message
    assert store.refund("roamify", asked.refund.refund_id).status is RefundStatus.CANCELLED
    with pytest.raises(RefundOutcome, match="has no open refund request"):
        await make(desk).cancel(esim.iccid)
    assert (await make(desk).request(esim.iccid, "OTHER")).refund.status is RefundStatus.PENDING


async def test_rejection_reason_after_refresh_and_availability(desk):
    server, store, _ = desk
    esim = installed(store, 5)
    svc = make(desk)
    assert svc.refund_availability(esim, []) == {Action.REFUND: None,
                                                  Action.CANCEL_REFUND: "no open refund request to cancel"}
    asked = await svc.request(esim.iccid, "OTHER", "customer says it never worked")
    assert svc.refund_availability(esim, store.refunds("roamify", esim.iccid))[Action.REFUND].startswith(
        "a refund request is open (PENDING)")
    decide(server, asked.refund.refund_id, "reject", "data was used in Spain")
    shown, _ = await svc.refresh(iccid=esim.iccid)
    assert shown[0].status is RefundStatus.REJECTED and shown[0].rejection_reason == "data was used in Spain"
    assert "rejected by Roamify — data was used in Spain" in shown[0].words()
    assert svc.refund_availability(esim, shown)[Action.REFUND] is None  # a new request may be sent


async def test_reasons_and_other_vendors_are_refused_before_anything_is_sent(desk):
    _, store, _ = desk
    with pytest.raises(InvalidInput, match="unknown refund reason 'bored': one of NOT_INSTALLED"):
        await make(desk).request(installed(store).iccid, "bored")
    from esimdesk.domain import Esim, EsimStatus

    roumio = Esim("roumio", "8943108170000775671", EsimStatus.NEW, "GOT_RESOURCE/RELEASED")
    assert make(desk).refund_availability(roumio, [])[Action.REFUND] == \
        "Roumio does not offer refund requests through its API"


async def test_sms_to_a_roamify_esim_is_journaled(desk):
    server, store, _ = desk
    esim = installed(store, 6)
    result = await make(desk, ActionService).run(esim.iccid, Action.SMS, "Your eSIM is ready")
    assert result.entry.state is OrderStatus.COMPLETED and "SMS sent" in result.message
    assert roamify(server).stats()["sms_outbox"][-1]["message"] == "Your eSIM is ready"
    ready = next(e for e in store.esims(vendor="roamify") if e.vendor_status == "READY")
    assert make(desk).availability(ready)[Action.SMS].startswith("an SMS reaches only an installed eSIM")
