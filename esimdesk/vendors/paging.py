"""A numbered listing's next pages asked for while the one before is parsed and written.

At 150 ms an answer, 200 pages one after the other take 30 s of waiting alone; with a few in flight the
vendor's own pace (Roumio: 8 requests/s, enforced by VendorHttp's limiter) is what bounds a listing.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

PAGES_AHEAD = 4  # requests in flight: enough to hide a 150 ms answer at 8-20 pages/s, few enough not to flood
LAST_PAGE = 10_000  # a listing that never says it ended must not loop us forever


async def pages_ahead(fetch: Callable[[int], Awaitable[T]], *, count: Callable[[T], int | None] = lambda _: None,
                      ahead: int = PAGES_AHEAD, last: int = LAST_PAGE, start: int = 1) -> AsyncIterator[T]:
    """Pages ``start``, ``start`` + 1, … in order. The first is asked alone: its answer may say how many pages
    there are (``count``), and no page past that is asked. Where it does not, the consumer says where the
    listing ends by leaving its loop, and the pages in flight grow with the pages seen (one after the first,
    two after the second, up to ``ahead``): a one-page listing costs a second page as ever, a long one has
    ``ahead`` in flight, and at most ``ahead`` - 1 asked past the end are dropped. Leave it inside
    ``contextlib.aclosing`` so the requests still in flight are cancelled at once, not when the generator is
    collected."""
    first = await fetch(start)
    yield first
    pages = count(first)
    end = last if pages is None else min(last, pages)
    pending: deque[asyncio.Future[T]] = deque()
    following = start + 1
    try:
        while True:
            window = ahead if pages is not None else min(ahead, following - start - len(pending))
            while following <= end and len(pending) < window:
                pending.append(asyncio.ensure_future(fetch(following)))
                following += 1
            if not pending:
                return
            yield await pending.popleft()
    finally:
        for fut in pending:
            fut.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
