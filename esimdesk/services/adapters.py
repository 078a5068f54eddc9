"""Build one adapter per enabled vendor account (the services' only door to vendors)."""

from __future__ import annotations

import asyncio
import ssl

from esimdesk.domain import VendorConfig
from esimdesk.vendors import VendorAdapter, build_adapter
from esimdesk.vendors.http import tls_context


def make_adapter(config: VendorConfig, *, timeout: float = 20.0) -> VendorAdapter:
    return build_adapter(config, timeout=timeout)


async def prepare_tls() -> ssl.SSLContext:
    """The vendors' shared TLS context, built in a worker thread (certifi's CA file: ~80 ms): the window's
    start-up awaits it, so no order, top-up or check builds it on the window's thread."""
    return await asyncio.to_thread(tls_context)
