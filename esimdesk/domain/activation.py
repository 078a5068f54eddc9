"""What an agent hands a customer to install an eSIM: the activation code (SGP.22) and the vendors'
direct-install links, read from the fields of ``Esim`` the adapters fill."""

from __future__ import annotations

import re

from esimdesk.domain.errors import ValidationError
from esimdesk.domain.models import Esim

# SGP.22 activation code: LPA:1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$<confirmation flag>]]
_LPA_PREFIX = "LPA:1$"
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::\d{1,5})?$")
_MATCHING_ID = re.compile(r"^[A-Za-z0-9._~+/=-]+$")
APPLE_SETUP_HOST = "esimsetup.apple.com"  # Apple's esim_qrcode_provisioning page: installs with one tap
ANDROID_SETUP_HOST = "esimsetup.android.com"


def split_activation_code(code: str | None) -> tuple[str, str]:
    """(SM-DP+ address, matching id) of a valid LPA activation code; ValidationError in words otherwise."""
    if code is None or not str(code).strip():
        raise ValidationError("the activation code is missing")
    text = str(code).strip()
    if not text.startswith(_LPA_PREFIX):
        raise ValidationError(f"activation code '{text}' does not start with 'LPA:1$' (LPA:1$<SM-DP+ address>$<matching id>)")
    parts = text[len(_LPA_PREFIX):].split("$")
    if len(parts) < 2 or len(parts) > 4:
        raise ValidationError(f"activation code '{text}' is not LPA:1$<SM-DP+ address>$<matching id>")
    address, matching = parts[0], parts[1]
    if not _HOST.match(address):
        raise ValidationError(f"activation code '{text}' has no valid SM-DP+ address ('{address}')")
    if not _MATCHING_ID.match(matching):
        raise ValidationError(f"activation code '{text}' has no valid matching id ('{matching}')")
    return address, matching


def validate_activation_code(code: str | None) -> str:
    """The code, stripped, when it is a valid LPA activation code; ValidationError in words otherwise."""
    split_activation_code(code)
    return str(code).strip()


def install_links(esim: Esim) -> tuple[str | None, str | None]:
    """(iPhone, Android) direct-install links among those the vendor gave (``install_url``, ``qr_url``):
    Apple's and Android's esim_qrcode_provisioning pages by their host; else the vendor's own https
    install link for iPhones (a universal link)."""
    ios = android = None
    for url in (esim.install_url, esim.qr_url):
        if not isinstance(url, str) or not url.startswith("https://"):
            continue
        host = url[len("https://"):].split("/", 1)[0].lower()
        if host == APPLE_SETUP_HOST and ios is None:
            ios = url
        elif host == ANDROID_SETUP_HOST and android is None:
            android = url
    if ios is None and isinstance(esim.install_url, str) and esim.install_url.startswith("https://") \
            and android != esim.install_url:
        ios = esim.install_url  # the vendor's own install link (a universal link for iPhones)
    return ios, android
