"""Python's cyclic garbage collector, held back while a sync runs.

At each full collection the collector walks every object alive, holding Python's GIL. A sync keeps hundreds of
thousands of decoded vendor objects alive for seconds at a time (Roamify's 100,000-eSIM listing is one 104 MB
answer), so with the default thresholds a routine sync at 100,000 eSIMs a vendor ran 21 full collections, 4.5 s
in all, up to 0.5 s each; the store's writer threads, finishing a SQLite call, waited behind every one of them
(bench/results/sync_scale.json, docs/sync-scale.md). What a sync allocates holds no reference cycles (decoded
JSON, dataclasses, rows): reference counting frees it. Young collections still run, a hundred times less often,
so a cycle made meanwhile (an exception's traceback, a task) is still found; full ones wait for the sync's end.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# Young collections every 100,000 allocations (not 700); the middle one after 50 of them; a full one only after
# 1,000 of those (in effect: not within a sync).
DURING_A_SYNC = (100_000, 50, 1_000)

_lock = threading.Lock()
_held = 0
_before: tuple[int, int, int] | None = None


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """The collector's thresholds raised for the block (nested or in two threads: the first in sets them, the
    last out puts back what they were)."""
    global _held, _before
    with _lock:
        if _held == 0:
            _before = gc.get_threshold()
            gc.set_threshold(*DURING_A_SYNC)
        _held += 1
    try:
        yield
    finally:
        with _lock:
            _held -= 1
            if _held == 0 and _before is not None:
                gc.set_threshold(*_before)
                _before = None
