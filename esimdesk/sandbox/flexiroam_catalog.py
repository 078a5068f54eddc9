"""Flexiroam's simulated inventory: the 18 documented eSIMs verbatim, then seeded ones built on demand.

Per eSIM only a few numbers are drawn at start-up (kind, start offset, data) so 100,000 eSIMs cost
well under a second; the item dicts are built when a page is served, with balances moving with the
sandbox clock.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from esimdesk.sandbox.ids import luhn_digit as _luhn

DEFAULT_ESIMS = 40
RESELLER_ID = "3f1e28b7-3b74-4ef9-a1d3-97a8a08b8a18"
ICCID_PREFIX = "898523508250"  # beside the documented 8985235082401... range
# Kinds of generated eSIM: (weight, status, state, used). "free" stock looks exactly like the sample.
KINDS: tuple[tuple[str, int, str, str, bool], ...] = (
    ("free", 40, "active", "normal", False),
    ("in_use", 30, "active", "normal", True),
    ("paused", 8, "active", "paused", True),
    ("suspended", 7, "suspended", "normal", True),
    ("terminated", 5, "terminated", "normal", True),
    ("psim", 10, "active", "normal", False),  # a physical SIM: filtered out by chip_type=esim
)


# The documented list-inventory sample's 17 items differ only in these fields; each is rebuilt below
# into exactly the documented object (a test compares them with the fixture).
_SAMPLE_ROWS = (
    ("89852350824010131081", 4024081013108, "a6a59e57-cb57-4167-b852-b0877e141404", "2024-10-07 12:05:40"),
    ("89852350824010131099", 4024081013109, "5a073b17-5b91-494b-b747-e9c718cbfe54", "2024-10-07 12:05:40"),
    ("89852350824010131107", 4024081013110, "ab4e5d15-420b-45ce-bdd2-4cb02c28b64c", "2024-10-07 12:05:40"),
    ("89852350824010131115", 4024081013111, "b9e4456d-f677-4de7-8ea9-536f76835bda", "2024-10-07 12:05:40"),
    ("89852350824010131123", 4024081013112, "ea21b98d-52e4-4f8d-9bcb-e2aef6b9d729", "2024-10-07 12:05:40"),
    ("89852350824010131131", 4024081013113, "8052c5a2-54c2-4d15-b628-7359a7b1ac26", "2024-10-07 12:05:40"),
    ("89852350824010131149", 4024081013114, "57d6c841-8474-426a-ab8b-a6ea9b610adf", "2024-10-07 12:05:40"),
    ("89852350824010131156", 4024081013115, "73ae9ec5-81df-4033-87a6-635631856c11", "2024-10-07 12:05:40"),
    ("89852350824010131164", 4024081013116, "39c3b9bb-ce5b-444e-a454-5235460c487b", "2024-10-07 12:05:39"),
    ("89852350824010131172", 4024081013117, "79e3bedd-bff9-48ca-8cc1-53cfec671360", "2024-10-07 12:05:40"),
    ("89852350824010131180", 4024081013118, "b2d1e5f7-0907-4ebe-9f76-133daf01e310", "2024-10-07 12:05:40"),
    ("89852350824010131198", 4024081013119, "d3280cd6-c27f-4770-9730-a22bc78ab3af", "2024-10-07 12:05:40"),
    ("89852350824010131206", 4024081013120, "f42cb7b4-2494-4f2f-ade2-fc303b970eb4", "2024-10-07 12:05:40"),
    ("89852350824010131214", 4024081013121, "bcb8372d-6271-44b2-8cdd-cf314a87791a", "2024-10-07 12:05:39"),
    ("89852350824010131222", 4024081013122, "fb466d8b-7d74-409e-90c9-5dee737b1c0d", "2024-10-07 12:05:40"),
    ("89852350824010131230", 4024081013123, "95616135-fb5f-4d56-b2cc-a30eb40637e1", "2024-10-07 12:05:40"),
    ("89852350824010131248", 4024081013124, "6645466b-d216-440b-bd71-d4f9eec9c0c5", "2024-10-07 12:05:40"),
)
_SAMPLE_USER = "49350307-8442-4d07-993e-4a0fafd0c077"


@lru_cache(maxsize=1)
def sample_items() -> tuple[dict[str, Any], ...]:
    return tuple(
        {
            "device_info": {"name": None, "imei": None, "id": None, "email": None},
            "status": "active",
            "billing_group_histories": [],
            "iccid": iccid,
            "subscribed": f"0___{sku}",
            "bootstrap_balances": [],
            "availability_sku": f"free___{sku}",
            "user_id_chip_type": f"{_SAMPLE_USER}___esim",
            "creation_date": created,
            "state": "normal",
            "reseller_id": RESELLER_ID,
            "user_info_department": None,
            "balances": {"billing_cycle_id": None, "main_data": 0},
            "user_id": _SAMPLE_USER,
            "chip_type": "esim",
            "first_billed_date": None,
            "paused_balances": {"billing_cycle_id": None, "main_data": 0},
            "user_info_username": None,
            "auto_topup_settings": {
                "threshold": 0,
                "quantity": 1,
                "threshold_in_percentage": True,
                "enabled": False,
            },
            "id": item_id,
            "invoice_number": "FAL-INV-243789",
            "sku": sku,
        }
        for iccid, sku, item_id, created in _SAMPLE_ROWS
    )


def _uuid(seed: int, i: int, what: str) -> str:
    return str(uuid.UUID(bytes=hashlib.md5(f"{seed}:{i}:{what}".encode()).digest(), version=4))


def fmt_time(ts: float) -> str:
    # "2024-10-07 12:05:40": the document gives no zone; we read and write it as UTC.
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


class FlexiroamInventory:
    def __init__(self, seed: int, size: int | None, start: float):
        self.seed = seed
        n = DEFAULT_ESIMS if size is None else max(0, size)
        self.samples = sample_items()
        self.generated = max(0, n - len(self.samples))
        self.start = start
        rng = random.Random(seed * 1_000_003 + 11)
        weights = [k[1] for k in KINDS]
        # One draw per field per eSIM, nothing else: cheap at 100,000.
        self.kinds = rng.choices(range(len(KINDS)), weights=weights, k=self.generated)
        self.age = [rng.randrange(3600, 86400 * 200) for _ in range(self.generated)]
        self.data_mb = [rng.choice((1024, 3072, 5120, 10240, 20480)) for _ in range(self.generated)]
        self.user = _uuid(seed, -1, "user")

    def __len__(self) -> int:
        return len(self.samples) + self.generated

    def iccid(self, i: int) -> str:
        body = f"{ICCID_PREFIX}{i:07d}"
        return body + _luhn(body)

    def item(self, index: int, now: float, usage_mb_per_hour: float) -> dict[str, Any]:
        if index < len(self.samples):
            return self.samples[index]
        i = index - len(self.samples)
        _, _, status, state, used = KINDS[self.kinds[i]]
        chip = "psim" if KINDS[self.kinds[i]][0] == "psim" else "esim"
        sku = 5024000000000 + i
        created = self.start - self.age[i]
        first_billed = created + 3600 if used else None
        main = 0
        paused = 0
        if used and status == "active":
            # Remaining MB drains with clock time; a fraction are used up (main_data 0).
            spent = int(max(0.0, now - (first_billed or now)) / 3600 * usage_mb_per_hour)
            main = max(0, self.data_mb[i] - spent)
            if state == "paused":
                paused, main = main, 0
        availability = "used" if used else "free"
        return {
            "device_info": {
                "name": f"Device {i}" if used else None,
                "imei": f"35{i:013d}" if used else None,
                "id": _uuid(self.seed, i, "device") if used else None,
                "email": f"user{i}@example.com" if used else None,
            },
            "status": status,
            "billing_group_histories": [],
            "iccid": self.iccid(i),
            "subscribed": f"{1 if used else 0}___{sku}",
            "bootstrap_balances": [],
            "availability_sku": f"{availability}___{sku}",
            "user_id_chip_type": f"{self.user}___{chip}",
            "creation_date": fmt_time(created),
            "state": state,
            "reseller_id": RESELLER_ID,
            "user_info_department": "Field" if used else None,
            "balances": {
                "billing_cycle_id": _uuid(self.seed, i, "cycle") if main else None,
                "main_data": main,
            },
            "user_id": self.user,
            "chip_type": chip,
            "first_billed_date": fmt_time(first_billed) if first_billed else None,
            "paused_balances": {"billing_cycle_id": None, "main_data": paused},
            "user_info_username": f"user{i}" if used else None,
            "auto_topup_settings": {
                "threshold": 0,
                "quantity": 1,
                "threshold_in_percentage": True,
                "enabled": False,
            },
            "id": _uuid(self.seed, i, "id"),
            "invoice_number": f"FAL-INV-{250000 + i // 500}",
            "sku": sku,
        }
