"""Desks for the team tests: data folders with orders recorded through the store's own journal API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import psycopg

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus
from esimdesk.services.team_config import TeamConfig
from esimdesk.store import SqliteStore


def desk(tmp_path: Path, name: str) -> SqliteStore:
    return SqliteStore(tmp_path / name / "esimdesk.sqlite3")


def config(team_db, agent: str) -> TeamConfig:
    url, password = team_db
    return TeamConfig(url, password, agent)


def place_local_orders(store: SqliteStore, n: int, prefix: str, vendor: str = "microesim") -> list[str]:
    """n orders as the orders engine records them (journal, then COMPLETED with an eSIM); their ICCIDs."""
    iccids = []
    for i in range(n):
        ref = f"{prefix}{i:05d}"
        iccid = f"8988{abs(hash(prefix)) % 10**6:06d}{i:09d}"
        entry = store.journal_create(vendor=vendor, kind="order", reference=ref, plan_id="P1", quantity=1,
                                     unit_price=Decimal("4.50"), currency="USD")
        order_id = f"{prefix}-O{i}"
        esim = Esim(vendor, iccid, EsimStatus.NEW, "new", order_id=order_id, plan_id="P1",
                    activation_code=f"LPA:1$rsp.example$M{prefix}{i}")
        store.upsert_orders([Order(vendor, order_id, ref, OrderStatus.COMPLETED, datetime.now(UTC), Decimal("4.50"),
                                   "USD", (OrderLine("P1", 1, Decimal("4.50")),), (esim,))])
        store.journal_transition(entry.id, OrderStatus.COMPLETED, "vendor allocated the eSIM", order_id=order_id)
        iccids.append(iccid)
    return iccids


def server_entries(team_db) -> list[tuple[str, int]]:
    url, password = team_db
    with psycopg.connect(url, password=password) as conn:
        return conn.execute("SELECT desk_id, seq FROM team_entries ORDER BY desk_id, seq").fetchall()


def outbox_seqs(store: SqliteStore) -> list[int]:
    return [r[0] for r in store.conn.execute("SELECT seq FROM team_outbox ORDER BY seq")]
