"""A sync writes pages while the next ones come (issue 28): pages that arrive during a write are written
together next, whole, up to WRITE_BATCH_ROWS; slow pages one by one. Real threads, a real clock."""

from __future__ import annotations

import asyncio
import time

import esimdesk.services.sync as sync_module
from esimdesk.services.sync import _pipelined


async def pages(n: int, size: int, every: float):
    for i in range(n):
        if every:
            await asyncio.sleep(every)
        yield [(i, j) for j in range(size)]


def run(n: int, size: int, every: float, write_s: float) -> list[list]:
    writes: list[list] = []

    def write(rows: list) -> int:
        time.sleep(write_s)  # a transaction's time, in a worker thread
        writes.append(rows)
        return len(rows)

    async def go() -> list[int]:
        return [w async for w in _pipelined(pages(n, size, every), write)]

    written = asyncio.run(go())
    assert written == [len(w) for w in writes] and sum(written) == n * size
    assert [row for w in writes for row in w] == [(i, j) for i in range(n) for j in range(size)]  # in order
    return writes


def test_fast_pages_are_written_in_large_whole_batches(monkeypatch):
    monkeypatch.setattr(sync_module, "WRITE_BATCH_ROWS", 1000)
    writes = run(n=40, size=100, every=0, write_s=0.05)  # one answer handed out in pages: SQLite is slower
    assert len(writes) < 10 and max(len(w) for w in writes) <= 1000
    assert all(len(w) % 100 == 0 for w in writes)  # whole pages only


def test_slow_pages_are_written_one_by_one():
    writes = run(n=5, size=100, every=0.05, write_s=0.001)  # the network is slower: nothing to wait for
    assert [len(w) for w in writes] == [100] * 5


def test_a_page_larger_than_a_batch_is_written_in_batches(monkeypatch):
    # Roumio's catalog is one 50,000-plan answer: in one transaction it held the one writer for long while
    # another vendor's pages (a walk, each page waiting on the write before) waited.
    monkeypatch.setattr(sync_module, "WRITE_BATCH_ROWS", 1000)
    writes = run(n=1, size=4500, every=0, write_s=0.01)
    assert [len(w) for w in writes] == [1000, 1000, 1000, 1000, 500]


def test_a_walks_pages_are_written_whole_with_where_it_is(monkeypatch):
    monkeypatch.setattr(sync_module, "WRITE_BATCH_ROWS", 1000)
    fetched = [0]
    writes: list[tuple[int, int]] = []

    async def walked():
        for i in range(3):
            fetched[0] = i + 1
            yield [(i, j) for j in range(1500)]

    def write(rows: list, key: int) -> int:
        time.sleep(0.01)
        writes.append((len(rows), key))
        return len(rows)

    async def go() -> list[int]:
        return [w async for w in _pipelined(walked(), write, lambda: fetched[0])]

    assert sum(asyncio.run(go())) == 4500
    # Each write carries whole pages and the key after its last page: never a key ahead of its rows.
    assert all(n % 1500 == 0 and key * 1500 >= sum(m for m, _ in writes[:i + 1]) for i, (n, key) in enumerate(writes))
