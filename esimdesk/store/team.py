"""The team store: one PostgreSQL database that desks share their order journals through (psycopg 3).

Each desk's entries are append-only rows keyed by (desk id, seq), so two desks never write the same
row and an order's state is derived from its entries. A desk pushes in batches, each one transaction
that first takes the desk's advisory lock and reads how far the store already has it: a push cut off
mid-way (connection dropped, process killed) resumes there and sends nothing twice (and a second
process of the same desk waits instead of racing). Desks pull each other desk's entries after their
own cursor, in seq order. The schema is created and migrated here, versioned in ``esimdesk_schema``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from esimdesk.domain import EsimdeskError

Entry = tuple[int, str, str, str, dict[str, Any]]  # (seq, kind, agent, made_at, body)

_STEPS: list[str] = [
    # 1: entries, and one row per desk (its agent, how far its entries go, the token of the data folder
    # that first used the id: a copied folder would otherwise mix two desks under one id).
    """
    CREATE TABLE team_desks (
        desk_id text PRIMARY KEY, token text NOT NULL, agent text NOT NULL,
        last_seq bigint NOT NULL DEFAULT 0, last_push timestamptz
    );
    CREATE TABLE team_entries (
        desk_id text NOT NULL REFERENCES team_desks (desk_id), seq bigint NOT NULL, kind text NOT NULL,
        agent text NOT NULL, made_at timestamptz NOT NULL, pushed_at timestamptz NOT NULL DEFAULT now(),
        body jsonb NOT NULL,
        PRIMARY KEY (desk_id, seq)
    );
    CREATE FUNCTION team_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'team entries are append-only';
    END $$;
    CREATE TRIGGER team_entries_append_only BEFORE UPDATE OR DELETE ON team_entries
        FOR EACH ROW EXECUTE FUNCTION team_entries_append_only();
    """,
    # 2: what the whole team shares beyond entries: the price rules (issue 27), so every desk quotes one price.
    # One row a key; the last desk to publish wins (a setting, not a history: the entries keep the sales).
    """
    CREATE TABLE team_settings (
        key text PRIMARY KEY, value jsonb NOT NULL, set_by text NOT NULL, set_at timestamptz NOT NULL DEFAULT now()
    );
    """,
]
LATEST = len(_STEPS)
_MIGRATE_LOCK = 0x65736964  # "esid": one migrating desk at a time


class TeamStoreError(EsimdeskError):
    """``reason``: "offline" (unreachable, dropped), "auth" (refused credentials), "config" (bad URL,
    missing database, not allowed), "conflict" (the desk id is another data folder's)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def connect(conninfo: str, timeout: float = 5.0) -> psycopg.Connection:
    """A connection, or TeamStoreError in one sentence (never the password)."""
    try:
        return psycopg.connect(conninfo, connect_timeout=max(1, int(timeout)), application_name="esimdesk")
    except psycopg.Error as exc:
        raise explain(exc) from None


_GONE = ("connection refused", "could not connect", "closed unexpectedly", "eof detected", "timeout expired",
         "terminating connection", "server closed the connection", "no route to host", "network is unreachable",
         "could not translate host name", "name or service not known", "the connection is closed",
         "connection timed out", "consuming input failed", "connection reset")


def explain(exc: BaseException) -> TeamStoreError:
    """A driver error as one sentence and a reason."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"password=\S+", "password=***", text)
    low = text.lower()
    if isinstance(exc, psycopg.ProgrammingError) and ("dsn" in low or "conninfo" in low or "uri" in low):
        return TeamStoreError("the team store URL is not a valid postgresql:// URL "
                              "(check ESIMDESK_TEAM_URL or the Settings)", "config")
    if "password authentication failed" in low or "no password supplied" in low or "authentication" in low:
        return TeamStoreError("the team store refused the user name or password "
                              "(check the URL's user and the password in the keychain)", "auth")
    if any(w in low for w in _GONE):  # also over TLS ("SSL SYSCALL error: EOF detected")
        return TeamStoreError(f"the team store cannot be reached ({text})", "offline")
    if "ssl" in low or "certificate" in low:  # what the URL asked for (sslmode, sslrootcert) did not hold
        return TeamStoreError(f"the team store's TLS connection failed ({text}); check sslmode and sslrootcert "
                              "in the URL", "config")
    if "pg_hba.conf" in low:
        return TeamStoreError(f"the team store does not accept this connection ({text}); ask its administrator, "
                              "or check the URL's sslmode", "auth")
    if re.search(r'database ".*" does not exist', low):
        return TeamStoreError(f"the team store has no such database ({text})", "config")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return TeamStoreError(f"the team store's role may not do this ({text}); see README → Team mode", "config")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError) or "connection" in low:
        return TeamStoreError(f"the team store cannot be reached ({text})", "offline")
    return TeamStoreError(f"the team store failed: {text}", "other")


def migrate(conn: psycopg.Connection) -> int:
    """Create or bring the schema to ``LATEST``; each step commits with its version number."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        # Looked up first: a desk's least-privilege role may read the version but not create anything.
        exists = conn.execute("SELECT to_regclass('esimdesk_schema') IS NOT NULL").fetchone()[0]
        row = conn.execute("SELECT version FROM esimdesk_schema").fetchone() if exists else None
        current = row[0] if row else 0
        if current > LATEST:
            raise TeamStoreError(f"the team store's schema is from a newer esimdesk (version {current}, this one "
                                 f"knows {LATEST}); update this desk", "config")
        if current == LATEST:
            return LATEST
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS esimdesk_schema (one int PRIMARY KEY CHECK (one = 1), "
                         "version int NOT NULL)")
            for version in range(current + 1, LATEST + 1):
                conn.execute(_STEPS[version - 1])
                conn.execute("INSERT INTO esimdesk_schema VALUES (1, %s) ON CONFLICT (one) DO UPDATE SET version = %s",
                             (version, version))
        except psycopg.errors.InsufficientPrivilege:
            raise TeamStoreError(f"the team store's schema is at version {current} and this desk needs {LATEST}, "
                                 "which this desk's role may not create: run one `esimdesk sync` with the owner "
                                 "role's URL (README → Team mode)", "config") from None
    return LATEST


def register(conn: psycopg.Connection, desk_id: str, token: str, agent: str) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO team_desks (desk_id, token, agent) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                     (desk_id, token, agent))
        row = conn.execute("SELECT token FROM team_desks WHERE desk_id = %s", (desk_id,)).fetchone()
        if row[0] != token:
            raise TeamStoreError(f"another desk already uses desk id {desk_id} in the team store (a copied data "
                                 "folder?); nothing was pushed", "conflict")
        conn.execute("UPDATE team_desks SET agent = %s WHERE desk_id = %s", (agent, desk_id))


def push(conn: psycopg.Connection, desk_id: str, build: Callable[[int], list[Entry]],
         fault: Callable[[str, int], None] | None = None,
         committed: Callable[[int], None] | None = None) -> int:
    """Push every entry the store does not have yet, one batch per transaction; how many were added.

    ``build(after)`` gives the next batch of this desk's entries after seq ``after`` (called under the
    desk's lock, inside the transaction); ``committed(seq)`` is told each batch's last seq once it is
    committed. ``fault`` (tests only) is called at each stage so a test can stop the server at an exact point.
    """
    added = 0
    batch_no = 0
    while True:
        batch_no += 1
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (desk_id,))
            after = conn.execute("SELECT last_seq FROM team_desks WHERE desk_id = %s", (desk_id,)).fetchone()[0]
            entries = build(after)
            if not entries:
                return added
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO team_entries (desk_id, seq, kind, agent, made_at, body) VALUES (%s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (desk_id, seq) DO NOTHING",
                    [(desk_id, seq, kind, agent, made_at, Jsonb(body)) for seq, kind, agent, made_at, body in entries])
            conn.execute("UPDATE team_desks SET last_seq = %s, last_push = now() WHERE desk_id = %s",
                         (entries[-1][0], desk_id))
            if fault:
                fault("before-commit", batch_no)
        added += len(entries)
        if fault:
            fault("committed", batch_no)  # before ``committed``: a kill here leaves the file behind the store
        if committed:
            committed(entries[-1][0])


def signatures(conn: psycopg.Connection, desk_id: str, after: int, upto: int) -> list[tuple[int, str, Any]]:
    """(seq, kind, made_at) of a desk's entries in (after, upto]: enough to tell its own from another file's."""
    return [tuple(r) for r in conn.execute(
        "SELECT seq, kind, made_at FROM team_entries WHERE desk_id = %s AND seq > %s AND seq <= %s ORDER BY seq",
        (desk_id, after, upto))]


def publish_setting(conn: psycopg.Connection, key: str, value: Any, agent: str) -> None:
    conn.execute("INSERT INTO team_settings (key, value, set_by) VALUES (%s, %s, %s) ON CONFLICT (key) DO UPDATE "
                 "SET value = excluded.value, set_by = excluded.set_by, set_at = now()",
                 (key, Jsonb(value), agent))
    conn.commit()


def team_setting(conn: psycopg.Connection, key: str) -> tuple[Any, str, Any] | None:
    """(value, the agent who set it, when) or None."""
    row = conn.execute("SELECT value, set_by, set_at FROM team_settings WHERE key = %s", (key,)).fetchone()
    conn.commit()
    return None if row is None else (row[0], row[1], row[2])


def heads(conn: psycopg.Connection) -> dict[str, int]:
    """Every desk's last seq."""
    with conn.transaction():
        return dict(conn.execute("SELECT desk_id, last_seq FROM team_desks").fetchall())


def fetch(conn: psycopg.Connection, desk_id: str, after: int, limit: int) -> list[Entry]:
    with conn.transaction():
        rows = conn.execute(
            "SELECT seq, kind, agent, to_char(made_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US+00:00'), body "
            "FROM team_entries WHERE desk_id = %s AND seq > %s ORDER BY seq LIMIT %s",
            (desk_id, after, limit)).fetchall()
    return [(seq, kind, agent, made, body if isinstance(body, dict) else json.loads(body))
            for seq, kind, agent, made, body in rows]
