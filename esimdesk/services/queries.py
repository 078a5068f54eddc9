"""Listing queries for the window, off the GUI thread and cancellable.

A keystroke supersedes the query the previous keystroke started. Cancelling the asyncio task is not
enough: the SQL statement would run on in its worker thread, holding a connection and the CPU while
the newer query waits. So a cancelled query is also interrupted in SQLite (``sqlite3_interrupt``, safe
to call from another thread), and its thread is free again at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from esimdesk.services.thread_priority import lower_this_thread
from esimdesk.store.listings import interrupt

T = TypeVar("T")
READER_CACHE_KB = 8192


class QueryRunner:
    """Runs ``fn(store)`` in a worker thread; a cancelled call interrupts its statement.

    Two workers serve what the agent is looking at; one more serves the rest (``background``: the tabs
    behind the one shown, reloaded after a sync, and counts nobody waits on). A sync that changes every
    tab's rows then never queues the agent's keystroke behind three counts over every row."""

    def __init__(self, store, workers: int = 2):
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="esimdesk-query",
                                        initializer=lower_this_thread)
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esimdesk-query-behind",
                                              initializer=lower_this_thread)
        self._lock = threading.Lock()
        self._running: dict[int, sqlite3.Connection] = {}
        self._tokens = itertools.count()
        self.interrupted = 0  # statements stopped because their caller went away (tests read it)
        self._local = threading.local()
        self._submitted: set[concurrent.futures.Future] = set()  # work queued or running in a thread

    async def run(self, fn: Callable[[Any], T], background: bool = False) -> T:
        token = next(self._tokens)
        cancelled = threading.Event()

        def work() -> T:
            if cancelled.is_set():
                raise asyncio.CancelledError  # superseded before it started: never run it
            conn = self.store.conn
            if getattr(self._local, "tuned", None) is not conn:
                # A reader needs no 64 MB page cache (the writers' size): it would hold that much per thread.
                conn.execute(f"PRAGMA cache_size=-{READER_CACHE_KB}")
                self._local.tuned = conn
            with self._lock:
                self._running[token] = conn
            try:
                return fn(self.store)
            except sqlite3.OperationalError as exc:
                if cancelled.is_set() and "interrupt" in str(exc):
                    with self._lock:
                        self.interrupted += 1
                    raise asyncio.CancelledError from exc
                raise
            finally:
                with self._lock:
                    self._running.pop(token, None)

        submitted = (self._background if background else self._pool).submit(work)
        self._submitted.add(submitted)
        submitted.add_done_callback(self._submitted.discard)
        future = asyncio.wrap_future(submitted)
        try:
            return await future
        except asyncio.CancelledError:
            cancelled.set()
            with self._lock:  # only while this call's statement is running: never a later caller's
                conn = self._running.get(token)
                if conn is not None:
                    interrupt(conn)
            raise

    async def settle(self) -> None:
        """Until no query is queued or running in a worker thread, cancelled ones included (their thread
        goes on until SQLite stops them): before the store is closed and its file replaced."""
        while self._submitted:
            await asyncio.gather(*(asyncio.wrap_future(f) for f in list(self._submitted)), return_exceptions=True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._background.shutdown(wait=False, cancel_futures=True)
