"""A numbered listing read ahead (vendors/paging.py): in order, never past a stated count, cancelled on leaving."""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from esimdesk.vendors.paging import pages_ahead


class Listing:
    """Pages answered after a random delay (later pages often first), counting what is in flight."""

    def __init__(self, pages: int | None, rows: int = 3, fail_at: int | None = None, slow_from: int | None = None):
        self.pages, self.rows, self.fail_at, self.slow_from = pages, rows, fail_at, slow_from
        self.asked: list[int] = []
        self.cancelled: list[int] = []
        self.in_flight = self.most_in_flight = 0
        self.rng = random.Random(7)

    async def fetch(self, number: int) -> tuple[list[str], int | None]:
        self.asked.append(number)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            slow = self.slow_from is not None and number >= self.slow_from
            await asyncio.sleep(30 if slow else self.rng.uniform(0.001, 0.02))
        except asyncio.CancelledError:
            self.cancelled.append(number)
            raise
        finally:
            self.in_flight -= 1
        if number == self.fail_at:
            raise RuntimeError(f"page {number} failed")
        last = self.pages if self.pages is not None else 5
        rows = [f"{number}-{i}" for i in range(self.rows)] if number <= last else []
        return rows, self.pages


async def test_a_stated_page_count_is_read_in_order_with_pages_in_flight_and_never_past_it():
    listing = Listing(pages=12)
    got = [rows async for rows, _ in pages_ahead(listing.fetch, count=lambda first: first[1], ahead=4)]
    assert got == [[f"{n}-{i}" for i in range(3)] for n in range(1, 13)]
    assert sorted(listing.asked) == list(range(1, 13))  # not one past the 12 the first page stated
    assert listing.asked[0] == 1 and listing.most_in_flight == 4


async def test_without_a_count_a_one_page_listing_costs_page_two_only_and_a_long_one_reads_ahead():
    short = Listing(pages=None, rows=3)
    short_rows = []
    async with contextlib.aclosing(pages_ahead(short.fetch, ahead=4)) as pages:
        async for rows, _ in pages:
            short_rows.append(rows)
            break  # the consumer's own rule: a short first page ended it (as Roamify's catalog asks page 2)
    assert short.asked == [1]

    long = Listing(pages=None)
    seen = []
    async with contextlib.aclosing(pages_ahead(long.fetch, ahead=4)) as pages:
        async for rows, _ in pages:
            if not rows:
                break
            seen.append(rows[0])
    assert seen == [f"{n}-0" for n in range(1, 6)]
    assert long.asked[:2] == [1, 2] and long.most_in_flight >= 3
    assert max(long.asked) <= 6 + 3  # at most ahead - 1 past the empty page that ended it
    await asyncio.sleep(0)
    assert long.in_flight == 0 and set(long.cancelled) <= set(long.asked)


async def test_leaving_the_loop_cancels_the_requests_in_flight_at_once():
    listing = Listing(pages=40, slow_from=4)  # pages 4 on still in flight when page 3 is handed out
    async with contextlib.aclosing(pages_ahead(listing.fetch, count=lambda first: first[1], ahead=4)) as pages:
        async for rows, _ in pages:
            if rows[0] == "3-0":
                break
    assert listing.in_flight == 0  # nothing left running behind the consumer
    assert sorted(listing.cancelled) == [4, 5, 6] and max(listing.asked) == 6


async def test_a_failing_page_fails_the_listing_at_its_turn_and_stops_the_rest():
    listing = Listing(pages=20, fail_at=5)
    seen = []
    with pytest.raises(RuntimeError, match="page 5 failed"):
        async for rows, _ in pages_ahead(listing.fetch, count=lambda first: first[1], ahead=4):
            seen.append(rows[0])
    assert seen == ["1-0", "2-0", "3-0", "4-0"]
    assert listing.in_flight == 0 and max(listing.asked) < 20
