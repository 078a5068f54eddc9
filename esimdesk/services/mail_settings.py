"""Settings → E-mail: the reseller's SMTP server in settings.json (``"email"``), its password in the OS keychain
only (``smtp.password`` in the esimdesk service; ``ESIMDESK_SMTP_PASSWORD`` for headless use), never in the
file, a log line or an exception."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import keyring
import keyring.errors

from esimdesk.domain import ConfigError
from esimdesk.domain.mail import MailSettings, validate_email
from esimdesk.services.config import (
    KEYRING_SERVICE,
    KeychainUnavailable,
    clean_secret,
    load_settings,
    save_settings,
)

log = logging.getLogger("esimdesk.mail")

PASSWORD_USER = "smtp.password"
PASSWORD_ENV = "ESIMDESK_SMTP_PASSWORD"


def load_mail_settings(home: Path) -> MailSettings:
    return MailSettings.from_json(load_settings(home).get("email"))


def save_mail_settings(home: Path, settings: MailSettings, password: str | None = None) -> None:
    """Save the settings (checked: a bad sender address is refused in words); ``password``: a new one for the
    keychain (None keeps the one there, "" removes it)."""
    if settings.from_address:
        settings = replace(settings, from_address=validate_email(settings.from_address))
    if password is not None:
        try:
            if password:
                keyring.set_password(KEYRING_SERVICE, PASSWORD_USER, clean_secret(password) or "")
            else:
                try:
                    keyring.delete_password(KEYRING_SERVICE, PASSWORD_USER)
                except keyring.errors.PasswordDeleteError:
                    pass
        except keyring.errors.KeyringError as exc:
            raise KeychainUnavailable(f"the keychain refused the SMTP password: {type(exc).__name__}") from None
    data = load_settings(home)
    data["email"] = settings.to_json()
    save_settings(home, data)


def mail_password() -> str | None:
    env = clean_secret(os.environ.get(PASSWORD_ENV))
    if env:
        return env
    try:
        return clean_secret(keyring.get_password(KEYRING_SERVICE, PASSWORD_USER))
    except keyring.errors.KeyringError as exc:
        log.debug("keychain unavailable for the SMTP password: %s", type(exc).__name__)
        return None


def require_password(settings: MailSettings) -> str | None:
    """The password to log in with; None when the server takes mail without a login."""
    if not settings.username:
        return None
    password = mail_password()
    if not password:
        raise ConfigError(f"no SMTP password for {settings.username} is in the keychain: Settings → E-mail "
                          f"(or {PASSWORD_ENV} for headless use)")
    return password
