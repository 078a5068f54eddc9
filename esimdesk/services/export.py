"""A table's whole result (its filter and its order) written to a CSV file, without freezing the window.

The rows are the store's listing of the query the tab shows (``listing_ids`` then ``listing_items``,
store/listings.py): every matching row, not only the pages the table has read. The store is read in
chunks through the window's QueryRunner, so each read is a short job that a keystroke's query never
waits long behind, that is interrupted when the export is cancelled, and that ``queries.settle()`` knows
of (the demo reset closes the store only after it). The file is written in a thread of the export's own,
to a temporary file beside the target, renamed over it only when every row is written: a cancelled or
failed export leaves no half file.
"""

from __future__ import annotations

import asyncio
import csv
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from esimdesk.domain import ListingQuery

CHUNK = 1000  # rows a store read: a few tens of ms, so the agent's keystrokes interleave with the export
# Excel opens a CSV without a byte-order mark as the ANSI code page ("—", "∞", "…" garbled): the agents'
# desks are Windows and macOS, so the file is UTF-8 with a BOM (every other reader skips it).
ENCODING = "utf-8-sig"
# A cell that starts like a formula would be run by a spreadsheet; vendor text and agents' notes are not
# trusted to be data only, so such a cell gets a leading apostrophe (OWASP's advice on CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str | None) -> str:
    text = "" if text is None else str(text)
    return "'" + text if text.startswith(_FORMULA_START) else text


async def export_listing(queries, query: ListingQuery, titles: Sequence[str], cells: Callable[[Any], Sequence[str]],
                         path: str | os.PathLike, progress: Callable[[int, int], None] | None = None,
                         chunk: int | None = None) -> int:
    """Write every row of ``query`` to ``path`` as CSV: a header of ``titles``, then ``cells(item)`` of each
    row in the query's order. ``queries``: the window's QueryRunner. ``progress(done, total)`` after each
    chunk (on the caller's loop). Returns the rows written. Cancelling the task stops it; nothing is left
    at ``path`` (an existing file there is kept as it was) and the temporary file is removed."""
    target = Path(path)
    chunk = chunk or CHUNK
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esimdesk-export")
    loop = asyncio.get_running_loop()

    def in_writer(fn, *args):
        return loop.run_in_executor(writer, fn, *args)

    state: dict[str, Any] = {}

    def open_temp() -> None:
        # Beside the target: the final rename stays on one file system (atomic). mkstemp makes it readable by
        # this user only, which suits a file of customers' eSIMs and notes.
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        state["tmp"] = tmp
        state["file"] = os.fdopen(fd, "w", encoding=ENCODING, newline="")
        state["csv"] = csv.writer(state["file"])
        state["csv"].writerow([safe_cell(t) for t in titles])

    def write(items: list) -> None:
        state["csv"].writerows([safe_cell(text) for text in cells(item)] for item in items)

    def finish() -> None:
        f = state.pop("file")
        f.flush()
        os.fsync(f.fileno())
        f.close()
        os.replace(state["tmp"], target)
        del state["tmp"]

    def discard() -> None:
        f = state.pop("file", None)
        if f is not None:
            f.close()
        tmp = state.pop("tmp", None)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass

    try:
        await in_writer(open_temp)
        # Every matching row's id in the order shown: one pass over the result (as the count is), so the
        # file holds exactly the rows that matched at the start; rows deleted meanwhile (a sync) are skipped.
        ids = await queries.run(lambda store: store.listing_ids(query))
        total = len(ids)
        if progress is not None:
            progress(0, total)
        written = 0
        for start in range(0, total, chunk):
            part = ids[start:start + chunk]
            found = await queries.run(lambda store, part=part: store.listing_items(query.table, part))
            items = [found[k] for k in part if k in found]
            await in_writer(write, items)
            written += len(items)
            if progress is not None:
                progress(min(start + chunk, total), total)
        commit = in_writer(finish)
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            # Every row is written and the file is being put in place: a cancel now comes too late, and
            # saying "nothing written" would be wrong. The export ends as done once the rename has.
            await commit
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        return written
    except BaseException:
        # The writer thread runs one job at a time: the discard runs after any write still in progress there
        # (a cancel does not stop a thread), so the file is never closed under it. Waited for, so the caller
        # finds no file once the export has ended; shielded from a second cancel.
        done = in_writer(discard)
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            pass
        raise
    finally:
        writer.shutdown(wait=False)
