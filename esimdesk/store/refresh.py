"""Which eSIMs a sync asks a vendor about one at a time, in the order of domain/refresh.py, and when each was
last asked (``esims.refreshed_at``): the next sync starts where the last one's budget stopped."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timedelta

from esimdesk.domain.refresh import FINISHED, IN_USE, FleetWalk, RefreshPlan, RefreshPolicy

_IN_USE = ",".join(f"'{s.value}'" for s in IN_USE)
_FINISHED = ",".join(f"'{s.value}'" for s in FINISHED)

# 0: in use and about to run out (expiring soon, or under the low share of a known, limited allowance: in
# integers, as Fleet's "Under 10 % data left" filter counts it); 1: in use; 2: any other eSIM not finished.
_TIER = f"""CASE WHEN status IN ({_IN_USE}) AND (
                    (expires_at IS NOT NULL AND expires_at < :soon)
                    OR (data_total_mb > 0 AND data_used_mb * :low_den > data_total_mb * :low_num))
                 THEN 0 WHEN status IN ({_IN_USE}) THEN 1 ELSE 2 END"""


class RefreshMixin:
    def esims_due(self, vendor: str, policy: RefreshPolicy, now: datetime, budget: int,
                  among: Iterable[str] | None = None) -> RefreshPlan:
        """The plan for one sync: at most ``budget`` of the vendor's eSIMs due now, the most needed first.
        ``among``: only these ICCIDs are candidates (e.g. the eSIMs whose usage the vendor reports)."""
        low_num = round((1 - policy.low_share) * 100)
        params = {"vendor": vendor, "soon": (now + timedelta(days=policy.expiring_days)).isoformat(),
                  "low_num": low_num, "low_den": 100,
                  "urgent": (now - policy.urgent_every).isoformat(), "every": (now - policy.refresh_every).isoformat()}
        # The vendor's entries of the esims_due index (migrations._v18, _v19: all this reads, none of the table) read
        # twice, once a sync, in a worker thread: how many are due, then the first ``budget`` of them in order
        # (SQLite keeps only those while it sorts). 0.13 s at 300,000 eSIMs a vendor; 1.3 s through the table.
        due_rows = f"""SELECT iccid, refreshed_at, tier FROM (
                    SELECT iccid, refreshed_at, {_TIER} AS tier FROM esims
                    WHERE vendor = :vendor AND stale = 0 AND status NOT IN ({_FINISHED}))
                WHERE (refreshed_at IS NULL OR refreshed_at < CASE tier WHEN 0 THEN :urgent ELSE :every END)"""
        if among is not None:
            due_rows += " AND iccid IN (SELECT value FROM json_each(:among))"
            params["among"] = json.dumps(list(among))
        due = self.conn.execute(f"SELECT count(*) FROM ({due_rows})", params).fetchone()[0]
        rows = self.conn.execute(f"""{due_rows} ORDER BY tier, refreshed_at IS NOT NULL, refreshed_at, iccid
                                     LIMIT :budget""", {**params, "budget": max(0, budget)}).fetchall()
        return RefreshPlan(vendor, tuple(r[0] for r in rows), due, budget)

    def usage_known(self, vendor: str, iccids: list[str]) -> dict[str, tuple[int | None, int | None]]:
        """(data used, data total) in MB of these eSIMs, where a figure is known."""
        # One statement, its rows as one JSON array: read a row at a time, each row handed Python's GIL over and
        # back beside the sync's busy event loop (Roamify's 100,000 listed eSIMs: 0.8 s for 755 rows).
        got = self.conn.execute(
            "SELECT json_group_array(json_array(iccid, data_used_mb, data_total_mb)) FROM esims "
            "WHERE vendor = ? AND iccid IN (SELECT value FROM json_each(?)) AND data_used_mb IS NOT NULL",
            (vendor, json.dumps(iccids))).fetchone()[0]
        return {iccid: (used, total) for iccid, used, total in json.loads(got)}

    def mark_refreshed(self, vendor: str, iccids: Iterable[str], at: datetime) -> None:
        """These eSIMs were asked about at ``at`` (answered or not: one the vendor refuses is not asked again
        before its turn comes round, so it cannot hold the budget every sync)."""
        when = at.isoformat()
        with self.transaction() as conn:
            conn.executemany("UPDATE esims SET refreshed_at = ? WHERE vendor = ? AND iccid = ?",
                             [(when, vendor, i) for i in iccids])

    def fleet_walk(self, vendor: str) -> FleetWalk | None:
        """Where the vendor's chained listing was left (None: at its first page, no walk under way)."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (_walk_key(vendor),)).fetchone()
        if row is None:
            return None
        try:
            saved = json.loads(row[0])
            return FleetWalk(saved["key"], saved["cycle_started"])
        except (ValueError, KeyError, TypeError):  # not ours to trust: the walk starts over
            return None

    def has_esims(self, vendor: str) -> bool:
        return self.conn.execute("SELECT 1 FROM esims WHERE vendor = ? LIMIT 1", (vendor,)).fetchone() is not None


def save_fleet_walk_in(conn, vendor: str, walk: FleetWalk | None) -> None:
    """Where the walk is, within the caller's transaction (None: no walk under way)."""
    if walk is None:
        conn.execute("DELETE FROM meta WHERE key = ?", (_walk_key(vendor),))
    else:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                     (_walk_key(vendor), json.dumps({"key": walk.key, "cycle_started": walk.cycle_started})))


def _walk_key(vendor: str) -> str:
    return f"fleet_walk:{vendor}"
