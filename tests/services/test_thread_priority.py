"""The window's query threads run below its GUI thread's priority (services/thread_priority.py): a sync's recounts
never take the CPU the window paints with."""

from __future__ import annotations

import asyncio
import sys
import threading

import pytest

from esimdesk.services.queries import QueryRunner
from esimdesk.services.thread_priority import (
    MOST_NICE,
    WORKER_NICENESS,
    lower_this_thread,
    niceness_of_this_thread,
)
from esimdesk.store import open_store

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a niceness a thread: Linux's")


def _lowered(niceness: int) -> int:
    """A niceness, lowered as a worker's is (a test run already niced near the bottom stays there)."""
    return min(niceness + WORKER_NICENESS, MOST_NICE)


@linux_only
def test_every_query_worker_runs_below_the_thread_that_started_it_and_that_thread_is_left_as_it_was(tmp_path):
    store = open_store(tmp_path)
    runner = QueryRunner(store)
    mine = niceness_of_this_thread()
    seen: list[tuple[str, int | None]] = []

    def where(_store) -> None:
        seen.append((threading.current_thread().name, niceness_of_this_thread()))

    async def read_in_every_worker() -> None:
        # Both of the agent's workers at once (each waits for the other), then the one behind the tabs.
        both = threading.Barrier(2, timeout=10)

        def together(s) -> None:
            both.wait()
            where(s)

        await asyncio.gather(runner.run(together), runner.run(together))
        await runner.run(where, background=True)

    try:
        asyncio.run(read_in_every_worker())
    finally:
        runner.close()
        store.close()
    assert len({name for name, _ in seen}) == 3  # three threads: two for what is shown, one for the rest
    assert {niceness for _, niceness in seen} == {_lowered(mine)}
    assert niceness_of_this_thread() == mine  # only the workers: the GUI thread (here, the test's) keeps its own


@linux_only
def test_lowering_a_thread_leaves_the_others_of_its_process_alone():
    mine = niceness_of_this_thread()
    got: list = []

    def worker() -> None:
        got.append((lower_this_thread(), niceness_of_this_thread()))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert got == [(True, _lowered(mine))]
    assert niceness_of_this_thread() == mine
