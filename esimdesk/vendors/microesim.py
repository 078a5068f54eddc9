"""MicroESIM OPEN API V1 adapter: signed headers, ``{code, msg, result}`` envelope, HKD string prices,
UTC+8 times, plan volumes as "1GB"/"500MB"/"unlimited", allocation polled through ``topupDetail``."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from esimdesk.domain import (
    Action,
    Balance,
    ConfigError,
    DuplicateReference,
    Esim,
    EsimStatus,
    Event,
    InsufficientBalance,
    MalformedResponse,
    NotFound,
    Order,
    OrderLine,
    OrderStatus,
    Plan,
    PlanDetails,
    Unsupported,
    ValidationError,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorError,
    VendorRejected,
)
from esimdesk.domain.countries import country_name
from esimdesk.vendors import DEFAULT_URLS
from esimdesk.vendors.base import Capability, VendorAdapter
from esimdesk.vendors.http import VendorHttp, redact
from esimdesk.vendors.microesim_auth import MicroesimAuth
from esimdesk.vendors.paging import pages_ahead

log = logging.getLogger("esimdesk.vendors.microesim")


class _Redact(logging.Filter):
    # Logger filters do not apply to children's records, so this module's logger gets its own.
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        return True


log.addFilter(_Redact())

CST = timezone(timedelta(hours=8))  # "System time zone: UTC/GMT+08:00"
# Java's Date.toString() zone names seen or plausible; "CST" is China Standard Time here, not US Central.
_ZONES = {"CST": CST, "HKT": CST, "SGT": CST, "UTC": UTC, "GMT": UTC}
_MONTHS = {m: i for i, m in enumerate(("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec").split(), 1)}
_JAVA_TIME = re.compile(
    r"^[A-Za-z]{3} ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) ([A-Z]{2,5}) (\d{4})$"
)
_VOLUME = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(TB|GB|MB|KB)\s*$", re.I)
_NAME_TOTAL = re.compile(r"Total\s*(\d+(?:\.\d+)?\s*(?:TB|GB|MB))", re.I)
# A plan's name is its area, then its allowance and days: "Global 66-Total1GB-7-A0", "Europe 41-Daily1GB-7",
# "MiddleEast 14-unlimited-15". The area is everything before the allowance.
_NAME_AREA = re.compile(r"^\s*(.+?)\s*-\s*(?:Total|Daily|unlimited|\d+(?:\.\d+)?\s*(?:TB|GB|MB)\b)", re.I)
_UNIT_MB = {"TB": 1024 * 1024, "GB": 1024, "MB": 1, "KB": Decimal(1) / 1024}

# deviceDetail ``status``: only "success" is documented; the other rows are our guesses at the vendor's
# words. None = the profile is fine, its state comes from its times, usage and events.
DEVICE_STATUS: dict[str, EsimStatus | None] = {
    "success": None,
    "pause": EsimStatus.SUSPENDED,
    "paused": EsimStatus.SUSPENDED,
    "terminate": EsimStatus.CANCELLED,
    "terminated": EsimStatus.CANCELLED,
    "expired": EsimStatus.EXPIRED,
    "fail": EsimStatus.UNKNOWN,
    "failed": EsimStatus.UNKNOWN,
}
# eventDetail ``notify_type`` (documented list) -> what the latest such event says about the profile.
EVENT_STATUS: dict[str, EsimStatus] = {
    "DOWNLOADED": EsimStatus.INSTALLED,  # profile fetched by the phone
    "INSTALLED": EsimStatus.INSTALLED,
    "ENABLE": EsimStatus.ACTIVE,
    "DISABLE": EsimStatus.INSTALLED,  # switched off on the phone, still there
    "DELETE": EsimStatus.DELETED,
}

# Envelope codes: the document lists none. These are the sandbox's (see esimdesk/sandbox/microesim.py);
# words in ``msg`` back them up so a real vendor's other numbers still land in the right class.
_CODE_KIND = {
    "401": "auth",
    "402": "balance",
    "404": "not_found",
    "409": "duplicate",
    "429": "busy",
    "503": "busy",
}
_WORDS = (
    ("duplicate", ("already exist", "duplicate")),
    ("balance", ("balance", "insufficient")),
    ("not_found", ("not exist", "not found", "no such")),
    ("busy", ("busy", "try again later", "too many")),
    ("auth", ("sign", "account", "timestamp", "nonce", "auth", "credential", "permission")),
)


class DuplicateOrder(DuplicateReference):
    """esimSubscribe refused a ``custom_order_no`` it already has; ``existing_order_id`` when named."""

    def __init__(self, *args, existing_order_id: str | None = None, **kwargs):
        self.existing_order_id = existing_order_id
        super().__init__(*args, **kwargs)


def parse_time(value: Any) -> datetime | None:
    """Both documented forms, as aware UTC: "2023-07-05 12:50:46" (UTC+8) and Java's
    "Fri Aug 16 14:00:08 CST 2024". Empty means "not yet"."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    m = _JAVA_TIME.match(text)
    if m:
        month, day, hh, mm, ss, zone, year = m.groups()
        if zone not in _ZONES or month.title() not in _MONTHS:
            raise ValueError(f"unknown time {text!r}")
        dt = datetime(
            int(year), _MONTHS[month.title()], int(day), int(hh), int(mm), int(ss), tzinfo=_ZONES[zone]
        )
        return dt.astimezone(UTC)
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CST).astimezone(UTC)


def parse_volume_mb(value: Any) -> int | None:
    """ "unlimited" -> None; "1GB" -> 1024; "500MB" -> 500 (1 GB = 1024 MB per NOTES.md)."""
    text = str(value).strip()
    if text.lower() == "unlimited":
        return None
    m = _VOLUME.match(text)
    if not m:
        raise ValueError(f"unknown data volume {text!r}")
    return int((Decimal(m.group(1)) * _UNIT_MB[m.group(2).upper()]).to_integral_value(ROUND_HALF_UP))


def mb_from_decimal(value: Any) -> int:
    """Usage MB as the vendor's decimal string ("17135.6") -> whole MB, rounded half up."""
    amount = Decimal(str(value).strip())
    if not amount.is_finite() or amount < 0:
        raise ValueError("usage must be a finite, non-negative number")
    return int(amount.to_integral_value(ROUND_HALF_UP))


def lpa_code(value: Any) -> str | None:
    """The LPA string as given; built as LPA:1$<SM-DP+>$<matching id> if only "<smdp>$<id>" is given."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.upper().startswith("LPA:"):
        return text
    if text.count("$") == 1:
        return f"LPA:1${text}"
    return None


def _countries(item: dict[str, Any]) -> tuple[str, ...]:
    # ``code`` is one country in the samples; multi-country plans may list several (comma or pipe
    # separated). ``networks`` ("JP:Docomo(IIJ)[4G;LTE]|") names the countries too.
    found = re.split(r"[\s,;|/]+", str(item.get("code") or ""))
    found += [part.split(":", 1)[0] for part in str(item.get("networks") or "").split("|") if ":" in part]
    out = [c.strip().upper() for c in found]
    return tuple(dict.fromkeys(c for c in out if len(c) == 2 and c.isalpha()))


def area_name(plan_name: str) -> str | None:
    """The area a plan's name starts with, in words: "MiddleEast 14-Total1GB-7" -> "Middle East 14",
    "Global 66-Total1GB-7-A0-test" -> "Global 66"; None when the name has no area before its allowance."""
    match = _NAME_AREA.match(plan_name or "")
    area = match.group(1) if match else None
    if not area or not any(ch.isalpha() for ch in area):
        return None
    area = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)", " ", area)  # "MiddleEast14" -> "Middle East 14"
    return " ".join(area.split())


def _is_success(payload: dict[str, Any]) -> bool:
    return str(payload.get("code")).strip() == "1"


_ACTIVE_TYPES = {"ACTIVEDBYDEVICE": "when the device first connects to a network"}
_NETWORK = re.compile(r"^\s*([A-Za-z]{2})\s*:\s*(.+?)\s*(?:\[([^\]]*)\])?\s*$")


def plan_details(raw: Any) -> PlanDetails:
    """``esimDataplanList`` fields beyond the plan's row: ``networks`` ("JP:Docomo(IIJ)[4G;LTE]|…"), ``apn``,
    ``active_type``, ``rule_desc`` (the speed rule, e.g. "unlimited 512kbps"), ``ip`` (data exit),
    ``validity_period`` (days to start using it), ``special_desc``. The document has no top-up list."""
    if not isinstance(raw, dict):
        return PlanDetails()

    def text(key: str) -> str | None:
        value = raw.get(key)
        return str(value).strip() if isinstance(value, str | int) and str(value).strip() else None

    networks = []
    for part in (text("networks") or "").split("|"):
        match = _NETWORK.match(part)
        if match:
            code, operator, kinds = match.groups()
            name = country_name(code.upper())
            networks.append(f"{name}: {operator}" + (f" ({kinds.replace(';', '/')})" if kinds else ""))
        elif part.strip():
            networks.append(part.strip())
    active = text("active_type")
    activation = _ACTIVE_TYPES.get(active or "", active)
    period = text("validity_period")
    if period:
        activation = (activation + "; " if activation else "") + f"use it within {period} days"
    notes = [f"data exits in {text('ip')}"] if text("ip") else []
    if text("special_desc"):
        notes.append(text("special_desc"))
    rule = text("rule_desc")  # what happens past the data: "terminate", or the speed it drops to
    speed = "data stops at the end of the allowance" if rule and rule.lower() == "terminate" else rule
    return PlanDetails(networks=tuple(networks), speed=speed, apn=text("apn"), activation=activation,
                       topups="MicroESIM's API lists no top-ups", notes=tuple(notes))


class MicroesimAdapter(VendorAdapter):
    name = "microesim"
    default_url = DEFAULT_URLS["microesim"]
    refresh_requests = 2  # deviceDetail, then the eSIM's events (get_esim)
    capabilities = frozenset(
        {
            Capability.PLANS,
            Capability.BALANCE,
            Capability.ORDER,
            Capability.ORDER_STATUS,
            Capability.GET_ESIM,
            Capability.EVENTS,
        }
    )
    max_quantity_per_line = None
    idempotent_orders = True  # custom_order_no: a repeat is refused and names the first order
    page_size = 500  # the document's own example
    # A catalog of pages that rarely changes: a sync that finds it as it was writes nothing.
    incremental_plans = True

    def __init__(self, config: VendorConfig, *, timeout: float = 20.0, transport=None):
        super().__init__(config, timeout=timeout, transport=transport)
        try:
            account, secret, salt = (config.secret(k) for k in ("ACCOUNT", "SECRET", "SALT"))
        except KeyError:
            raise ConfigError("MicroESIM needs its ACCOUNT, SECRET and SALT in Settings") from None
        try:
            self._auth = MicroesimAuth(account, secret, salt)
        except ValueError:
            raise ConfigError("MicroESIM SALT must be the hex string the vendor issued") from None
        self.http = VendorHttp(
            self.name,
            config.base_url or self.default_url,
            auth=self._auth,
            timeout=timeout,
            secrets=[*config.secret_values(), self._auth.derived_key],
            transport=transport,
        )
        self._topup_of: dict[str, str] = {}  # ICCID -> topup_id seen in topupDetail (deviceDetail takes both)

    # --- plumbing --------------------------------------------------------------------------------
    def _check(self, endpoint: str, write: bool = False) -> Callable[[Any], None]:
        def check(payload: Any) -> None:
            if not isinstance(payload, dict) or "code" not in payload:
                raise MalformedResponse(
                    self.name, endpoint, "answered without the code/msg envelope", maybe_sent=write
                )
            if _is_success(payload):
                return
            raise self._error(endpoint, payload, write)

        return check

    def _error(self, endpoint: str, payload: dict[str, Any], write: bool) -> VendorError:
        code = str(payload.get("code")).strip()[:40]
        msg = payload.get("msg")
        text = msg.strip()[:300] if isinstance(msg, str) and msg.strip() else "request refused"
        low = text.lower()
        kw: dict[str, Any] = {"code": code}
        # The code decides where it is one of ours; otherwise the words do, most specific first
        # ("Insufficient account balance" is about money, not credentials).
        kind = _CODE_KIND.get(code) or next((k for k, words in _WORDS if any(w in low for w in words)), None)
        if kind == "duplicate":
            result = payload.get("result")
            existing = result.get("topup_id") if isinstance(result, dict) else None
            existing = str(existing) if isinstance(existing, str | int) and str(existing) else None
            return DuplicateOrder(self.name, endpoint, text, existing_order_id=existing, **kw)
        if kind == "auth":
            return VendorAuthError(self.name, endpoint, f"credentials refused: {text}", **kw)
        if kind == "balance":
            return InsufficientBalance(self.name, endpoint, text, **kw)
        if kind == "not_found":
            return NotFound(self.name, endpoint, text, **kw)
        if kind == "busy":
            return VendorBusy(self.name, endpoint, text, maybe_sent=write, **kw)
        return VendorRejected(self.name, endpoint, text, **kw)

    async def _call(
        self,
        method: str,
        endpoint: str,
        *,
        write: bool = False,
        form: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        files = (
            {k: (None, v) for k, v in form.items()} if form else None
        )  # multipart/form-data, as documented
        payload = await self.http.request(
            method,
            endpoint,
            idempotent=not write,
            check=self._check(endpoint, write),
            files=files,
            params=params,
        )
        return payload.get("result")

    def _parse(self, endpoint: str, fn: Callable[[Any], Any], result: Any, write: bool = False) -> Any:
        try:
            return fn(result)
        except VendorError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, IndexError) as exc:
            raise MalformedResponse(
                self.name, endpoint, f"unexpected answer shape ({type(exc).__name__})", maybe_sent=write
            ) from None

    # --- catalog ---------------------------------------------------------------------------------
    @classmethod
    def plan_details(cls, raw: dict[str, Any] | None) -> PlanDetails:
        return plan_details(raw)

    def parse_plan(self, item: dict[str, Any]) -> Plan:
        countries = _countries(item)
        name = str(item["channel_dataplan_name"])
        rule = str(item.get("rule_desc") or "")
        region = None
        if len(countries) > 1:
            region = "global" if name.lower().startswith("global") or len(countries) >= 50 else "regional"
        price = Decimal(str(item["price"]).strip())
        if not price.is_finite() or price < 0:
            raise ValueError("price must be a finite, non-negative amount")
        day = int(str(item["day"]).strip())
        if day < 0:
            raise ValueError("day must not be negative")
        return Plan(
            vendor=self.name,
            plan_id=str(item["channel_dataplan_id"]),
            name=name,
            countries=countries,
            data_mb=parse_volume_mb(item["data"]),
            validity_days=day,
            price=price,
            currency=str(item.get("currency") or "HKD").strip().upper() or "HKD",
            # No daily flag in the list: the plan's name or speed rule says so ("Daily1GB", "1GB/day").
            daily="daily" in name.lower() or "/day" in rule.lower(),
            topup=None,  # the document has no top-up call
            region=region,
            raw=item,
            # A multi-country plan is found, and its coverage shown, by its area's name ("Europe 41").
            coverage_name=area_name(name) if len(countries) > 1 else None,
        )

    def parse_plans(self, items: Any) -> list[Plan]:
        if not isinstance(items, list):
            raise TypeError("plan list is not a list")
        plans = []
        for item in items:
            try:
                if not isinstance(item, dict):
                    raise TypeError("plan is not an object")
                if str(item.get("status", "1")).strip() != "1":
                    continue  # "1" = on sale; anything else cannot be ordered
                plans.append(self.parse_plan(item))
            except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
                # One odd plan must not hide the rest of the catalog.
                log.warning("microesim: skipped a plan the adapter cannot read (%s)", type(exc).__name__)
        return plans

    async def iter_plans(self) -> AsyncIterator[list[Plan]]:
        endpoint = "allesim/v1/esimDataplanListPage"

        async def page(number: int) -> tuple[list[Any], int]:
            result = await self._call("GET", endpoint, params={"pageNo": number, "pageSize": self.page_size})
            return self._parse(endpoint, self._page_parts, result)

        # totalPages (page 1's answer) bounds the pages asked for ahead while one is parsed.
        async with contextlib.aclosing(pages_ahead(page, count=lambda first: first[1])) as answers:
            async for items, _pages in answers:
                yield self.parse_plans(items)
                if not items:
                    return

    @staticmethod
    def _page_parts(result: Any) -> tuple[list[Any], int]:
        items = result["list"]
        if not isinstance(items, list):
            raise TypeError("list is not a list")
        return items, int(str(result.get("totalPages", 0)))

    async def list_all_plans(self) -> list[Plan]:
        """esimDataplanList in one answer (the document warns it is heavy beyond 10,000 plans)."""
        endpoint = "allesim/v1/esimDataplanList"
        result = await self._call("GET", endpoint)
        return self._parse(endpoint, self.parse_plans, result)

    async def get_balance(self) -> Balance:
        endpoint = "allesim/v1/accountBalance"
        result = await self._call("POST", endpoint)
        return self._parse(endpoint, self.parse_balance, result)

    def parse_balance(self, result: Any) -> Balance:
        raw = result["balance"]
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise TypeError("balance is not a number")
        amount = Decimal(str(raw).strip())  # str() of the float keeps the vendor's two places
        if not amount.is_finite():
            raise ValueError("balance is not finite")
        return Balance(self.name, amount, str(result.get("currency") or "HKD"), observed_at=datetime.now(UTC))

    # --- support actions ---------------------------------------------------------------------------
    @classmethod
    def refusal(cls, esim: Esim, action: Action) -> str | None:
        if action in (Action.CANCEL, Action.REVOKE):
            # The document names /allesim/v1/terminate but not its parameters: never a guessed call.
            return ("MicroESIM does not publish its terminate call's parameters: terminate it in MicroESIM's "
                    f"portal (topup_id {esim.order_id or 'unknown'}, device_id {esim.iccid})")
        return super().refusal(esim, action)

    # --- orders ----------------------------------------------------------------------------------
    order_options = frozenset({"activation_date", "custom_email"})

    async def place_order(
        self, plan_id: str, quantity: int, reference: str, unit_price: Decimal | None = None, *,
        activation_date: datetime | None = None, custom_email: str | None = None,
    ) -> Order:
        if quantity < 1:
            raise ValidationError("quantity must be at least 1")
        if not plan_id:
            raise ValidationError("choose a MicroESIM plan to order")
        endpoint = "allesim/v1/esimSubscribe"
        form = {"number": str(quantity), "channel_dataplan_id": plan_id, "custom_order_no": reference}
        if activation_date is not None:
            # "yyyy-MM-dd HH:mm:ss(UTC+0)": this one field is UTC, unlike the vendor's UTC+8 answers.
            form["activation_date"] = activation_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        if custom_email:
            form["custom_email"] = custom_email  # the vendor mails the eSIM to the customer
        created = datetime.now(UTC)
        try:
            result = await self._call("POST", endpoint, write=True, form=form)
            order_id = self._parse(endpoint, lambda r: _non_empty(r["topup_id"]), result, write=True)
        except DuplicateOrder as dup:
            if not dup.existing_order_id:
                raise
            # The vendor already holds an order with this custom_order_no (our earlier answer was lost):
            # that order is the result; nothing new was created or charged.
            order_id = dup.existing_order_id
        total = unit_price * quantity if unit_price is not None else None
        return Order(
            self.name,
            order_id,
            reference,
            OrderStatus.ALLOCATING,
            created,
            total=total,
            currency="HKD" if total is not None else None,
            lines=(OrderLine(plan_id, quantity, unit_price),),
        )

    async def get_order(self, order_id: str | None, reference: str | None = None) -> Order:
        if not order_id:
            # topupDetail takes only topup_id and there is no order list; re-sending the order with the
            # same custom_order_no (place_order) is the vendor's way to learn the topup_id.
            raise Unsupported(self.name, "order look-ups by reference")
        endpoint = "allesim/v1/topupDetail"
        result = await self._call("POST", endpoint, form={"topup_id": order_id})
        order = self._parse(endpoint, lambda r: self.parse_topup(r, reference), result)
        for esim in order.esims:
            self._topup_of[esim.iccid] = order.order_id or order_id
        return order

    @classmethod
    def parse_topup(cls, result: dict[str, Any], reference: str | None = None) -> Order:
        """topupDetail's answer as an Order (a class method: ``parse_topup_detail`` below needs no adapter)."""
        topup_id = _non_empty(result["topup_id"])
        number = int(str(result["number"]).strip())
        done = int(str(result.get("success_number", 0)).strip())
        plan_id = str(result.get("channel_dataplan_id") or "") or None
        devices = result.get("device_ids") or []
        if not isinstance(devices, list):
            raise TypeError("device_ids is not a list")

        def nth(key: str, i: int) -> Any:
            values = result.get(key)
            return values[i] if isinstance(values, list) and i < len(values) else None

        esims = []
        for i, iccid in enumerate(devices):
            if not isinstance(iccid, str | int) or not str(iccid).strip():
                raise ValueError("device id missing")
            qr, ios = nth("qrcode", i), nth("ios_esim_install_link", i)
            esims.append(
                Esim(
                    vendor=cls.name,
                    iccid=str(iccid).strip(),
                    status=EsimStatus.NEW,
                    vendor_status="allocated",
                    order_id=topup_id,
                    plan_id=plan_id,
                    activation_code=lpa_code(nth("lpa_str", i)),
                    qr_url=qr if isinstance(qr, str) and qr else None,
                    install_url=ios if isinstance(ios, str) and ios else None,
                    vendor_ref=str(iccid).strip(),
                )
            )
        complete = number > 0 and done >= number and len(esims) >= number
        created = parse_time(result.get("create_time")) or datetime.now(UTC)
        return Order(
            cls.name,
            topup_id,
            reference,
            OrderStatus.COMPLETED if complete else OrderStatus.ALLOCATING,
            created,
            lines=(
                OrderLine(
                    plan_id or "",
                    max(number, 1),
                    None,
                    str(result.get("channel_dataplan_name") or "") or None,
                ),
            ),
            esims=tuple(esims),
            raw=result,
        )

    # --- fleet -----------------------------------------------------------------------------------
    async def get_esim(self, iccid: str) -> Esim:
        return (await self.refresh_esim(iccid))[0]

    async def refresh_esim(self, iccid: str, listed: Esim | None = None) -> tuple[Esim, list[Event]]:
        """deviceDetail and eventDetail: two requests (``refresh_requests``), the events stored too."""
        endpoint = "allesim/v1/deviceDetail"
        form = {"device_id": iccid}
        if iccid in self._topup_of:
            form["topup_id"] = self._topup_of[iccid]
        result = await self._call("POST", endpoint, form=form)
        events = await self.esim_events(iccid)
        return self._parse(endpoint, lambda r: self.parse_device(r, events), result), events

    def parse_device(
        self, result: dict[str, Any], events: list[Event] | None = None, now: datetime | None = None
    ) -> Esim:
        now = now or datetime.now(UTC)
        iccid = _non_empty(result["device_id"])
        name = str(result.get("channel_dataplan_name") or "")
        vendor_state = str(result.get("status") or "").strip()
        expires = parse_time(result.get("expire_time"))
        active = parse_time(result.get("active_time"))
        used = self._used_mb(result)
        total = self._total_mb(name)
        last = events[-1].kind.upper() if events else ""
        installed = next((e.occurred_at for e in events or () if e.kind.upper() == "INSTALLED"), None)
        status = self._status(result, vendor_state, last, expires, active, used, total, now)
        return Esim(
            vendor=self.name,
            iccid=iccid,
            status=status,
            vendor_status="/".join(p for p in (vendor_state, last) if p) or "unknown",
            order_id=str(result.get("topup_id") or "") or None,
            plan_id=str(result.get("channel_dataplan_id") or "") or None,
            data_used_mb=used,
            data_total_mb=total,
            expires_at=expires,
            installed_at=installed or active,
            vendor_ref=iccid,
            raw=result,
        )

    @staticmethod
    def _used_mb(result: dict[str, Any]) -> int | None:
        usage = result.get("data_usage")
        if usage not in (None, ""):
            return mb_from_decimal(usage)
        rows = result.get("data_usage_daily") or []
        if not rows:
            return None
        # total_usage_kb is KB; 1 MB = 1024 KB like the volumes.
        kb = sum(Decimal(str(r.get("total_usage_kb") or "0").strip()) for r in rows)
        return mb_from_decimal(kb / 1024)

    @staticmethod
    def _total_mb(plan_name: str) -> int | None:
        # deviceDetail has no volume: the plan name carries it ("Global 66-Total1GB-7-A0"); daily caps
        # reset every day and are not a total.
        m = _NAME_TOTAL.search(plan_name)
        return parse_volume_mb(m.group(1).replace(" ", "")) if m else None

    @staticmethod
    def _status(result, vendor_state, last_event, expires, active, used, total, now) -> EsimStatus:
        if parse_time(result.get("terminate_time")):
            return EsimStatus.CANCELLED
        if last_event == "DELETE":
            return EsimStatus.DELETED
        if expires is not None and expires <= now:
            return EsimStatus.EXPIRED
        if total is not None and used is not None and used >= total:
            return EsimStatus.DEPLETED
        if parse_time(result.get("pause_time")):
            return EsimStatus.SUSPENDED
        mapped = DEVICE_STATUS.get(vendor_state.lower(), EsimStatus.UNKNOWN)
        if mapped is not None and mapped is not EsimStatus.UNKNOWN:
            return mapped
        if last_event in EVENT_STATUS:
            return EVENT_STATUS[last_event]
        if active is not None:
            return EsimStatus.ACTIVE
        return EsimStatus.NEW if mapped is None else EsimStatus.UNKNOWN

    async def esim_events(self, iccid: str) -> list[Event]:
        endpoint = "allesim/v1/eventDetail"
        result = await self._call("POST", endpoint, form={"device_id": iccid})
        return self._parse(endpoint, lambda r: self.parse_events(iccid, r), result)

    def parse_events(self, iccid: str, result: Any) -> list[Event]:
        if result is None:
            return []
        if not isinstance(result, list):
            raise TypeError("events are not a list")
        events = []
        for item in result:
            kind = _non_empty(item["notify_type"])
            detail = " ".join(str(item.get(k) or "") for k in ("notification_status",)).strip()
            if item.get("eid"):
                detail = f"{detail} (EID {item['eid']})".strip()
            events.append(Event(self.name, iccid, kind, parse_time(item.get("event_date")), detail, raw=item))
        events.sort(key=lambda e: e.occurred_at or datetime.min.replace(tzinfo=UTC))
        return events


def _non_empty(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise ValueError("expected an identifier")
    return str(value).strip()


def parse_topup_detail(result: dict[str, Any], reference: str | None = None) -> Order:
    """``topupDetail``'s answer as an Order, without an adapter: the demo's seed records the sandbox's pre-made
    MicroESIM history with it (MicroESIM keeps no order list a sync could read it from)."""
    return MicroesimAdapter.parse_topup(result, reference)
