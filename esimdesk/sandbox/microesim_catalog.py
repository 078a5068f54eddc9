"""MicroESIM's simulated data-plan catalog: deterministic by seed, generated one plan at a time.

Plan ``i`` is a pure function of (seed, i), so a page of 500 out of 50,000 plans costs 500 plans of
work and the simulator starts instantly. Indexes 0-4 are the vendor document's sample plans verbatim.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

from esimdesk.sandbox.countries import COUNTRIES, REGIONS, country_name

DEFAULT_PLANS = 300

# The esimDataplanList sample, verbatim (the document's order).
SAMPLE_PLANS: tuple[dict[str, Any], ...] = (
    {
        "channel_dataplan_id": "b1a926e1-d770-4e03-804e-c527b9397eb9",
        "channel_dataplan_name": "Global 66-Total1GB-7-A0-test",
        "price": "524.00",
        "currency": "HKD",
        "status": "1",
        "day": 30,
        "data": "unlimited",
        "apn": "vmobile.jp",
        "active_type": "ACTIVEDBYDEVICE",
        "code": "JP",
        "networks": "JP:Docomo(IIJ)[4G;LTE]|",
        "ip": "PL",
        "rule_desc": "unlimited 512kbps",
        "validity_period": "60",
        "special_desc": "",
    },
    {
        "channel_dataplan_id": "202408136e79772A718449EEE9290CAC3",
        "channel_dataplan_name": "JapanIIJ-unlimited-15-test",
        "price": "279.62",
        "currency": "HKD",
        "status": "1",
        "day": 15,
        "data": "unlimited",
        "apn": "vmobile.jp",
        "active_type": "ACTIVEDBYDEVICE",
        "code": "JP",
        "networks": "JP:Docomo(IIJ)[4G;LTE]|",
        "ip": "PL",
        "rule_desc": "unlimited 512kbps",
        "validity_period": "60",
        "special_desc": "",
    },
    {
        "channel_dataplan_id": "2024081342489905C36Eee9eA513390E9",
        "channel_dataplan_name": "JapanIIJ-unlimited-10-test",
        "price": "209.00",
        "currency": "HKD",
        "status": "1",
        "day": 10,
        "data": "unlimited",
        "apn": "vmobile.jp",
        "active_type": "ACTIVEDBYDEVICE",
        "code": "JP",
        "networks": "JP:Docomo(IIJ)[4G;LTE]|",
        "ip": "HK",
        "rule_desc": "unlimited 128kb",
        "validity_period": "60",
        "special_desc": "",
    },
    {
        "channel_dataplan_id": "20240813E215A8C7D92367249770119e6",
        "channel_dataplan_name": "JapanIIJ-unlimited-5-test",
        "price": "112.88",
        "currency": "HKD",
        "status": "1",
        "day": 5,
        "data": "unlimited",
        "apn": "vmobile.jp",
        "active_type": "ACTIVEDBYDEVICE",
        "code": "JP",
        "networks": "JP:Docomo(IIJ)[4G;LTE]|",
        "ip": "HK",
        "rule_desc": "terminate",
        "validity_period": "60",
        "special_desc": "",
    },
    {
        "channel_dataplan_id": "2024081362C6C4EA4220B2D5224e2ee1E",
        "channel_dataplan_name": "JapanIIJ-unlimited-3-test",
        "price": "71.62",
        "currency": "HKD",
        "status": "1",
        "day": 3,
        "data": "unlimited",
        "apn": "vmobile.jp",
        "active_type": "ACTIVEDBYDEVICE",
        "code": "JP",
        "networks": "JP:Docomo(IIJ)[4G;LTE]|",
        "ip": "HK",
        "rule_desc": "unlimited",
        "validity_period": "60",
        "special_desc": "",
    },
)

# The esimDataplanListPage sample lists the same plans with another special_desc: the vendor's two
# samples disagree, so the paged endpoint serves its own sample's version of these five plans.
PAGE_SAMPLE_SPECIAL_DESC = {
    "b1a926e1-d770-4e03-804e-c527b9397eb9": "",
    "202408136e79772A718449EEE9290CAC3": "ekyc required esim",
    "2024081342489905C36Eee9eA513390E9": "ekyc required esim",
    "20240813E215A8C7D92367249770119e6": "ekyc required esim",
    "2024081362C6C4EA4220B2D5224e2ee1E": "ekyc required esim",
}

_OPERATORS = (
    "Vodafone",
    "Orange",
    "T-Mobile",
    "Telefonica",
    "Claro",
    "Airtel",
    "Singtel",
    "NTT Docomo",
    "China Mobile",
    "MTN",
    "Telstra",
    "Etisalat",
    "Movistar",
    "AIS",
    "Telkomsel",
)
_DATA = ("500MB", "1GB", "2GB", "3GB", "5GB", "10GB", "20GB", "50GB", "unlimited")
_DAILY = ("500MB", "1GB", "2GB", "3GB")
_DAYS = (1, 3, 5, 7, 10, 15, 30)
_EXITS = ("HK", "SG", "PL", "NL", "US", "JP")
_GLOBAL = tuple(COUNTRIES)
_REGION_NAMES = tuple(REGIONS)


def _mb(data: str) -> int | None:
    if data == "unlimited":
        return None
    return int(data[:-2]) * 1024 if data.endswith("GB") else int(data[:-2])


class MicroesimCatalog:
    """``size`` plans; ``plan(i)`` builds plan i on demand; ``find(id)`` resolves an id to its plan."""

    def __init__(self, seed: int, size: int | None = None):
        self.seed = seed
        self.size = max(len(SAMPLE_PLANS), size if size is not None else DEFAULT_PLANS)
        self._samples = {p["channel_dataplan_id"]: p for p in SAMPLE_PLANS}

    def __len__(self) -> int:
        return self.size

    def _plan_id(self, i: int) -> str:
        digest = hashlib.blake2b(f"{self.seed}:{i}".encode(), digest_size=6).hexdigest()
        return f"MX{i:07d}{digest.upper()}"

    def plan(self, i: int) -> dict[str, Any]:
        if i < len(SAMPLE_PLANS):
            return dict(SAMPLE_PLANS[i])
        rng = random.Random(self.seed * 1_000_003 + i)
        kind = i % 10  # 0: global, 1-2: regional, 3: daily single country, else single country
        if kind == 0:
            countries: tuple[str, ...] = _GLOBAL[: rng.randint(60, len(_GLOBAL))]
            label = f"Global {len(countries)}"
        elif kind in (1, 2):
            region = _REGION_NAMES[(i // 10) % len(_REGION_NAMES)]
            countries = tuple(REGIONS[region])
            label = f"{region.replace(' ', '')} {len(countries)}"
        else:
            countries = (COUNTRIES[(i * 7 + self.seed) % len(COUNTRIES)],)
            label = country_name(countries[0]).replace(" ", "")
        daily = kind == 3
        data = rng.choice(_DAILY if daily else _DATA)
        day = rng.choice(_DAYS)
        mb = _mb(data)
        gb_price = (mb or 30 * 1024) / 1024 * (day if daily else 1)
        price = round(max(8.0, gb_price * rng.uniform(9.0, 16.0) * (1.6 if len(countries) > 1 else 1.0)), 2)
        if daily:
            name = f"{label}-Daily{data}-{day}"
            rule = f"{data}/day then 512kbps"
        elif data == "unlimited":
            name = f"{label}-unlimited-{day}"
            rule = rng.choice(("unlimited", "unlimited 512kbps", "unlimited 128kb"))
        else:
            name = f"{label}-Total{data}-{day}"
            rule = "terminate"
        ops = [f"{c}:{_OPERATORS[(i + n) % len(_OPERATORS)]}[4G;LTE]" for n, c in enumerate(countries[:40])]
        return {
            "channel_dataplan_id": self._plan_id(i),
            "channel_dataplan_name": name,
            "price": f"{price:.2f}",
            "currency": "HKD",
            "status": "1",
            "day": day,
            "data": data,
            "apn": "microesim",
            "active_type": "ACTIVEDBYORDER" if i % 7 == 0 else "ACTIVEDBYDEVICE",
            # Multi-country plans list their countries comma-separated (the samples only show one code).
            "code": ",".join(countries),
            "networks": "|".join(ops) + "|",
            "ip": rng.choice(_EXITS),
            "rule_desc": rule,
            "validity_period": str(rng.choice((30, 60, 90, 180))),
            "special_desc": "ekyc required esim" if i % 23 == 0 else "",
        }

    def page(self, start: int, stop: int) -> list[dict[str, Any]]:
        return [self.plan(i) for i in range(max(0, start), min(stop, self.size))]

    def find(self, plan_id: str) -> dict[str, Any] | None:
        if plan_id in self._samples:
            return dict(self._samples[plan_id])
        if len(plan_id) == 21 and plan_id.startswith("MX") and plan_id[2:9].isdigit():
            i = int(plan_id[2:9])
            if len(SAMPLE_PLANS) <= i < self.size and self._plan_id(i) == plan_id:
                return self.plan(i)
        return None

    @staticmethod
    def data_mb(plan: dict[str, Any]) -> int | None:
        data = str(plan.get("data", ""))
        try:
            return _mb(data)
        except ValueError:
            return None
