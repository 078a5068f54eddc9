"""Which vendors answer (services/reachability.py) and a failure in words (services/messages.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from esimdesk.domain import (
    InsufficientBalance,
    ValidationError,
    VendorAuthError,
    VendorTimeout,
    VendorUnavailable,
)
from esimdesk.services.messages import failure_text
from esimdesk.services.orders import OrderOutcome
from esimdesk.services.reachability import Reachability, age_words, network_failure
from esimdesk.services.sync import VendorSyncResult

T0 = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        return self.now


def reworded(inner: Exception, outer: Exception) -> Exception:
    """As the services do: the vendor's error raised again in their words, ``from None``."""
    try:
        try:
            raise inner
        except Exception:
            raise outer from None
    except Exception as exc:
        return exc


def test_network_failures_are_told_from_answers_and_from_no_call_at_all():
    assert network_failure(VendorUnavailable("roumio", "balance", "cannot reach the vendor (ConnectError)")) is True
    assert network_failure(VendorTimeout("roumio", "balance", "no answer in time")) is True
    assert network_failure(VendorAuthError("roumio", "balance", "bad key")) is False  # it answered: no
    assert network_failure(ValidationError("quantity must be between 1 and 50")) is None  # nobody was asked
    lost = reworded(VendorTimeout("roumio", "esim/order", "no answer in time"), OrderOutcome("may be placed", None))
    assert network_failure(lost) is True


def test_offline_since_the_first_failure_until_the_next_answer_and_the_banner_needs_every_vendor():
    clock = Clock()
    reach = Reachability(clock)
    changes = []
    reach.listen(lambda: changes.append(1))
    assert reach.all_offline(["roumio", "roamify"]) is None  # not asked yet
    reach.note("roumio", VendorUnavailable("roumio", "balance", "cannot reach"))
    clock.now = T0 + timedelta(minutes=3)
    reach.note("roumio", VendorTimeout("roumio", "balance", "no answer in time"))
    assert reach.get("roumio").since == T0 and not reach.get("roumio").online  # since the first failure
    assert reach.all_offline(["roumio", "roamify"]) is None  # Roamify was not found unreachable
    reach.note_sync([VendorSyncResult("roamify", ok=False, error="cannot reach", reach="offline")])
    assert reach.all_offline(["roumio", "roamify"]) == T0 + timedelta(minutes=3)
    reach.note_sync([VendorSyncResult("roamify", ok=False, error="cancelled")])  # says nothing
    assert not reach.get("roamify").online
    reach.note("roamify", InsufficientBalance("roamify", "order", "balance too low"))  # an answer: online
    assert reach.get("roamify").online and reach.all_offline(["roumio", "roamify"]) is None
    assert len(changes) == 3  # roumio down, roamify down, roamify back: a repeat changes nothing


def test_watch_notes_the_outcome_and_passes_it_on():
    reach = Reachability()

    async def fails():
        raise VendorUnavailable("roumio", "balance", "cannot reach")

    async def answers():
        return 42

    with pytest.raises(VendorUnavailable):
        asyncio.run(reach.watch("roumio", fails()))
    assert not reach.get("roumio").online
    assert asyncio.run(reach.watch("roumio", answers())) == 42 and reach.get("roumio").online


def test_age_words():
    assert age_words(None) == "never synced"
    assert age_words(T0, T0 + timedelta(seconds=20)) == "synced just now"
    assert age_words(T0, T0 + timedelta(minutes=12, seconds=30)) == "synced 12 min ago"
    assert age_words(T0, T0 + timedelta(hours=3, minutes=30)) == "synced 3.5 h ago"
    assert age_words(T0, T0 + timedelta(days=4, hours=1)) == "synced 4 days ago"


def test_a_vendors_refusal_in_words_and_an_unexpected_error_without_its_details():
    refused = InsufficientBalance("roumio", "esim/order", "The Roumio account balance is too low; top up the "
                                  "account first", code="200007")
    outcome = reworded(refused, OrderOutcome(f"{refused}. Nothing was charged.", None))
    assert failure_text("order", "roumio", outcome) == (
        "Roumio refused the order: the Roumio account balance is too low; top up the account first (code 200007). "
        "Nothing was charged.")
    said = failure_text("sync", None, RuntimeError("UNIQUE constraint failed: orders.vendor"))
    assert said.startswith("Sync failed unexpectedly (RuntimeError)") and "UNIQUE" not in said
    assert failure_text("top-up", "roumio", ValidationError("no such plan")) == "Top-up failed: no such plan"
