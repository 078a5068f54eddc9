"""While a sync runs, Python's full garbage collections wait and its threads take short turns at the GIL
(services/interpreter.py); after it, the interpreter is as it was."""

from __future__ import annotations

import gc
import sys
import threading

from esimdesk.services.interpreter import DURING_A_SYNC, SWITCH_INTERVAL_S, set_for_a_sync
from esimdesk.services.sync import sync_all
from tests.services.helpers import accounts_for, open_store, short_factory


def _settings() -> tuple[tuple[int, int, int], float]:
    return gc.get_threshold(), sys.getswitchinterval()


DURING = (DURING_A_SYNC, SWITCH_INTERVAL_S)


def test_the_settings_are_made_for_the_block_and_put_back_after_nested_and_in_threads():
    before = _settings()
    assert before[0] != DURING_A_SYNC and before[1] != SWITCH_INTERVAL_S
    inside = threading.Event()
    leave = threading.Event()

    def other_sync() -> None:
        with set_for_a_sync():
            inside.set()
            leave.wait(5)

    with set_for_a_sync():
        assert _settings() == DURING
        worker = threading.Thread(target=other_sync)
        worker.start()
        assert inside.wait(5)
        with set_for_a_sync():
            assert _settings() == DURING
        assert _settings() == DURING
    # The other block is still in: the settings stay until it leaves.
    assert _settings() == DURING
    leave.set()
    worker.join(5)
    assert _settings() == before


def test_an_error_in_the_block_still_puts_the_settings_back():
    before = _settings()
    try:
        with set_for_a_sync():
            raise ValueError("a vendor's answer")
    except ValueError:
        pass
    assert _settings() == before


async def test_a_sync_runs_with_the_settings_and_puts_them_back(fresh_sandbox, tmp_path):
    store = open_store(tmp_path)
    seen = []
    before = _settings()
    results = await sync_all(store, accounts_for(fresh_sandbox, tmp_path), short_factory(5),
                             progress=lambda p: seen.append(_settings()))
    assert all(r.ok for r in results)
    assert seen and set(seen) == {DURING}
    assert _settings() == before
    store.close()
