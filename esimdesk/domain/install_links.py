"""One-tap install links: the https addresses that open an iPhone's or an Android phone's own eSIM set-up
with the activation code filled in, so a customer reading the e-mail on the phone installs without a second
screen to scan a QR code from.

Both platforms take the LPA string (``LPA:1$<SM-DP+>$<matching id>``) as ``carddata``. Samples put it in raw
(``$`` and ``:`` are allowed in a query by RFC 3986) while other code percent-encodes all of it; we keep
``$`` and ``:`` as they are (as Roamify's own ``iosQuickInstall`` does) and encode only what would break the
query (``#``, ``%``, ``&``, ``+``, spaces and anything outside ASCII). A vendor's own link is passed on
unchanged where it gives one.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

APPLE_BASE = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata="
ANDROID_BASE = "https://esimsetup.android.com/esim_qrcode_provisioning?carddata="

# RFC 3986 unreserved characters plus the sub-delims and ':' an LPA string is made of ('$' between fields,
# '.' in addresses and OIDs); '&' and '+' are sub-delims too but mean something in a query, so they are encoded.
_KEEP = "-._~:$!'()*,;=/@"


@dataclass(frozen=True, slots=True)
class InstallLinks:
    """The one-tap links for one eSIM: iPhone (iOS 17.4 and later) and Android."""

    apple: str
    android: str


def lpa_string(activation_code: str) -> str:
    """The activation code in its QR form: SGP.22 wants the ``LPA:`` prefix where it is carried in a QR code
    or link; a bare ``1$…`` code gains it."""
    code = activation_code.strip()
    if code[:4].upper() == "LPA:":
        return "LPA:" + code[4:]
    return "LPA:" + code


def one_tap_links(activation_code: str, *, apple: str | None = None, android: str | None = None) -> InstallLinks:
    """The links for ``activation_code``; ``apple``/``android``: the vendor's own (Roamify's
    ``iosQuickInstall``/``androidQuickInstall``), passed on unchanged. (``domain.activation.install_links``
    is another thing: which of an eSIM's vendor addresses are such links.)"""
    carddata = quote(lpa_string(activation_code), safe=_KEEP)
    return InstallLinks(apple=apple or APPLE_BASE + carddata, android=android or ANDROID_BASE + carddata)


def carddata_of(link: str) -> str | None:
    """The LPA string a one-tap link carries (decoded), or None if it carries none: what a test reads back
    from a printed card to compare with the eSIM's code."""
    values = parse_qs(urlsplit(link).query, keep_blank_values=True).get("carddata")
    return values[0] if values else None
