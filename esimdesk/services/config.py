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
import keyring.backends.chainer
import keyring.backends.fail
import keyring.errors
import platformdirs

from esimdesk.domain import VENDORS, ConfigError, StoreError, VendorConfig, vendor_title
from esimdesk.store.integrity import os_error
from esimdesk.vendors import DEFAULT_URLS, SECRET_NAMES
from esimdesk.vendors.ecb_rates import ecb_url
from esimdesk.vendors.http import credential_problem, register_secrets

log = logging.getLogger("esimdesk.config")

KEYRING_SERVICE = "esimdesk"


def data_home_path(demo: bool = False) -> Path:
    """Where the data folder is (ESIMDESK_HOME or the platform's per-user app-data folder; demo data
    apart), without creating it."""
    env = os.environ.get("ESIMDESK_HOME")
    home = Path(env).expanduser() if env else Path(platformdirs.user_data_dir("esimdesk", appauthor=False))
    return home / "demo" if demo else home


def data_home(demo: bool = False) -> Path:
    """The data folder (``data_home_path``), created if need be; one that cannot be is a StoreError in words."""
    env = os.environ.get("ESIMDESK_HOME")
    home = data_home_path(demo)
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _home_error(home, exc, bool(env)) from None
    return home


def _home_error(home: Path, exc: OSError, from_env: bool):
    """Why the data folder cannot be used, in one sentence (a file in its place, no permission, a full disk)."""
    advice = f"{'point' if from_env else 'set'} ESIMDESK_HOME to a folder you can write"
    for part in (home, *home.parents):
        if part.exists() and not part.is_dir():
            it = "it is" if part == home else f"{part} is"
            return StoreError(f"the data folder {home} cannot be used: {it} a file, not a folder; move the file "
                              f"away, or {advice}", path=str(part), reason="not-a-folder")
    mapped = os_error(exc, home, f"create the data folder {home}")
    return StoreError(f"{mapped}; {advice}", path=mapped.path, reason=mapped.reason)


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


NO_KEYCHAIN = (
    "No system keychain is available to keep the credentials, so nothing was saved. Install or unlock "
    "the desktop's keychain (GNOME Keyring or KWallet on Linux; the Keychain on macOS and the Credential "
    "Manager on Windows are built in), or run `pip install keyrings.alt` for a file-based one; "
    "for headless use, set the ESIMDESK_* environment variables instead (README → Configuration)."
)


class KeychainUnavailable(ConfigError):
    """No usable keychain backend (none installed, locked, or it refused to store)."""

    def __init__(self, detail: str = ""):
        super().__init__(NO_KEYCHAIN + (f" ({detail})" if detail else ""))


def clean_secret(value: str | None) -> str | None:
    """A credential as read or typed, without surrounding whitespace (a CR/LF pasted from a file);
    an all-blank value counts as absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def secret_problem(vendor: str, name: str, value: str | None) -> str | None:
    """Why a credential as typed or set cannot be used, in a sentence naming the character and its
    position ("the Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position 33: paste
    it again without it"); None when it can (or is blank). Surrounding whitespace is trimmed as always;
    nothing inside is ever stripped silently. The window's Settings and ``save_accounts`` refuse with it;
    a variable or keychain entry set elsewhere is refused with it when a vendor is asked (vendors/http.py)."""
    cleaned = clean_secret(value)
    return credential_problem(f"the {vendor_title(vendor)} {name.lower()}", cleaned) if cleaned else None


def keychain_available() -> bool:
    """Whether keyring has a backend that can keep a secret (not the fail backend, not an empty chain)."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - a broken keyring configuration is "no keychain" too
        return False
    if isinstance(backend, keyring.backends.fail.Keyring):
        return False
    if isinstance(backend, keyring.backends.chainer.ChainerBackend) and not backend.backends:
        return False
    return True


def store_secret(vendor: str, name: str, value: str) -> None:
    value = clean_secret(value) or ""
    if not value:
        raise ConfigError(f"the {vendor} {name.lower()} is blank")
    problem = secret_problem(vendor, name, value)
    if problem:
        raise ConfigError(f"{problem}; nothing was saved")
    try:
        keyring.set_password(KEYRING_SERVICE, keyring_user(vendor, name), value)
    except keyring.errors.KeyringError as exc:
        raise KeychainUnavailable(f"the keychain refused the {vendor} credential: {type(exc).__name__}") from None


def _secret(vendor: str, name: str) -> str | None:
    env = clean_secret(os.environ.get(f"ESIMDESK_{vendor.upper()}_{name}"))
    if env:
        return env
    try:
        return clean_secret(keyring.get_password(KEYRING_SERVICE, keyring_user(vendor, name)))
    except keyring.errors.KeyringError as exc:  # no keychain on a headless box: env vars are the way
        log.debug("keychain unavailable for %s: %s", vendor, type(exc).__name__)
        return None


@dataclass
class Accounts:
    enabled: list[VendorConfig] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # one line per skipped vendor
    # Where the ECB's reference-rate files are read from (vendors/ecb_rates.py): ESIMDESK_ECB_URL (the demo's
    # sandbox passes its own in ``env``, as it does the vendors' URLs), else the ECB. None: no rates read.
    ecb_url: str | None = None

    def get(self, vendor: str) -> VendorConfig | None:
        return next((c for c in self.enabled if c.vendor == vendor), None)


def load_accounts(home: Path, env: dict[str, str] | None = None) -> Accounts:
    """Every vendor whose credentials are present; the others skipped with a one-line notice."""
    settings = load_settings(home)
    accounts = Accounts(ecb_url=ecb_url(env))
    for vendor in VENDORS:
        url = (env or {}).get(f"ESIMDESK_{vendor.upper()}_URL") or os.environ.get(f"ESIMDESK_{vendor.upper()}_URL")
        url = url or settings.get("urls", {}).get(vendor) or DEFAULT_URLS[vendor]
        secrets: dict[str, str] = {}
        missing = []
        for name in SECRET_NAMES[vendor]:
            value = clean_secret((env or {}).get(f"ESIMDESK_{vendor.upper()}_{name}")) or _secret(vendor, name)
            if value:
                secrets[name] = value
            else:
                missing.append(f"ESIMDESK_{vendor.upper()}_{name}")
        if missing:
            accounts.notices.append(f"{vendor_title(vendor)}: skipped, no credentials ({', '.join(missing)} or the keychain)")
            continue
        register_secrets(secrets.values())
        accounts.enabled.append(VendorConfig(vendor, url, secrets))
    return accounts


def save_account(home: Path, vendor: str, url: str | None, secrets: dict[str, str]) -> None:
    """Keep a vendor's URL in the settings file and its secrets in the keychain (only non-blank ones)."""
    save_accounts(home, {vendor: (url, secrets)})


def save_accounts(home: Path, accounts: dict[str, tuple[str | None, dict[str, str]]]) -> None:
    """Save several vendors at once, all or nothing: every name is checked first, then the secrets go to
    the keychain (raising ``KeychainUnavailable`` before anything is written when there is none), and
    only then the URLs to the settings file. Secrets are trimmed; blank ones keep what is stored; one with
    a character no vendor key has (``secret_problem``) is refused in words before anything is written."""
    cleaned: dict[str, tuple[str | None, dict[str, str]]] = {}
    for vendor, (url, secrets) in accounts.items():
        if vendor not in VENDORS:
            raise ConfigError(f"unknown vendor '{vendor}'")
        for name, value in secrets.items():
            if name not in SECRET_NAMES[vendor]:
                raise ConfigError(f"{vendor} has no credential called '{name}'")
            problem = secret_problem(vendor, name, value)
            if problem:
                raise ConfigError(f"{problem[:1].upper()}{problem[1:]}; nothing was saved.")
        values = {name: v for name, value in secrets.items() if (v := clean_secret(value))}
        cleaned[vendor] = ((url or "").strip() or None, values)
    settings = load_settings(home)  # a settings file that cannot be read stops the save before the keychain
    to_store = [(vendor, name, value) for vendor, (_, values) in cleaned.items() for name, value in values.items()]
    if to_store and not keychain_available():
        raise KeychainUnavailable()
    stored: list[tuple[str, str, str | None]] = []  # (vendor, name, previous value) to undo a partial write
    try:
        for vendor, name, value in to_store:
            try:
                previous = keyring.get_password(KEYRING_SERVICE, keyring_user(vendor, name))
            except keyring.errors.KeyringError:
                previous = None
            store_secret(vendor, name, value)
            stored.append((vendor, name, previous))
    except ConfigError:
        for vendor, name, previous in reversed(stored):
            try:
                if previous is None:
                    keyring.delete_password(KEYRING_SERVICE, keyring_user(vendor, name))
                else:
                    keyring.set_password(KEYRING_SERVICE, keyring_user(vendor, name), previous)
            except keyring.errors.KeyringError:
                log.debug("could not undo the %s credential after a refused save", vendor)
        raise
    urls = settings.setdefault("urls", {})
    for vendor, (url, _) in cleaned.items():
        if url and url != DEFAULT_URLS[vendor]:
            urls[vendor] = url
        else:
            urls.pop(vendor, None)
    save_settings(home, settings)
