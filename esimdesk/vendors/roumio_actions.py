"""Roumio's support actions (the eSIM Access calls it mirrors, roumio-more.md): which state allows which,
the requests, and the usage check's answer. Paths are our assumption (``{base}/esim/cancel`` etc.);
if a real account answers elsewhere, this is the one place to change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from esimdesk.domain import Action, Esim, EsimStatus, MalformedResponse, Usage

VENDOR = "roumio"
PATHS: dict[Action, str] = {
    Action.CANCEL: "esim/cancel",
    Action.SUSPEND: "esim/suspend",
    Action.RESUME: "esim/unsuspend",
    Action.REVOKE: "esim/revoke",
    Action.SMS: "esim/sendSms",
}
USAGE_PATH = "esim/usage/query"
USAGE_BATCH = 10  # "esimTranNoList: up to 10"
_BYTES_THRESHOLD = 1 << 24  # a total this large cannot be MB (16 TB): eSIM Access's own unit, bytes
MB = 1024 * 1024

_GONE = (EsimStatus.CANCELLED, EsimStatus.DELETED)
_INSTALLED = (EsimStatus.INSTALLED, EsimStatus.ACTIVE)


def _vs(esim: Esim) -> str:
    return (esim.vendor_status or "").upper()


def refusal(esim: Esim, action: Action) -> str | None:
    """Roumio's rules as the document states them, in words; None when the state allows the action."""
    s = esim.status
    if s is EsimStatus.UNKNOWN:
        return f"Roumio's status {_vs(esim)} is not one esimdesk knows: sync and look again"
    if s in _GONE:
        word = "revoked" if _vs(esim).startswith("REVOKE") else "cancelled" if s is EsimStatus.CANCELLED else "deleted"
        return f"this eSIM is {word}: nothing more can be done with it"
    if action is Action.CANCEL:
        if _vs(esim) == "GOT_RESOURCE/RELEASED":
            return None
        if s is EsimStatus.EXPIRED:
            return "expired eSIMs cannot be cancelled"
        if s is EsimStatus.SUSPENDED:
            return "suspended eSIMs cannot be cancelled: resume or revoke"
        if s is EsimStatus.NEW:
            return "only an eSIM ready and never installed can be cancelled (Roumio shows it " + _vs(esim) + ")"
        return "installed eSIMs cannot be cancelled: suspend or revoke"
    if action is Action.SUSPEND:
        if s in _INSTALLED:
            return None
        if s is EsimStatus.SUSPENDED:
            return "this eSIM is already suspended"
        if s is EsimStatus.NEW:
            return "an eSIM not yet installed cannot be suspended: cancel it for a refund"
        word = s.value.lower()
        return f"{'an' if word[0] in 'aeiou' else 'a'} {word} eSIM has no data service to pause"
    if action is Action.RESUME:
        return None if s is EsimStatus.SUSPENDED else "only a suspended eSIM can be resumed"
    if action is Action.REVOKE:
        if s is EsimStatus.EXPIRED:
            return "an expired eSIM needs no revoke"
        return None
    if action is Action.SMS:
        return None if s in _INSTALLED else "an SMS reaches only an installed eSIM"
    return f"Roumio offers no '{action.value}'"


def expected_after(action: Action, esim: Esim) -> bool | None:
    """After a lost answer: does the eSIM's status show the action done?"""
    vs = _vs(esim)
    if action is Action.CANCEL:
        return vs.startswith("CANCEL")
    if action is Action.SUSPEND:
        return vs.startswith("SUSPENDED")
    if action is Action.RESUME:
        return not vs.startswith("SUSPENDED") and esim.status not in _GONE
    if action is Action.REVOKE:
        return vs.startswith("REVOKE")
    return None  # an SMS leaves no trace in the eSIM's status


def body_for(esim: Esim, action: Action, message: str | None) -> dict[str, Any]:
    # esimTranNo is recommended over the ICCID (ICCIDs can be reused).
    body: dict[str, Any] = {"esimTranNo": esim.vendor_ref} if esim.vendor_ref else {"iccid": esim.iccid}
    if action is Action.SMS:
        body["message"] = message or ""
    return body


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    dt = datetime.fromisoformat(str(value).strip())
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _int(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise TypeError("volume")
    return int(float(value))


def usage_from(obj: Any, by_tran: dict[str, Esim], fetched: datetime) -> list[Usage]:
    """``obj``: a list of ``{esimTranNo, dataUsage, totalData, lastUpdateTime}`` (or that list under
    ``esimUsageList``, as eSIM Access wraps it). Volumes: MB as ``roumio.md``; bytes where the total shows it."""
    try:
        items = obj.get("esimUsageList") if isinstance(obj, dict) else obj
        if not isinstance(items, list):
            raise TypeError("list")
        out = []
        for item in items:
            esim = by_tran.get(str(item.get("esimTranNo")))
            if esim is None:
                continue
            used, total = _int(item.get("dataUsage")), _int(item.get("totalData"))
            if total is not None and total >= _BYTES_THRESHOLD:
                used = used // MB if used is not None else None
                total //= MB
            out.append(Usage(VENDOR, esim.iccid, fetched, used, total, as_of=_time(item.get("lastUpdateTime"))))
        return out
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise MalformedResponse(VENDOR, USAGE_PATH, "unexpected answer shape") from None
