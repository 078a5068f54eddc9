"""Vendor adapters: one module per vendor, each normalising its vendor's quirks to domain objects."""

from __future__ import annotations

import importlib

from esimdesk.domain import VendorConfig
from esimdesk.vendors.base import CONTRACT, Capability, Operation, ShareLink, VendorAdapter
from esimdesk.vendors.credential_names import SECRET_NAMES  # the secrets each vendor needs, by name

__all__ = ["CONTRACT", "Capability", "Operation", "ShareLink", "VendorAdapter", "adapter_class", "build_adapter",
           "DEFAULT_URLS", "SECRET_NAMES"]

_CLASSES = {
    "roumio": "esimdesk.vendors.roumio:RoumioAdapter",
    "roamify": "esimdesk.vendors.roamify:RoamifyAdapter",
    "microesim": "esimdesk.vendors.microesim:MicroesimAdapter",
    "flexiroam": "esimdesk.vendors.flexiroam:FlexiroamAdapter",
}

# Documented production URLs (the base URL includes any path prefix).
DEFAULT_URLS = {
    "roumio": "https://platform.roumio.com/v1",
    "roamify": "https://api.getroamify.com",
    "microesim": "https://www.microesim.top",
    "flexiroam": "https://solutions-api.flexiroam.com/v1/public-v2",
}



def adapter_class(vendor: str) -> type[VendorAdapter]:
    module, _, cls = _CLASSES[vendor].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_adapter(config: VendorConfig, **kwargs) -> VendorAdapter:
    return adapter_class(config.vendor)(config, **kwargs)
