"""The "Go to an eSIM or order" box's decision (services/go_to.py), without Qt: which tab a text goes to."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus
from esimdesk.services.go_to import FLEET, ORDERS, GoTo, destination
from esimdesk.store import SqliteStore
from esimdesk.store.listings import TextFinds

ICCID = "8944100000001234567"
NOTHING = TextFinds(False, False, False)


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "desk.sqlite3")
    when = datetime(2027, 1, 1, tzinfo=UTC)
    s.upsert_orders([Order("microesim", "202401010000000100000042", "ref-abc", OrderStatus.COMPLETED, when),
                     Order("roumio", "B2612000000007", None, OrderStatus.COMPLETED, when)])
    s.upsert_esims([Esim("microesim", ICCID, EsimStatus.ACTIVE, "IN_USE", order_id="202401010000000100000042")])
    yield s
    s.close()


def go(store, text: str) -> str | None:
    return destination(text, store.text_finds(text))


def test_the_last_digits_of_an_iccid_or_all_of_it_go_to_fleet(store):
    assert go(store, ICCID[-6:]) == FLEET
    assert go(store, ICCID[-4:]) == FLEET
    assert go(store, ICCID) == FLEET
    assert go(store, " 234 567 ") == FLEET  # as read out, in groups


def test_an_order_id_or_a_reference_goes_to_orders(store):
    assert go(store, "202401010000000100000042") == ORDERS
    assert go(store, "B2612000000007") == ORDERS
    assert go(store, "ref-abc") == ORDERS
    assert go(store, "2024010100") == ORDERS  # the start of an order id being typed


def test_what_the_store_finds_nowhere(store):
    assert go(store, "99999999") == FLEET  # digits: an ICCID still being typed
    assert go(store, "123") is None  # too few digits for an ICCID, and no order id starts so
    assert go(store, "B2612") == ORDERS  # a part of an order id or reference: Orders finds parts of them
    assert go(store, "   ") is None


def test_an_order_found_wins_over_an_iccid_found():
    assert destination("123456", TextFinds(True, True, False)) == ORDERS
    assert destination("123456", TextFinds(False, True, True)) == FLEET
    assert destination("123456", NOTHING) == FLEET


def test_a_newer_text_cancels_the_decision_it_supersedes():
    shown: list[tuple[str, str]] = []
    release = asyncio.Event()

    async def finds(text: str) -> TextFinds:
        if text == "slow":
            await release.wait()
        return TextFinds(text == "B1", False, False)

    async def run():
        goto = GoTo(finds)
        first = goto.start("slow", lambda tab, text: shown.append((tab, text)))
        second = goto.start(" B1 ", lambda tab, text: shown.append((tab, text)))
        release.set()
        await goto.settled()
        assert first.cancelled() and await second == ORDERS

    asyncio.run(run())
    assert shown == [(ORDERS, "B1")]  # the text as searched: trimmed
