"""Where accounts and data live: environment variables, then the OS keychain and the settings file.

Secrets are read from the environment (headless use) or the keychain, never from the settings file,
and never written anywhere else. The settings file holds only non-secret choices (vendor URLs).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import keyring.errors
import platformdirs

from esimdesk.domain import VENDORS, ConfigError, VendorConfig
from esimdesk.vendors import DEFAULT_URLS, SECRET_NAMES
from esimdesk.vendors.http import register_secrets

log = logging.getLogger("esimdesk.config")

KEYRING_SERVICE = "esimdesk"


def data_home(demo: bool = False) -> Path:
    """The data folder: ESIMDESK_HOME or the platform's per-user app-data folder; demo data apart."""
    env = os.environ.get("ESIMDESK_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("esimdesk", appauthor=False))
    if demo:
        home = home / "demo"
    home.mkdir(parents=True, exist_ok=True)
    return home


def settings_path(home: Path) -> Path:
    return home / "settings.json"


def load_settings(home: Path) -> dict:
    path = settings_path(home)
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"settings file {path} cannot be read ({exc}); fix or delete it") from None


def save_settings(home: Path, settings: dict) -> None:
    path = settings_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(settings, indent=2, sort_keys=True))
    tmp.replace(path)


def keyring_user(vendor: str, name: str) -> str:
    return f"{vendor}.{name.lower()}"


def store_secret(vendor: str, name: str, value: str) -> None:
    keyring.set_password(KEYRING_SERVICE, keyring_user(vendor, name), value)


def _secret(vendor: str, name: str) -> str | None:
    env = os.environ.get(f"ESIMDESK_{vendor.upper()}_{name}")
    if env:
        return env
    try:
        return keyring.get_password(KEYRING_SERVICE, keyring_user(vendor, name))
    except keyring.errors.KeyringError as exc:  # no keychain on a headless box: env vars are the way
        log.debug("keychain unavailable for %s: %s", vendor, type(exc).__name__)
        return None


@dataclass
class Accounts:
    enabled: list[VendorConfig] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # one line per skipped vendor

    def get(self, vendor: str) -> VendorConfig | None:
        return next((c for c in self.enabled if c.vendor == vendor), None)


def load_accounts(home: Path, env: dict[str, str] | None = None) -> Accounts:
    """Every vendor whose credentials are present; the others skipped with a one-line notice."""
    settings = load_settings(home)
    accounts = Accounts()
    for vendor in VENDORS:
        url = (env or {}).get(f"ESIMDESK_{vendor.upper()}_URL") or os.environ.get(f"ESIMDESK_{vendor.upper()}_URL")
        url = url or settings.get("urls", {}).get(vendor) or DEFAULT_URLS[vendor]
        secrets: dict[str, str] = {}
        missing = []
        for name in SECRET_NAMES[vendor]:
            value = (env or {}).get(f"ESIMDESK_{vendor.upper()}_{name}") or _secret(vendor, name)
            if value:
                secrets[name] = value
            else:
                missing.append(f"ESIMDESK_{vendor.upper()}_{name}")
        if missing:
            accounts.notices.append(f"{vendor}: skipped, no credentials ({', '.join(missing)} or the keychain)")
            continue
        register_secrets(secrets.values())
        accounts.enabled.append(VendorConfig(vendor, url, secrets))
    return accounts


def save_account(home: Path, vendor: str, url: str | None, secrets: dict[str, str]) -> None:
    """Keep a vendor's URL in the settings file and its secrets in the keychain (only non-empty ones)."""
    if vendor not in VENDORS:
        raise ConfigError(f"unknown vendor '{vendor}'")
    settings = load_settings(home)
    urls = settings.setdefault("urls", {})
    if url and url != DEFAULT_URLS[vendor]:
        urls[vendor] = url
    else:
        urls.pop(vendor, None)
    save_settings(home, settings)
    for name, value in secrets.items():
        if name not in SECRET_NAMES[vendor]:
            raise ConfigError(f"{vendor} has no credential called '{name}'")
        try:
            store_secret(vendor, name, value)
        except keyring.errors.KeyringError as exc:
            raise ConfigError(f"the system keychain refused the {vendor} credential ({type(exc).__name__}); "
                              f"use the ESIMDESK_{vendor.upper()}_{name} environment variable instead") from None
