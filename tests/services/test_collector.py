"""Python's full garbage collections wait while a sync runs (services/collector.py), and only then."""

from __future__ import annotations

import gc
import threading

from esimdesk.services.collector import DURING_A_SYNC, fewer_collections
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory


def test_the_thresholds_are_raised_for_the_block_and_put_back_after_nested_and_in_threads():
    before = gc.get_threshold()
    assert before != DURING_A_SYNC
    inside = threading.Event()
    leave = threading.Event()

    def other_sync() -> None:
        with fewer_collections():
            inside.set()
            leave.wait(5)

    with fewer_collections():
        assert gc.get_threshold() == DURING_A_SYNC
        worker = threading.Thread(target=other_sync)
        worker.start()
        assert inside.wait(5)
        with fewer_collections():
            assert gc.get_threshold() == DURING_A_SYNC
        assert gc.get_threshold() == DURING_A_SYNC
    # The other block is still in: the thresholds stay raised until it leaves.
    assert gc.get_threshold() == DURING_A_SYNC
    leave.set()
    worker.join(5)
    assert gc.get_threshold() == before


def test_an_error_in_the_block_still_puts_the_thresholds_back():
    before = gc.get_threshold()
    try:
        with fewer_collections():
            raise ValueError("a vendor's answer")
    except ValueError:
        pass
    assert gc.get_threshold() == before


async def test_a_sync_runs_with_full_collections_held_back(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    seen = []
    before = gc.get_threshold()
    results = await sync_all(store, accounts_for(fresh_sandbox, tmp_path), short_factory(5),
                             progress=lambda p: seen.append(gc.get_threshold()))
    assert all(r.ok for r in results)
    assert seen and set(seen) == {DURING_A_SYNC}
    assert gc.get_threshold() == before
    store.close()
