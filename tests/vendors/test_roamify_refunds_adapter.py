"""The Roamify adapter's refund requests and SMS against the sandbox over real HTTP (issue 30): a request read
back typed (Decimal money, UTC times), a second one refused as RefundAlreadyOpen carrying the open request,
cancel, 422 in words, SMS; and the refund object read in both spellings (camelCase and the webhook's snake_case)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import httpx
import pytest

from esimdesk.domain import Action, EsimStatus, VendorRejected
from esimdesk.domain.refunds import RefundAlreadyOpen, RefundStatus
from esimdesk.sandbox import SandboxConfig, SandboxServer
from esimdesk.vendors import build_adapter
from esimdesk.vendors.roamify import RoamifyAdapter
from esimdesk.vendors.roamify_refunds import parse_refund
from tests.conftest import vendor_config


@pytest.fixture
def srv():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3), vendors=("roamify",)) as server:
        yield server


async def installed(adapter) -> object:
    async for page in adapter.iter_esims():
        for e in page:
            if e.vendor_status == "INSTALLED":
                return e
    raise AssertionError("no installed eSIM")


async def test_request_then_409_carries_the_open_one_then_cancel(srv):
    async with build_adapter(vendor_config(srv, "roamify"), timeout=5) as a:
        esim = await installed(a)
        refund = await a.request_refund(esim, "NOT_WORKING", "no data in Rome")
        assert refund.status is RefundStatus.PENDING and refund.is_open and refund.iccid == esim.iccid
        assert isinstance(refund.amount, Decimal) and refund.amount > 0 and refund.currency == "USD"
        assert refund.created_at.tzinfo is UTC and refund.esim_id == esim.vendor_ref
        with pytest.raises(RefundAlreadyOpen) as second:
            await a.request_refund(esim, "OTHER")
        shown = second.value.refund  # the open request, read back so the agent sees it
        assert second.value.http_status == 409 and shown is not None
        assert (shown.refund_id, shown.status, shown.amount) == (refund.refund_id, RefundStatus.PENDING, refund.amount)
        assert [r.refund_id for r in await a.list_refunds(esim.iccid)] == [refund.refund_id]
        cancelled = await a.cancel_refund(refund.refund_id)
        assert cancelled.status is RefundStatus.CANCELLED and not cancelled.is_open
        with pytest.raises(VendorRejected, match="already CANCELLED"):
            await a.cancel_refund(refund.refund_id)
        again = await a.request_refund(esim, "DUPLICATE")
        httpx.post(f"{srv.root}/_sandbox/refunds", json={"refund_id": again.refund_id, "decision": "approve"})
        assert (await a.get_refund(again.refund_id)).status is RefundStatus.REFUNDED
        with pytest.raises(VendorRejected, match="already been refunded") as done:
            await a.request_refund(esim, "OTHER")
        assert done.value.http_status == 422 and not isinstance(done.value, RefundAlreadyOpen)


async def test_sms_to_an_installed_esim_and_refused_otherwise(srv):
    async with build_adapter(vendor_config(srv, "roamify"), timeout=5) as a:
        esim = await installed(a)
        await a.esim_action(esim, Action.SMS, "Your plan starts today")
        assert srv.sandbox.vendors["roamify"].stats()["sms_outbox"][-1]["message"] == "Your plan starts today"
        ready = next(e for page in [p async for p in a.iter_esims()] for e in page if e.vendor_status == "READY")
        assert RoamifyAdapter.refusal(ready, Action.SMS).startswith("an SMS reaches only an installed eSIM")
        with pytest.raises(VendorRejected, match="installed"):
            await a.esim_action(ready, Action.SMS, "hello")


def test_the_declared_actions_and_their_rules():
    assert RoamifyAdapter.actions == {Action.SMS, Action.REFUND, Action.CANCEL_REFUND}
    from esimdesk.domain import Esim

    used = Esim("roamify", "8988247000000000018", EsimStatus.ACTIVE, "INSTALLED")
    assert RoamifyAdapter.refusal(used, Action.REFUND) is None  # installed and used eSIMs are reviewed
    assert RoamifyAdapter.refusal(used, Action.SMS) is None
    assert RoamifyAdapter.refusal(used, Action.SUSPEND) == "Roamify does not offer eSIM suspending through its API"


def test_both_spellings_of_the_refund_object():
    camel = parse_refund({"refundId": "r1", "status": "REJECTED", "rejectionReason": "used", "amount": 4.99,
                          "currency": "usd", "createdAt": 1731837535, "iccid": "8988"})
    snake = parse_refund({"refund_id": "r1", "status": "rejected", "rejection_reason": "used", "amount": "4.99",
                          "currency": "USD", "created_at": "2024-11-17T09:58:55Z", "iccid": "8988"})
    for r in (camel, snake):
        assert (r.refund_id, r.status, r.rejection_reason, r.amount, r.currency) == \
            ("r1", RefundStatus.REJECTED, "used", Decimal("4.99"), "USD")
        assert r.created_at.tzinfo is UTC and r.created_at.timestamp() == 1731837535
    odd = parse_refund({"refund_id": "r2", "status": "CANCELED"})
    assert odd.status is RefundStatus.CANCELLED
    assert parse_refund({"refundId": "r3", "status": "ON_HOLD"}).status is RefundStatus.UNKNOWN
