"""Exchange rates in the data file: the quotes fetched (ECB, Roamify) with their dates, so conversion works
offline with its age; and the factors each plan's converted price (``price_conv``) was made with.

Why a stored converted price: a sort by price across USD and HKD plans must compare them as one number
through an index (150,000 plans: a sort that converted every row would take seconds). The factors change
when a rate does (once a working day from the ECB); then only the plans of the currencies whose factor
changed are rewritten, in one transaction, off the GUI thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from esimdesk.domain.exchange import Quote


def sort_factors(conn: sqlite3.Connection) -> dict[str, float]:
    """{currency: factor} the plans' converted prices are at (plan_sort_rates), read in the caller's transaction."""
    return dict(conn.execute("SELECT currency, factor FROM plan_sort_rates").fetchall())


def convert_plan_row(row: dict[str, Any], factors: Mapping[str, float]) -> None:
    """A new or changed plan row's prices in the agent's currency (``price_conv``, ``per_gb_conv``) at ``factors``,
    those the other plans were sorted by, so it sorts among them at once; None without a factor for its currency
    (the double product apply_sort_rates computes in SQL)."""
    factor = factors.get(row["currency"])
    per_gb = row["price_per_gb_sort"]
    row["price_conv"] = None if factor is None else factor * row["price_sort"]
    row["per_gb_conv"] = None if factor is None or per_gb is None else factor * per_gb


class ExchangeMixin:
    """Mixed into SqliteStore: uses its ``conn`` and ``transaction``."""

    def sort_rates(self) -> tuple[str | None, dict[str, float]]:
        """(the agent's currency the plans' converted prices are in, {currency: factor})."""
        rows = self.conn.execute("SELECT currency, factor, agent FROM plan_sort_rates").fetchall()
        agent = rows[0][2] if rows else None
        return agent, {r[0]: r[1] for r in rows}

    def apply_sort_rates(self, agent: str | None, factors: Mapping[str, Decimal]) -> int:
        """Make every plan's converted price agree with ``factors`` (1 unit of a currency = factor × the
        agent's currency; a currency without one: NULL, listed after the converted prices). Rewrites only
        the plans of a currency whose factor changed; returns how many plans were rewritten."""
        new = {c.upper(): float(f) for c, f in factors.items()} if agent else {}
        old_agent, old = self.sort_rates()
        if agent != old_agent:
            old = {}
        changed = [c for c in new if old.get(c) != new[c]] + [c for c in old if c not in new]
        if not changed and (old_agent == agent or not new):
            return 0
        rewritten = 0
        with self.transaction() as conn:
            conn.execute("DELETE FROM plan_sort_rates")
            conn.executemany("INSERT INTO plan_sort_rates VALUES (?, ?, ?)", [(c, f, agent) for c, f in new.items()])
            for currency in changed:
                factor = new.get(currency)
                cur = conn.execute("UPDATE plans SET price_conv = price_sort * ?, per_gb_conv = price_per_gb_sort * ? "
                                   "WHERE currency = ?", (factor, factor, currency))
                rewritten += cur.rowcount
            if not new:  # no agent currency: nothing converted
                rewritten += conn.execute("UPDATE plans SET price_conv = NULL, per_gb_conv = NULL "
                                          "WHERE price_conv IS NOT NULL").rowcount
        return rewritten

    def plan_currencies(self) -> list[str]:
        """The currencies the catalog prices in, every vendor's (``vendor_currencies``: index seeks only)."""
        vendors = [r[0] for r in self.conn.execute("SELECT DISTINCT vendor FROM plans").fetchall()]
        return sorted({c for vendor in vendors for c in self.vendor_currencies(vendor)})

    def save_quotes(self, quotes: Iterable[Quote], fetched_at: str) -> int:
        """Keep the newest quote of each (source, base, currency); an older one never replaces a newer."""
        rows = [(q.source, q.base, q.currency, str(q.rate), q.as_of.isoformat(), fetched_at) for q in quotes]
        with self.transaction() as conn:
            conn.executemany(
                """INSERT INTO exchange_rates VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (source, base, currency) DO UPDATE SET rate = excluded.rate, as_of = excluded.as_of,
                       fetched_at = excluded.fetched_at WHERE excluded.as_of >= exchange_rates.as_of""", rows)
        return len(rows)

    def quotes(self) -> list[Quote]:
        return [Quote(r[0], r[1], r[2], Decimal(r[3]), date.fromisoformat(r[4]))
                for r in self.conn.execute("SELECT source, base, currency, rate, as_of FROM exchange_rates "
                                           "ORDER BY source, base, currency").fetchall()]

    def quotes_fetched_at(self, source: str) -> str | None:
        """When this desk last read ``source`` (UTC ISO), or None."""
        return self.conn.execute("SELECT max(fetched_at) FROM exchange_rates WHERE source = ?",
                                 (source,)).fetchone()[0]
