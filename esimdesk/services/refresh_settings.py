"""How often a sync refreshes each eSIM it must ask about one at a time (settings.json "refresh_hours",
Settings → Sync in the window); the rest of the refresh policy is fixed (domain/refresh.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from esimdesk.domain import ValidationError
from esimdesk.domain.refresh import RefreshPolicy
from esimdesk.services.config import load_settings, save_settings

log = logging.getLogger("esimdesk.sync")

REFRESH_KEY = "refresh_hours"


def refresh_policy(home: Path) -> RefreshPolicy:
    return policy_from(load_settings(home))


def policy_from(settings: dict) -> RefreshPolicy:
    """The policy of settings.json's contents (already read, e.g. by the Settings dialog)."""
    value = settings.get(REFRESH_KEY)
    if value is None:
        return RefreshPolicy()
    try:
        return RefreshPolicy(refresh_hours=float(value))
    except (TypeError, ValueError) as exc:  # a hand-edited file: the default, said in the log, never a crash
        log.warning("settings.json %s=%r is not used (%s); every %s hours instead", REFRESH_KEY, value, exc,
                    RefreshPolicy().refresh_hours)
        return RefreshPolicy()


def save_refresh_hours(home: Path, hours: float | None) -> RefreshPolicy:
    """Keep ``hours`` (None: back to the default); a value out of range is refused in words."""
    try:
        policy = RefreshPolicy(refresh_hours=float(hours)) if hours is not None else RefreshPolicy()
    except ValueError as exc:
        raise ValidationError(str(exc)) from None
    settings = load_settings(home)
    if hours is None:
        settings.pop(REFRESH_KEY, None)
    else:
        settings[REFRESH_KEY] = policy.refresh_hours
    save_settings(home, settings)
    return policy
