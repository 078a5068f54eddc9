"""Schema versions as a ``PRAGMA user_version`` ladder: each step moves the file one version forward.

Never edit a released step; add the next one. Tests open files created at every earlier version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from esimdesk.domain import ConfigError


def _v1() -> str:
    return (
        """
        CREATE TABLE plans (
            vendor TEXT NOT NULL, plan_id TEXT NOT NULL, name TEXT NOT NULL,
            countries TEXT NOT NULL,            -- "JP,KR" (ISO 3166 alpha-2)
            data_mb INTEGER, validity_days INTEGER NOT NULL,
            price TEXT NOT NULL, currency TEXT NOT NULL,  -- Decimal as text: never a float
            price_sort REAL NOT NULL DEFAULT 0,            -- only to order rows "cheapest first"
            daily INTEGER NOT NULL DEFAULT 0, topup INTEGER, region TEXT,
            raw TEXT, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (vendor, plan_id)
        );
        -- Country lists ("JP,KR,…") stored once each: vendors reuse a few hundred lists (regions,
        -- "global") across 50,000 plans. coverage says which countries a list covers.
        CREATE TABLE country_lists (id INTEGER PRIMARY KEY, countries TEXT NOT NULL UNIQUE);
        CREATE TABLE coverage (
            country TEXT NOT NULL, list_id INTEGER NOT NULL REFERENCES country_lists (id),
            PRIMARY KEY (country, list_id)
        ) WITHOUT ROWID;
        ALTER TABLE plans ADD COLUMN list_id INTEGER REFERENCES country_lists (id);
        -- "Cheapest first" walks these; the list id rides along so a country filter is checked in the
        -- index and stops after a page, instead of fetching every matching row to sort it.
        CREATE INDEX plans_price ON plans (stale, price_sort, list_id);
        CREATE INDEX plans_vendor_price ON plans (vendor, stale, price_sort, list_id);
        CREATE INDEX plans_plan_id ON plans (plan_id);
        CREATE TABLE orders (
            id INTEGER PRIMARY KEY,
            vendor TEXT NOT NULL, order_id TEXT, reference TEXT, kind TEXT NOT NULL DEFAULT 'order',
            status TEXT NOT NULL, created_at TEXT NOT NULL, total TEXT, currency TEXT,
            raw TEXT, last_seen TEXT, stale INTEGER NOT NULL DEFAULT 0
        );
        CREATE UNIQUE INDEX orders_vendor_order ON orders (vendor, order_id) WHERE order_id IS NOT NULL;
        CREATE INDEX orders_created ON orders (created_at);
        CREATE INDEX orders_reference ON orders (reference);
        CREATE INDEX orders_order_id ON orders (order_id);
        CREATE TABLE order_lines (
            order_key INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
            line INTEGER NOT NULL, plan_id TEXT NOT NULL, quantity INTEGER NOT NULL,
            unit_price TEXT, name TEXT,
            PRIMARY KEY (order_key, line)
        );
        CREATE TABLE esims (
            vendor TEXT NOT NULL, iccid TEXT NOT NULL, order_id TEXT, plan_id TEXT,
            status TEXT NOT NULL, vendor_status TEXT NOT NULL, activation_code TEXT,
            data_used_mb INTEGER, data_total_mb INTEGER, expires_at TEXT, installed_at TEXT,
            qr_url TEXT, install_url TEXT, vendor_ref TEXT,
            raw TEXT, last_seen TEXT NOT NULL, stale INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (vendor, iccid)
        );
        CREATE INDEX esims_status ON esims (status);
        CREATE TABLE usage (
            vendor TEXT NOT NULL, iccid TEXT NOT NULL, observed_at TEXT NOT NULL,
            data_used_mb INTEGER, data_total_mb INTEGER,
            PRIMARY KEY (vendor, iccid, observed_at)
        );
        CREATE TABLE balances (
            vendor TEXT PRIMARY KEY, amount TEXT NOT NULL, currency TEXT NOT NULL, observed_at TEXT NOT NULL
        );
        CREATE TABLE events (
            vendor TEXT NOT NULL, iccid TEXT NOT NULL, kind TEXT NOT NULL, occurred_at TEXT NOT NULL,
            detail TEXT, raw TEXT,
            PRIMARY KEY (vendor, iccid, kind, occurred_at)
        );
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY, vendor TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
            ok INTEGER, plans INTEGER, orders INTEGER, esims INTEGER, error TEXT
        );
        CREATE TABLE journal (
            id INTEGER PRIMARY KEY,
            vendor TEXT NOT NULL, kind TEXT NOT NULL,          -- 'order' | 'topup'
            reference TEXT NOT NULL UNIQUE,                    -- our idempotency handle
            plan_id TEXT NOT NULL, quantity INTEGER NOT NULL, iccid TEXT,
            unit_price TEXT, currency TEXT, state TEXT NOT NULL, order_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,               -- vendor sends of this entry
            lease_owner TEXT, lease_until REAL,                -- one process at a time may act on it
            last_error TEXT, note TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
        );
        CREATE INDEX journal_state ON journal (state);
        CREATE TABLE journal_events (
            journal_id INTEGER NOT NULL REFERENCES journal (id), at TEXT NOT NULL,
            from_state TEXT, to_state TEXT NOT NULL, cause TEXT NOT NULL
        );
        """
    )


def _v2() -> str:
    """Fast look-ups: reversed ICCID for "last digits" search, agent notes, and trigram full-text search."""
    sql = (
        """
        ALTER TABLE esims ADD COLUMN iccid_rev TEXT;
        ALTER TABLE esims ADD COLUMN note TEXT;
        ALTER TABLE esims ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
        ALTER TABLE orders ADD COLUMN note TEXT;
        ALTER TABLE orders ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
        ALTER TABLE plans ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
        UPDATE esims SET iccid_rev = (WITH RECURSIVE r(i, out) AS (SELECT length(iccid), '' UNION ALL
            SELECT i - 1, out || substr(iccid, i, 1) FROM r WHERE i > 0) SELECT out FROM r WHERE i = 0);
        -- eSIMs index only the agent's note; plan words are found through the plans' index.
        UPDATE orders SET search_text = coalesce(order_id, '') || ' ' || coalesce(reference, '');
        UPDATE plans SET search_text = plan_id || ' ' || name || ' ' || countries;
        CREATE INDEX esims_iccid_rev ON esims (iccid_rev);
        CREATE INDEX esims_order_id ON esims (order_id);
        CREATE INDEX esims_plan ON esims (vendor, plan_id);
        """
    )
    for table in ("esims", "orders", "plans"):
        sql += (
            f"""
            CREATE VIRTUAL TABLE {table}_fts USING fts5(search_text, content='{table}', content_rowid='rowid',
                                                       tokenize='trigram');
            INSERT INTO {table}_fts (rowid, search_text) SELECT rowid, search_text FROM {table} WHERE search_text != '';
            -- Empty text is not indexed: most eSIMs carry no note, and an empty document still costs a write.
            CREATE TRIGGER {table}_ai AFTER INSERT ON {table} WHEN new.search_text != '' BEGIN
                INSERT INTO {table}_fts (rowid, search_text) VALUES (new.rowid, new.search_text);
            END;
            CREATE TRIGGER {table}_ad AFTER DELETE ON {table} WHEN old.search_text != '' BEGIN
                INSERT INTO {table}_fts ({table}_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
            END;
            CREATE TRIGGER {table}_au AFTER UPDATE OF search_text ON {table}
            WHEN old.search_text IS NOT new.search_text BEGIN
                INSERT INTO {table}_fts ({table}_fts, rowid, search_text)
                    SELECT 'delete', old.rowid, old.search_text WHERE old.search_text != '';
                INSERT INTO {table}_fts (rowid, search_text) SELECT new.rowid, new.search_text WHERE new.search_text != '';
            END;
            """
        )
    return sql


def _v3() -> str:
    """Money safety: the handle each vendor is sent (unique to this desk), when an entry was first sent,
    and the vendor orders that might be a lost one; a random desk id made once per data folder."""
    return (
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('desk_id', lower(hex(randomblob(3))));
        ALTER TABLE journal ADD COLUMN handle TEXT;
        UPDATE journal SET handle = reference;
        CREATE UNIQUE INDEX journal_vendor_handle ON journal (vendor, handle);
        CREATE INDEX journal_order_id ON journal (vendor, order_id);
        ALTER TABLE journal ADD COLUMN first_sent_at TEXT;
        UPDATE journal SET first_sent_at = updated_at WHERE attempts > 0;
        ALTER TABLE journal ADD COLUMN last_sent_at TEXT;
        UPDATE journal SET last_sent_at = first_sent_at;
        ALTER TABLE journal ADD COLUMN candidates TEXT;   -- vendor order ids, comma-separated
        ALTER TABLE journal ADD COLUMN in_flight_until TEXT;  -- the last request may reach the vendor until then
        """
    )


def _v4() -> str:
    """The window's tables sort over whole results in SQL (store/listings.py): an index for each sortable
    column that has none yet, so "soonest expiry first" over 190,000 eSIMs is an index walk, not a sort.
    Plans' indexes carry what the filters test (vendor, country list), so a filtered sort never reads the
    table. Not here: columns served by an earlier index (eSIMs by vendor, status or order; orders by date,
    id or reference) and the agent's notes, mostly empty: the empty ones are listed apart (listings.py)."""
    plan_cols = ["vendor", "name", "countries", "data_mb", "validity_days", "plan_id", "currency, price_sort"]
    sql = [f"CREATE INDEX plans_sort_{c.split(',')[0]} ON plans (stale, {c}, vendor, list_id);" for c in plan_cols[:-1]]
    # The default order (cheapest first) also carries the search text: a one- or two-letter word (a LIKE,
    # below the trigram index's three letters) is tested in the index, not by reading each plan's row.
    sql.append("CREATE INDEX plans_sort_currency ON plans (stale, currency, price_sort, vendor, list_id, search_text);")
    sql.append("CREATE INDEX orders_sort_created ON orders (created_at, vendor, search_text);")
    sql.append("CREATE INDEX esims_noted ON esims (search_text) WHERE search_text != '';")
    # "Last digits of the ICCID" with the expiry beside them: the Fleet's search, in its default order
    # (soonest expiry), is answered from the index without reading each matching eSIM's row.
    sql.append("DROP INDEX esims_iccid_rev;")
    sql.append("CREATE INDEX esims_iccid_rev ON esims (iccid_rev, expires_at);")
    sql.append("CREATE INDEX esims_sort_note ON esims (note) WHERE note IS NOT NULL;")
    sql += [f"CREATE INDEX orders_sort_{c.split(',')[0]} ON orders ({c});"
            for c in ("vendor", "status", "currency, CAST(total AS REAL)")]
    sql += [f"CREATE INDEX esims_sort_{c} ON esims ({c});"
            for c in ("iccid", "data_used_mb", "data_total_mb", "expires_at", "vendor_status")]
    return "\n".join(sql)


def _v5() -> str:
    """Support actions (issue 21): the action journal and its history, usage with its age, Flexiroam's
    remaining data and device."""
    return (
        """
        ALTER TABLE esims ADD COLUMN usage_as_of TEXT;        -- when the usage figures were true
        ALTER TABLE esims ADD COLUMN data_remaining_mb INTEGER;
        ALTER TABLE esims ADD COLUMN device_name TEXT;
        ALTER TABLE esims ADD COLUMN device_imei TEXT;
        ALTER TABLE usage ADD COLUMN as_of TEXT;              -- the vendor's time for the sample, if it gave one
        ALTER TABLE usage ADD COLUMN data_remaining_mb INTEGER;
        CREATE TABLE esim_actions (
            id INTEGER PRIMARY KEY,
            vendor TEXT NOT NULL, iccid TEXT NOT NULL,
            action TEXT NOT NULL,                              -- cancel | suspend | resume | revoke | sms
            state TEXT NOT NULL,                               -- the order journal's states
            desk_id TEXT NOT NULL,                             -- which desk asked
            message TEXT, amount TEXT, currency TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_owner TEXT, lease_until REAL, last_error TEXT,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            first_sent_at TEXT, last_sent_at TEXT, in_flight_until TEXT
        );
        CREATE INDEX esim_actions_esim ON esim_actions (vendor, iccid);
        CREATE INDEX esim_actions_state ON esim_actions (state);
        CREATE TABLE esim_action_events (
            action_id INTEGER NOT NULL REFERENCES esim_actions (id), at TEXT NOT NULL,
            from_state TEXT, to_state TEXT NOT NULL, cause TEXT NOT NULL
        );
        CREATE INDEX esim_action_events_id ON esim_action_events (action_id);
        -- MicroESIM order options, kept with the intent so a resend sends the same order
        ALTER TABLE journal ADD COLUMN activation_date TEXT;
        ALTER TABLE journal ADD COLUMN custom_email TEXT;
        """
    )


def _v6() -> str:
    """Team mode (issue 15): who placed each order (desk id, agent name), an outbox of this desk's
    journal audit lines, notes and eSIM events for the team store, and what was pulled from other desks."""
    # The triggers stamp this desk's id and agent name (meta 'agent', written by team mode) and queue what
    # the team store must get; nothing fires while pulled rows are written (team_pulling has a row then).
    me = "(SELECT value FROM meta WHERE key = 'desk_id')"
    agent = "(SELECT value FROM meta WHERE key = 'agent')"
    quiet = "NOT EXISTS (SELECT 1 FROM team_pulling)"
    return (
        f"""
        ALTER TABLE orders ADD COLUMN desk_id TEXT;
        ALTER TABLE orders ADD COLUMN agent TEXT;
        ALTER TABLE journal ADD COLUMN agent TEXT;
        UPDATE orders SET desk_id = {me}
            WHERE EXISTS (SELECT 1 FROM journal j WHERE j.vendor = orders.vendor AND j.reference = orders.reference
                                                    AND j.kind = orders.kind);
        CREATE INDEX orders_desk ON orders (desk_id);
        CREATE TABLE team_pulling (one INTEGER);
        -- Append-only: seq is this desk's sequence number of the entry in the team store.
        CREATE TABLE team_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, made_at TEXT NOT NULL,
                                  body TEXT NOT NULL);
        INSERT INTO team_outbox (kind, made_at, body)
            SELECT 'journal', at, json_object('journal_id', journal_id, 'at', at, 'from', from_state, 'to', to_state,
                                              'cause', cause, 'agent', NULL)
            FROM journal_events ORDER BY rowid;
        CREATE TABLE team_cursor (desk_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE team_journal (
            desk_id TEXT NOT NULL, reference TEXT NOT NULL, vendor TEXT NOT NULL, kind TEXT NOT NULL,
            handle TEXT, plan_id TEXT, quantity INTEGER, state TEXT NOT NULL, order_id TEXT, agent TEXT,
            created_at TEXT, updated_at TEXT, seq INTEGER NOT NULL,
            PRIMARY KEY (desk_id, reference)
        );
        CREATE TABLE team_audit (
            desk_id TEXT NOT NULL, seq INTEGER NOT NULL, reference TEXT NOT NULL, at TEXT NOT NULL,
            from_state TEXT, to_state TEXT NOT NULL, cause TEXT NOT NULL, agent TEXT,
            PRIMARY KEY (desk_id, seq)
        );
        CREATE INDEX team_audit_reference ON team_audit (reference);
        CREATE TRIGGER team_journal_agent AFTER INSERT ON journal BEGIN
            UPDATE journal SET agent = {agent} WHERE id = new.id;
        END;
        CREATE TRIGGER team_order_desk AFTER INSERT ON orders WHEN new.desk_id IS NULL AND EXISTS (
            SELECT 1 FROM journal j WHERE j.vendor = new.vendor AND j.reference = new.reference AND j.kind = new.kind)
        BEGIN
            UPDATE orders SET desk_id = {me}, agent = {agent} WHERE id = new.id;
        END;
        -- An audit line's agent rides in its outbox row (journal_events is written with positional VALUES).
        CREATE TRIGGER team_journal_event AFTER INSERT ON journal_events BEGIN
            INSERT INTO team_outbox (kind, made_at, body) VALUES ('journal', new.at, json_object(
                'journal_id', new.journal_id, 'at', new.at, 'from', new.from_state, 'to', new.to_state,
                'cause', new.cause, 'agent', {agent}));
        END;
        CREATE TRIGGER team_note AFTER UPDATE OF note ON esims WHEN new.note IS NOT old.note AND {quiet} BEGIN
            INSERT INTO team_outbox (kind, made_at, body) VALUES ('note', strftime('%Y-%m-%dT%H:%M:%f+00:00'),
                json_object('vendor', new.vendor, 'iccid', new.iccid, 'note', new.note, 'agent', {agent}));
        END;
        -- eSIM events of the orders placed here (MicroESIM keeps no list: the desk that ordered shares them).
        CREATE TRIGGER team_event AFTER INSERT ON events WHEN {quiet} AND EXISTS (
            SELECT 1 FROM esims e JOIN orders o ON o.vendor = e.vendor AND o.order_id = e.order_id
            WHERE e.vendor = new.vendor AND e.iccid = new.iccid AND o.desk_id = {me})
        BEGIN
            INSERT INTO team_outbox (kind, made_at, body) VALUES ('event', strftime('%Y-%m-%dT%H:%M:%f+00:00'),
                json_object('vendor', new.vendor, 'iccid', new.iccid, 'kind', new.kind,
                            'occurred_at', new.occurred_at, 'detail', new.detail, 'agent', {agent}));
        END;
        """
    )


def _v7() -> str:
    """Fleet's soonest-expiry order (its default) walks an index that also holds what a one-digit search
    tests (the ICCID's last digits, the order id): a keystroke's first page is read from the index alone,
    not from the ~1,000 table rows it passes to find 100 matches (7 ms → 3 ms at 300,000 eSIMs)."""
    return (
        """
        DROP INDEX esims_sort_expires_at;
        CREATE INDEX esims_sort_expires_at ON esims (expires_at, iccid_rev, order_id);
        """
    )


def _v8() -> str:
    """Fleet's "not installed" quick filter (issue 13) lists NEW eSIMs by soonest expiry: the status index
    also holds the expiry, so those rows come in expiry order from the index itself instead of a walk of
    every eSIM by expiry that tests each one's status (60,000 rows before the first match: 0.3-0.8 s)."""
    return (
        """
        DROP INDEX esims_status;
        CREATE INDEX esims_status ON esims (status, expires_at);
        """
    )


def _v9() -> str:
    """The Catalog's comparisons and filters (issue 13): each plan's total data (a daily plan's allowance ×
    its days; NULL = unlimited) and price per GB of it, for the price-per-GB order (within a currency, as
    the price). Every plan sort index also carries what the Catalog's filters test (total data, days, daily,
    top-up), so a filtered first page in any order is read from the index alone, never from the rows it
    passes over (a name order filtered to top-up plans read 245 ms of rows; from the index, a few ms)."""
    filters = "total_mb, validity_days, daily, topup"
    sql = [
        "ALTER TABLE plans ADD COLUMN total_mb INTEGER;",
        "ALTER TABLE plans ADD COLUMN price_per_gb_sort REAL;",  # only to order rows; NULL: unlimited
        "UPDATE plans SET total_mb = CASE WHEN data_mb IS NULL THEN NULL "
        "WHEN daily THEN data_mb * max(validity_days, 1) ELSE data_mb END;",
        # NULL exactly where total_mb is (unlimited), so "has a price per GB" is tested on total_mb, which every
        # index below carries; a plan of no data at all is infinitely dear per GB (after all others).
        "UPDATE plans SET price_per_gb_sort = CASE WHEN total_mb > 0 THEN price_sort * 1024.0 / total_mb "
        "WHEN total_mb IS NOT NULL THEN 1e308 END;",
    ]
    for c in ["vendor", "name", "countries", "data_mb", "validity_days", "plan_id"]:
        sql.append(f"DROP INDEX plans_sort_{c};")
        sql.append(f"CREATE INDEX plans_sort_{c} ON plans (stale, {c}, vendor, list_id, {filters});")
    sql += [
        "DROP INDEX plans_sort_currency;",
        "CREATE INDEX plans_sort_currency ON plans (stale, currency, price_sort, vendor, list_id, search_text, "
        f"{filters});",
        f"CREATE INDEX plans_sort_per_gb ON plans (stale, currency, price_per_gb_sort, vendor, list_id, {filters});",
        # A country with other filters: its plans found by their country lists (a bounded set, ~10,000 plans
        # for the widest country), not by a walk of the whole catalog in price order that finds few matches.
        f"CREATE INDEX plans_by_list ON plans (list_id, stale, currency, price_sort, vendor, {filters});",
        # "Cheapest per vendor" in a country: per vendor and currency, the country's lists' plans by price.
        f"CREATE INDEX plans_vendor_cheapest ON plans (vendor, stale, currency, list_id, price_sort, {filters});",
    ]
    return "\n".join(sql)


def _v10() -> str:
    """One support action at a time per eSIM (issue 26): a new action is refused, by the file itself, while
    another one on the same eSIM is unfinished (PENDING or UNCERTAIN), so two windows or two command-line
    processes can never both send one. The check and the insert are one write under SQLite's write lock.
    A lost SMS that waits for the agent (last_error 'awaiting the agent') blocks nothing: it leaves no trace
    in the status, so nothing could ever settle it. Rows already in the file are left as they are (an
    UNCERTAIN action may have been sent; only its eSIM's status may close it): a trigger refuses new rows
    only, where a unique index could not be built over such duplicates."""
    return (
        """
        CREATE TRIGGER esim_actions_one_at_a_time BEFORE INSERT ON esim_actions
        WHEN new.state IN ('PENDING', 'UNCERTAIN') AND EXISTS (
            SELECT 1 FROM esim_actions a WHERE a.vendor = new.vendor AND a.iccid = new.iccid
                AND a.state IN ('PENDING', 'UNCERTAIN') AND a.last_error IS NOT 'awaiting the agent')
        BEGIN
            SELECT RAISE(ABORT, 'another action on this eSIM is in progress');
        END;
        """
    )


def _v11() -> str:
    """One currency on screen (issue 27). Each plan's price and price per GB converted into the agent's
    currency at the rates in force (``price_conv``, ``per_gb_conv``; NULL where no rate is known), so a
    price sort compares every vendor's plans as one number through an index; ``plan_sort_rates`` holds the
    factors those columns were made with (rewritten only when a rate changes). At equal price the plan
    that gives more days, then more data, comes first. ``coverage_name``: the vendor's own name for a bundle
    ("Africa Adventure"), searchable. The rates fetched (ECB, Roamify) with their dates, and each order's
    selling price as it was when sold."""
    filters = "total_mb, validity_days, daily, topup"
    return "\n".join([
        "ALTER TABLE plans ADD COLUMN coverage_name TEXT;",
        "ALTER TABLE plans ADD COLUMN price_conv REAL;",  # only to order rows; NULL: no rate for its currency
        "ALTER TABLE plans ADD COLUMN per_gb_conv REAL;",  # likewise; NULL also for unlimited plans
        "CREATE TABLE plan_sort_rates (currency TEXT PRIMARY KEY, factor REAL NOT NULL, agent TEXT NOT NULL);",
        "DROP INDEX plans_sort_currency;",
        "DROP INDEX plans_sort_per_gb;",
        "DROP INDEX plans_by_list;",
        "CREATE INDEX plans_sort_price ON plans (stale, price_conv, validity_days DESC, total_mb DESC, vendor, "
        "list_id, search_text, daily, topup);",
        f"CREATE INDEX plans_sort_per_gb ON plans (stale, per_gb_conv, vendor, list_id, {filters});",
        f"CREATE INDEX plans_by_list ON plans (list_id, stale, price_conv, per_gb_conv, vendor, {filters});",
        """CREATE TABLE exchange_rates (
            source TEXT NOT NULL,      -- 'ecb' | 'roamify'
            base TEXT NOT NULL,        -- 1 base = rate × currency
            currency TEXT NOT NULL,
            rate TEXT NOT NULL,        -- Decimal as text
            as_of TEXT NOT NULL,       -- the date the source gives the rate (ISO date)
            fetched_at TEXT NOT NULL,  -- when this desk read it (UTC ISO)
            PRIMARY KEY (source, base, currency)
        );""",
        "ALTER TABLE orders ADD COLUMN sell_total TEXT;",  # the customer's price as quoted when sold (Decimal)
        "ALTER TABLE orders ADD COLUMN sell_currency TEXT;",
        "ALTER TABLE orders ADD COLUMN cost_converted TEXT;",  # the cost in sell_currency at that day's rate
        "ALTER TABLE orders ADD COLUMN sell_rule TEXT;",  # the price rule applied, in words
        # The planner's statistics for the new indexes: without them it sorted 150,000 plans by name through
        # the per-GB index and a temporary B-tree (1.8 s a header click) until the next full sync's ANALYZE.
        "PRAGMA analysis_limit=1000;",
        "ANALYZE plans;",
    ])


def _v12() -> str:
    """One name for an order at every desk of a team (issue 29, item 5). Another desk's order is kept here
    under the handle that desk sent the vendor; the reference its agent typed is read from ``team_journal``
    by that handle for every page of Orders, and an order is found by the typed reference: an index each."""
    return """
        CREATE INDEX team_journal_handle ON team_journal (handle, vendor, kind);
        CREATE INDEX team_journal_reference ON team_journal (reference);
    """


def _v13() -> str:
    """A sync that scales with the fleet (issue 28): when this desk last asked the vendor about each eSIM on
    its own (store/refresh.py). A routine sync refreshes the most needed and longest unasked first, within a
    request budget; the next one goes on from there."""
    return "ALTER TABLE esims ADD COLUMN refreshed_at TEXT;"


def _v14() -> str:
    """Writes at the speed of SQLite (issue 28): each plan, eSIM and order keeps ``row_hash``, a digest of what
    a sync last wrote it from (the vendor's fields and payload: store/rows.py), so a row that comes back
    unchanged is not written again, only confirmed (``last_seen``). NULL: not known, the next sync writes the
    row once (rows already in the file, and any row another writer changed since). The triggers clear it when
    anything else (a usage check, the journal, a restore) changes what the digest stands for, so a later
    sync with the old answer writes it again rather than trusting a digest of values no longer there."""
    watched = {
        "plans": ("name", "countries", "data_mb", "validity_days", "price", "currency", "daily", "topup", "region",
                  "raw", "coverage_name", "search_text"),
        "esims": ("order_id", "plan_id", "status", "vendor_status", "activation_code", "data_used_mb",
                  "data_total_mb", "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref", "raw",
                  "data_remaining_mb", "device_name", "device_imei"),
        "orders": ("order_id", "reference", "kind", "status", "created_at", "total", "currency", "raw"),
    }
    sql = []
    for table, cols in watched.items():
        olds, news = ", ".join(f"old.{c}" for c in cols), ", ".join(f"new.{c}" for c in cols)
        sql += [
            f"ALTER TABLE {table} ADD COLUMN row_hash BLOB;",
            # Only a change of value by a writer that left the digest as it was: a sync sets a new digest.
            f"""CREATE TRIGGER {table}_row_hash AFTER UPDATE OF {', '.join(cols)} ON {table}
                WHEN new.row_hash IS NOT NULL AND new.row_hash IS old.row_hash AND ({news}) IS NOT ({olds})
                BEGIN UPDATE {table} SET row_hash = NULL WHERE rowid = new.rowid; END;""",
        ]
    return "\n".join(sql)


def _v15() -> str:
    """Handing the eSIM over by e-mail (issue 30). Each sending is journaled like an order: recorded PENDING
    (durably) before the SMTP server is reached, ``attempts`` counted when the message itself is handed over
    (DATA), then SENT (the server's answer and our Message-ID kept), FAILED (refused before the message was
    handed over: nothing sent) or UNCERTAIN (the line dropped after DATA: the customer may have it; only the
    agent's word sends again). One unfinished sending per eSIM or order at a time, refused by the file itself,
    so a double click or a second window cannot send twice. ``customer_contacts``: the customer's address and
    language kept on an eSIM or an order (``kind`` 'esim' or 'order', ``ref`` its ICCID or order id), offered
    the next time. Both live in this desk's file only, like support actions."""
    return """
        CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            vendor TEXT NOT NULL,
            ref TEXT NOT NULL,
            iccids TEXT NOT NULL,
            to_address TEXT NOT NULL,
            language TEXT NOT NULL,
            state TEXT NOT NULL,
            desk_id TEXT NOT NULL,
            agent TEXT,
            message_id TEXT NOT NULL,
            subject TEXT,
            server TEXT,
            smtp_reply TEXT,
            last_error TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            lease_owner TEXT,
            lease_until REAL
        );
        CREATE INDEX deliveries_target ON deliveries (vendor, kind, ref);
        CREATE TABLE delivery_events (
            delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
            at TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            cause TEXT NOT NULL
        );
        CREATE INDEX delivery_events_by_delivery ON delivery_events (delivery_id);
        CREATE TABLE customer_contacts (
            vendor TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            email TEXT NOT NULL,
            language TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (vendor, kind, ref)
        );
        CREATE TRIGGER deliveries_one_at_a_time BEFORE INSERT ON deliveries
        WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.vendor = new.vendor AND d.kind = new.kind
                     AND d.ref = new.ref AND d.state = 'PENDING')
        BEGIN
            SELECT RAISE(ABORT, 'another sending of this eSIM or order is in progress');
        END;
    """


def _v16() -> str:
    """Roamify refund requests (issue 30): Roamify support decides each one (PENDING, PROCESSING, then REFUNDED
    or REJECTED with its reason; CANCELLED when withdrawn). The request itself is sent as a journaled support
    action (esim_actions, action 'refund'); this table keeps each request as Roamify last showed it, so the
    window and ``esimdesk refunds`` list them offline."""
    return """
        CREATE TABLE refund_requests (
            vendor TEXT NOT NULL,
            refund_id TEXT NOT NULL,
            iccid TEXT NOT NULL,
            esim_id TEXT,
            status TEXT NOT NULL,
            reason TEXT,
            rejection_reason TEXT,
            amount TEXT,
            currency TEXT,
            created_at TEXT,
            updated_at TEXT,
            checked_at TEXT NOT NULL,
            desk_id TEXT,
            PRIMARY KEY (vendor, refund_id)
        );
        CREATE INDEX refund_requests_by_esim ON refund_requests (vendor, iccid);
    """


def _v17(conn: sqlite3.Connection) -> str:
    """Narrow eSIM rows (issue 28): each eSIM's vendor payload moves out of its row into ``esim_payloads`` (by
    the row's rowid, which the full-text index already relies on). Nothing in the app reads it (it is kept for
    support, and its digest is in ``row_hash``); in the row it made each row ~1.5 KB, so a sync's confirmation
    (``last_seen``) or a usage figure rewrote 2-3 rows' page for each row: 100,000 confirmations took 0.95 s
    in the fat rows and 0.37 s in the narrow ones, and the table went from 125,000 pages to 38,000.

    The table is built anew (rowids kept) rather than its column dropped: rows shrunk in place leave their
    pages as they were, and the writes stay as slow. Its indexes and triggers are those the file has now
    (a first sync's bulk load may have set some aside: it builds them itself), the digest's trigger without
    the payload: only a sync writes a payload, with the row's new digest."""
    return _payload_apart(conn, "esims", "esim_payloads", "esim", "eSIM", (
        "order_id", "plan_id", "status", "vendor_status", "activation_code", "data_used_mb", "data_total_mb",
        "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref", "data_remaining_mb", "device_name",
        "device_imei"))


def _payload_apart(conn: sqlite3.Connection, table: str, payloads: str, key: str, what: str,
                   watched: tuple[str, ...]) -> str:
    """The statements that move ``table``'s ``raw`` column into ``payloads`` (``key``: the row's rowid, ``raw``) and
    build ``table`` anew without it, rowids kept: its indexes and triggers those the file has now, the digest's
    trigger watching ``watched`` (its columns without the payload), and a trigger that takes a deleted row's payload
    along; the planner's statistics of the table and its indexes kept (dropping the table drops them, and without
    them a Catalog header click sorted every plan through the wrong index until a sync's ANALYZE). ``what``: the
    table's rows in words, for the message when the table is not one this esimdesk made."""
    create = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]
    if not create.startswith(f"CREATE TABLE {table} (") or create.count("raw TEXT, ") != 1:
        raise ConfigError(f"the data file's {what} table is not one this esimdesk made; it was left as it is")
    cols = ", ".join(r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "raw")
    objects = [sql for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') "
        "AND sql IS NOT NULL ORDER BY rowid", (table,)) if name != f"{table}_row_hash"]
    olds, news = ", ".join(f"old.{c}" for c in watched), ", ".join(f"new.{c}" for c in watched)
    stats = [name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE name IN ('sqlite_stat1', 'sqlite_stat4') ORDER BY name")]
    return "\n".join([
        *(f"CREATE TEMP TABLE kept_{st} AS SELECT * FROM {st} WHERE tbl = '{table}';" for st in stats),
        f"CREATE TABLE {payloads} ({key} INTEGER PRIMARY KEY, raw TEXT NOT NULL);",
        f"INSERT INTO {payloads} ({key}, raw) SELECT rowid, raw FROM {table} WHERE raw IS NOT NULL;",
        create.replace(f"CREATE TABLE {table} (", f"CREATE TABLE {table}_new (", 1).replace("raw TEXT, ", "", 1) + ";",
        f"INSERT INTO {table}_new (rowid, {cols}) SELECT rowid, {cols} FROM {table} ORDER BY rowid;",
        f"DROP TABLE {table};",
        # Legacy: other objects name the table (gone between the two statements); a rename would check them.
        "PRAGMA legacy_alter_table = ON;",
        f"ALTER TABLE {table}_new RENAME TO {table};",
        "PRAGMA legacy_alter_table = OFF;",
        *(sql + ";" for sql in objects),
        f"""CREATE TRIGGER {table}_row_hash AFTER UPDATE OF {', '.join(watched)} ON {table}
            WHEN new.row_hash IS NOT NULL AND new.row_hash IS old.row_hash AND ({news}) IS NOT ({olds})
            BEGIN UPDATE {table} SET row_hash = NULL WHERE rowid = new.rowid; END;""",
        f"CREATE TRIGGER {table}_payload_gone AFTER DELETE ON {table} "
        f"BEGIN DELETE FROM {payloads} WHERE {key} = old.rowid; END;",
        *(f"INSERT INTO {st} SELECT * FROM kept_{st}; DROP TABLE kept_{st};" for st in stats),
    ])


def _v18() -> str:
    """The refresh's planning (store/refresh.py ``esims_due``) reads what it ranks by from one index (issue 28).
    It counts a vendor's due eSIMs and takes the first of them in order, twice a sync; through the primary key
    each of the vendor's rows was a look-up in the table: 1.3 s at 300,000 eSIMs a vendor, 0.13 s from this
    index. This step made it led by the status and the refresh time, which scattered a sync's changed rows over
    its pages; _v19 makes it in listing order. This step now builds nothing: a file updated past it would build
    the index here and again in _v19 (1.5 s at 773,000 eSIMs); one already at 18 has _v19 drop the old one. A
    sync's confirmation sets none of its columns (store/sqlite_store.py sets ``stale`` only on rows listed
    again)."""
    return ""


def _v19() -> str:
    """The refresh planning's index (see _v18) in the order the listings give eSIMs: by order, not by ICCID. A changed
    usage figure rewrites the eSIM's entry in it (the tier reads the figures), and Roumio lists its eSIMs order
    after order, their ICCIDs all over the range: in ICCID order one page of its listing (500 eSIMs, 35 % of them
    with a changed figure) rewrote 176 pages of this index, 642 pages in all; led by the order id (time-stamped at
    Roumio: B + yyMMddHHmm…), 14, 492-509 in all (measured on a 773,702-eSIM file, the log's frames mapped to what
    they hold). The planning still reads it whole for a vendor (0.14-0.19 s at 300,000, 0.13-0.19 s before). A first
    sync's bulk load that had set the old one aside finds this one made and builds none (bulk_load.py: IF NOT
    EXISTS)."""
    return """
        DROP INDEX IF EXISTS esims_due;
        CREATE INDEX esims_due ON esims (vendor, order_id, iccid, stale, status, refreshed_at, expires_at,
                                         data_used_mb, data_total_mb);
    """


def _v20(conn: sqlite3.Connection) -> str:
    """Narrow plan rows (issue 28), as _v17 made the eSIMs': each plan's vendor payload moves out of its row into
    ``plan_payloads`` (by the row's rowid, which the full-text index relies on too). Only a plan's details read it
    (``plan_raw``, one plan at a time); in the row it was 590 of a plan's 950 bytes, and each of the catalog's
    sort indexes is built by reading every row (a first sync builds thirteen): 150,000 plans wrote 142 MB of rows,
    and their load and index builds took 0.6 s longer than with the payload apart.

    The table is built anew (rowids kept), its indexes and triggers those the file has now (a first sync's bulk
    load may have set some aside: it builds them itself), the digest's trigger without the payload: only a sync
    writes a payload, with the row's new digest."""
    return _payload_apart(conn, "plans", "plan_payloads", "plan", "plan", (
        "name", "countries", "data_mb", "validity_days", "price", "currency", "daily", "topup", "region",
        "coverage_name", "search_text"))


MIGRATIONS: list[Callable[..., str]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11, _v12, _v13, _v14,
                                        _v15, _v16, _v17, _v18, _v19, _v20]
# Steps that read the file to write their statements (what it holds now), given its connection.
_READ_THE_FILE = frozenset({_v17, _v20})
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring the file to ``target``; each step and its version bump commit together or not at all."""
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > LATEST:
        raise ConfigError(f"the data file is from a newer esimdesk (schema {current}, this one knows {LATEST})")
    for version in range(current + 1, target + 1):
        # One script, one transaction: executescript would commit a transaction opened outside it.
        try:
            step = MIGRATIONS[version - 1]
            sql = step(conn) if step in _READ_THE_FILE else step()
            conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return target
