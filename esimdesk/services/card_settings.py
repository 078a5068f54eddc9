"""The reseller's name and logo on every customer card, as settings.json keeps them (File → Settings →
Cards), and the logo file itself: a PNG, JPEG or SVG, checked by its bytes. No secret goes here."""

from __future__ import annotations

import logging
from pathlib import Path

from esimdesk.domain.errors import ValidationError
from esimdesk.services.config import load_settings, save_settings

log = logging.getLogger("esimdesk.cards")

DEFAULT_RESELLER = "Your eSIM reseller"
LOGO_MAX_BYTES = 5 * 1024 * 1024


def _setting(home: Path | None, key: str) -> str | None:
    """A non-blank string ``key`` of <home>/settings.json, else None."""
    if home is None:
        return None
    try:
        value = load_settings(Path(home)).get(key)
    except Exception:  # an unreadable settings file does not stop a card; the sync/GUI report it
        value = None
    return value.strip() if isinstance(value, str) and value.strip() else None


def reseller_name(home: Path | None) -> str:
    """The ``reseller_name`` of <home>/settings.json, or the default."""
    return _setting(home, "reseller_name") or DEFAULT_RESELLER


def logo_kind(data: bytes) -> str | None:
    """'png', 'jpeg' or 'svg' from the bytes themselves (not the file name), else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--", b"<!doctype svg")) and b"<svg" in data[:65536].lower():
        return "svg"
    return None


def _read_logo(path: str | Path) -> tuple[bytes | None, str | None]:
    """(the file's bytes, None) for a PNG, JPEG or SVG logo; (None, why not, in words) otherwise."""
    file = Path(str(path).strip()).expanduser()
    try:
        size = file.stat().st_size
        if size > LOGO_MAX_BYTES:
            return None, f"{file} is larger than {LOGO_MAX_BYTES >> 20} MB"
        data = file.read_bytes()
    except OSError as exc:
        return None, f"cannot read {file}: {exc.strerror or exc}"
    if logo_kind(data) is None:
        return None, f"{file} is not a PNG, JPEG or SVG image"
    return data, None


def logo_error(path: str | Path) -> str | None:
    """Why a file cannot be the reseller's logo, in words; None when it can."""
    return _read_logo(path)[1]


def load_logo(path: str | Path | None) -> bytes | None:
    """The bytes of a PNG, JPEG or SVG logo file; None (logged) when it is missing, unreadable or no image."""
    if path is None or not str(path).strip():
        return None
    data, problem = _read_logo(path)
    if problem:
        log.warning("reseller logo: %s; the cards have no logo", problem)
    return data


def reseller_logo(home: Path | None) -> bytes | None:
    """The logo at the ``reseller_logo`` path of <home>/settings.json, read once; None when there is none."""
    return load_logo(_setting(home, "reseller_logo"))


def show_price(home: Path | None) -> bool:
    """Whether the customer's card says what the customer paid (Settings → Cards; off unless chosen)."""
    if home is None:
        return False
    try:
        return load_settings(Path(home)).get("card_show_price") is True
    except Exception:  # an unreadable settings file does not stop a card
        return False


def card_settings(home: Path) -> tuple[str, str]:
    """(reseller name, logo path) as settings.json holds them, blank when unset (File → Card settings)."""
    settings = load_settings(Path(home))
    name, logo = settings.get("reseller_name"), settings.get("reseller_logo")
    return (name.strip() if isinstance(name, str) else "", logo.strip() if isinstance(logo, str) else "")


def save_card_settings(home: Path, name: str | None, logo_path: str | Path | None,
                       price_on_card: bool | None = None) -> None:
    """Keep the reseller's name and logo path in settings.json (blank: the default name, no logo).

    A logo that is not a readable PNG, JPEG or SVG is refused in words (ValidationError); the rest of the
    settings file (vendor URLs) is kept as it is. No secret goes here.
    """
    logo = str(logo_path).strip() if logo_path is not None else ""
    if logo:
        problem = logo_error(logo)
        if problem:
            raise ValidationError(f"the logo cannot be used: {problem}")
        logo = str(Path(logo).expanduser().resolve())
    settings = load_settings(Path(home))  # a settings file that cannot be read stops the save (ConfigError)
    for key, value in (("reseller_name", (name or "").strip()), ("reseller_logo", logo)):
        if value:
            settings[key] = value
        else:
            settings.pop(key, None)
    if price_on_card is not None:  # None: left as it is
        if price_on_card:
            settings["card_show_price"] = True
        else:
            settings.pop("card_show_price", None)
    save_settings(Path(home), settings)
