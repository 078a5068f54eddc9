"""Simulated Flexiroam Solutions API V3: ``list-inventory`` (the one endpoint the document describes).

Mounted at ``/flexiroam/v1/public-v2`` as the documented base URL. Paging per NOTES.md: ``page_key``
is ``null`` on the last page, otherwise an opaque string the client passes back unchanged.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from esimdesk.sandbox.base import SandboxConfig, VendorSandbox
from esimdesk.sandbox.flexiroam_catalog import FlexiroamInventory

# Page size is not documented (the sample's single page has 17 items); 100 is our choice.
PAGE_SIZE = 100
SEARCH_FIELDS = ("availability", "iccid", "status", "state", "sku", "invoice_number", "subscribed", "user_id")


def _field(item: dict[str, Any], search_by: str) -> str:
    if search_by == "availability":
        return item["availability_sku"].split("___", 1)[0]
    if search_by == "subscribed":
        return item["subscribed"].split("___", 1)[0]
    return str(item[search_by])


class FlexiroamSandbox(VendorSandbox):
    vendor = "flexiroam"
    mount = "/flexiroam/v1/public-v2"

    def __init__(self, config: SandboxConfig, credentials: dict[str, str]):
        super().__init__(config, credentials)
        self.inventory = FlexiroamInventory(config.seed, config.esims, self.now())
        self.requests = 0
        self.pages = 0
        self.refused = 0

    # --- a world kept in a file: the inventory follows (seed, start); nothing here is ordered ---------
    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {**super().dump_state(), "start": self.inventory.start, "requests": self.requests,
                    "pages": self.pages, "refused": self.refused}

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.inventory.start = state["start"]
        self.requests, self.pages, self.refused = state["requests"], state["pages"], state["refused"]

    def writes(self, method: str, path: str) -> bool:
        return False

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": 0,  # Flexiroam has no ordering endpoint
                "requests": self.requests,
                "pages": self.pages,
                "refused": self.refused,
                "esims": len(self.inventory),
            }

    def routes(self) -> list[Route]:
        return [Route("/list-inventory", self._list_inventory, methods=["GET"])]

    @staticmethod
    def _error(message: str, status: int) -> JSONResponse:
        # The document shows no error body. An ``x-api-key`` API of this kind answers API-Gateway style
        # ``{"message": ...}``; a missing or wrong key gets 403 "Forbidden".
        return JSONResponse({"message": message}, status_code=status)

    @staticmethod
    def _encode_key(index: int) -> str:
        return base64.urlsafe_b64encode(json.dumps({"pos": index}).encode()).decode().rstrip("=")

    @staticmethod
    def _decode_key(key: str) -> int:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
        pos = json.loads(raw)["pos"]
        if not isinstance(pos, int) or pos < 0:
            raise ValueError(key)
        return pos

    async def _list_inventory(self, request: Request) -> JSONResponse:
        with self.lock:
            self.requests += 1
        if request.headers.get("x-api-key") != self.credentials["KEY"]:
            with self.lock:
                self.refused += 1
            return self._error("Forbidden", 403)
        q = request.query_params
        chip_type = q.get("chip_type")
        if chip_type is not None and chip_type not in ("esim", "psim"):
            return self._error("chip_type must be esim or psim", 400)
        search_by, search = q.get("search_by"), q.get("search")
        if search_by is not None and search_by not in SEARCH_FIELDS:
            return self._error(f"search_by must be one of {', '.join(SEARCH_FIELDS)}", 400)
        if (search_by is None) != (search is None):
            return self._error("search_by and search go together", 400)
        start = 0
        if q.get("page_key"):
            try:
                start = self._decode_key(q["page_key"])
            except (ValueError, KeyError, TypeError):
                return self._error("Invalid page_key", 400)
        now, rate = self.now(), self.config.usage_mb_per_hour
        inv = self.inventory
        items: list[dict[str, Any]] = []
        index = start
        end = len(inv)
        if search_by == "iccid" and search is not None:
            index, end = self._iccid_range(search, start)
        while index < end and len(items) < PAGE_SIZE:
            item = inv.item(index, now, rate)
            index += 1
            if chip_type is not None and item["chip_type"] != chip_type:
                continue
            if search_by is not None and _field(item, search_by) != search:
                continue
            items.append(item)
        with self.lock:
            self.pages += 1
        # A full page may be the last one: look ahead cheaply so the last page says null, as NOTES says.
        page_key = self._encode_key(index) if index < end and len(items) == PAGE_SIZE else None
        return JSONResponse({"items": items, "page_key": page_key})

    def _iccid_range(self, iccid: str, start: int) -> tuple[int, int]:
        """An ICCID search without scanning 100,000 eSIMs: samples by position, generated by number."""
        inv = self.inventory
        for i, item in enumerate(inv.samples):
            if item["iccid"] == iccid:
                return max(start, i), i + 1
        n = len(inv.samples)
        if iccid.isdigit() and len(iccid) == 20 and iccid.startswith("898523508250"):
            i = int(iccid[12:19])
            if i < inv.generated and inv.iccid(i) == iccid:
                return max(start, n + i), n + i + 1
        return 0, 0
