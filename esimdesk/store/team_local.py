"""Team mode, the local side: what this desk queues for the team store and how other desks' entries
land in the local SQLite file (schema: migration 4).

An entry is (desk id, seq, kind, agent, made_at, body). seq is this desk's outbox sequence: append-only,
never reused, so the team store keys entries by (desk id, seq) and a push cut off mid-way is resumed
from the store's own last seq without duplicates. Other desks' entries are applied idempotently
(upserts keyed by what they describe) and each desk's cursor moves in the same transaction as the rows.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from esimdesk.store import rows as R

_ESIM_COLS = ("vendor", "iccid", "order_id", "plan_id", "status", "vendor_status", "activation_code", "data_used_mb",
              "data_total_mb", "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref")
_ORDER_COLS = ("vendor", "order_id", "reference", "kind", "status", "created_at", "total", "currency")


def _meta(conn, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def identity(store) -> tuple[str, str]:
    """(desk id, token): the token tells the team store this is the desk that first used the id, so a
    copied data folder (same desk id, new token) is refused instead of mixing two desks' entries."""
    conn = store.conn
    token = _meta(conn, "team_token")
    if token is None:
        with store.transaction() as c:
            c.execute("INSERT OR IGNORE INTO meta VALUES ('team_token', ?)", (uuid.uuid4().hex,))
        token = _meta(conn, "team_token")
    return store.desk_id(), token


def set_agent(store, agent: str) -> None:
    """The agent name new journal lines are stamped with; lines made before one was set get it now."""
    with store.transaction() as conn:
        if _meta(conn, "agent") != agent:
            conn.execute("INSERT INTO meta VALUES ('agent', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (agent,))
        conn.execute("UPDATE journal SET agent = ? WHERE agent IS NULL", (agent,))
        conn.execute("UPDATE orders SET agent = ? WHERE agent IS NULL AND desk_id = ?", (agent, store.desk_id()))


def outbox_last(store) -> int:
    return store.conn.execute("SELECT coalesce(max(seq), 0) FROM team_outbox").fetchone()[0]


def outbox_after(store, after: int, limit: int, agent: str) -> list[tuple[int, str, str, str, dict[str, Any]]]:
    """The next ``limit`` entries after seq ``after``: (seq, kind, agent, made_at, body).

    A journal line carries its entry's state as known now; the last line of each entry in the batch also
    carries the order (row, lines, eSIMs with activation codes), so a desk that pulls it can show the order.
    """
    conn = store.conn
    rows = conn.execute("SELECT seq, kind, made_at, body FROM team_outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                        (after, limit)).fetchall()
    out = []
    last_of: dict[int, int] = {}
    bodies = []
    for seq, kind, made_at, body in rows:
        b = json.loads(body)
        b["agent"] = b.get("agent") or agent
        bodies.append((seq, kind, made_at, b))
        if kind == "journal":
            last_of[b["journal_id"]] = seq
    journals = _journals(conn, list(last_of))
    for seq, kind, made_at, b in bodies:
        if kind == "journal":
            j = journals.get(b["journal_id"])
            if j is None:  # cannot happen (journal rows are never deleted); pushed as the line alone
                continue
            b.update(j)
            if last_of[b["journal_id"]] == seq:
                b["order"] = _order_snapshot(conn, j["vendor"], j["reference"], j["kind"], j["handle"])
        out.append((seq, kind, b["agent"], made_at, b))
    return out


def _journals(conn, ids: list[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        q = (f"SELECT id, vendor, kind, reference, handle, plan_id, quantity, iccid, unit_price, currency, state, "
             f"order_id, created_at, updated_at FROM journal WHERE id IN ({','.join('?' * len(chunk))})")
        for r in conn.execute(q, chunk):
            d = dict(r)
            d["handle"] = d["handle"] or d["reference"]
            out[d.pop("id")] = d
    return out


def _order_snapshot(conn, vendor: str, reference: str, kind: str, handle: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT id, {', '.join(_ORDER_COLS)} FROM orders WHERE vendor = ? AND reference = ? AND kind = ?",
                       (vendor, reference, kind)).fetchone()
    if row is None:
        return None
    order = dict(row)
    key = order.pop("id")
    # Other desks know the order by the handle the vendor was sent: unique to this desk, and what their own
    # vendor listings carry, so the pulled row and a row synced from the vendor are one row.
    order["reference"] = handle
    order["lines"] = [dict(r) for r in conn.execute(
        "SELECT plan_id, quantity, unit_price, name FROM order_lines WHERE order_key = ? ORDER BY line", (key,))]
    # Sorted here: ORDER BY iccid would have SQLite walk the vendor's whole primary key instead of the
    # order-id index (1 ms an order at 16,000 eSIMs).
    order["esims"] = sorted((dict(r) for r in conn.execute(
        f"SELECT {', '.join(_ESIM_COLS)} FROM esims WHERE order_id = ? AND +vendor = ?",
        (order["order_id"], vendor))), key=lambda e: e["iccid"]) if order["order_id"] else []
    return order


def pushed(store) -> int:
    """The last seq this file saw committed by the team store (0: none yet)."""
    return int(_meta(store.conn, "team_pushed") or 0)


def set_pushed(store, seq: int) -> None:
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta VALUES ('team_pushed', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                     (str(seq),))


def signatures(store, after: int, upto: int) -> list[tuple[int, str, datetime]]:
    return [(seq, kind, R.from_iso(made)) for seq, kind, made in store.conn.execute(
        "SELECT seq, kind, made_at FROM team_outbox WHERE seq > ? AND seq <= ? ORDER BY seq", (after, upto))]


def renumber_from(store, first: int, after: int) -> None:
    """Give the outbox entries from seq ``first`` on new numbers after ``after``, keeping their order.

    For a file that is behind the team store (a backup put back): the store already holds other entries
    of this desk under those numbers, made by the file before it was replaced; these would be skipped."""
    offset = after - first + 1
    with store.transaction() as conn:
        # Through negative numbers: shifting in place would collide with the rows not yet moved.
        conn.execute("UPDATE team_outbox SET seq = -(seq + ?) WHERE seq >= ?", (offset, first))
        conn.execute("UPDATE team_outbox SET seq = -seq WHERE seq < 0")
        # And what this file records next is numbered after the store's too.
        top = max(after, conn.execute("SELECT coalesce(max(seq), 0) FROM team_outbox").fetchone()[0])
        if conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'team_outbox'", (top,)).rowcount == 0:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('team_outbox', ?)", (top,))


# --- pull ----------------------------------------------------------------------------------------

def cursors(store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT desk_id, seq FROM team_cursor").fetchall())


def apply_pulled(store, desk_id: str, entries: list[tuple[int, str, str, str, dict[str, Any]]]) -> tuple[int, int]:
    """Write one batch of another desk's entries (in seq order) and move its cursor; (orders, eSIMs) written.

    Orders go through the store's own upsert (one row per vendor order, eSIMs with their reversed-ICCID
    index), then the rest in one transaction with the cursor. Everything is an upsert keyed by what it
    describes, so a batch applied twice (a crash between the two) leaves the same rows.
    """
    latest: dict[str, dict[str, Any]] = {}
    for _seq, kind, _agent, _made, body in entries:
        if kind == "journal" and body.get("order"):
            latest[body["reference"]] = body
    orders = [_order(b["order"]) for b in latest.values()]
    if orders:
        store.upsert_orders(orders)
    with store.transaction() as conn:
        conn.execute("INSERT INTO team_pulling VALUES (1)")  # the outbox triggers stay quiet
        for seq, kind, agent, _made_at, b in entries:
            if kind == "journal":
                conn.execute(
                    """INSERT INTO team_journal (desk_id, reference, vendor, kind, handle, plan_id, quantity, state,
                           order_id, agent, created_at, updated_at, seq) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)
                       ON CONFLICT (desk_id, reference) DO UPDATE SET state = excluded.state,
                           order_id = coalesce(excluded.order_id, order_id), updated_at = excluded.updated_at,
                           seq = excluded.seq WHERE excluded.seq > seq""",
                    (desk_id, b["reference"], b["vendor"], b["kind"], b["handle"], b["plan_id"], b["quantity"],
                     b["state"], b["order_id"], agent, b["created_at"], b["updated_at"], seq))
                conn.execute("INSERT OR IGNORE INTO team_audit VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (desk_id, seq, b["reference"], b["at"], b["from"], b["to"], b["cause"], agent))
            elif kind == "note":
                conn.execute("UPDATE esims SET note = ?, search_text = ? WHERE vendor = ? AND iccid = ?",
                             (b["note"], b["note"] or "", b["vendor"], b["iccid"]))
            elif kind == "event":
                conn.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, NULL)",
                             (b["vendor"], b["iccid"], b["kind"], b["occurred_at"], b["detail"]))
        for b in latest.values():
            o = b["order"]
            # Who placed it; never over a row this desk placed itself.
            conn.execute("""UPDATE orders SET desk_id = ?, agent = ? WHERE vendor = ? AND kind = ?
                                AND (reference = ? OR (? IS NOT NULL AND order_id = ?))
                                AND (desk_id IS NULL OR desk_id != ?)""",
                         (desk_id, b["agent"], o["vendor"], o["kind"], o["reference"], o["order_id"], o["order_id"],
                          store.desk_id()))
        # max(): two processes of this desk (the window and the command line) may pull the same entries.
        conn.execute("INSERT INTO team_cursor VALUES (?, ?) "
                     "ON CONFLICT (desk_id) DO UPDATE SET seq = max(seq, excluded.seq)", (desk_id, entries[-1][0]))
        conn.execute("DELETE FROM team_pulling")
    return len(orders), sum(len(o.esims) for o in orders)


def _order(o: dict[str, Any]):
    esims = [R.row_esim(e) for e in o["esims"]]
    return R.row_order(o, o["lines"], esims)


# --- who placed what (the listings' desk and agent columns) ---------------------------------------

def order_origins(store, orders) -> list[tuple[str, str]]:
    """(desk id, agent) of each order; blank for orders only a vendor listing brought."""
    by_oid = _origins(store, "order_id", sorted({o.order_id for o in orders if o.order_id}))
    by_ref = _origins(store, "reference", sorted({o.reference for o in orders if not o.order_id and o.reference}))
    return [by_oid.get((o.vendor, o.order_id), ("", "")) if o.order_id else
            by_ref.get((o.vendor, o.reference), ("", "")) for o in orders]


def order_names(store, orders) -> list[tuple[str | None, str | None]]:
    """(reference, handle) of each order, the same at every desk: the reference as the agent typed it at the
    desk that placed it, and the handle that desk sent the vendor (unique to the desk: what the vendor's portal
    and listings show). Another desk's order is kept here under its handle (``_order_snapshot``); its typed
    reference is in ``team_journal``. An order no desk placed: (its reference, None)."""
    conn = store.conn
    refs = sorted({o.reference for o in orders if o.reference})
    own: dict[tuple[str, str, str], str] = {}
    for i in range(0, len(refs), 500):
        chunk = refs[i:i + 500]
        q = f"SELECT vendor, reference, kind, handle FROM journal WHERE reference IN ({','.join('?' * len(chunk))})"
        own.update({(v, r, k): h or r for v, r, k, h in conn.execute(q, chunk)})
    theirs: dict[tuple[str, str, str], str] = {}
    if any((o.vendor, o.reference, o.kind) not in own for o in orders if o.reference):
        # One pass over what other desks placed (no index by handle: this is read for a listing, not a key).
        theirs = {(v, h, k): r for v, h, k, r in conn.execute(
            "SELECT vendor, handle, kind, reference FROM team_journal WHERE handle IS NOT NULL")}
    out: list[tuple[str | None, str | None]] = []
    for o in orders:
        key = (o.vendor, o.reference, o.kind)
        if key in own:
            out.append((o.reference, own[key]))
        elif key in theirs:
            out.append((theirs[key], o.reference))
        else:
            out.append((o.reference, None))
    return out


def esim_origins(store, esims) -> list[tuple[str, str]]:
    """(desk id, agent) of the order each eSIM came with."""
    by_oid = _origins(store, "order_id", sorted({e.order_id for e in esims if e.order_id}))
    return [by_oid.get((e.vendor, e.order_id), ("", "")) if e.order_id else ("", "") for e in esims]


def _origins(store, column: str, keys: list[str]) -> dict[tuple[str, str], tuple[str, str]]:
    """(vendor, key) -> (desk id, agent) of the orders rows that have a desk, 500 keys a query."""
    assert column in ("order_id", "reference")
    out: dict[tuple[str, str], tuple[str, str]] = {}
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        q = (f"SELECT vendor, {column}, desk_id, agent FROM orders WHERE {column} IN ({','.join('?' * len(chunk))}) "
             "AND desk_id IS NOT NULL")
        for vendor, key, desk_id, agent in store.conn.execute(q, chunk):
            out[(vendor, key)] = (desk_id or "", agent or "")
    return out


def has_other_desks(store) -> bool:
    return store.conn.execute("SELECT 1 FROM team_cursor LIMIT 1").fetchone() is not None


def team_audit(store, reference: str) -> list[dict[str, Any]]:
    """Another desk's audit trail of an order (by its reference or handle): who did what, when."""
    return [dict(r) for r in store.conn.execute(
        """SELECT a.* FROM team_audit a JOIN team_journal j ON j.desk_id = a.desk_id AND j.reference = a.reference
           WHERE j.reference = ? OR j.handle = ? ORDER BY a.desk_id, a.seq""", (reference, reference))]


# --- offline marker -------------------------------------------------------------------------------

def offline_since(store) -> datetime | None:
    return R.from_iso(_meta(store.conn, "team_offline_since"))


def mark_offline(store) -> datetime:
    """The first failure's time is kept: "offline since" is when it went away, not the last try."""
    now = datetime.now(UTC).isoformat()
    with store.transaction() as conn:
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('team_offline_since', ?)", (now,))
    return offline_since(store)


def mark_online(store) -> None:
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = 'team_offline_since'")


# --- what the team shares beyond entries: the price rules (issue 27) ---------------------------------
def set_team_rules(store, value: Any, set_by: str, set_at: datetime) -> None:
    """The team's price rules as last read from the team store: every quote uses them, offline too."""
    body = json.dumps({"rules": value, "set_by": set_by, "set_at": set_at.isoformat()})
    with store.transaction() as conn:
        conn.execute("INSERT INTO meta VALUES ('team_price_rules', ?) ON CONFLICT (key) DO UPDATE "
                     "SET value = excluded.value", (body,))


def team_rules(store) -> dict[str, Any] | None:
    """{"rules": [...], "set_by": agent, "set_at": ISO time} or None (never read from a team store)."""
    raw = _meta(store.conn, "team_price_rules")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
