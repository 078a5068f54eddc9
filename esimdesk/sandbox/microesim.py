"""Simulated MicroESIM OPEN API V1: signed headers, the ``code``/``msg``/``result`` envelope, async allocation.

The document lists no error codes at all; the simulator answers failures in the vendor's own envelope
(HTTP 200, ``code`` != 1, ``msg`` in words) with HTTP-like numbers chosen here and mirrored by the adapter:
401 credentials/signature, 400 bad parameter, 402 balance, 404 unknown order/device/plan,
409 repeated ``custom_order_no``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import random
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from esimdesk.sandbox.base import VendorSandbox, rng_state, set_rng_state
from esimdesk.sandbox.ids import luhn_digit as _luhn_digit
from esimdesk.sandbox.microesim_catalog import PAGE_SAMPLE_SPECIAL_DESC, MicroesimCatalog

CST = timezone(timedelta(hours=8))  # the documented system time zone, UTC+08:00
STALE_AFTER = 300.0  # seconds a signed timestamp stays acceptable
DEFAULT_ESIMS = 40
MAX_PAGE_SIZE = 1000  # undocumented; the sample asks for 500

SAMPLE_TOPUP_ID = "202308161431187762753800"
SAMPLE_TOPUP = {
    "topup_id": "202308161431187762753800",
    "number": 2,
    "channel_dataplan_id": "b1a926e1-d770-4e03-804e-c527b9397eb9",
    "channel_dataplan_name": "Global 66-Total1GB-7-A0",
    "success_number": 2,
    "create_time": "Fri Aug 16 14:00:08 CST 2024",
    "type": "esim",
    "device_ids": ["9000024081603874", "9000024081684603"],
    "lpa_str": [
        "LPA:1$rsp-eu.simlessly.com$580FFE02FFEE57965B6EECA132DA088D",
        "LPA:1$rsp-eu.simlessly.com$56C139A2ED0CA148F9AF57364F6DDDEF",
    ],
    "qrcode": [
        "https://microesim.top/files/9999-9000024081603874",
        "https://microesim.top/files/9999-9000024081684603",
    ],
    "ios_esim_install_link": [
        "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.simlessly.com$580FFE02FFEE57965B6EECA132DA088D",
        "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.simlessly.com$56C139A2ED0CA148F9AF57364F6DDDEF",
    ],
    "android_esim_install_link": [
        "https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.simlessly.com$580FFE02FFEE57965B6EECA132DA028D",
        "https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.simlessly.com$56C139A2ED0CA148F9AF57364F6CCCEF",
    ],
    "msisdn": ["482222233223", "482222233333"],
    "cf_code": ["000777", "000888"],
}
SAMPLE_DEVICE = {
    "topup_id": "202308161431187762753800",
    "device_id": "9000024081684603",
    "type": "esim",
    "channel_dataplan_id": "b1a926e1-d770-4e03-804e-c527b9397eb9",
    "channel_dataplan_name": "Global 66-Total1GB-7-A0",
    "status": "success",
    "active_time": "2023-07-05 12:50:46",
    "pause_time": "",
    "expire_time": "2023-07-08 12:50:45",
    "terminate_time": "",
    "create_time": "2023-07-05 04:06:20",
    "data_usage": "17135.6",
    "data_usage_daily": [
        {
            "date": "2023-07-07",
            "total_usage": "4904.10",
            "mcc": "286",
            "mnc": "02",
            "total_usage_kb": "5021805.120",
        },
        {
            "date": "2023-07-06",
            "total_usage": "7990.47",
            "mcc": "286",
            "mnc": "02",
            "total_usage_kb": "8182245.451",
        },
        {
            "date": "2023-07-05",
            "total_usage": "4241.01",
            "mcc": "286",
            "mnc": "02",
            "total_usage_kb": "4342800.965",
        },
    ],
    "is_daily": "true",
    "daily_reset_time": "2023-07-07 23:59:59",
}
SAMPLE_EVENTS = [
    {
        "event_date": "2023-07-05 04:16:15",
        "eid": "89033023426300000000032653960548",
        "notification_status": "Executed-Success",
        "notify_type": "DOWNLOADED",
    },
    {
        "event_date": "2023-07-05 04:16:28",
        "eid": "89033023426300000000032653960548",
        "notification_status": "Executed-Success",
        "notify_type": "INSTALLED",
    },
    {
        "event_date": "2023-07-05 04:16:48",
        "eid": "89033023426300000000032653960548",
        "notification_status": "Executed-Success",
        "notify_type": "ENABLE",
    },
    {
        "event_date": "2023-07-05 12:50:44",
        "eid": "89033023426300000000032653960548",
        "notification_status": "Executed-Success",
        "notify_type": "DISABLE",
    },
    {
        "event_date": "2023-07-05 12:50:46",
        "eid": "89033023426300000000032653960548",
        "notification_status": "Executed-Success",
        "notify_type": "ENABLE",
    },
]
EVENT_ORDER = ("DOWNLOADED", "INSTALLED", "ENABLE", "DISABLE", "DELETE")


def fmt_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CST).strftime("%Y-%m-%d %H:%M:%S")


def fmt_java(epoch: float) -> str:
    # Java's Date.toString() in Asia/Shanghai, as the topupDetail sample shows it.
    return datetime.fromtimestamp(epoch, CST).strftime("%a %b %d %H:%M:%S CST %Y")


def sign(account: str, nonce: str, timestamp: str, secret: str, salt_hex: str) -> str:
    """MICROESIM-SIGN exactly as the vendor's reference code computes it (kept here for the simulator)."""
    key_hex = hashlib.pbkdf2_hmac("sha256", secret.encode(), bytes.fromhex(salt_hex), 1024, 32).hex()
    return hmac.new(key_hex.encode(), (account + nonce + timestamp).encode(), hashlib.sha256).hexdigest()


def envelope(result: Any = None, code: int = 1, msg: str = "Success") -> JSONResponse:
    return JSONResponse({"code": code, "msg": msg, "result": result})


def failure(code: int, msg: str, result: Any = None) -> JSONResponse:
    return envelope(result, code=code, msg=msg)


class _Fail(Exception):
    def __init__(self, code: int, msg: str, result: Any = None):
        self.response = failure(code, msg, result)


def parse_form(content_type: str, body: bytes) -> dict[str, str]:
    """multipart/form-data as documented per endpoint; also urlencoded and JSON, because the document's
    preamble says every request is ``Content-Type: application/json`` (it contradicts itself)."""
    if not body:
        return {}
    ctype = content_type.lower()
    if ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        msg = BytesParser(policy=HTTP).parsebytes(head + body)
        out: dict[str, str] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                payload = part.get_payload(decode=True) or b""
                out[str(name)] = payload.decode("utf-8", "replace")
        return out
    if "json" in ctype or body[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except ValueError:
            raise _Fail(400, "Request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise _Fail(400, "Request body must be an object")
        return {str(k): "" if v is None else str(v) for k, v in data.items()}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


class MicroesimSandbox(VendorSandbox):
    vendor = "microesim"
    mount = "/microesim"
    rate_limit = None  # the document states no limit

    def __init__(self, config, credentials):
        super().__init__(config, credentials)
        self.catalog = MicroesimCatalog(config.seed, config.plans)
        self._key_hex = hashlib.pbkdf2_hmac(
            "sha256", credentials["SECRET"].encode(), bytes.fromhex(credentials["SALT"]), 1024, 32
        ).hex()
        self.balance_cents = config.balance_cents
        self.t0 = self.now()
        self.order_requests = 0
        self.orders: dict[str, dict[str, Any]] = {}  # topup_id -> order placed through the API
        self.by_custom_no: dict[str, str] = {}
        # Tests switch this off to play a vendor whose duplicate answer does not name the first order.
        self.name_duplicates = True
        self.devices: dict[str, dict[str, Any]] = {}  # ICCID -> device of an API order
        self._nonces: OrderedDict[str, float] = OrderedDict()
        self._seq = 0
        self._rng = random.Random(config.seed)  # new orders: deterministic ids by seed
        n = DEFAULT_ESIMS if config.esims is None else max(0, config.esims)
        self._fleet_size = n
        prefix = f"8985{config.seed % 100:02d}"
        # The seeded fleet: device i is order i, generated on demand from (seed, i); ICCIDs pass Luhn.
        self._fleet_iccids = [f"{prefix}{i:012d}" for i in range(n)]
        self._fleet_iccids = [b + _luhn_digit(b) for b in self._fleet_iccids]
        self._fleet_index = {iccid: i for i, iccid in enumerate(self._fleet_iccids)}
        self._fleet_cache: dict[int, dict[str, Any]] = {}
        self.known_devices: list[str] = list(SAMPLE_TOPUP["device_ids"]) + self._fleet_iccids
        self.known_orders: list[str] = [SAMPLE_TOPUP_ID] + [self._fleet_topup_id(i) for i in range(n)]

    # --- a world kept in a file ----------------------------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        with self.lock:
            return {
                **super().dump_state(),
                "t0": self.t0, "seq": self._seq, "rng": rng_state(self._rng),
                "balance_cents": self.balance_cents, "order_requests": self.order_requests,
                "orders": self.orders, "by_custom_no": self.by_custom_no, "devices": self.devices,
            }

    def load_state(self, state: dict[str, Any]) -> None:
        super().load_state(state)
        self.t0, self._seq = state["t0"], state["seq"]
        set_rng_state(self._rng, state["rng"])
        self.balance_cents, self.order_requests = state["balance_cents"], state["order_requests"]
        self.orders, self.by_custom_no, self.devices = state["orders"], state["by_custom_no"], state["devices"]
        self._fleet_cache.clear()  # the seeded fleet follows (seed, t0)

    def writes(self, method: str, path: str) -> bool:
        return path.rstrip("/").endswith("esimSubscribe")

    # --- routes ----------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        p = "/allesim/v1/"
        return [
            Route(p + "esimDataplanList", self._wrap(self.plan_list), methods=["GET"]),
            Route(p + "esimDataplanListPage", self._wrap(self.plan_page), methods=["GET"]),
            Route(p + "esimSubscribe", self._wrap(self.subscribe, counts=True), methods=["POST"]),
            Route(p + "topupDetail", self._wrap(self.topup_detail), methods=["POST"]),
            Route(p + "deviceDetail", self._wrap(self.device_detail), methods=["POST"]),
            Route(p + "eventDetail", self._wrap(self.event_detail), methods=["POST"]),
            Route(p + "accountBalance", self._wrap(self.account_balance), methods=["POST"]),
        ]

    def _wrap(self, handler, counts: bool = False):
        async def endpoint(request: Request) -> Response:
            if counts:
                with self.lock:
                    self.order_requests += 1
            try:
                self.check_auth(request.headers)
                form = parse_form(request.headers.get("content-type", ""), await request.body())
                with self.lock:
                    return handler(request, form)
            except _Fail as fail:
                return fail.response

        return endpoint

    def busy_response(self) -> Response:
        # No busy code is documented: a plain 503 carrying the vendor's envelope shape.
        return JSONResponse(
            {"code": 503, "msg": "System busy, please try again later", "result": None},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    def rate_limited_response(self) -> Response:
        # No limit is documented; a 429 (injected in tests) carries the vendor's envelope all the same.
        return JSONResponse(
            {"code": 429, "msg": "Too many requests, please try again later", "result": None},
            status_code=429,
            headers={"Retry-After": "1"},
        )

    def ledger(self) -> list[dict[str, Any]]:
        # MicroESIM has no top-up call in its document: every row is an order (esimSubscribe).
        with self.lock:
            return [
                {
                    "order_id": topup_id,
                    "handle": order["custom_order_no"] or None,
                    "plan_id": order["plan"]["channel_dataplan_id"],
                    "quantity": order["number"],
                    "kind": "order",
                    "created_at": order["created"],
                }
                for topup_id, order in self.orders.items()  # dicts keep insertion (creation) order
            ]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "orders": len(self.orders),
                "order_requests": self.order_requests,
                "balance": f"{self.balance_cents / 100:.2f}",
                "currency": "HKD",
                "plans": len(self.catalog),
                "known_devices": len(self.known_devices),
                "known_orders": len(self.known_orders),
                "order_options": [
                    {"topup_id": o["topup_id"], "activation_date": o.get("activation_date"),
                     "custom_email": o.get("custom_email")}
                    for o in self.orders.values() if o.get("activation_date") or o.get("custom_email")],
            }

    # --- auth ------------------------------------------------------------------------------------
    def check_auth(self, headers) -> None:
        account = headers.get("MICROESIM-ACCOUNT", "")
        nonce = headers.get("MICROESIM-NONCE", "")
        stamp = headers.get("MICROESIM-TIMESTAMP", "")
        signature = headers.get("MICROESIM-SIGN", "")
        if not (account and nonce and stamp and signature):
            raise _Fail(401, "Missing authentication headers")
        if not hmac.compare_digest(account, self.credentials["ACCOUNT"]):
            raise _Fail(401, "Invalid MICROESIM-ACCOUNT")
        if not 6 <= len(nonce) <= 32:
            raise _Fail(401, "MICROESIM-NONCE must be 6-32 characters")
        if len(stamp) != 13 or not stamp.isdigit():
            raise _Fail(401, "MICROESIM-TIMESTAMP must be 13 digits (milliseconds)")
        # Real wall time, not the sandbox clock (shared or this vendor's own): tests advance or skew the
        # clock while clients sign with time.time(), and a skew beyond STALE_AFTER would refuse them all.
        wall = time.time()
        if abs(wall - int(stamp) / 1000) > STALE_AFTER:
            raise _Fail(401, "MICROESIM-TIMESTAMP expired")
        expected = hmac.new(
            self._key_hex.encode(), (account + nonce + stamp).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise _Fail(401, "MICROESIM-SIGN verification failed")
        with self.lock:
            while self._nonces and next(iter(self._nonces.values())) < wall - STALE_AFTER:
                self._nonces.popitem(last=False)
            if nonce in self._nonces:
                raise _Fail(401, "MICROESIM-NONCE already used")
            self._nonces[nonce] = wall

    # --- catalog ---------------------------------------------------------------------------------
    def plan_list(self, request: Request, form: dict[str, str]) -> Response:
        return envelope(self.catalog.page(0, len(self.catalog)))

    def plan_page(self, request: Request, form: dict[str, str]) -> Response:
        q = request.query_params
        try:
            page_no = int(q.get("pageNo", "1"))
            page_size = int(q.get("pageSize", "500"))
        except ValueError:
            raise _Fail(400, "pageNo and pageSize must be integers") from None
        if page_no < 1 or page_size < 1:
            raise _Fail(400, "pageNo and pageSize must be at least 1")
        page_size = min(page_size, MAX_PAGE_SIZE)
        total = len(self.catalog)
        start = (page_no - 1) * page_size
        plans = self.catalog.page(start, start + page_size)
        for plan in plans:
            if plan["channel_dataplan_id"] in PAGE_SAMPLE_SPECIAL_DESC:
                plan["special_desc"] = PAGE_SAMPLE_SPECIAL_DESC[plan["channel_dataplan_id"]]
        return envelope(
            {
                "pageNo": page_no,
                "pageSize": page_size,
                "total": total,
                "totalPages": math.ceil(total / page_size),
                "list": plans,
            }
        )

    def account_balance(self, request: Request, form: dict[str, str]) -> Response:
        return envelope(
            {
                "balance": round(self.balance_cents / 100, 2),
                "currency": "HKD",
                "account": self.credentials["ACCOUNT"],
            }
        )

    # --- orders ----------------------------------------------------------------------------------
    def subscribe(self, request: Request, form: dict[str, str]) -> Response:
        number_text = form.get("number", "").strip()
        if not number_text.isdigit() or not 1 <= int(number_text) <= 100:
            raise _Fail(400, "number is mandatory and must be between 1 and 100")
        number = int(number_text)
        plan = self.catalog.find(form.get("channel_dataplan_id", "").strip())
        if plan is None or plan.get("status") != "1":
            raise _Fail(404, "Data plan does not exist or is not available")
        activation = form.get("activation_date", "").strip()
        if activation:
            try:
                when = datetime.strptime(activation, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            except ValueError:
                raise _Fail(400, "activation_date must be yyyy-MM-dd HH:mm:ss (UTC+0)") from None
            if not 0 <= when.timestamp() - self.now() <= 30 * 86400 + 60:
                raise _Fail(400, "activation_date must be within 30 days")
        custom_no = form.get("custom_order_no", "").strip()
        if custom_no and custom_no in self.by_custom_no:
            # Undocumented: we assume the vendor refuses a repeated custom_order_no (nothing is created,
            # nothing charged) and names the order that already carries it, so a client whose first
            # answer was lost can find its order (there is no order list to look in).
            named = {"topup_id": self.by_custom_no[custom_no]} if self.name_duplicates else None
            raise _Fail(409, "custom_order_no already exists", named)
        cost = round(float(plan["price"]) * 100) * number
        if cost > self.balance_cents:
            raise _Fail(402, "Insufficient account balance")
        self.balance_cents -= cost
        now = self.now()
        self._seq += 1
        topup_id = (
            datetime.fromtimestamp(now, CST).strftime("%Y%m%d%H%M%S")
            + f"{self._seq:06d}{self._rng.randrange(10000):04d}"
        )
        iccids = []
        for k in range(number):
            iccid = self._new_iccid()
            # Larger orders allocate progressively ("Value > 1 may trigger delays").
            ready = now + self.config.allocation_delay * (1 + 0.5 * k)
            self.devices[iccid] = self._device(
                iccid, topup_id, plan, now, ready, random.Random(f"{self.config.seed}:{iccid}"), "fresh"
            )
            iccids.append(iccid)
        self.orders[topup_id] = {
            "topup_id": topup_id,
            "number": number,
            "plan": plan,
            "created": now,
            "iccids": iccids,
            "custom_order_no": custom_no,
            # Kept as sent; the vendor mails the eSIM to custom_email (our simulation only records it).
            "activation_date": activation or None,
            "custom_email": form.get("custom_email", "").strip() or None,
        }
        if custom_no:
            self.by_custom_no[custom_no] = topup_id
        return envelope({"topup_id": topup_id})

    def topup_detail(self, request: Request, form: dict[str, str]) -> Response:
        topup_id = form.get("topup_id", "").strip()
        if not topup_id:
            raise _Fail(400, "topup_id is required")
        answer = self._topup(topup_id)
        if answer is None:
            raise _Fail(404, "Topup order does not exist")
        return envelope(answer)

    def premade_history(self) -> list[tuple[dict[str, Any], str | None]]:
        """The demo desk's MicroESIM history (``known_orders``), as the desk that placed those orders holds
        them: each order's topupDetail answer of now and what it cost ("12.50", HKD: the plan's price times
        the number ordered; None for a plan the catalog no longer has)."""
        with self.lock:
            out = []
            for topup_id in self.known_orders:
                answer = self._topup(topup_id)
                if answer is None:
                    continue
                plan = self.catalog.find(answer["channel_dataplan_id"])
                price = (f"{Decimal(plan['price']) * int(answer['number']):.2f}"
                         if plan is not None and plan.get("price") else None)
                out.append((answer, price))
            return out

    def _topup(self, topup_id: str) -> dict[str, Any] | None:
        """topupDetail's answer for ``topup_id`` (a deep copy), or None when no such order exists."""
        if topup_id == SAMPLE_TOPUP_ID:
            return json.loads(json.dumps(SAMPLE_TOPUP))
        order = self.orders.get(topup_id)
        devices: list[dict[str, Any]]
        if order is not None:
            devices = [self.devices[i] for i in order["iccids"]]
            number, plan, created = order["number"], order["plan"], order["created"]
        else:
            dev = self._fleet_by_topup(topup_id)
            if dev is None:
                return None
            devices, number, plan, created = [dev], 1, dev["plan"], dev["created"]
        now = self.now()
        ready = [d for d in devices if d["ready"] <= now]
        return (
            {
                "topup_id": topup_id,
                "number": number,
                "channel_dataplan_id": plan["channel_dataplan_id"],
                "channel_dataplan_name": plan["channel_dataplan_name"],
                "success_number": len(ready),
                "create_time": fmt_java(created),
                "type": "esim",
                "device_ids": [d["iccid"] for d in ready],
                "lpa_str": [d["lpa"] for d in ready],
                "qrcode": [f"https://microesim.top/files/9999-{d['iccid']}" for d in ready],
                "ios_esim_install_link": [
                    f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={d['lpa']}" for d in ready
                ],
                "android_esim_install_link": [
                    f"https://esimsetup.android.com/esim_qrcode_provisioning?carddata={d['lpa']}"
                    for d in ready
                ],
                "msisdn": [d["msisdn"] for d in ready],
                "cf_code": [d["cf_code"] for d in ready],
            }
        )

    # --- devices ---------------------------------------------------------------------------------
    def device_detail(self, request: Request, form: dict[str, str]) -> Response:
        device_id = form.get("device_id", "").strip()
        topup_id = form.get("topup_id", "").strip()
        if not device_id:
            raise _Fail(400, "device_id is required")
        if device_id in SAMPLE_TOPUP["device_ids"]:
            if topup_id and topup_id != SAMPLE_TOPUP_ID:
                raise _Fail(404, "Device does not exist in this topup order")
            detail = json.loads(json.dumps(SAMPLE_DEVICE))
            detail["device_id"] = device_id
            return envelope(detail)
        dev = self._lookup(device_id)
        # topup_id is listed beside device_id but not marked mandatory: checked only when given.
        if dev is None or (topup_id and topup_id != dev["topup_id"]):
            raise _Fail(404, "Device does not exist")
        return envelope(self._detail(dev))

    def event_detail(self, request: Request, form: dict[str, str]) -> Response:
        device_id = form.get("device_id", "").strip()
        if not device_id:
            raise _Fail(400, "device_id is required")
        if device_id in SAMPLE_TOPUP["device_ids"]:
            return envelope(json.loads(json.dumps(SAMPLE_EVENTS)))
        dev = self._lookup(device_id)
        if dev is None:
            raise _Fail(404, "Device does not exist")
        now = self.now()
        events = sorted((t, kind) for kind, t in dev["events"].items() if t is not None and t <= now)
        return envelope(
            [
                {
                    "event_date": fmt_time(t),
                    "eid": dev["eid"],
                    "notification_status": "Executed-Success",
                    "notify_type": kind,
                }
                for t, kind in events
            ]
        )

    # --- device model ----------------------------------------------------------------------------
    def _new_iccid(self) -> str:
        while True:
            body = f"89852{self._rng.randrange(10**13):013d}"
            iccid = body + _luhn_digit(body)
            if iccid not in self.devices and iccid not in self._fleet_index:
                return iccid

    def _fleet_topup_id(self, i: int) -> str:
        return f"20240101000000{self.config.seed % 100:02d}{i:08d}"

    def _fleet_by_topup(self, topup_id: str) -> dict[str, Any] | None:
        if (
            len(topup_id) == 24
            and topup_id.isdigit()
            and topup_id == self._fleet_topup_id(int(topup_id[16:]))
        ):
            i = int(topup_id[16:])
            if i < self._fleet_size:
                return self._fleet(i)
        return None

    def _lookup(self, iccid: str) -> dict[str, Any] | None:
        dev = self.devices.get(iccid)
        if dev is None and iccid in self._fleet_index:
            dev = self._fleet(self._fleet_index[iccid])
        if dev is None or dev["ready"] > self.now():
            return None
        return dev

    def _fleet(self, i: int) -> dict[str, Any]:
        dev = self._fleet_cache.get(i)
        if dev is None:
            rng = random.Random(self.config.seed * 7919 + i)
            lifecycle = ("new", "installed", "active", "active", "active", "depleted", "expired", "deleted")[
                i % 8
            ]
            for _ in range(20):  # a depleted eSIM needs a plan with a cap
                plan = self.catalog.plan(rng.randrange(len(self.catalog)))
                if lifecycle != "depleted" or self.catalog.data_mb(plan) is not None:
                    break
            created = self.t0 - 86400 * (plan["day"] + 2 if lifecycle == "expired" else rng.uniform(0.2, 2.0))
            dev = self._device(
                self._fleet_iccids[i], self._fleet_topup_id(i), plan, created, created + 30, rng, lifecycle
            )
            self._fleet_cache[i] = dev
        return dev

    def _device(self, iccid, topup_id, plan, created, ready, rng, lifecycle) -> dict[str, Any]:
        matching = "".join(rng.choice("0123456789ABCDEF") for _ in range(32))
        events: dict[str, float | None] = dict.fromkeys(EVENT_ORDER)
        if lifecycle == "fresh":  # ordered through the API: installed and used once the clock moves on
            events.update(DOWNLOADED=ready + 300, INSTALLED=ready + 320, ENABLE=ready + 600)
        elif lifecycle != "new":
            events.update(DOWNLOADED=ready + 600, INSTALLED=ready + 620)
            if lifecycle != "installed":
                events["ENABLE"] = ready + 900
            if lifecycle == "deleted":
                events.update(DISABLE=ready + 4000, DELETE=ready + 4100)
        return {
            "iccid": iccid,
            "topup_id": topup_id,
            "plan": plan,
            "created": created,
            "ready": ready,
            "lpa": f"LPA:1$rsp-eu.simlessly.com${matching}",
            "eid": f"8903302342630000{rng.randrange(10**16):016d}",
            "msisdn": f"48{rng.randrange(10**10):010d}",
            "cf_code": f"{rng.randrange(10**6):06d}",
            "events": events,
            "rate": rng.uniform(0.5, 1.5),
            "depleted": lifecycle == "depleted",
            "mcc": rng.choice(("286", "454", "440", "234", "310")),
            "mnc": rng.choice(("01", "02", "10")),
        }

    def _usage_mb(self, dev: dict[str, Any], start: float, end: float) -> float:
        """MB used between two instants (clock seconds) by an eSIM, by the usage_mb_per_hour knob."""
        if end <= start:
            return 0.0
        return (end - start) / 3600 * self.config.usage_mb_per_hour * dev["rate"]

    def _detail(self, dev: dict[str, Any]) -> dict[str, Any]:
        now, plan, ev = self.now(), dev["plan"], dev["events"]
        active = ev["ENABLE"] if ev["ENABLE"] is not None and ev["ENABLE"] <= now else None
        expire = active + plan["day"] * 86400 - 1 if active is not None else None
        stop = min(t for t in (now, expire, ev["DISABLE"], ev["DELETE"]) if t is not None)
        cap = self.catalog.data_mb(plan)
        daily = "Daily" in plan["channel_dataplan_name"]
        used = 0.0
        rows: list[dict[str, Any]] = []
        if active is not None:
            day = datetime.fromtimestamp(active, CST).replace(hour=0, minute=0, second=0)
            while day.timestamp() < stop:
                a, b = max(active, day.timestamp()), min(stop, (day + timedelta(days=1)).timestamp())
                mb = self._usage_mb(dev, a, b)
                if dev["depleted"] and cap is not None:
                    mb = max(0.0, cap - used)
                if cap is not None:
                    # A daily plan's cap applies each day; a total plan's over its life.
                    mb = min(mb, cap) if daily else min(mb, max(0.0, cap - used))
                used += mb
                rows.append(
                    {
                        "date": day.strftime("%Y-%m-%d"),
                        "total_usage": f"{mb:.2f}",
                        "mcc": dev["mcc"],
                        "mnc": dev["mnc"],
                        "total_usage_kb": f"{mb * 1024:.3f}",
                    }
                )
                day += timedelta(days=1)
        rows.reverse()  # newest first, as in the sample
        today_end = datetime.fromtimestamp(now, CST).replace(hour=23, minute=59, second=59)
        return {
            "topup_id": dev["topup_id"],
            "device_id": dev["iccid"],
            "type": "esim",
            "channel_dataplan_id": plan["channel_dataplan_id"],
            "channel_dataplan_name": plan["channel_dataplan_name"],
            "status": "success",
            "active_time": fmt_time(active) if active is not None else "",
            "pause_time": "",  # vendor-side pause/terminate: no documented call sets them
            "expire_time": fmt_time(expire) if expire is not None else "",
            "terminate_time": "",
            "create_time": fmt_time(dev["created"]),
            "data_usage": f"{used:.1f}",
            "data_usage_daily": rows[:31],
            "is_daily": "true" if daily else "false",
            "daily_reset_time": today_end.strftime("%Y-%m-%d %H:%M:%S"),
        }
