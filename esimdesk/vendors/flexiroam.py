"""Flexiroam adapter: the eSIM inventory (``list-inventory``), the one endpoint the document describes.

Ordering is not offered (NOTES.md): Flexiroam eSIMs appear in Fleet only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from esimdesk.domain import Esim, EsimStatus, MalformedResponse, NotFound, VendorConfig, VendorRejected
from esimdesk.vendors.base import Capability, VendorAdapter
from esimdesk.vendors.http import VendorHttp

VENDOR = "flexiroam"
ENDPOINT = "list-inventory"
MAX_PAGES = 100_000  # a vendor that keeps answering the same page_key must not loop us forever

# (status, state) -> ours; "free" stock (availability) overrides to NEW below.
STATUS: dict[tuple[str, str], EsimStatus] = {
    ("active", "normal"): EsimStatus.ACTIVE,
    ("active", "paused"): EsimStatus.SUSPENDED,
    ("suspended", "normal"): EsimStatus.SUSPENDED,
    ("suspended", "paused"): EsimStatus.SUSPENDED,
    ("inactive", "normal"): EsimStatus.CANCELLED,
    ("terminated", "normal"): EsimStatus.DELETED,
}


def _bad(message: str) -> MalformedResponse:
    return MalformedResponse(VENDOR, ENDPOINT, message)


def parse_time(value: Any) -> datetime | None:
    """ "2024-10-07 12:05:40" -> aware UTC (the document names no zone; we assume UTC)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad("date is not a string")
    try:
        dt = datetime.fromisoformat(value.strip())
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _bad(f"date '{value[:40]}' is not 'YYYY-MM-DD HH:MM:SS'") from None


def _prefix(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"{name} is not a string")
    return value.split("___", 1)[0]


def _mb(value: Any) -> int:
    # ``main_data``: remaining data, assumed MB (the document gives no unit).
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value or value < 0:
        raise _bad("balance is not a number")
    if value == float("inf"):
        raise _bad("balance is not a number")
    return int(value)


def map_status(item: dict[str, Any]) -> EsimStatus:
    status, state = item.get("status"), item.get("state") or "normal"
    availability = _prefix(item.get("availability_sku"), "availability_sku")
    if not isinstance(status, str) or not isinstance(state, str):
        return EsimStatus.UNKNOWN
    mapped = STATUS.get((status, state), EsimStatus.UNKNOWN)
    if mapped is EsimStatus.ACTIVE:
        if availability == "free":
            return EsimStatus.NEW  # stock never handed out
        balances = item.get("balances")
        if isinstance(balances, dict) and _mb(balances.get("main_data", 0)) == 0:
            return EsimStatus.DEPLETED
    return mapped


def parse_esim(item: Any) -> Esim:
    if not isinstance(item, dict):
        raise _bad("inventory item is not an object")
    iccid = item.get("iccid")
    if not isinstance(iccid, str) or not iccid:
        raise _bad("inventory item has no iccid")
    status = map_status(item)
    availability = _prefix(item.get("availability_sku"), "availability_sku")
    vendor_status = "/".join(
        str(x) for x in (item.get("status"), item.get("state"), availability) if x is not None
    )
    item_id = item.get("id")
    device = item.get("device_info") if isinstance(item.get("device_info"), dict) else {}
    return Esim(
        vendor=VENDOR,
        iccid=iccid,  # as given: NOTES says vendor ICCIDs are not re-checked
        status=status,
        vendor_status=vendor_status,
        installed_at=parse_time(item.get("first_billed_date")),
        vendor_ref=item_id if isinstance(item_id, str) else None,
        raw=item,
        data_remaining_mb=_remaining(item),
        device_name=_text(device.get("name")),
        device_imei=_text(device.get("imei")),
    )


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _remaining(item: dict[str, Any]) -> int | None:
    """What is left: the main balance plus what a pause holds back (``paused_balances``), in MB."""
    total = None
    for key in ("balances", "paused_balances"):
        bal = item.get(key)
        if isinstance(bal, dict) and bal.get("main_data") is not None:
            total = (total or 0) + _mb(bal["main_data"])
    return total


def remaining_mb(esim: Esim) -> int | None:
    """Remaining data in MB from the raw item (main + paused balance), or None if not given."""
    return _remaining(esim.raw or {})


def parse_page(payload: Any) -> tuple[list[Esim], str | None]:
    if not isinstance(payload, dict) or not isinstance(payload.get("items"), list):
        raise _bad("answer has no items array")
    key = payload.get("page_key")
    if key is not None and (not isinstance(key, str) or not key):
        raise _bad("page_key is neither null nor a string")
    return [parse_esim(i) for i in payload["items"]], key


def check(payload: Any) -> None:
    if isinstance(payload, dict) and "items" not in payload and isinstance(payload.get("message"), str):
        raise VendorRejected(VENDOR, ENDPOINT, payload["message"])
    parse_page(payload)


class FlexiroamAdapter(VendorAdapter):
    name = VENDOR
    default_url = "https://solutions-api.flexiroam.com/v1/public-v2"
    capabilities = frozenset({Capability.INVENTORY, Capability.LIST_ESIMS, Capability.GET_ESIM})
    idempotent_orders = False
    # Each page needs the last one's page_key: 1,000 pages are 1,000 answers one after another, whatever the
    # vendor's capacity. A routine sync walks a share and the next goes on from its key.
    resumable_listing = True

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        super().__init__(config, timeout=timeout, transport=transport)
        self.http = VendorHttp(
            VENDOR,
            config.base_url or self.default_url,
            headers={"x-api-key": config.secrets.get("KEY", ""), "Content-Type": "application/json"},
            timeout=timeout,
            secrets=config.secret_values(),
            transport=transport,
        )

    async def _pages(self, key: str | None = None, **params: str) -> AsyncIterator[tuple[list[Esim], str | None]]:
        for _ in range(MAX_PAGES):
            query = {"chip_type": "esim", **params}
            if key is not None:
                query["page_key"] = key  # passed back unchanged (NOTES.md)
            payload = await self.http.request("GET", ENDPOINT, idempotent=True, check=check, params=query)
            esims, next_key = parse_page(payload)
            yield esims, next_key
            if next_key is None:
                return
            if next_key == key:
                raise _bad("page_key did not advance")
            key = next_key
        raise _bad("more pages than any inventory should have")

    async def iter_esims(self) -> AsyncIterator[list[Esim]]:
        """Every eSIM of the account, page by page."""
        async for page, _key in self._pages():
            yield page

    async def walk_esims(self, key: str | None) -> AsyncIterator[tuple[list[Esim], str | None]]:
        """The listing from a page_key an earlier walk stopped at. The document does not say how long a key
        stays good (NOTES.md is silent too): one refused is met by starting over (services/sync.py)."""
        async for page, next_key in self._pages(key):
            yield page, next_key

    async def iter_inventory(self) -> AsyncIterator[list[Esim]]:
        """Free stock only: eSIMs never handed out (the document's own example query)."""
        async for page, _key in self._pages(search_by="availability", search="free"):
            yield page

    async def get_esim(self, iccid: str) -> Esim:
        """One eSIM, by ``list-inventory`` searched by ICCID (its remaining data as of now)."""
        async for page, _key in self._pages(search_by="iccid", search=iccid):
            for esim in page:
                if esim.iccid == iccid:
                    return esim
        raise NotFound(VENDOR, ENDPOINT, "Flexiroam lists no eSIM with this ICCID")

    # free_stock(): the base counts iter_inventory (``search_by=availability&search=free``).
