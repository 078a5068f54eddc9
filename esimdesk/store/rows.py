"""Domain objects to table rows and back. The only place that knows how values are stored."""

from __future__ import annotations

import hashlib
import json
import marshal
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from esimdesk.domain import Esim, EsimStatus, Order, OrderLine, OrderStatus, Plan, Sale, plan_total_mb
from esimdesk.domain.countries import country_name


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dec(text: str | None) -> Decimal | None:
    return Decimal(text) if text is not None else None


def dumps(raw: Any) -> str | None:
    return json.dumps(raw, separators=(",", ":"), default=str) if raw is not None else None


# What a row is written from, digested (``row_hash``, migration v14): a sync that gets the same answer again
# skips the row. Bump ROW_FORMAT when a builder below writes something else from the same answer (a new
# column, other search words): every digest then differs and the next sync writes each row once more.
ROW_FORMAT = 1
# The fields each digest covers: every field of the domain object the sync writes from (tests/store check that
# each one changes the digest). An eSIM's note is the agent's, never a vendor's: the sync does not write it.
PLAN_DIGESTED = ("vendor", "plan_id", "name", "countries", "data_mb", "validity_days", "price", "currency", "daily",
                 "topup", "region", "coverage_name")
ESIM_DIGESTED = ("vendor", "iccid", "status", "vendor_status", "order_id", "plan_id", "activation_code",
                 "data_used_mb", "data_total_mb", "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref",
                 "usage_as_of", "data_remaining_mb", "device_name", "device_imei")


def digest(values: tuple, raw: Any) -> bytes:
    """16 bytes for a row's values (str, int, float, bool, None, tuples of them) and the vendor's payload.
    marshal version 0 (no back-references, no interned-string marks: equal values give equal bytes whichever
    objects hold them) takes 100,000 eSIM payloads in 0.4 s where json.dumps takes 1.2 s; a payload marshal
    cannot take (a value JSON has no type for) goes by its repr."""
    try:
        data = marshal.dumps((ROW_FORMAT, values, raw), 0)
    except ValueError:
        data = repr((ROW_FORMAT, values, raw)).encode()
    return hashlib.blake2b(data, digest_size=16).digest()


def _instant(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()  # the same instant in any zone: iso() writes it in UTC


def plan_hash(p: Plan) -> bytes:
    return digest((p.vendor, p.plan_id, p.name, p.countries, p.data_mb, p.validity_days, str(p.price), p.currency,
                   p.daily, p.topup, p.region, p.coverage_name), p.raw)


def esim_hash(e: Esim) -> bytes:
    return digest((e.vendor, e.iccid, e.status.value, e.vendor_status, e.order_id, e.plan_id, e.activation_code,
                   e.data_used_mb, e.data_total_mb, _instant(e.expires_at), _instant(e.installed_at), e.qr_url,
                   e.install_url, e.vendor_ref, _instant(e.usage_as_of), e.data_remaining_mb, e.device_name,
                   e.device_imei), e.raw)


def order_hash(o: Order, reference: str | None) -> bytes:
    """``reference``: the one the row is written with (the journal's; None when it is kept apart). Its eSIMs
    are digested on their own rows."""
    lines = tuple((ln.plan_id, ln.quantity, None if ln.unit_price is None else str(ln.unit_price), ln.name)
                  for ln in o.lines)
    return digest((o.vendor, o.order_id, reference, o.kind, o.status.value, _instant(o.created_at),
                   None if o.total is None else str(o.total), o.currency, lines), o.raw)


def reverse(text: str) -> str:
    return text[::-1]


def suffix_range(digits: str) -> tuple[str, str]:
    """ICCIDs ending in ``digits`` as a prefix range on the reversed ICCID: an index seek, not a scan."""
    lo = reverse(digits)
    return lo, lo[:-1] + chr(ord(lo[-1]) + 1)


# Listing columns: the raw payload and index text stay on disk (they made sorting 3x slower).
PLAN_COLS = ", ".join(f"p.{c}" for c in ("vendor", "plan_id", "name", "countries", "data_mb", "validity_days", "price",
                                         "currency", "daily", "topup", "region", "coverage_name"))
ESIM_COLS = ", ".join(f"e.{c}" for c in (
    "vendor", "iccid", "order_id", "plan_id", "status", "vendor_status", "activation_code", "data_used_mb",
    "data_total_mb", "expires_at", "installed_at", "qr_url", "install_url", "vendor_ref", "note", "usage_as_of",
    "data_remaining_mb", "device_name", "device_imei", "last_seen"))
# An order named by its vendor id or reference; in team mode also by the reference another desk's agent typed
# (kept here under that desk's handle: Order.typed_reference). Three parameters, each the name; an index each.
ORDER_NAMED = ("(o.order_id = ? OR o.reference = ? "
               "OR o.reference IN (SELECT handle FROM team_journal WHERE reference = ?))")

ORDER_COLS = ", ".join(f"o.{c}" for c in (
    "id", "vendor", "order_id", "reference", "kind", "status", "created_at", "total", "currency", "sell_total",
    "sell_currency", "cost_converted", "sell_rule"))


def country_words(codes: tuple[str, ...] | list[str]) -> str:
    """Country codes and names, so "japan" and "JP" both find a plan or an eSIM."""
    return " ".join(f"{c} {country_name(c)}" for c in codes)


def plan_words(plan: Plan) -> str:
    """What free text finds a plan by. A global plan's hundred country names would make every search
    for a country return every global plan (and bloat the index): the Country filter finds those."""
    codes = plan.countries
    names = country_words(codes) if len(codes) <= 8 else " ".join(codes) if len(codes) <= 40 else ""
    # The plan id stays out: unique ids fill a trigram index with one-off terms; ids match exactly instead.
    return f"{plan.name} {plan.coverage_name or ''} {plan.region or ''} {names}"


def plan_row(plan: Plan, now: str) -> dict[str, Any]:
    total = plan_total_mb(plan)
    return {
        "vendor": plan.vendor, "plan_id": plan.plan_id, "name": plan.name, "countries": ",".join(plan.countries),
        "data_mb": plan.data_mb, "validity_days": plan.validity_days, "price": str(plan.price),
        "price_sort": float(plan.price), "total_mb": total,
        # As migration v9 fills it: only to order rows (the shown value is Decimal, domain/plans.py).
        "price_per_gb_sort": None if total is None else float(plan.price) * 1024.0 / total if total > 0 else 1e308,
        "currency": plan.currency, "daily": int(plan.daily), "topup": None if plan.topup is None else int(plan.topup),
        "region": plan.region, "coverage_name": plan.coverage_name, "raw": dumps(plan.raw), "first_seen": now, "last_seen": now, "stale": 0,
        "search_text": plan_words(plan),
    }


def row_plan(row: dict[str, Any]) -> Plan:
    return Plan(
        vendor=row["vendor"], plan_id=row["plan_id"], name=row["name"],
        countries=tuple(c for c in row["countries"].split(",") if c), data_mb=row["data_mb"],
        validity_days=row["validity_days"], price=Decimal(row["price"]), currency=row["currency"],
        daily=bool(row["daily"]), topup=None if row["topup"] is None else bool(row["topup"]), region=row["region"],
        coverage_name=row.get("coverage_name"),
    )


def esim_row(esim: Esim, now: str) -> dict[str, Any]:
    return {
        "vendor": esim.vendor, "iccid": esim.iccid, "iccid_rev": reverse(esim.iccid), "order_id": esim.order_id,
        "plan_id": esim.plan_id, "status": esim.status.value, "vendor_status": esim.vendor_status,
        "activation_code": esim.activation_code, "data_used_mb": esim.data_used_mb,
        "data_total_mb": esim.data_total_mb, "expires_at": iso(esim.expires_at), "installed_at": iso(esim.installed_at),
        "qr_url": esim.qr_url, "install_url": esim.install_url, "vendor_ref": esim.vendor_ref,
        "raw": dumps(esim.raw), "last_seen": now, "stale": 0,
        # Figures fetched now are as of now, unless the vendor said when they were true.
        "usage_as_of": iso(esim.usage_as_of) if esim.usage_as_of else (
            now if esim.data_used_mb is not None or esim.data_remaining_mb is not None else None),
        "data_remaining_mb": esim.data_remaining_mb, "device_name": esim.device_name, "device_imei": esim.device_imei,
    }


def row_esim(row: dict[str, Any]) -> Esim:
    return Esim(
        vendor=row["vendor"], iccid=row["iccid"], status=EsimStatus(row["status"]), vendor_status=row["vendor_status"],
        order_id=row["order_id"], plan_id=row["plan_id"], activation_code=row["activation_code"],
        data_used_mb=row["data_used_mb"], data_total_mb=row["data_total_mb"], expires_at=from_iso(row["expires_at"]),
        installed_at=from_iso(row["installed_at"]), qr_url=row["qr_url"], install_url=row["install_url"],
        vendor_ref=row["vendor_ref"], note=row.get("note"), usage_as_of=from_iso(row.get("usage_as_of")),
        data_remaining_mb=row.get("data_remaining_mb"), device_name=row.get("device_name"),
        device_imei=row.get("device_imei"), seen_at=from_iso(row.get("last_seen")),
    )


def order_row(order: Order, now: str) -> dict[str, Any]:
    plans = " ".join(f"{line.plan_id} {line.name or ''}" for line in order.lines)
    return {
        "vendor": order.vendor, "order_id": order.order_id, "reference": order.reference, "kind": order.kind,
        "status": order.status.value, "created_at": iso(order.created_at),
        "total": str(order.total) if order.total is not None else None, "currency": order.currency,
        "raw": dumps(order.raw), "last_seen": now, "stale": 0,
        # ICCIDs are found through the eSIMs' reversed-ICCID index, not this text (see SqliteStore.orders).
        "search_text": f"{order.order_id or ''} {order.reference or ''} {plans}",
    }


def row_order(row: dict[str, Any], lines: list[dict[str, Any]], esims: list[Esim], with_raw: bool = False) -> Order:
    return Order(
        vendor=row["vendor"], order_id=row["order_id"], reference=row["reference"], status=OrderStatus(row["status"]),
        created_at=from_iso(row["created_at"]), total=dec(row["total"]), currency=row["currency"],
        lines=tuple(OrderLine(plan_id=ln["plan_id"], quantity=ln["quantity"], unit_price=dec(ln["unit_price"]),
                              name=ln["name"]) for ln in lines),
        esims=tuple(esims), kind=row["kind"],
        raw=json.loads(row["raw"]) if with_raw and row.get("raw") else None,
        sale=Sale(dec(row["sell_total"]), row["sell_currency"], dec(row.get("cost_converted")), row.get("sell_rule"))
        if row.get("sell_total") and row.get("sell_currency") else None,
    )
