"""Build one adapter per enabled vendor account (the services' only door to vendors)."""

from __future__ import annotations

from esimdesk.domain import VendorConfig
from esimdesk.vendors import VendorAdapter, build_adapter


def make_adapter(config: VendorConfig, *, timeout: float = 20.0) -> VendorAdapter:
    return build_adapter(config, timeout=timeout)
