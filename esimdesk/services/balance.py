"""Balances: asked live from each vendor that reports one, falling back to the cached value."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from esimdesk.domain import Balance, EsimdeskError, VendorConfig
from esimdesk.services.adapters import make_adapter
from esimdesk.store import Store
from esimdesk.vendors import Capability, adapter_class


@dataclass
class BalanceRow:
    vendor: str
    balance: Balance | None
    error: str | None = None


async def fetch_balances(store: Store, accounts: list[VendorConfig], timeout: float = 15.0,
                         reach=None) -> list[BalanceRow]:
    """``reach``: a services/reachability.py Reachability told whether each vendor answered."""
    async def one(cfg: VendorConfig) -> BalanceRow | None:
        if Capability.BALANCE not in adapter_class(cfg.vendor).capabilities:
            return None
        try:
            async with make_adapter(cfg, timeout=timeout) as adapter:
                balance = await adapter.get_balance()
            if reach is not None:
                reach.answered(cfg.vendor)
            await asyncio.to_thread(store.save_balance, balance)
            return BalanceRow(cfg.vendor, balance)
        except EsimdeskError as exc:
            if reach is not None:
                reach.note(cfg.vendor, exc)
            cached = await asyncio.to_thread(store.balances, cfg.vendor)
            return BalanceRow(cfg.vendor, cached[0] if cached else None, str(exc))

    rows = await asyncio.gather(*(one(c) for c in accounts))
    return [r for r in rows if r is not None]
