"""The window's tables as SQL: a whole filtered, sorted result as its count, then pages by position.

The window never materialises a listing. A table asks for the result's row count and the first page;
then only the pages the view shows are read (``LIMIT``/``OFFSET`` over the sort column's index) and
turned into domain objects. At 190,000 eSIMs a keystroke or a header click costs a count over an index
and one page, not a pass over every matching row.

Sort keys are names the view uses ("expires", "price"); each maps to one SQL expression with an index
(migration v4). Rows without a value (no expiry, unlimited data) come last in either direction: they
are listed by a second query after the rows that have one, so both parts walk an index.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from esimdesk.domain import ListingQuery
from esimdesk.store import rows as R

# sort key -> SQL expression, per table. Every expression here has an index (migrations._v4).
SORTS: dict[str, dict[str, str]] = {
    "plans": {
        "vendor": "p.vendor", "name": "p.name", "countries": "p.countries", "data": "p.data_mb",
        "days": "p.validity_days", "plan_id": "p.plan_id",
        # In the agent's currency (migration v11: the price at the rates in force); at one price, the plan
        # giving more days, then more data, first. A currency without a rate: after every converted price.
        "price": "p.price_conv, p.validity_days DESC, p.total_mb DESC",
        "per_gb": "p.per_gb_conv",  # likewise; unlimited plans (no price per GB) last
    },
    "orders": {
        "created": "o.created_at", "vendor": "o.vendor", "status": "o.status", "order_id": "o.order_id",
        "reference": "o.reference", "total": "o.currency, CAST(o.total AS REAL)",
    },
    "esims": {
        "vendor": "e.vendor", "iccid": "e.iccid", "status": "e.status", "used": "e.data_used_mb",
        "total": "e.data_total_mb", "expires": "e.expires_at", "order_id": "e.order_id",
        "vendor_status": "e.vendor_status", "note": "e.note",
    },
}
# Sort keys whose column may be empty (NULL): only these have a second part, "rows without a value".
NULLABLE = {"plans": {"data", "per_gb", "price"}, "orders": {"order_id", "reference", "total"},
            "esims": {"used", "total", "expires", "order_id", "note"}}
# Where "has a value" is tested on another column, empty exactly where the sort column is, that every index
# of the table carries (a count of the plans without a price per GB then reads no rows: 158 ms → 3 ms).
NULL_TEST: dict[tuple[str, str], str] = {("plans", "price"): "p.price_conv"}
# Mostly empty, with a partial index of the rows that have one: counted by those, not by the empty ones.
SPARSE = {"esims": {"note"}}
ALIAS = {"plans": "p", "orders": "o", "esims": "e"}


class _Parts(NamedTuple):
    """A listing's SQL: every matching row; those with a sort value, and the order; those without."""

    every: str
    with_value: str
    order: str
    without: str | None
    params: list[Any]
    alias: str
    with_params: list[Any]  # ``with_value`` may bound the sort column further (``_sort_floor``)
    without_order: str = ""  # how the rows without a value are listed ("" = as the file holds them)


class TextFinds(NamedTuple):
    """What a text typed to go to an eSIM or order finds in the store (``text_finds``)."""

    order: bool  # an order whose id or reference it is
    iccid: bool  # an eSIM whose ICCID it is, or ends in (4 digits or more)
    order_start: bool  # an order whose id starts with it (digits)


class ListingHead(NamedTuple):
    """A result's first rows, read before it is counted (``listing_head``)."""

    rows: list[tuple[int, Any]]  # (rowid, domain object)
    total: int | None  # rows in the result, when the rows read show it; else it must be counted
    split: int | None  # rows with a sort value, likewise
    split_is_total: bool  # the order's column is never empty: every row has a value


class ListingsMixin:
    """Mixed into SqliteStore: uses its per-thread ``conn`` and its search clauses.

    A listing is read as its count and then pages by position (``LIMIT``/``OFFSET`` over the sort index):
    a keystroke or a header click costs a count and one page, not a pass over every matching row. The
    order is in two parts: rows that have a value in the sort column, in index order, then those that
    have none (``split`` is the size of the first part)."""

    def _parts(self, q: ListingQuery, walk: bool = True) -> _Parts | None:
        """``walk``: rows are read in order (see ``_esims_filter``); False for a count, where order is moot.
        Every read of a result's rows (first page, later pages, finding a row) uses one form, so rows that
        tie in the sort column come in one order whichever read it is."""
        table, a = q.table, ALIAS[q.table]
        where, params, source, head = self._listing_filter(q, walk)
        if where is None:
            return None
        key = self._sort_key(q)
        exprs = [e.strip() for e in SORTS[table][key].split(",")]
        desc = " DESC" if q.descending else ""
        order_by = ", ".join(_direction(e, q.descending) for e in exprs)
        if table == "plans" and _read_by_list(q, walk):
            order_by += f", p.rowid{desc}"
        last = NULL_TEST.get((table, key), exprs[-1].removesuffix(" DESC"))
        every = f"FROM {source}" + (" WHERE " + " AND ".join(where) if where else "")
        converted = table == "plans" and key in ("price", "per_gb") and self._every_plan_converted()
        if converted and key == "per_gb":
            # Every currency has a rate: a plan lacks a converted price per GB exactly where it lacks a total
            # (unlimited), which every plan index carries (the rows without a value counted from the index).
            last = "p.total_mb"
        if key not in NULLABLE[table] or (converted and key == "price"):
            return _Parts(every, every, f" ORDER BY {order_by}", None, [*head, *params], a, [*head, *params])
        joiner = " AND " if where else " WHERE "
        if table == "plans" and key == "per_gb" and q.kind == "unlimited":
            # No unlimited plan has a price per GB: the rows with a value are none, known without a walk.
            return _Parts(every, f"{every}{joiner}0", f" ORDER BY {order_by}", every, [*head, *params], a,
                          [*head, *params])
        # With a filter, "+" keeps SQLite off the sort index for the empty part (it would read every row
        # without a value to test the filter there); without one, that index finds them.
        empty = f"+{last} IS NULL" if where else f"{last} IS NULL"
        floor, floor_params = _sort_floor(q, key)
        # A plan whose currency has no rate has no converted price: those come after, each currency's by
        # its own price (a few plans, sorted; they have no index of their own).
        without_order = {
            "price": f" ORDER BY p.currency, p.price_sort{desc}, p.rowid",
            "per_gb": f" ORDER BY p.price_per_gb_sort IS NULL, p.currency, p.price_per_gb_sort{desc}, p.rowid",
        }.get(key, "") if table == "plans" and not converted else ""
        return _Parts(every, f"{every}{joiner}{last} IS NOT NULL{floor}", f" ORDER BY {order_by}",
                      f"{every}{joiner}{empty}", [*head, *params], a, [*head, *params, *floor_params], without_order)

    def _every_plan_converted(self) -> bool:
        """No live plan lacks a converted price (every currency has a rate: the usual case). One seek on the
        price index; then the price order has no "without a value" part to count (a count over a filter's
        own index that read every matching row's price: 120 ms a filter click at 150,000 plans)."""
        return self.conn.execute(f"SELECT 1 FROM plans{self._indexed_by('plans_sort_price')} WHERE stale = 0 AND "
                                 "price_conv IS NULL LIMIT 1").fetchone() is None

    def _indexed_by(self, index: str) -> str:
        """The clause naming ``index`` for a query (INDEXED BY), or nothing while a first sync's load has set the
        index aside (store/bulk_load.py): a query naming a missing index fails, and without it the same rows
        come, only slower. The file's index names are read again only when its schema changed (its version: a
        read of the file's header)."""
        version = self.conn.execute("PRAGMA schema_version").fetchone()[0]
        known = getattr(self, "_index_names", None)
        if known is None or known[0] != version:
            known = self._index_names = (version, frozenset(
                r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")))
        return f" INDEXED BY {index}" if index in known[1] else ""

    @staticmethod
    def _sort_key(q: ListingQuery) -> str:
        return q.sort if q.sort in SORTS[q.table] else _DEFAULT_SORT[q.table]

    def listing_count(self, q: ListingQuery, total: int | None = None) -> tuple[int, int]:
        """(rows in the result, rows of it that have a value in the sort column). ``total``: the result's
        count already known (the same filter in another order), so only the rows without a value are."""
        parts = self._parts(q, walk=False)
        if parts is None:
            return 0, 0
        n = total if total is not None else self.conn.execute(f"SELECT count(*) {parts.every}",
                                                              parts.params).fetchone()[0]
        if parts.without is None:
            return n, n
        if self._sort_key(q) in SPARSE.get(q.table, ()):
            return n, self.conn.execute(f"SELECT count(*) {parts.with_value}", parts.with_params).fetchone()[0]
        # "All" minus "without a value": SQLite would count "IS NOT NULL" by reading the whole table.
        empty = self.conn.execute(f"SELECT count(*) {parts.without}", parts.params).fetchone()[0]
        return n, n - empty

    def listing_page(self, q: ListingQuery, split: int, offset: int, limit: int) -> list[tuple[int, Any]]:
        """Rows ``offset`` to ``offset + limit`` of the result, as (rowid, domain object)."""
        parts = self._parts(q)
        if parts is None or limit <= 0:
            return []
        keys = self._keys(parts, split, offset, limit)
        items = self.listing_items(q.table, keys)
        return [(k, items[k]) for k in keys if k in items]

    def listing_head(self, q: ListingQuery, limit: int) -> ListingHead:
        """The result's first ``limit`` rows without counting it first. Its total and split are known only
        when the rows read show them (a result of at most ``limit`` rows, or one whose rows with a sort
        value end within them); else None, to be counted after the rows are shown. A keystroke's rows
        then cost one short index walk, not a count over every matching row."""
        parts = self._parts(q)
        if parts is None:
            return ListingHead([], 0, 0, True)
        _every, with_value, order, without, params, a, with_params, without_order = parts
        keys = self._rowids(f"SELECT {a}.rowid {with_value}{order} LIMIT ?", [*with_params, limit + 1])
        total = split = None
        if len(keys) <= limit:
            split = len(keys)
            if without is not None:
                keys += self._rowids(f"SELECT {a}.rowid {without}{without_order} LIMIT ?",
                                     [*params, limit + 1 - len(keys)])
            if len(keys) <= limit:
                total = len(keys)
        keys = keys[:limit]
        items = self.listing_items(q.table, keys)
        return ListingHead([(k, items[k]) for k in keys if k in items], total, split, without is None)

    def _keys(self, parts: _Parts, split: int, offset: int, limit: int) -> list[int]:
        _every, with_value, order, without, params, a, with_params, without_order = parts
        keys: list[int] = []
        if offset < split:
            keys += self._rowids(f"SELECT {a}.rowid {with_value}{order} LIMIT ? OFFSET ?",
                                 [*with_params, limit, offset])
        rest = limit - len(keys)
        if rest > 0 and without is not None:
            keys += self._rowids(f"SELECT {a}.rowid {without}{without_order} LIMIT ? OFFSET ?",
                                 [*params, rest, max(0, offset - split)])
        return keys

    def listing_find(self, q: ListingQuery, split: int, rowid: int, near: int = 0) -> int:
        """The position of ``rowid`` in the result, or -1: first in the pages around ``near`` (after a sync
        it has seldom moved far), else by one pass over the result's ids (off the GUI thread, seldom)."""
        parts = self._parts(q)
        if parts is None:
            return -1
        start = max(0, near - 400)
        window = self._keys(parts, split, start, 800)
        if rowid in window:
            return start + window.index(rowid)
        try:
            return self.listing_ids(q).index(rowid)
        except ValueError:
            return -1

    def cheapest_per_vendor(self, q: ListingQuery, vendors: Iterable[str]) -> list[tuple[int, Any]]:
        """In the country ``q`` names, each vendor's cheapest plan in each of its currencies among the plans
        ``q`` matches (its order is moot), as (rowid, Plan), by vendor; none without a country. Per vendor:
        its currencies by skipping along an index (one seek each), then per currency the lowest price among
        its plans of the country's lists (index seeks per list, filters tested in the index: migration v9),
        so the cost is bounded by one country's plans, never the catalog."""
        if not q.country:
            return []
        where, params, _source, _head = self._plans_filter(replace(q, vendor=None))
        found: list[int] = []
        for vendor in ([q.vendor] if q.vendor else vendors):
            for currency in self.vendor_currencies(vendor):
                # min() with a bare column: the row of the lowest price (SQLite's documented behaviour).
                hit = self.conn.execute(
                    f"SELECT p.rowid, min(p.price_sort) FROM plans p{self._indexed_by('plans_vendor_cheapest')} "
                    f"WHERE p.vendor = ? AND p.currency = ? AND {' AND '.join(where)}",
                    [vendor, currency, *params]).fetchone()
                if hit is not None and hit[0] is not None:
                    found.append(hit[0])
        items = self.listing_items("plans", found)
        return [(k, items[k]) for k in found if k in items]

    def vendor_currencies(self, vendor: str) -> list[str]:
        """The currencies ``vendor``'s catalog prices in: a skip along its (vendor, stale, currency) index,
        one seek per currency, never a pass over its plans."""
        out: list[str] = []
        while True:
            row = self.conn.execute(f"SELECT currency FROM plans{self._indexed_by('plans_vendor_cheapest')} WHERE vendor = ? "
                                    "AND stale = 0 AND currency > ? ORDER BY currency LIMIT 1",
                                    (vendor, out[-1] if out else "")).fetchone()
            if row is None:
                return out
            out.append(row[0])

    def _rowids(self, sql: str, params: list[Any]) -> list[int]:
        return [r[0] for r in self.conn.execute(sql, params).fetchall()]

    def listing_ids(self, query: ListingQuery) -> list[int]:
        """Every matching row's rowid, in the order shown: a pass over the whole result, for the seldom case
        of a selected row far from where it was (the window otherwise reads pages)."""
        parts = self._parts(query)
        if parts is None:
            return []
        _every, with_value, order, without, params, a, with_params, without_order = parts
        ids = self._rowids(f"SELECT {a}.rowid {with_value}{order}", with_params)
        return ids + (self._rowids(f"SELECT {a}.rowid {without}{without_order}", params) if without is not None else [])

    def listing_items(self, table: str, rowids: Iterable[int]) -> dict[int, Any]:
        """Domain objects (Plan, Esim, Order with its lines and eSIMs) for these rowids, by rowid."""
        ids = list(dict.fromkeys(rowids))
        if not ids:
            return {}
        out: dict[int, Any] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            if table == "plans":
                for r in self._all(f"SELECT p.rowid AS _rowid, {R.PLAN_COLS} FROM plans p WHERE p.rowid IN ({marks})",
                                   chunk):
                    out[r["_rowid"]] = R.row_plan(r)
            elif table == "esims":
                for r in self._all(f"SELECT e.rowid AS _rowid, {R.ESIM_COLS} FROM esims e WHERE e.rowid IN ({marks})",
                                   chunk):
                    out[r["_rowid"]] = R.row_esim(r)
            else:
                rows = self._all(f"SELECT {R.ORDER_COLS} FROM orders o WHERE o.id IN ({marks})", chunk)
                for r, order in zip(rows, self._hydrate_orders(rows), strict=True):
                    out[r["id"]] = order
        return out

    # --- filters ---------------------------------------------------------------------------------
    def _listing_filter(self, q: ListingQuery, walk: bool) -> tuple[list[str] | None, list[Any], str, list[Any]]:
        """(where clauses, their params, FROM source, params of the source); where None = nothing matches."""
        if q.table == "plans":
            return self._plans_filter(q, walk)
        if q.table == "esims":
            return self._esims_filter(q, walk)
        return self._orders_filter(q, walk)

    def _plans_filter(self, q: ListingQuery, walk: bool = True):
        where: list[str] = ["p.stale = 0"]
        params: list[Any] = []
        if q.country:
            where.append("p.list_id IN (SELECT list_id FROM coverage WHERE country = ?)")
            params.append(q.country.upper())
        if q.vendor:
            where.append("p.vendor = ?")
            params.append(q.vendor)
        clauses, args = _plan_kind_clauses(q, walk)
        where += clauses
        params += args
        source = "plans p" + (self._indexed_by("plans_by_list") if _read_by_list(q, walk) else "")
        text = q.text.strip()
        if text and " " not in text:
            # A pasted plan id finds exactly that plan (ids are not in the text index).
            hit = self.conn.execute("SELECT 1 FROM plans p WHERE p.plan_id = ? AND " + " AND ".join(where),
                                    [text, *params]).fetchone()
            if hit:
                return [*where, "p.plan_id = ?"], [*params, text], "plans p", []
        if text:
            clause, args = self._text_clause("plans", "p", text)
            where.append(clause)
            params.extend(args)
        return where, params, source, []

    def _esims_filter(self, q: ListingQuery, walk: bool):
        where: list[str] = []
        params: list[Any] = []
        for col, val in (("vendor", q.vendor), ("status", q.status)):
            if val:
                where.append(f"e.{col} = ?")
                params.append(val)
        text = q.text.strip()
        digits = text.replace(" ", "")
        if walk and digits.isdigit() and len(digits) == 1:
            # One last digit is a tenth of the fleet (29,000 eSIMs here). Read in order, walking the sort
            # column's index and testing each row finds a page of them in ~1,000 rows (~3 ms), where reading
            # them by the ICCID index and sorting them all took 12-150 ms; "+" keeps SQLite off that index.
            # Counting them stays on it (``walk`` False: a walk of every row would take ~200 ms).
            where.append("((+e.iccid_rev >= ? AND +e.iccid_rev < ?) OR +e.order_id = ?)")
            params.extend([*R.suffix_range(digits), digits])
        elif text:
            clause, args = self._text_clause("esims", "e", q.text)
            where.append(clause)
            params.extend(args)
        quick, args = _quick_filters(q, walk)
        return [*where, *quick], [*params, *args], "esims e", []

    def _orders_filter(self, q: ListingQuery, walk: bool = True):
        """As ``orders()`` searches: a whole order id or reference, then an ICCID's last digits, then words.
        Digits that are neither are the start of an order id, else a part of one (``_order_digits``): never
        the words' index, whose hits for a few digits (100,000 orders share "202401") cost 100-240 ms."""
        where: list[str] = []
        params: list[Any] = []
        if q.vendor:
            where.append("o.vendor = ?")
            params.append(q.vendor)
        text = q.text.strip()
        if not text:
            return where, params, "orders o", []
        tries: list[tuple[str, list[Any]]] = [(R.ORDER_NAMED, [text] * 3)]
        digits = text.replace(" ", "")
        if digits.isdigit() and len(digits) >= 4:
            tries.append(("o.order_id IN (SELECT order_id FROM esims WHERE iccid_rev >= ? AND iccid_rev < ?)",
                          list(R.suffix_range(digits))))
        for clause, args in tries:
            probe = f"SELECT 1 FROM orders o WHERE {' AND '.join([*where, clause])} LIMIT 1"
            if self.conn.execute(probe, [*params, *args]).fetchone():
                return [*where, clause], [*params, *args], "orders o", []
        if digits.isdigit():
            return self._order_digits(q, where, params, digits, walk)
        clause, args = self._order_text_clause(text)
        return [*where, clause], [*params, *args], "orders o", []

    def text_finds(self, text: str) -> TextFinds:
        """Whether ``text`` is an order's id or reference, an ICCID or its last digits, the start of an order id:
        one index seek each, as the Orders and Fleet searches read it."""
        text = text.strip()
        digits = text.replace(" ", "")
        if not text:
            return TextFinds(False, False, False)
        seek = self.conn.execute
        order = seek(f"SELECT 1 FROM orders o WHERE {R.ORDER_NAMED} LIMIT 1", [text] * 3).fetchone()
        iccid = start = None
        if digits.isdigit():
            if len(digits) >= 4:
                iccid = seek("SELECT 1 FROM esims WHERE iccid_rev >= ? AND iccid_rev < ? LIMIT 1",
                             R.suffix_range(digits)).fetchone()
            start = seek("SELECT 1 FROM orders WHERE order_id >= ? AND order_id < ? LIMIT 1",
                         (digits, digits[:-1] + chr(ord(digits[-1]) + 1))).fetchone()
        return TextFinds(order is not None, iccid is not None, start is not None)

    def _order_digits(self, q: ListingQuery, where: list[str], params: list[Any], digits: str, walk: bool):
        """Digits typed in Orders that are no whole order id and no ICCID's end: the orders whose id starts with
        them (an order id being typed), else those whose id, reference or plans hold them.

        Each costs an index range or one pass over an index, never the words' index: a few digits are in
        100,000 orders' ids. Few orders whose id starts with them (under ``FEW_BY_ID``) are read by the order
        id's index and sorted; more are met often enough in a walk of the shown order's index, tested on the
        way (in the index itself in the default order: its ``search_text`` starts with the order id). Counted
        through the order id's index. Digits in no id's start: a pass over the default order's index, testing
        each order's text in it (~25 ms at 160,000 orders)."""
        lo, hi = digits, digits[:-1] + chr(ord(digits[-1]) + 1)
        found = self.conn.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM orders o WHERE {' AND '.join([*where, 'o.order_id >= ? AND o.order_id < ?'])} "
            "LIMIT ?)", [*params, lo, hi, FEW_BY_ID]).fetchone()[0]
        key = self._sort_key(q)
        default_order = key == "created"
        if found:
            if not walk or key == "order_id":  # a count, or the order id's own order: its index range
                return [*where, "o.order_id >= ? AND o.order_id < ?"], [*params, lo, hi], "orders o", []
            if found < FEW_BY_ID:
                return ([*where, "o.id IN (SELECT id FROM orders WHERE order_id >= ? AND order_id < ?)"],
                        [*params, lo, hi], "orders o", [])
            tests = "+o.order_id >= ? AND +o.order_id < ?"
            if default_order:
                # In the index first (no row read), then the row's order id (the same, read for the matches only).
                return ([*where, f"+o.search_text >= ? AND +o.search_text < ? AND {tests}"], [*params, lo, hi, lo, hi],
                        "orders o" + self._indexed_by("orders_sort_created"), [])
            return [*where, tests], [*params, lo, hi], "orders o", []
        like = f"%{digits}%"  # digits only: nothing to escape
        if default_order or not walk:
            return ([*where, "+o.search_text LIKE ?"], [*params, like], "orders o" + self._indexed_by("orders_sort_created"),
                    [])
        # Another order: the matches found by that pass, then sorted (its own index has no text to test).
        return ([*where, f"o.id IN (SELECT id FROM orders{self._indexed_by('orders_sort_created')} "
                         "WHERE +search_text LIKE ?)"],
                [*params, like], "orders o", [])


# Orders whose id starts with the digits typed, read by the order id's index and sorted when fewer than this
# (~3 ms); more are found by walking the shown order's index (at least one in 30 of 160,000 is one).
FEW_BY_ID = 5000


def _direction(expr: str, descending: bool) -> str:
    """One ORDER BY term in the listing's direction; a term declared DESC (a tie-break) flips with it."""
    base, own = (expr[:-5], True) if expr.endswith(" DESC") else (expr, False)
    return f"{base} DESC" if own != descending else base


def _read_by_list(q: ListingQuery, walk: bool) -> bool:
    """A country and what its plans give, read in the shown order: its plans by their lists (at most ~10,000)
    and the matches sorted, rowid breaking ties (a page read with another LIMIT/OFFSET could show a tied row
    twice and another never). The walk in the shown order would pass over most of the catalog to find a few
    hundred."""
    return walk and bool(q.country) and bool(_plan_kind_clauses(q, walk)[0])


def _plan_kind_clauses(q: ListingQuery, walk: bool = True) -> tuple[list[str], list[Any]]:
    """The Catalog's filters on what a plan gives. Each tests a column that the sort indexes carry (migration
    v9), so a walk in the shown order tests them in the index, without reading a plan's row. ``walk``: "+"
    keeps SQLite on the sort index (it would read every plan of 1-3 days by their own index, then sort
    them: 170 ms where the walk takes 3); a count (no order) may use any index."""
    where: list[str] = []
    params: list[Any] = []
    p = "+p" if walk else "p"
    if q.min_data_mb:
        where.append(f"({p}.total_mb >= ? OR {p}.total_mb IS NULL)")  # an unlimited plan has at least that much
        params.append(int(q.min_data_mb))
    if q.min_days is not None:
        where.append(f"{p}.validity_days >= ?")
        params.append(int(q.min_days))
    if q.max_days is not None:
        where.append(f"{p}.validity_days <= ?")
        params.append(int(q.max_days))
    if q.kind == "unlimited":
        # Counted through the data order's index (total_mb is NULL exactly where data_mb is).
        where.append("+p.total_mb IS NULL" if walk else "p.data_mb IS NULL")
    elif q.kind == "daily":
        where.append(f"{p}.daily = 1")
    elif q.kind == "fixed":
        where.append(f"{p}.daily = 0 AND {p}.total_mb IS NOT NULL")
    if q.topup_only:
        where.append(f"{p}.topup = 1")
    return where, params


_DEFAULT_SORT: dict[str, str] = {"plans": "price", "orders": "created", "esims": "expires"}

# Statuses in which an eSIM is on a device and can still be used (the "Active" quick filter).
LIVE_STATUSES = ("INSTALLED", "ACTIVE")


def _as_of(q: ListingQuery) -> datetime:
    return (q.as_of or datetime.now(UTC)).astimezone(UTC)  # set by ListingQuery whenever a filter needs it


def _sort_floor(q: ListingQuery, key: str) -> tuple[str, list[Any]]:
    """A lower bound on the sort column for the rows that have a value, where a filter implies one (Active,
    Not installed: not expired yet): in expiry order the index is walked from now, not through every eSIM
    that expired before it (20,000 at the bench's 300,000: 70 ms → 3 ms). Redundant with the filter."""
    if q.table == "esims" and key == "expires" and (q.active or q.not_installed_days is not None):
        return " AND e.expires_at >= ?", [_as_of(q).isoformat()]
    return "", []


def _quick_filters(q: ListingQuery, walk: bool) -> tuple[list[str], list[Any]]:
    """Fleet's quick filters as SQL. Read in order (``walk``), each is tested row by row while the sort
    index is walked: the first page stops after ~100 matches. Left to itself SQLite reads every match by
    the filter's own index (the statuses, the expiry window) and sorts them all (160-330 ms at 300,000
    eSIMs), so "+" keeps it off any index but the sort's; a count uses them. Times are stored as UTC ISO
    text, so text order is time order."""
    where: list[str] = []
    params: list[Any] = []
    now = _as_of(q)
    key = q.sort if q.sort in SORTS["esims"] else _DEFAULT_SORT["esims"]

    def col(name: str, sort: str) -> str:  # the column, kept off its own index while another is walked
        return f"+e.{name}" if walk and key != sort else f"e.{name}"

    status, expires, total = col("status", "status"), col("expires_at", "expires"), col("data_total_mb", "total")
    if q.not_installed_days is not None and key == "expires":
        # One status in expiry order: the (status, expires_at) index (migration v8) gives them in that order.
        status, expires = "e.status", "e.expires_at"
    if q.active:
        # Usable: a vendor may list an eSIM as in use for a while after its end.
        where.append(f"{status} IN ({','.join('?' * len(LIVE_STATUSES))}) "
                     f"AND (e.expires_at IS NULL OR {expires} >= ?)")
        params.extend([*LIVE_STATUSES, now.isoformat()])
    if q.expiring_days is not None:
        where.append(f"{expires} >= ? AND {expires} < ?")
        params.extend([now.isoformat(), (now + timedelta(days=q.expiring_days)).isoformat()])
    if q.low_data:
        # Under 10 % left of a known, limited allowance: used > 90 % of it, in integers (no float rounding).
        where.append(f"{total} > 0 AND e.data_used_mb * 10 > e.data_total_mb * 9")
    if q.not_installed_days is not None:
        # Bought = its order was placed (orders.created_at): an eSIM that names no order stored here
        # (Flexiroam's inventory, Roamify's listing) has no known purchase time and is never listed.
        # Not yet expired: past its end it can no longer be installed, and there is nobody to call.
        where.append(f"{status} = 'NEW' AND e.installed_at IS NULL AND (e.expires_at IS NULL OR {expires} >= ?) "
                     "AND EXISTS (SELECT 1 FROM orders o WHERE o.vendor = e.vendor AND o.order_id = e.order_id "
                     "AND o.created_at <= ?)")
        params.extend([now.isoformat(), (now - timedelta(days=q.not_installed_days)).isoformat()])
    return where, params


def interrupt(conn: sqlite3.Connection | None) -> None:
    """Stop the statement running on ``conn`` (from another thread): a superseded listing query."""
    if conn is not None:
        try:
            conn.interrupt()
        except sqlite3.ProgrammingError:
            pass  # already closed
