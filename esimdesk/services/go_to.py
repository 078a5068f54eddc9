"""Where the window's "Go to an eSIM or order" box (Ctrl+K) sends what the agent types, without Qt.

Support starts from a customer's words: the last digits of an ICCID read off a card, an order id or a
reference from an e-mail. Typed into the one box, the text picks the tab by what the store finds (one index
seek each, in a worker thread): an order whose id or reference it is → Orders; an eSIM whose ICCID it is or
ends in → Fleet; the start of an order id → Orders. Found nowhere: digits are an ICCID still being typed
(Fleet), other text a reference, an order id or plan words (Orders, which finds parts of them); fewer than 4
digits that start no order id go nowhere. The window (ui/go_to.py) shows that tab with the text in its
search box; a single match there is selected at once (ui/listing_page.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from esimdesk.store.listings import TextFinds

ORDERS, FLEET = "orders", "esims"  # the tabs, by the listing they show (ListingTab.listing)
ICCID_DIGITS = 4  # the fewest last digits of an ICCID the searches read as one (store/listings.py)


def destination(text: str, finds: TextFinds) -> str | None:
    """The tab ``text`` goes to, given what the store finds for it; None: none (the agent goes on typing)."""
    text = text.strip()
    if not text:
        return None
    if finds.order:
        return ORDERS
    if finds.iccid:
        return FLEET
    if finds.order_start:
        return ORDERS
    digits = text.replace(" ", "")
    if digits.isdigit():
        return FLEET if len(digits) >= ICCID_DIGITS else None
    return ORDERS


class GoTo:
    """The box's decisions: ``decide`` asks the store (``finds``: the store's ``text_finds`` in a worker
    thread) and answers the tab; a newer text cancels the decision it supersedes (``start``)."""

    def __init__(self, finds: Callable[[str], Awaitable[TextFinds]]):
        self.finds = finds
        self.task: asyncio.Task | None = None

    @classmethod
    def over(cls, desk) -> GoTo:
        """Asking the desk's store through its query workers (a cancelled decision interrupts its seek)."""
        return cls(lambda text: desk.queries.run(lambda store: store.text_finds(text)))

    async def decide(self, text: str) -> str | None:
        if not text.strip():
            return None
        return destination(text, await self.finds(text))

    def start(self, text: str, then: Callable[[str, str], None]) -> asyncio.Task:
        """Decide for ``text``, then ``then(tab, text)`` unless a newer text came first (or it goes nowhere)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

        async def run() -> str | None:
            where = await self.decide(text)
            if where is not None:
                then(where, text.strip())
            return where

        self.task = asyncio.ensure_future(run())
        return self.task

    async def settled(self) -> None:
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
