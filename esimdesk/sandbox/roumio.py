"""Simulated Roumio API: POST + JSON everywhere, ``Authorization: <key>``, HTTP 200 envelopes for every error.

State (catalog, fleet, orders) is built lazily on first use so the sandbox starts fast at any scale. eSIM
status, usage and expiry are derived from the sandbox clock on every read, so tests move them by advancing it.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from esimdesk.sandbox.base import VendorSandbox
from esimdesk.sandbox.ids import luhn_digit
from esimdesk.sandbox.roumio_catalog import RoumioCatalog, build_catalog, public

DAY = 86400.0
MIB = 1024 * 1024
DEMO_ESIMS = 40
# A freshly ordered eSIM is installed and starts using data one clock-hour after allocation.
INSTALL_AFTER = 3600.0
# "usage is refreshed by the network every 2-3 hours": the usage check answers the figures of the last
# 2-hour boundary of the clock, with that boundary as lastUpdateTime.
USAGE_REFRESH = 2 * 3600.0
SMS_MAX = 500
ACTION_PATHS = ("esim/cancel", "esim/suspend", "esim/unsuspend", "esim/revoke", "esim/sendSms")

MESSAGES = {
    "000001": "Server error",
    "000101": "Request header (mandatory) is null",
    "000103": "This https request method (get/post ) is not supported",
    "000104": "Request in invalid JSON format",
    "000105": "Request parameters (mandatory) are not contained",
    "000106": "Request parameter (mandatory) is null",
    "000107": "The length of the request parameter does not meet the requirement.",
    "101003": "Request signature mismatch.",
    "200002": "This operation is not allowed due to the order status.",
    "200005": "Package price error. Check price.",
    "200006": "Total order price amount is wrong. Check prices.",
    "200007": "Insufficient account balance",
    "200008": "Order parameters error, please contact customer service.",
    "200010": "Profile is being downloaded for the order.",
    "310241": "The packageCode does not exist.",
    "310272": "The orderNo does not exist.",
    "310403": "The ICCID does not exist in the order.",
    "900001": "The system is busy, please try again later.",
}

# The document's own eSIM sample, served verbatim (a CANCEL profile never changes, so the clock leaves it be).
DOC_ESIM: dict[str, Any] = {
    "esimTranNo": "23120118156818",
    "orderNo": "B23120118131854",
    "transactionId": "test344343433",
    "imsi": "232104070077567",
    "iccid": "8943108170000775671",
    "smsStatus": 1,
    "msisdn": "436789040077567",
    "ac": "LPA:1$rsp-eu.roumiomobile.com$43DE23C67EE747BCAD6B63E8B67B261F",
    "qrCodeUrl": "https://qr.roumio.com/?id=31068bd2-9d77-49f6-80d8-92692536f66b",
    "shortUrl": "https://qr.roumio.com/?id=31068bd2-9d77-49f6-80d8-92692536f66b",
    "smdpStatus": "RELEASED",
    "eid": "",
    "activeType": 1,
    "dataType": 1,
    "activateTime": None,
    "expiredTime": "2024-05-29T18:34:17+0000",
    "totalVolume": 15000,
    "totalDuration": 30,
    "durationUnit": "DAY",
    "orderUsage": 5000,
    "esimStatus": "CANCEL",
    "pin": "",
    "puk": "",
    "apn": "drei.at",
    "packageList": [
        {
            "packageName": "Spain 5GB 30Days",
            "packageCode": "CKH003",
            "slug": "ES_5_30",
            "duration": 30,
            "volume": 5368709120,
            "locationCode": "ES",
            "createTime": "2023-12-01T18:34:17+0000",
        }
    ],
}
_DOC_CREATED = datetime(2023, 12, 1, 18, 34, 17, tzinfo=UTC).timestamp()

# Seeded fleet: kind -> share. Frozen kinds keep a fixed (esimStatus, smdpStatus) pair.
_FLEET_KINDS = (
    ("new", 6),
    ("active", 10),
    ("onboard", 3),
    ("used_up", 3),
    ("used_expired", 3),
    ("unused_expired", 2),
    ("cancel", 2),
    ("suspended", 2),
    ("deleted", 2),
    ("revoke", 1),
    ("disabled", 2),
)
_FROZEN = {
    "cancel": ("CANCEL", "RELEASED"),
    "suspended": ("SUSPENDED", "ENABLED"),
    "deleted": ("USED_UP", "DELETED"),
    "revoke": ("REVOKE", "DISABLED"),
}


def fmt_time(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def parse_time(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # the document asks for UTC
    return dt.timestamp()


class _Fail(Exception):
    def __init__(self, code: str):
        self.code = code


class RoumioSandbox(VendorSandbox):
    vendor = "roumio"
    mount = "/roumio/v1"
    rate_limit = (8, 1.0)

    def __init__(self, config, credentials):
        super().__init__(config, credentials)
        self.t0 = self.now()
        self.balance = config.balance_cents
        self.orders: dict[str, dict[str, Any]] = {}  # orderNo -> order
        self.by_txn: dict[str, str] = {}  # transactionId -> orderNo
        self.topup_results: dict[str, dict[str, Any]] = {}  # transactionId -> answer obj
        self.topup_log: list[dict[str, Any]] = []  # top-ups made through the API: the ledger's rows
        self.order_requests = 0
        self.topup_count = 0
        self._seq = 0
        self.action_log: list[dict[str, Any]] = []  # cancels, suspends, ... that the vendor carried out
        self.sms_outbox: list[dict[str, Any]] = []  # every SMS sent to an eSIM (visible in /_sandbox/state)

    # --- lazy state -----------------------------------------------------------------------------
    @cached_property
    def catalog(self) -> RoumioCatalog:
        return build_catalog(self.config.seed, self.config.plans)

    @cached_property
    def fleet(self) -> list[dict[str, Any]]:
        """eSIM records in creation order; ``self.by_iccid`` etc. index them."""
        n = DEMO_ESIMS if self.config.esims is None else self.config.esims
        rng = random.Random(self.config.seed * 7919 + 1)
        base = [p for p in self.catalog.base if p["dataType"] == 1]
        weights = [w for _, w in _FLEET_KINDS]
        kinds = [k for k, _ in _FLEET_KINDS]
        recs = [
            {
                "doc": True,
                "iccid": DOC_ESIM["iccid"],
                "esimTranNo": DOC_ESIM["esimTranNo"],
                "orderNo": DOC_ESIM["orderNo"],
                "created": _DOC_CREATED,
                "ready": _DOC_CREATED,
            }
        ]
        # Small seeded orders of 1-3 eSIMs, so listing by order groups something.
        while len(recs) < n:
            created = self.t0 - rng.uniform(0.1, 120) * DAY
            order_no = self._order_no(created)
            for _ in range(min(rng.choice((1, 1, 1, 2, 3)), n - len(recs))):
                plan = base[rng.randrange(len(base))]
                # First a few fresh NEW ones, then one of every kind, then a weighted mix.
                j = len(recs) - 5
                kind = kinds[0] if j < 0 else kinds[j] if j < len(kinds) else rng.choices(kinds, weights)[0]
                recs.append(self._new_esim(plan, order_no, f"seed-{order_no}", created, created, kind, rng))
        recs.sort(key=lambda r: r["created"])
        return recs

    @cached_property
    def index(self) -> dict[str, dict[str, Any]]:
        idx: dict[str, dict[str, Any]] = {}
        for rec in self.fleet:
            idx[rec["iccid"]] = rec
            idx["T" + rec["esimTranNo"]] = rec
        return idx

    @cached_property
    def by_order(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for rec in self.fleet:
            out.setdefault(rec["orderNo"], []).append(rec)
        return out

    @cached_property
    def latest_ready(self) -> float:
        """When the last profile of the fleet is allocated: until then a listing leaves out those not ready.
        Kept, so that a page of a settled fleet costs its own rows, not a pass over every eSIM (50 ms a page
        at 100,000: the simulator's time, which held up every vendor's answers, not a vendor's)."""
        return max((r["ready"] for r in self.fleet), default=0.0)

    def _order_no(self, ts: float) -> str:
        # The clock's minute, then the world's own sequence (kept in the state file with the rest): two
        # orders in one minute, or in two runs of one world, never share a number.
        self._seq += 1
        return "B" + datetime.fromtimestamp(ts, UTC).strftime("%y%m%d%H%M") + f"{self._seq:06d}"

    # --- a world kept in a file ---------------------------------------------------------------------
    def materialize(self) -> None:
        with self.lock:
            _ = self.index, self.by_order  # builds the seeded fleet and its indexes

    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().dump_state(),
                "t0": self.t0, "seq": self._seq, "balance": self.balance,
                "orders": self.orders, "by_txn": self.by_txn, "topup_results": self.topup_results,
                "topup_log": self.topup_log, "order_requests": self.order_requests,
                "topup_count": self.topup_count, "fleet": self.fleet,
                "action_log": self.action_log, "sms_outbox": self.sms_outbox,
            }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.t0, self._seq, self.balance = state["t0"], state["seq"], state["balance"]
        self.orders, self.by_txn = state["orders"], state["by_txn"]
        self.topup_results, self.topup_log = state["topup_results"], state["topup_log"]
        self.order_requests, self.topup_count = state["order_requests"], state["topup_count"]
        self.action_log, self.sms_outbox = state.get("action_log", []), state.get("sms_outbox", [])
        fleet = state["fleet"]
        for rec in fleet:
            if rec.get("frozen") is not None:
                rec["frozen"] = tuple(rec["frozen"])
        self.__dict__["fleet"] = fleet
        for derived in ("index", "by_order", "latest_ready"):  # rebuilt from the fleet on first use
            self.__dict__.pop(derived, None)

    def writes(self, method: str, path: str) -> bool:
        return path.rstrip("/").endswith(("esim/order", "esim/topup", *ACTION_PATHS))

    def _new_esim(
        self,
        plan: dict[str, Any],
        order_no: str,
        txn: str,
        created: float,
        ready: float,
        kind: str,
        rng: random.Random,
        period: int = 1,
    ) -> dict[str, Any]:
        self._seq += 1
        body = "8944" + f"{self.config.seed % 1000:03d}" + f"{self._seq:011d}"
        iccid = body + luhn_digit(body)
        days = plan["duration"] * period
        total = plan["volume"] * period
        rec: dict[str, Any] = {
            "iccid": iccid,
            "esimTranNo": f"{self._seq:014d}",
            "orderNo": order_no,
            "transactionId": txn,
            "plan": plan["packageCode"],
            "created": created,
            "ready": ready,
            "days": days,
            "total": total,
            "usage": 0.0,
            "installed": None,
            "since": None,
            "frozen": None,
            "kind": kind,
            "matching": f"{rng.getrandbits(128):032X}",
            "dataType": plan["dataType"],
            "unused_valid": plan["unusedValidTime"] * DAY,
            "period": period,  # a cancel refunds the price of every period bought
            # Which profiles take SMS (the plan's smsStatus is 0 throughout the catalog): fixed-volume yes, daily no.
            "sms": 1 if plan["dataType"] == 1 else 0,
        }
        span = max(ready, self.t0) - ready
        if kind in ("active", "onboard", "used_up", "used_expired", "disabled", "deleted", "suspended"):
            # Seeded profiles were installed recently (so they are not expired yet), before the sandbox started.
            rec["installed"] = max(ready, self.t0 - rng.uniform(0.1, 2.0) * DAY)
            rec["since"] = self.t0
            if kind == "onboard":
                rec["since"] = None  # installed, no data used yet
            elif kind in ("used_up", "deleted"):
                rec["usage"] = float(total)
            elif kind == "used_expired":
                rec["installed"] = self.t0 - (days + 1) * DAY
                rec["created"] = rec["ready"] = min(created, rec["installed"] - DAY)
                rec["usage"] = float(rng.randint(0, total))
            else:
                rec["usage"] = float(rng.randint(0, total // 3))
        elif kind == "unused_expired":
            rec["unused_valid"] = 0.0
        elif kind == "new" and span == 0:
            rec["installed"] = ready + INSTALL_AFTER  # ordered now: installs one clock-hour after allocation
            rec["since"] = rec["installed"]
        if kind in _FROZEN:
            rec["frozen"] = _FROZEN[kind]
        if kind == "disabled":
            rec["frozen_smdp"] = "DISABLED"
        return rec

    # --- eSIM view from the clock ---------------------------------------------------------------
    def view(self, rec: dict[str, Any], now: float) -> dict[str, Any]:
        if rec.get("doc"):
            return json.loads(json.dumps(DOC_ESIM))
        plan = self.catalog.find(rec["plan"]) or {}
        total = rec["total"]
        installed = rec["installed"] if rec["installed"] is not None and now >= rec["installed"] else None
        usage = rec["usage"]
        if (
            installed is not None
            and rec["since"] is not None
            and now > rec["since"]
            and rec["frozen"] is None
        ):
            usage += self.config.usage_mb_per_hour * (now - max(rec["since"], installed)) / 3600.0
        usage = min(usage, float(total))
        if installed is None:
            expiry = rec["created"] + rec["unused_valid"]
            status, smdp = ("UNUSED_EXPIRED", "RELEASED") if now >= expiry else ("GOT_RESOURCE", "RELEASED")
        else:
            expiry = installed + rec["days"] * DAY
            if now >= expiry:
                status, smdp = "USED_EXPIRED", "DISABLED"
            elif usage >= total and rec["dataType"] == 1:
                status, smdp = "USED_UP", "ENABLED"
            else:
                status, smdp = "IN_USE", rec.get("frozen_smdp", "ENABLED")
        if rec["frozen"] is not None:
            status, smdp = rec["frozen"]
        eid = "" if installed is None else "8904903200" + rec["iccid"][-22:].rjust(22, "0")
        return {
            "esimTranNo": rec["esimTranNo"],
            "orderNo": rec["orderNo"],
            "transactionId": rec["transactionId"],
            "imsi": "23210" + rec["iccid"][-10:],
            "iccid": rec["iccid"],
            "smsStatus": rec.get("sms", plan.get("smsStatus", 0)),
            "msisdn": "",
            "ac": f"LPA:1$rsp-eu.roumiomobile.com${rec['matching']}",
            "qrCodeUrl": f"https://qr.roumio.com/?id={rec['matching'].lower()}",
            "shortUrl": f"https://qr.roumio.com/?id={rec['matching'].lower()}",
            "smdpStatus": smdp,
            "eid": eid,
            "activeType": plan.get("activeType", 2),
            "dataType": rec["dataType"],
            "activateTime": fmt_time(installed),
            "expiredTime": fmt_time(expiry),
            "totalVolume": total,
            "totalDuration": rec["days"],
            "durationUnit": "DAY",
            "orderUsage": int(usage),
            "esimStatus": status,
            "pin": "",
            "puk": "",
            "apn": "roumio",
            "packageList": [
                {
                    "packageName": plan.get("name", ""),
                    "packageCode": rec["plan"],
                    "slug": plan.get("slug", ""),
                    "duration": plan.get("duration", rec["days"]),
                    "volume": int(plan.get("volume", 0)) * MIB,  # bytes here, as in the vendor's sample
                    "locationCode": self._location_code(rec["plan"], plan),
                    "createTime": fmt_time(rec["created"]),
                }
            ],
        }

    def _location_code(self, code: str, plan: dict[str, Any]) -> str:
        location = plan.get("location", "")
        if "," not in location:
            return location
        return "!GL" if self.catalog.scope.get(code) == "GL" else "!RG"

    # --- plumbing -------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        endpoints = {
            "package/list": self._package_list,
            "esim/order": self._order,
            "esim/query": self._query,
            "balance": self._balance,
            "esim/topup": self._topup,
            "esim/cancel": self._cancel,
            "esim/suspend": self._suspend,
            "esim/unsuspend": self._unsuspend,
            "esim/revoke": self._revoke,
            "esim/sendSms": self._send_sms,
            "esim/usage/query": self._usage_query,
        }
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH"]
        return [
            *(Route(f"/{path}", self._wrap(fn), methods=methods) for path, fn in endpoints.items()),
            # Any other path: Roumio's own envelope, not a plain 404 page. The document has no "no such
            # path" code; 000103 ("This https request method (get/post) is not supported") is the one
            # for a request the API does not serve, answered with HTTP 200 like every Roumio error.
            Route("/{path:path}", self._unknown_path, methods=methods),
        ]

    async def _unknown_path(self, request: Request) -> Response:
        return self.envelope(code="000103")

    @staticmethod
    def envelope(obj: Any = None, code: str | None = None, ok_code: str | None = None) -> JSONResponse:
        if code is None:
            return JSONResponse({"errorCode": ok_code, "errorMsg": None, "success": True, "obj": obj})
        return JSONResponse(
            {"errorCode": code, "errorMsg": MESSAGES.get(code, "Error"), "success": False, "obj": None}
        )

    def busy_response(self) -> Response:
        return self.envelope(code="900001")

    def rate_limited_response(self) -> Response:
        # Beyond the documented 8 requests/second: HTTP 429 in Roumio's envelope. The error table has no
        # rate-limit code; 900001 "The system is busy, please try again later." is the documented one
        # that says "slow down". The 429 status itself tells the client the request was not served.
        resp = self.envelope(code="900001")
        resp.status_code = 429
        resp.headers["Retry-After"] = "1"
        return resp

    def _wrap(self, fn):
        async def endpoint(request: Request) -> Response:
            is_order = request.url.path.endswith("esim/order")
            if is_order:
                with self.lock:
                    self.order_requests += 1
            key = request.headers.get("authorization")
            if not key:
                # Header absent: the document's "Request header (mandatory) is null".
                return self.envelope(code="000101")
            if key != self.credentials["KEY"]:
                return self.envelope(code="101003")  # the key acts as the request signature: a mismatch
            if request.method != "POST":
                return self.envelope(code="000103")
            try:
                body = json.loads(await request.body() or b"{}")
            except ValueError:
                return self.envelope(code="000104")
            if not isinstance(body, dict):
                return self.envelope(code="000104")
            try:
                with self.lock:
                    return fn(body)
            except _Fail as fail:
                return self.envelope(code=fail.code)

        return endpoint

    @staticmethod
    def _required_str(body: dict[str, Any], name: str) -> str:
        if name not in body:
            raise _Fail("000105")
        val = body[name]
        if val is None or val == "":
            raise _Fail("000106")
        if not isinstance(val, str | int) or isinstance(val, bool):
            raise _Fail("000104")
        return str(val)

    @staticmethod
    def _opt_str(body: dict[str, Any], name: str) -> str:
        val = body.get(name)
        return "" if val is None else str(val)

    # --- endpoints ------------------------------------------------------------------------------
    def _package_list(self, body: dict[str, Any]) -> Response:
        cat = self.catalog
        kind = (self._opt_str(body, "type") or "BASE").upper()
        loc = self._opt_str(body, "locationCode").upper()
        code = self._opt_str(body, "packageCode") or self._opt_str(body, "slug")
        iccid = self._opt_str(body, "iccid")
        if kind not in ("BASE", "TOPUP"):
            raise _Fail("000107")
        if kind == "TOPUP" and (code or iccid):
            if iccid:
                rec = self.index.get(iccid)
                if rec is None:
                    raise _Fail("310403")
                code = rec["plan"] if not rec.get("doc") else DOC_ESIM["packageList"][0]["packageCode"]
            base = cat.find(code)
            if base is None:
                raise _Fail("310241")
            plans = cat.topups_for(base["location"])
        elif kind == "TOPUP":
            plans = cat.topups
        elif code:
            plan = cat.find(code)
            if plan is None or cat.is_topup(plan):
                raise _Fail("310241")
            plans = [plan]
        else:
            plans = cat.base
        if loc in ("!RG", "!GL"):
            plans = [p for p in plans if cat.scope.get(p["packageCode"]) == loc[1:]]
        elif loc:
            plans = [p for p in plans if p["location"] == loc]
        return self.envelope({"packageList": [public(p) for p in plans]}, ok_code="0")

    @staticmethod
    def _cents(value: Any) -> int:
        """Money as Roumio sends it: integer ×100, as a number or a numeric string."""
        if isinstance(value, bool):
            raise ValueError(value)
        dec = Decimal(str(value).strip())
        if not dec.is_finite() or dec != dec.to_integral_value():
            raise ValueError(value)
        return int(dec)

    def _order(self, body: dict[str, Any]) -> Response:
        txn = self._required_str(body, "transactionId")
        if len(txn) > 50:
            raise _Fail("000107")
        if txn in self.by_txn:  # the same transaction: the first answer again, nothing charged
            return self.envelope({"orderNo": self.by_txn[txn], "transactionId": txn})
        if "packageInfoList" not in body:
            raise _Fail("000105")
        lines = body["packageInfoList"]
        if not lines:
            raise _Fail("000106")
        if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
            raise _Fail("200008")
        priced: list[tuple[dict[str, Any], int]] = []
        expected_total = 0
        for line in lines:
            code = self._opt_str(line, "packageCode") or self._opt_str(line, "slug")
            if not code:
                raise _Fail("000105")
            plan = self.catalog.find(code)
            if plan is None or self.catalog.is_topup(plan):
                raise _Fail("310241")
            if line.get("count", 1) != 1:
                raise _Fail("200008")  # "currently we support only 1"
            period = line.get("periodNum", 1)
            if not isinstance(period, int) or isinstance(period, bool) or not 1 <= period <= 365:
                raise _Fail("200008")
            if period != 1 and plan["dataType"] != 2:
                raise _Fail("200008")  # periodNum is for daily plans only
            if "price" in line:
                try:
                    if self._cents(line["price"]) != plan["price"]:
                        raise _Fail("200005")
                except (ValueError, InvalidOperation, ArithmeticError):
                    raise _Fail("200005") from None
            priced.append((plan, period))
            expected_total += plan["price"] * period
        if "amount" in body and body["amount"] not in (None, ""):
            try:
                amount = self._cents(body["amount"])
            except (ValueError, InvalidOperation, ArithmeticError):
                raise _Fail("200006") from None
            if amount != expected_total:
                raise _Fail("200006")
        if expected_total > self.balance:
            raise _Fail("200007")
        self.balance -= expected_total
        now = self.now()
        order_no = self._order_no(now)
        rng = random.Random(f"{self.config.seed}:{order_no}")
        recs = [
            self._new_esim(plan, order_no, txn, now, now + self.config.allocation_delay, "new", rng, period)
            for plan, period in priced
        ]
        self.fleet.extend(recs)
        self.latest_ready = max(self.latest_ready, *(r["ready"] for r in recs))
        for rec in recs:
            self.index[rec["iccid"]] = rec
            self.index["T" + rec["esimTranNo"]] = rec
        self.by_order[order_no] = recs
        self.orders[order_no] = {
            "transactionId": txn,
            "created": now,
            "ready": now + self.config.allocation_delay,
            "amount": expected_total,
            "plans": [plan["packageCode"] for plan, _ in priced],
            "seq": self.next_seq(),
        }
        self.by_txn[txn] = order_no
        return self.envelope({"orderNo": order_no, "transactionId": txn})

    def _query(self, body: dict[str, Any]) -> Response:
        pager = body.get("pager")
        if pager is None:
            raise _Fail("000105")
        if not isinstance(pager, dict):
            raise _Fail("000104")
        size, num = pager.get("pageSize"), pager.get("pageNum")
        if size is None or num is None:
            raise _Fail("000106")
        if (
            not isinstance(size, int)
            or isinstance(size, bool)
            or not 5 <= size <= 500
            or not isinstance(num, int)
            or isinstance(num, bool)
            or not 1 <= num <= 10000
        ):
            raise _Fail("000107")
        now = self.now()
        order_no = self._opt_str(body, "orderNo")
        iccid = self._opt_str(body, "iccid")
        if order_no:
            recs = self.by_order.get(order_no)
            if recs is None:
                raise _Fail("310272")
            if any(now < r["ready"] for r in recs):
                raise _Fail("200010")
        elif iccid:
            rec = self.index.get(iccid)
            if rec is None:
                raise _Fail("310403")
            recs = [rec]
        else:
            recs = self.fleet
        if iccid:
            recs = [r for r in recs if r["iccid"] == iccid]
            if not recs:
                raise _Fail("310403")
        start, end = parse_time(body.get("startTime")), parse_time(body.get("endTime"))
        if start is not None or end is not None:
            lo, hi = start if start is not None else float("-inf"), end if end is not None else float("inf")
            recs = [r for r in recs if lo <= r["created"] <= hi]
        if now < self.latest_ready:  # profiles still allocating are not listed yet
            recs = [r for r in recs if now >= r["ready"]]
        page = recs[(num - 1) * size : num * size]
        return self.envelope(
            {
                "esimList": [self.view(r, now) for r in page],
                "pager": {"pageSize": size, "pageNum": num, "total": len(recs)},
            },
            ok_code="0",
        )

    def _balance(self, body: dict[str, Any]) -> Response:
        return self.envelope({"balance": self.balance})

    def _topup(self, body: dict[str, Any]) -> Response:
        txn = self._required_str(body, "transactionId")
        code = self._required_str(body, "packageCode")
        if txn in self.topup_results:
            return self.envelope(self.topup_results[txn])
        tran, iccid = self._opt_str(body, "esimTranNo"), self._opt_str(body, "iccid")
        if "esimTranNo" not in body and "iccid" not in body:
            raise _Fail("000105")
        if not tran and not iccid:
            raise _Fail("000106")
        rec = self.index.get("T" + tran) if tran else self.index.get(iccid)
        if rec is None:
            raise _Fail("310403")
        plan = self.catalog.find(code)
        if plan is None:
            raise _Fail("310241")
        base = self.catalog.find(rec["plan"]) if not rec.get("doc") else None
        if not self.catalog.is_topup(plan) or base is None or plan["location"] != base["location"]:
            raise _Fail("200008")  # not a top-up for this eSIM's plan
        now = self.now()
        view = self.view(rec, now)
        if view["esimStatus"] not in ("GOT_RESOURCE", "IN_USE", "USED_UP"):
            raise _Fail("200002")
        if body.get("amount") not in (None, ""):
            try:
                if self._cents(body["amount"]) != plan["price"]:
                    raise _Fail("200005")
            except (ValueError, InvalidOperation, ArithmeticError):
                raise _Fail("200005") from None
        if plan["price"] > self.balance:
            raise _Fail("200007")
        self.balance -= plan["price"]
        self.topup_count += 1
        # Freeze usage so far, then grow the allowance; USED_UP profiles come back IN_USE.
        rec["usage"] = float(view["orderUsage"])
        if rec["since"] is not None:
            rec["since"] = max(now, rec["since"])
        rec["total"] += plan["volume"]
        rec["days"] += plan["duration"]
        after = self.view(rec, now)
        result = {
            "transactionId": txn,
            "iccid": rec["iccid"],
            "expiredTime": after["expiredTime"],
            "totalVolume": after["totalVolume"],
            "totalDuration": after["totalDuration"],
            "orderUsage": after["orderUsage"],
        }
        self.topup_results[txn] = result
        self.topup_log.append({"transactionId": txn, "plan": code, "created": now, "seq": self.next_seq()})
        return self.envelope(result)

    # --- support actions (roumio-more.md): the same state rules the adapter states in words ----------
    def _target(self, body: dict[str, Any]) -> dict[str, Any]:
        if "esimTranNo" not in body and "iccid" not in body:
            raise _Fail("000105")
        tran, iccid = self._opt_str(body, "esimTranNo"), self._opt_str(body, "iccid")
        if not tran and not iccid:
            raise _Fail("000106")
        rec = self.index.get("T" + tran) if tran else self.index.get(iccid)
        if rec is None:
            raise _Fail("310403")
        if rec.get("doc"):
            raise _Fail("200002")  # the document's own sample is CANCEL and stays so
        return rec

    def _hold_usage(self, rec: dict[str, Any], now: float) -> dict[str, Any]:
        """Keep the usage so far; growth (if any) starts again from ``now``."""
        view = self.view(rec, now)
        rec["usage"] = float(view["orderUsage"])
        if rec["since"] is not None:
            rec["since"] = max(now, rec["since"])
        return view

    def _done(self, rec: dict[str, Any], action: str, now: float, **extra: Any) -> Response:
        self.action_log.append({"action": action, "iccid": rec["iccid"], "esimTranNo": rec["esimTranNo"],
                                "at": now, **extra})
        return self.envelope(None)

    @staticmethod
    def _installed(view: dict[str, Any]) -> bool:
        return view["esimStatus"] == "IN_USE" or (view["esimStatus"] == "GOT_RESOURCE"
                                                   and view["smdpStatus"] != "RELEASED")

    def _cancel(self, body: dict[str, Any]) -> Response:
        rec, now = self._target(body), self.now()
        view = self.view(rec, now)
        if (view["esimStatus"], view["smdpStatus"]) != ("GOT_RESOURCE", "RELEASED"):
            raise _Fail("200002")  # only an unused profile
        plan = self.catalog.find(rec["plan"]) or {}
        refund = int(plan.get("price", 0)) * int(rec.get("period", 1))
        self.balance += refund
        rec["installed"] = rec["since"] = None  # it will never be installed now
        rec["frozen"] = ("CANCEL", "RELEASED")
        return self._done(rec, "cancel", now, refund_cents=refund)

    def _suspend(self, body: dict[str, Any]) -> Response:
        rec, now = self._target(body), self.now()
        view = self.view(rec, now)
        if not self._installed(view):
            raise _Fail("200002")
        self._hold_usage(rec, now)
        rec["suspended_from"] = rec["frozen"]
        rec["frozen"] = ("SUSPENDED", view["smdpStatus"])
        return self._done(rec, "suspend", now)

    def _unsuspend(self, body: dict[str, Any]) -> Response:
        rec, now = self._target(body), self.now()
        if self.view(rec, now)["esimStatus"] != "SUSPENDED":
            raise _Fail("200002")
        before = rec.pop("suspended_from", None)
        rec["frozen"] = tuple(before) if before else None
        if rec["since"] is not None:
            rec["since"] = now
        return self._done(rec, "unsuspend", now)

    def _revoke(self, body: dict[str, Any]) -> Response:
        rec, now = self._target(body), self.now()
        view = self.view(rec, now)
        if view["esimStatus"] in ("CANCEL", "REVOKE", "USED_EXPIRED", "UNUSED_EXPIRED") or view["smdpStatus"] == "DELETED":
            raise _Fail("200002")
        self._hold_usage(rec, now)
        rec["frozen"] = ("REVOKE", "DISABLED")  # for good, and no refund
        return self._done(rec, "revoke", now)

    def _send_sms(self, body: dict[str, Any]) -> Response:
        rec = self._target(body)
        message = self._required_str(body, "message")
        if len(message) > SMS_MAX:
            raise _Fail("000107")
        now = self.now()
        view = self.view(rec, now)
        if not self._installed(view) or not view["smsStatus"]:
            raise _Fail("200002")  # the plan must take SMS and the profile be installed
        self.sms_outbox.append({"iccid": rec["iccid"], "esimTranNo": rec["esimTranNo"], "message": message, "at": now})
        return self._done(rec, "sendSms", now)

    def _usage_query(self, body: dict[str, Any]) -> Response:
        if "esimTranNoList" not in body:
            raise _Fail("000105")
        trans = body["esimTranNoList"]
        if not isinstance(trans, list):
            raise _Fail("000104")
        if not trans:
            raise _Fail("000106")
        if len(trans) > 10:
            raise _Fail("000107")
        now = self.now()
        out = []
        for tran in trans:
            rec = self.index.get("T" + str(tran))
            if rec is None:
                raise _Fail("310403")
            at = max(now - now % USAGE_REFRESH, rec["created"])
            view = self.view(rec, at)
            out.append({"esimTranNo": rec["esimTranNo"], "dataUsage": view["orderUsage"],
                        "totalData": view["totalVolume"], "lastUpdateTime": fmt_time(at)})
        return self.envelope(out)

    def ledger(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = [
                {
                    "order_id": order_no,
                    "handle": order["transactionId"],
                    # One line per eSIM ("count" is "currently only 1"): N of one plan = quantity N.
                    "plan_id": ",".join(dict.fromkeys(order["plans"])),
                    "quantity": len(order["plans"]),
                    "kind": "order",
                    "created_at": order["created"],
                    "seq": order["seq"],
                }
                for order_no, order in self.orders.items()
            ]
            rows += [
                # A top-up has no orderNo: its transactionId is its only name (the adapter's order id).
                {"order_id": t["transactionId"], "handle": t["transactionId"], "plan_id": t["plan"],
                 "quantity": 1, "kind": "topup", "created_at": t["created"], "seq": t["seq"]}
                for t in self.topup_log
            ]
        rows.sort(key=lambda r: r["seq"])
        for row in rows:
            del row["seq"]
        return rows

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": len(self.orders),
                "topups": self.topup_count,
                "order_requests": self.order_requests,
                "balance_cents": self.balance,
                "actions": [dict(a) for a in self.action_log],
                "sms_outbox": [dict(m) for m in self.sms_outbox],
            }
