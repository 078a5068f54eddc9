"""The secrets each vendor needs, by name: the keyring entry names (``roumio.key``) and the suffix of the
``ESIMDESK_<VENDOR>_<NAME>`` variables. Here, below ``http.py``, which names them in its messages and
redaction, and ``esimdesk.vendors``, which exports them."""

from __future__ import annotations

SECRET_NAMES = {
    "roumio": ("KEY",),
    "roamify": ("TOKEN",),
    "microesim": ("ACCOUNT", "SECRET", "SALT"),
    "flexiroam": ("KEY",),
}
