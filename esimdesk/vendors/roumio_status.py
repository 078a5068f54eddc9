"""Roumio (esimStatus, smdpStatus) -> EsimStatus, after the document's "Understanding eSIM Profile Status" table."""

from __future__ import annotations

from esimdesk.domain import EsimStatus

# One row per pair the document names (status table, field descriptions, webhook samples).
PAIRS: dict[tuple[str, str], EsimStatus] = {
    ("GOT_RESOURCE", "RELEASED"): EsimStatus.NEW,  # "New"
    ("GOT_RESOURCE", "DOWNLOAD"): EsimStatus.INSTALLED,
    ("GOT_RESOURCE", "INSTALLATION"): EsimStatus.INSTALLED,
    ("GOT_RESOURCE", "ENABLED"): EsimStatus.INSTALLED,  # "Onboard"
    ("GOT_RESOURCE", "DISABLED"): EsimStatus.INSTALLED,
    ("IN_USE", "RELEASED"): EsimStatus.ACTIVE,
    ("IN_USE", "DOWNLOAD"): EsimStatus.ACTIVE,
    ("IN_USE", "INSTALLATION"): EsimStatus.ACTIVE,  # webhook sample
    ("IN_USE", "ENABLED"): EsimStatus.ACTIVE,  # "In Use" ("Onboard" when orderUsage is 0, see esim_status)
    (
        "IN_USE",
        "DISABLED",
    ): EsimStatus.ACTIVE,  # "In Use": data plan running, profile switched off on the phone
    ("IN_USE", "DELETED"): EsimStatus.DELETED,  # "Deleted"
    ("USED_UP", "ENABLED"): EsimStatus.DEPLETED,  # "Depleted"
    ("USED_UP", "DISABLED"): EsimStatus.DEPLETED,
    ("USED_UP", "DELETED"): EsimStatus.DELETED,  # "Deleted"
    ("USED_EXPIRED", "ENABLED"): EsimStatus.EXPIRED,
    ("USED_EXPIRED", "DISABLED"): EsimStatus.EXPIRED,
    ("UNUSED_EXPIRED", "RELEASED"): EsimStatus.EXPIRED,
}

# Where the pair is not in the table, the esimStatus alone decides.
BY_ESIM_STATUS: dict[str, EsimStatus] = {
    "CREATE": EsimStatus.NEW,
    "PAYING": EsimStatus.NEW,
    "PAID": EsimStatus.NEW,
    "GETTING_RESOURCE": EsimStatus.NEW,
    "GOT_RESOURCE": EsimStatus.NEW,
    "IN_USE": EsimStatus.ACTIVE,
    "USED_UP": EsimStatus.DEPLETED,
    "UNUSED_EXPIRED": EsimStatus.EXPIRED,
    "USED_EXPIRED": EsimStatus.EXPIRED,
    "CANCEL": EsimStatus.CANCELLED,
    "REVOKE": EsimStatus.CANCELLED,
    "REVOKED": EsimStatus.CANCELLED,  # eSIM Access's word after esim/revoke (roumio-more.md)
    "SUSPENDED": EsimStatus.SUSPENDED,
}


def esim_status(esim_status_: str | None, smdp_status: str | None, usage_mb: int | None = None) -> EsimStatus:
    e = (esim_status_ or "").strip().upper()
    s = (smdp_status or "").strip().upper()
    if s == "DELETED" and e not in ("CANCEL", "REVOKE", "SUSPENDED"):
        return EsimStatus.DELETED  # a deleted profile cannot come back, whatever the plan says
    status = PAIRS.get((e, s)) or BY_ESIM_STATUS.get(e, EsimStatus.UNKNOWN)
    if status is EsimStatus.ACTIVE and s == "ENABLED" and usage_mb == 0:
        return EsimStatus.INSTALLED  # the document's "Onboard" row: enabled, nothing used yet
    return status
