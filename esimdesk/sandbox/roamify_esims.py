"""Roamify's eSIMs for the simulator: the seeded fleet, the eSIMs orders make, profile generation, usage.

An eSIM an order makes is ``NEW`` with an empty ``iccid`` and empty ``esim`` fields until its profile
is generated (``/api/esim/apply``, roamify-more.md section 6); generation takes ``allocation_delay``
seconds, then it is ``READY`` with ICCID and LPA code, ``INSTALLED`` ``INSTALL_AFTER_S`` later, and
its usage grows at ``usage_mb_per_hour``. The seeded fleet (``SandboxConfig.esims``, on the ICCIDs of
``known_iccids``) is computed from its index, so 100,000 cost nothing until asked for; only top-ups
to it are stored. Usage is reported in MB (the adapter's reading of the documents, section 9).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from esimdesk.sandbox.ids import luhn_digit
from esimdesk.sandbox.roamify_catalog import SAMPLE_PACKAGE_ID, Package, RoamifyCatalog
from esimdesk.sandbox.roamify_packages import UNLIMITED

INSTALL_AFTER_S = 600.0  # a generated profile is installed on the customer's phone 10 minutes later
SMDP = "lpa.roamify.com"  # the documented sample's SM-DP+ address
# The documented sample eSIM (roamify-more.md section 7), made by the documented sample order.
SAMPLE_ESIM_ID = "b06036c5-eadc-4f88-aa31-8c207fec91ec"
SAMPLE_ESIM_ICCID = "894000000000029365"
SEEDED_STATUSES = ("READY", "INSTALLED", "INSTALLED", "INSTALLED", "EXPIRED", "READY", "INSTALLED", "REVOKED")
SAMPLE_FLEET = 5  # the first seeded eSIMs are on the documented sample package (top-ups to them work)


@dataclass
class OrderedEsim:
    id: str
    order_id: str
    package_id: str
    created: float
    reference: str | None = None
    iccid: str | None = None  # given when generation starts, shown once it is done
    ready_at: float | None = None  # None: never applied
    start_date: str | None = None
    topups: list[str] = field(default_factory=list)
    fixed_code: str | None = None  # the documented sample's activation code


@dataclass
class EsimView:
    """One eSIM as the API shows it at one moment."""

    id: str
    iccid: str
    package: Package
    status: str
    created: float
    ready_at: float | None
    installed_at: float | None
    expires: float
    allowed_mb: int  # UNLIMITED for unlimited plans
    used_mb: int
    reference: str | None
    code: str | None = None


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class RoamifyFleet:
    def __init__(self, seed: int, catalog: RoamifyCatalog, known_iccids: Sequence[str], epoch: float):
        self.seed = seed
        self.catalog = catalog
        self.known_iccids = known_iccids
        self.epoch = epoch  # the seeded fleet's times are relative to this (kept with the world)
        self.ordered: dict[str, OrderedEsim] = {}
        self.by_iccid: dict[str, str] = {}  # ICCID -> esimId of ordered eSIMs
        self.seed_topups: dict[str, list[str]] = {}
        self.issued = 0  # ICCIDs given to ordered eSIMs
        self.applies = 0

    # --- a world kept in a file -----------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "ordered": [asdict(e) for e in self.ordered.values()],
                "seed_topups": self.seed_topups, "issued": self.issued, "applies": self.applies}

    def load(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.ordered = {row["id"]: OrderedEsim(**row) for row in state["ordered"]}
        self.by_iccid = {e.iccid: e.id for e in self.ordered.values() if e.iccid}
        self.seed_topups = {k: list(v) for k, v in state["seed_topups"].items()}
        self.issued, self.applies = state["issued"], state["applies"]

    # --- eSIMs orders make --------------------------------------------------------------------
    def add(self, esim: OrderedEsim) -> None:
        self.ordered[esim.id] = esim
        if esim.iccid:
            self.by_iccid[esim.iccid] = esim.id

    def add_sample(self, order_id: str, created: float) -> None:
        """The documented sample eSIM, generated long ago by the documented sample order."""
        self.add(OrderedEsim(SAMPLE_ESIM_ID, order_id, SAMPLE_PACKAGE_ID, created, iccid=SAMPLE_ESIM_ICCID,
                             ready_at=created + 4, fixed_code="TEST"))

    def generate(self, esim: OrderedEsim, now: float, delay: float, start_date: str | None) -> None:
        """Start generating the profile (an ICCID is taken now, shown when ready)."""
        if esim.iccid is None:
            self.issued += 1
            body = f"8988247100{self.issued:08d}"
            esim.iccid = body + luhn_digit(body)
            self.by_iccid[esim.iccid] = esim.id
        esim.ready_at = now + delay
        esim.start_date = start_date

    def ordered_view(self, esim: OrderedEsim, now: float, rate: float) -> EsimView:
        pkg = self.catalog.get(esim.package_id)
        if pkg is None:
            # The documented sample order's package is not in a small catalog (ESIMDESK_SANDBOX_PLANS=40):
            # its eSIM shows with the catalog's first package rather than failing the whole listing.
            pkg = self.catalog.package(0)
        ready = esim.ready_at is not None and now >= esim.ready_at
        installed = esim.ready_at + INSTALL_AFTER_S if ready and now >= esim.ready_at + INSTALL_AFTER_S else None
        status = "NEW" if not ready else "INSTALLED" if installed else "READY"
        return self._view(esim.id, esim.iccid if ready else "", pkg, status, esim.created, esim.ready_at,
                          installed, esim.topups, now, rate, esim.reference, esim.fixed_code)

    # --- the seeded fleet ------------------------------------------------------------------------
    def seeded_index(self, iccid: str) -> int | None:
        if iccid not in self.known_iccids:
            return None
        return int(iccid[-9:-1])

    def seeded_id(self, i: int) -> str:
        return str(uuid.UUID(int=_h(self.seed, "esim", i) << 64 | _h(self.seed, "esim2", i), version=4))

    def seeded_package(self, i: int) -> Package:
        if i < SAMPLE_FLEET:
            pkg = self.catalog.get(SAMPLE_PACKAGE_ID)
            if pkg is not None:
                return pkg
        return self.catalog.package(_h(self.seed, "pkg", i) % len(self.catalog))

    def seeded_view(self, i: int, now: float, rate: float) -> EsimView:
        pkg = self.seeded_package(i)
        kind = SEEDED_STATUSES[i % len(SEEDED_STATUSES)]
        h = _h(self.seed, "t", i)
        if kind == "EXPIRED":
            created = self.epoch - (pkg.days + 2) * 86400 - h % 3600
        else:
            created = self.epoch - 3600 * (6 + h % 48)
        installed = created + 1800 if kind in ("INSTALLED", "EXPIRED", "REVOKED") else None
        iccid = self.known_iccids[i]
        view = self._view(self.seeded_id(i), iccid, pkg, kind, created, created + 4, installed,
                          self.seed_topups.get(iccid, []), now, rate * (0.05 + (h % 100) / 400), None, None)
        return view

    # --- both ----------------------------------------------------------------------------------
    def _view(self, esim_id, iccid, pkg, status, created, ready_at, installed, topups, now, rate, reference,
              code) -> EsimView:
        extra = [self.catalog.get(t) for t in topups]
        days = pkg.days + sum(t.days for t in extra if t)
        if installed is not None:
            expires = installed + days * 86400
        else:
            expires = created + 180 * 86400  # time left to install it
        unlimited = pkg.data_mb is None or any(t is not None and t.data_mb is None for t in extra)
        allowed = UNLIMITED if unlimited else (pkg.data_mb or 0) + sum(t.data_mb or 0 for t in extra if t)
        used = 0
        if installed is not None:
            end = min(now, expires)
            used = max(0, int((end - installed) / 3600 * rate))
            if not unlimited:
                used = min(used, allowed)
        if status == "INSTALLED" and now >= expires:
            status = "EXPIRED"
        return EsimView(esim_id, iccid, pkg, status, created, ready_at, installed, expires, allowed, used,
                        reference, code)

    def find(self, *, iccid: str | None = None, esim_id: str | None = None, now: float, rate: float
             ) -> EsimView | None:
        if esim_id:
            if esim_id in self.ordered:
                return self.ordered_view(self.ordered[esim_id], now, rate)
            return None  # seeded eSIMs are looked up by ICCID (their esimIds are derived, not indexed)
        if iccid:
            if iccid in self.by_iccid:
                view = self.ordered_view(self.ordered[self.by_iccid[iccid]], now, rate)
                return view if view.iccid else None
            i = self.seeded_index(iccid)
            return None if i is None else self.seeded_view(i, now, rate)
        return None

    def all(self, now: float, rate: float):
        """Newest first: the ordered eSIMs, then the seeded fleet."""
        for esim in sorted(self.ordered.values(), key=lambda e: e.created, reverse=True):
            yield self.ordered_view(esim, now, rate)
        for i in range(len(self.known_iccids)):
            yield self.seeded_view(i, now, rate)

    def add_topup(self, iccid: str, package_id: str) -> None:
        if iccid in self.by_iccid:
            self.ordered[self.by_iccid[iccid]].topups.append(package_id)
        else:
            self.seed_topups.setdefault(iccid, []).append(package_id)


# --- JSON ------------------------------------------------------------------------------------------
def activation_code(view: EsimView) -> str:
    return view.code or "SBX" + hashlib.sha256(view.id.encode()).hexdigest()[:20].upper()


def esim_json(view: EsimView) -> dict[str, Any]:
    """The documented eSIM object (section 7); its ``esim`` fields are empty until the profile is ready."""
    ready = bool(view.iccid)
    code = activation_code(view) if ready else ""
    lpa = f"LPA:1${SMDP}${code}" if ready else ""
    pkg = view.package
    return {
        "id": view.id, "iccid": view.iccid, "status": view.status, "activation": "first-use",
        "withTopUp": pkg.top_up, "withHotspot": True, "withDataRoaming": True, "withDestinationInstall": False,
        "withUsageCheck": pkg.usage_check,
        "esim": {
            "lpaCode": lpa, "smdpAddress": SMDP if ready else "", "activationCode": code,
            "qrCodeUrl": f"https://imagedelivery.net/sandbox/partners/{view.id}/iccid/public" if ready else "",
            "pin": "", "puk": "", "number": "",
            "iosQuickInstall": f"https://esimsetup.apple.com/esim_qrcode_provisioning?carddata={lpa}" if ready else "",
            "androidQuickInstall": (f"https://esimsetup.android.com/esim_qrcode_provisioning?carddata={lpa}"
                                    if ready else ""),
        },
        "apn": {"apnAutomatic": True, "apnName": "", "apnUsername": "", "apnPassword": ""},
        "data": {"isUnlimited": view.allowed_mb == UNLIMITED},
        "call": {"withCall": False, "callType": "all"},
        "sms": {"withSMS": False, "smsType": "all"},
        "notes": [] if pkg.usage_check else ["Usage is not reported for this package."],
        "createdAt": int(view.created),
        "updatedAt": int(view.installed_at or view.ready_at or view.created),
        "expiredAt": int(view.expires),
    }


def usage_json(view: EsimView, now: float) -> dict[str, Any]:
    """``/api/esim/usage`` (section 9a), data in MB."""
    active = view.installed_at is not None and view.status == "INSTALLED"
    return {
        "id": view.id, "iccid": view.iccid, "status": "ACTIVE" if active else view.status,
        "startedAt": int(view.installed_at) if view.installed_at else None, "expiredAt": int(view.expires),
        "allowedData": view.allowed_mb, "remainingData": max(0, view.allowed_mb - view.used_mb),
        "allowedSms": 0, "remainingSms": 0, "allowedVoice": 0, "remainingVoice": 0,
    }


def link_json(view: EsimView, now: float) -> dict[str, Any]:
    """``POST /api/esim/link`` (section 13): the same link for the same eSIM (repeat calls: undocumented)."""
    h = hashlib.sha256(f"link:{view.id}".encode()).hexdigest().upper()
    key = h[:12]
    link = f"https://sandbox.esims.link/esimdesk/{key}"
    return {
        "iccid": view.iccid, "esimId": view.id, "link": link,
        "whatsappLink": f"https://api.whatsapp.com/send?text=Check%20out%20your%20eSIM%3A%20{link}",
        "key": key, "accessCode": str(int(h[12:20], 16) % 10000).zfill(4),
        "createdAt": int(view.ready_at or now), "updatedAt": int(view.ready_at or now),
    }
