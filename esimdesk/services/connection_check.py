"""Settings → Test connection: one cheap call to a vendor with the URL and credentials the agent typed,
answered in words ("Connected — balance 123.45 USD", "Wrong credentials: …", "Cannot reach …").

Async, on the caller's loop (the window's qasync loop): the window keeps painting while the vendor answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit

from esimdesk.domain import (
    VENDOR_TITLES,
    AccessRefused,
    EsimdeskError,
    MalformedResponse,
    VendorAuthError,
    VendorBusy,
    VendorConfig,
    VendorError,
    VendorTimeout,
    VendorUnavailable,
    count_of,
    money_str,
)
from esimdesk.services.adapters import make_adapter
from esimdesk.vendors import SECRET_NAMES, Capability, adapter_class
from esimdesk.vendors.http import register_secrets

TEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    text: str  # plain text, may quote the vendor's words: show it as plain text, never as rich text


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"'{url}' is not a web address: the base URL starts with https:// (see the vendor's API documentation)"
    return None


async def _probe(config: VendorConfig, timeout: float) -> str:
    async with make_adapter(config, timeout=timeout) as adapter:
        if Capability.BALANCE in adapter_class(config.vendor).capabilities:
            balance = await adapter.get_balance()
            return f"Connected — balance {money_str(balance.amount)} {balance.currency}"
        # No balance to ask for (Flexiroam): the first page of the eSIM list is the cheapest authorised call.
        async for page in adapter.iter_esims():
            return f"Connected — {count_of(len(page), 'eSIM')} on the first page of the account (no balance offered)"
        return "Connected — the account lists no eSIMs yet (no balance offered)"


def describe_failure(vendor: str, url: str, exc: BaseException, timeout: float) -> str:
    """The reason in words, naming what to check."""
    title = VENDOR_TITLES.get(vendor, vendor)
    host = _host(url)
    if isinstance(exc, AccessRefused):
        return f"Refused by {title}: {exc.message}"
    if isinstance(exc, VendorAuthError):
        return f"Wrong credentials: {title} refused them ({exc.message}). Check the key on {title}'s portal."
    if isinstance(exc, VendorTimeout | asyncio.TimeoutError | TimeoutError):
        return f"No answer from {host} within {timeout:g} s: the vendor is slow or the address is wrong."
    if isinstance(exc, VendorUnavailable):
        return f"Cannot reach {host} ({exc.message}): check the base URL and this computer's network."
    if isinstance(exc, VendorBusy):
        return f"{title} is busy ({exc.message}): try again in a minute."
    if isinstance(exc, MalformedResponse):
        return f"{host} answered, but not as {title}'s API does ({exc.message}): check the base URL."
    if isinstance(exc, VendorError):
        status = f" (HTTP {exc.http_status})" if exc.http_status else ""
        hint = " Check the base URL." if exc.http_status == 404 else ""
        return f"{title} said no: {exc.message}{status}.{hint}"
    return str(exc)


async def check_connection(vendor: str, base_url: str, secrets: dict[str, str],
                           timeout: float = TEST_TIMEOUT_S) -> ConnectionCheck:
    """Ask the vendor once (its balance, or the first page of its eSIMs) with these credentials; the
    outcome in words, never an exception (cancellation aside)."""
    title = VENDOR_TITLES.get(vendor, vendor)
    url = (base_url or "").strip()
    problem = _url_problem(url)
    if problem:
        return ConnectionCheck(False, problem)
    values = {name: v.strip() for name, v in secrets.items() if v and v.strip()}
    missing = [name.lower() for name in SECRET_NAMES[vendor] if name not in values]
    if missing:
        return ConnectionCheck(False, f"Enter the {title} {', '.join(missing)} first (none is stored yet).")
    register_secrets(values.values())  # typed, maybe not saved yet: still never in a log line
    config = VendorConfig(vendor, url, values)
    try:
        # The adapter's own timeout is per request; this bounds the whole check (retries included).
        text = await asyncio.wait_for(_probe(config, timeout), timeout * 2)
    except (EsimdeskError, TimeoutError) as exc:
        return ConnectionCheck(False, describe_failure(vendor, url, exc, timeout))
    except Exception as exc:  # noqa: BLE001 - an adapter's unexpected error is still said in words
        return ConnectionCheck(False, f"{title}: the check failed unexpectedly ({type(exc).__name__}: {exc})")
    return ConnectionCheck(True, text)
