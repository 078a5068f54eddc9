"""Customer cards: the QR code of an eSIM's activation code and the printed card around it.

One layout (``card_layout`` + ``paint_card``) draws the card with QPainter on any device: the window,
a printer, a PDF (``write_pdf``) or an image (``card_image``). The QR payload is the activation code
exactly as the vendor gave it (``LPA:1$<SM-DP+ address>$<matching id>``), validated first.
"""

from __future__ import annotations

import functools
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import segno

from esimdesk.domain.errors import ValidationError
from esimdesk.domain.units import data_amount

log = logging.getLogger("esimdesk.cards")

DEFAULT_RESELLER = "Your eSIM reseller"
LOGO_BOX_MM = 18.0  # the reseller's logo is at most this high on a card of an A4/Letter page
LOGO_MAX_BYTES = 5 * 1024 * 1024
CARD_MM = 88.0  # the short side of a card on an A4/Letter page, about
QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks for
PAGES = ("A4", "Letter", "label")
CARDS_PER_PAGE = {"A4": 3, "Letter": 3, "label": 1}
LABEL_MM = (100.0, 150.0)  # a 4x6-inch style shipping label, portrait: one card per label
MARGIN_MM = {"A4": 10.0, "Letter": 10.0, "label": 4.0}  # inside every office printer's unprintable edge
GAP_MM = 6.0  # between cards on a page: room for scissors

# SGP.22 activation code: LPA:1$<SM-DP+ address>$<matching id>[$<SM-DP+ OID>[$<confirmation flag>]]
_LPA_PREFIX = "LPA:1$"
_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+(?::\d{1,5})?$")
_MATCHING_ID = re.compile(r"^[A-Za-z0-9._~+/=-]+$")


@dataclass(frozen=True)
class Card:
    iccid: str
    activation_code: str  # exactly as the vendor gave it
    vendor: str
    plan_name: str | None
    data: str | None
    validity_days: int | None
    countries: str | None
    smdp_address: str
    matching_id: str
    ios_link: str | None
    android_link: str | None
    reference: str | None
    reseller: str = DEFAULT_RESELLER
    logo: bytes | None = field(default=None, repr=False)  # PNG, JPEG or SVG bytes of the reseller's logo

    def __post_init__(self) -> None:
        address, matching = split_activation_code(self.activation_code)  # ValidationError in words
        if (self.smdp_address, self.matching_id) != (address, matching):
            raise ValidationError(f"card of {self.iccid}: SM-DP+ address and matching id do not match "
                                  f"the activation code '{self.activation_code}'")


def split_activation_code(code: str | None) -> tuple[str, str]:
    """(SM-DP+ address, matching id) of a valid LPA activation code; ValidationError in words otherwise."""
    if code is None or not str(code).strip():
        raise ValidationError("the activation code is missing")
    text = str(code).strip()
    if not text.startswith(_LPA_PREFIX):
        raise ValidationError(f"activation code '{text}' does not start with 'LPA:1$' (LPA:1$<SM-DP+ address>$<matching id>)")
    parts = text[len(_LPA_PREFIX):].split("$")
    if len(parts) < 2 or len(parts) > 4:
        raise ValidationError(f"activation code '{text}' is not LPA:1$<SM-DP+ address>$<matching id>")
    address, matching = parts[0], parts[1]
    if not _HOST.match(address):
        raise ValidationError(f"activation code '{text}' has no valid SM-DP+ address ('{address}')")
    if not _MATCHING_ID.match(matching):
        raise ValidationError(f"activation code '{text}' has no valid matching id ('{matching}')")
    return address, matching


def validate_activation_code(code: str | None) -> str:
    split_activation_code(code)
    return str(code).strip()


# --- from the local cache -----------------------------------------------------------------------------

def _setting(home: Path | None, key: str) -> str | None:
    """A non-blank string ``key`` of <home>/settings.json, else None."""
    if home is None:
        return None
    from esimdesk.services.config import load_settings

    try:
        value = load_settings(Path(home)).get(key)
    except Exception:  # an unreadable settings file does not stop a card; the sync/GUI report it
        value = None
    return value.strip() if isinstance(value, str) and value.strip() else None


def reseller_name(home: Path | None) -> str:
    """The ``reseller_name`` of <home>/settings.json, or the default."""
    return _setting(home, "reseller_name") or DEFAULT_RESELLER


def _logo_kind(data: bytes) -> str | None:
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
    if _logo_kind(data) is None:
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


def card_settings(home: Path) -> tuple[str, str]:
    """(reseller name, logo path) as settings.json holds them, blank when unset (File → Card settings)."""
    from esimdesk.services.config import load_settings

    settings = load_settings(Path(home))
    name, logo = settings.get("reseller_name"), settings.get("reseller_logo")
    return (name.strip() if isinstance(name, str) else "", logo.strip() if isinstance(logo, str) else "")


def save_card_settings(home: Path, name: str | None, logo_path: str | Path | None) -> None:
    """Keep the reseller's name and logo path in settings.json (blank: the default name, no logo).

    A logo that is not a readable PNG, JPEG or SVG is refused in words (ValidationError); the rest of the
    settings file (vendor URLs) is kept as it is. No secret goes here.
    """
    from esimdesk.services.config import load_settings, save_settings

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
    save_settings(Path(home), settings)


def _store_home(store: Any) -> Path | None:
    path = getattr(store, "path", None)
    return Path(path).parent if path else None


def _links(esim: Any) -> tuple[str | None, str | None]:
    """Direct-install links the vendor gave: Apple's and Android's esim_qrcode_provisioning pages."""
    ios = android = None
    candidates = [esim.install_url, esim.qr_url]
    raw = esim.raw if isinstance(getattr(esim, "raw", None), dict) else {}
    for key in ("ios_esim_install_link", "android_esim_install_link", "install_url", "apple_install_url"):
        value = raw.get(key)
        candidates += value if isinstance(value, list) else [value]
    for url in candidates:
        if not isinstance(url, str) or not url.startswith("https://"):
            continue
        host = url[len("https://"):].split("/", 1)[0].lower()
        if host == "esimsetup.apple.com" and ios is None:
            ios = url
        elif host == "esimsetup.android.com" and android is None:
            android = url
    if ios is None and isinstance(esim.install_url, str) and esim.install_url.startswith("https://") \
            and android != esim.install_url:
        ios = esim.install_url  # the vendor's own install link (a universal link for iPhones)
    return ios, android


def _countries(codes: tuple[str, ...]) -> str | None:
    if not codes:
        return None
    return ", ".join(codes) if len(codes) <= 8 else f"{', '.join(codes[:7])} and {len(codes) - 7} more"


def card_for_esim(store: Any, esim: Any, reseller: str, reference: str | None = None,
                  logo: bytes | None = None) -> Card:
    if not esim.activation_code:
        raise ValidationError(f"eSIM {esim.iccid} has no activation code yet: {esim.vendor} has not allocated it; "
                              "run a sync later")
    code = str(esim.activation_code).strip()
    try:
        address, matching = split_activation_code(code)
    except ValidationError as exc:
        raise ValidationError(f"eSIM {esim.iccid}: {exc}") from None
    plan = store.plan(esim.vendor, esim.plan_id) if esim.plan_id else None
    if reference is None and esim.order_id:
        order = store.order(esim.vendor, esim.order_id)
        reference = (order.reference or order.order_id) if order else esim.order_id
    data_mb = plan.data_mb if plan else esim.data_total_mb
    data = data_amount(data_mb) if (plan or esim.data_total_mb is not None) else None
    ios, android = _links(esim)
    return Card(
        iccid=esim.iccid, activation_code=code, vendor=esim.vendor,
        plan_name=plan.name if plan else None, data=data,
        validity_days=plan.validity_days if plan else None,
        countries=_countries(plan.countries) if plan else None,
        smdp_address=address, matching_id=matching, ios_link=ios, android_link=android,
        reference=reference, reseller=reseller, logo=logo,
    )


def cards_for(store: Any, target: str, reseller: str | None = None, logo: bytes | None = None) -> list[Card]:
    """The cards of an eSIM (ICCID) or of every eSIM of an order (order id or reference).

    The reseller's name and logo come from settings.json beside the store unless given; the logo file is
    read once here, for every card.
    """
    text = (target or "").strip()
    if reseller is None:
        reseller = reseller_name(_store_home(store))
    if logo is None:
        logo = reseller_logo(_store_home(store))
    if not text:
        raise ValidationError("no eSIM or order given: pass an ICCID or an order id")
    esim = store.esim(text) or (store.esim("".join(text.split())) if " " in text else None)
    if esim is not None:
        return [card_for_esim(store, esim, reseller, logo=logo)]
    orders = [o for o in store.orders(search=text) if text in (o.order_id, o.reference)]
    if not orders:
        raise ValidationError(f"no eSIM or order '{text}' in the local cache; run a sync")
    cards = []
    for order in orders:
        if not order.esims:
            raise ValidationError(f"order '{text}' has no eSIM in the local cache yet: {order.vendor} has not "
                                  "allocated it; run a sync later")
        ref = order.reference or order.order_id
        cards += [card_for_esim(store, e, reseller, ref, logo) for e in order.esims]
    return cards


# --- QR codes -----------------------------------------------------------------------------------------

def qr(code: str) -> segno.QRCode:
    """The QR code of a validated activation code.

    Error correction M (15 % of the code can be lost): enough for a smudged or folded print and for a
    phone camera reading a screen with glare, while keeping modules large for a given print size; H/Q
    would make the symbol denser for no gain. boost_error=False: the level stays what we chose, so the
    symbol size is predictable for the card layout.
    """
    return segno.make_qr(validate_activation_code(code), error="m", boost_error=False)


def _writable(path: Path) -> Path:
    path = Path(path)
    if not path.parent.is_dir():
        raise ValidationError(f"cannot write {path}: the folder {path.parent} does not exist")
    return path


def _write(save, path: Path) -> None:
    try:
        save()
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_qr_png(code: str, path, scale: int = 10) -> Path:
    symbol, path = qr(code), _writable(path)
    _write(lambda: symbol.save(str(path), kind="png", scale=scale, border=QUIET_ZONE), path)
    return path


def _dark_runs(matrix) -> Iterator[tuple[int, int, int]]:
    """(row, first column, length) of each run of dark modules: one rectangle each, in SVG and on a painter."""
    for r, row in enumerate(matrix):
        c, n = 0, len(row)
        while c < n:
            if row[c]:
                start = c
                while c < n and row[c]:
                    c += 1
                yield r, start, c - start
            else:
                c += 1


def qr_svg(code: str, scale: int = 10) -> str:
    """The QR code as SVG: one filled path of whole-module rectangles in a viewBox of modules.

    Not segno's stroked lines: a renderer scaling those by a fraction (Qt's QSvgRenderer, some viewers)
    leaves hairline gaps between rows that stop decoders; adjacent filled rectangles of one path do not.
    """
    matrix = qr(code).matrix
    n, q = len(matrix), QUIET_ZONE
    parts = [f"M{start + q} {r + q}h{length}v1h-{length}z" for r, start, length in _dark_runs(matrix)]
    size = n + 2 * q
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * scale}" height="{size * scale}" '
            f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(parts)}"/></svg>\n')


def write_qr_svg(code: str, path) -> Path:
    text, path = qr_svg(code), _writable(path)
    _write(lambda: path.write_text(text, encoding="utf-8"), path)
    return path


# --- Qt: painting ---------------------------------------------------------------------------------------

_gui_app = None


def ensure_gui_app():
    """A QGuiApplication for painting (fonts need one): the existing one, or an offscreen one."""
    global _gui_app
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is not None:
        return app
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _gui_app = QGuiApplication(["esimdesk"])
    return _gui_app


INSTALL_STEPS = (
    "On the phone, with Wi-Fi on: Settings → Mobile data / Connections → Add eSIM.",
    "Choose \"Use QR code\" and scan this code (or use the link or manual entry above).",
    "Keep the new line on and turn on data roaming for it when you arrive.",
)


def card_layout(rect) -> tuple[Any, Any]:
    """(QR rect, text rect) inside a card rect: QR on the left of a wide card, on top of a tall one."""
    from PySide6.QtCore import QRectF

    w, h = rect.width(), rect.height()
    pad = min(w, h) * 0.05
    if w >= h:
        side = min(h - 2 * pad, w * 0.45)
        qr_rect = QRectF(rect.left() + pad, rect.top() + (h - side) / 2, side, side)
        left = qr_rect.right() + pad
        text = QRectF(left, rect.top() + pad, rect.right() - pad - left, h - 2 * pad)
    else:
        side = min(w - 2 * pad, h * 0.5)
        qr_rect = QRectF(rect.left() + (w - side) / 2, rect.top() + pad, side, side)
        top = qr_rect.bottom() + pad * 0.5
        text = QRectF(rect.left() + pad, top, w - 2 * pad, rect.bottom() - pad - top)
    return qr_rect, text


def paint_qr(painter, rect, code: str) -> None:
    """The QR code as crisp modules from segno's matrix, quiet zone included, centred in ``rect``."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor

    matrix = qr(code).matrix
    n = len(matrix)
    side = min(rect.width(), rect.height())
    module = side / (n + 2 * QUIET_ZONE)
    if module >= 2:
        module = float(int(module))  # whole device pixels: no blurred module edges on a bitmap
    total = module * (n + 2 * QUIET_ZONE)
    x0 = rect.left() + (rect.width() - total) / 2
    y0 = rect.top() + (rect.height() - total) / 2
    painter.save()
    painter.setRenderHint(painter.RenderHint.Antialiasing, False)
    painter.fillRect(QRectF(x0, y0, total, total), QColor("white"))
    black = QColor("black")
    painter.setPen(Qt.PenStyle.NoPen)
    for r, start, length in _dark_runs(matrix):
        painter.fillRect(QRectF(x0 + (start + QUIET_ZONE) * module, y0 + (r + QUIET_ZONE) * module,
                                length * module, module), black)
    painter.restore()


def _lines(card: Card) -> list[tuple[str, str]]:
    """(style, text) of the card's text column, top to bottom."""
    out: list[tuple[str, str]] = [("title", card.reseller)]
    out.append(("plan", card.plan_name or f"{card.vendor} eSIM"))
    facts = [f for f in (card.data and f"Data: {card.data}",
                         card.validity_days and f"Valid: {card.validity_days} days") if f]
    if facts:
        out.append(("text", "   ·   ".join(facts)))
    if card.countries:
        out.append(("text", f"Countries: {card.countries}"))
    out.append(("text", f"ICCID: {card.iccid}"))
    out.append(("head", "Manual entry"))
    out.append(("mono", f"SM-DP+ address: {card.smdp_address}"))
    out.append(("mono", f"Activation code: {card.matching_id}"))
    if card.ios_link:
        out.append(("link", f"iPhone: {card.ios_link}"))
    if card.android_link:
        out.append(("link", f"Android: {card.android_link}"))
    out.append(("head", "Install"))
    out += [("text", f"{i}. {step}") for i, step in enumerate(INSTALL_STEPS, 1)]
    if card.reference:
        out.append(("small", f"Reference: {card.reference}"))
    return out


_LINK = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.example.com$" + "0" * 32
_SCALE = {"title": 1.35, "plan": 1.15, "head": 0.95, "text": 0.9, "mono": 0.85, "link": 0.7, "small": 0.8}


def _fonts(base: float) -> dict[str, Any]:
    from PySide6.QtGui import QFont

    fonts = {}
    for style, k in _SCALE.items():
        f = QFont("DejaVu Sans Mono" if style in ("mono", "link") else "DejaVu Sans")
        if style in ("mono", "link"):
            f.setStyleHint(QFont.StyleHint.Monospace)
        f.setPixelSize(max(1, round(base * k)))
        f.setBold(style in ("title", "plan", "head"))
        fonts[style] = f
    return fonts


def _flags(style: str) -> int:
    from PySide6.QtCore import Qt

    wrap = Qt.TextFlag.TextWrapAnywhere if style in ("mono", "link") else Qt.TextFlag.TextWordWrap
    return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | wrap)


def _measure(lines, fonts, width: float) -> list[float]:
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QFontMetricsF

    heights = []
    for style, text in lines:
        fm = QFontMetricsF(fonts[style])
        r = fm.boundingRect(QRectF(0, 0, width, 1e6), _flags(style), text)
        heights.append(r.height() + (fm.height() * 0.35 if style in ("plan", "head") else fm.height() * 0.12))
    return heights


@functools.lru_cache(maxsize=4)
def _logo_picture(data: bytes) -> Any:
    """A QImage (PNG, JPEG) or a QSvgRenderer (SVG) of logo bytes; None (logged) when Qt cannot read them."""
    from PySide6.QtGui import QImage

    if _logo_kind(data) == "svg":
        from PySide6.QtSvg import QSvgRenderer

        renderer = QSvgRenderer(data)
        if renderer.isValid() and not renderer.defaultSize().isEmpty():
            return renderer
    else:
        image = QImage()
        if image.loadFromData(data) and not image.isNull():
            return image
    log.warning("the reseller's logo is not an image Qt can draw: the card is printed without it")
    return None


def paint_logo(painter, box, data: bytes | None) -> float:
    """The logo scaled to fit ``box`` (aspect ratio kept), at its top left; returns the height drawn (0: none)."""
    from PySide6.QtCore import QRectF, Qt

    picture = _logo_picture(data) if data else None
    if picture is None:
        return 0.0
    size = picture.defaultSize() if hasattr(picture, "defaultSize") else picture.size()
    scale = min(box.width() / size.width(), box.height() / size.height())
    target = QRectF(box.left(), box.top(), size.width() * scale, size.height() * scale)
    painter.save()
    painter.setRenderHint(painter.RenderHint.SmoothPixmapTransform, True)
    if hasattr(picture, "render"):
        picture.setAspectRatioMode(Qt.AspectRatioMode.KeepAspectRatio)
        picture.render(painter, target)
    else:
        painter.drawImage(target, picture)
    painter.restore()
    return target.height()


def paint_card(painter, rect, card: Card) -> None:
    """Draw one customer card in ``rect`` (device coordinates of ``painter``): the one layout definition."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QPen

    painter.save()
    painter.fillRect(rect, QColor("white"))
    pen = QPen(QColor("#9a9a9a"))
    pen.setWidthF(max(1.0, min(rect.width(), rect.height()) / 400))
    painter.setPen(pen)
    radius = min(rect.width(), rect.height()) * 0.03
    painter.setRenderHint(painter.RenderHint.Antialiasing, True)
    inset = pen.widthF() / 2
    painter.drawRoundedRect(rect.adjusted(inset, inset, -inset, -inset), radius, radius)
    qr_rect, text_rect = card_layout(rect)
    paint_qr(painter, qr_rect, card.activation_code)
    if card.logo:  # at the top of the text column, above the reseller's name: never over the code
        box_h = min(min(rect.width(), rect.height()) * LOGO_BOX_MM / CARD_MM, text_rect.height() * 0.22)
        box = QRectF(text_rect.left(), text_rect.top(), text_rect.width() * 0.5, box_h)
        drawn = paint_logo(painter, box, card.logo)
        if drawn:
            text_rect = text_rect.adjusted(0, drawn + box_h * 0.15, 0, 0)

    lines = _lines(card)
    # The font size is fitted for the fullest card (both install links, long countries), so every card of
    # a page has the same type size whatever its vendor gives; the text block is centred beside the code.
    fullest = _lines(replace(card, ios_link=card.ios_link or _LINK, android_link=card.android_link or _LINK,
                             countries=(card.countries or "").ljust(38, "x")))
    base = max(rect.width(), rect.height()) / 48  # the largest that fits, shrunk below
    while True:
        fonts = _fonts(base)
        if sum(_measure(fullest, fonts, text_rect.width())) <= text_rect.height() or base < 4:
            break
        base *= 0.95
    heights = _measure(lines, fonts, text_rect.width())
    y = text_rect.top() + max(0.0, (text_rect.height() - sum(heights)) / 2)
    for (style, text), h in zip(lines, heights, strict=True):
        painter.setFont(fonts[style])
        painter.setPen(QColor("#555555") if style in ("small", "link") else QColor("black"))
        painter.drawText(QRectF(text_rect.left(), y, text_rect.width(), h), _flags(style), text)
        y += h
    painter.restore()


def _page_size(page: str):
    from PySide6.QtCore import QSizeF
    from PySide6.QtGui import QPageSize

    if page == "A4":
        return QPageSize(QPageSize.PageSizeId.A4)
    if page == "Letter":
        return QPageSize(QPageSize.PageSizeId.Letter)
    if page == "label":
        return QPageSize(QSizeF(*LABEL_MM), QPageSize.Unit.Millimeter, "Label 100 x 150 mm")
    raise ValidationError(f"page size '{page}' is not one of {', '.join(PAGES)}")


def card_rects(paint_rect, page: str, dpi: float) -> list[Any]:
    """The card rects of one page, in device pixels inside the printable area ``paint_rect``."""
    from PySide6.QtCore import QRectF

    per = CARDS_PER_PAGE[page]
    gap = GAP_MM / 25.4 * dpi if per > 1 else 0.0
    h = (paint_rect.height() - gap * (per - 1)) / per
    if page != "label":
        h = min(h, paint_rect.width() * 0.48)  # a card keeps its shape on tall pages
    return [QRectF(paint_rect.left(), paint_rect.top() + i * (h + gap), paint_rect.width(), h) for i in range(per)]


def write_pdf(cards: list[Card], path, page: str = "A4") -> int:
    """Every card into a PDF, whole cards only (never split over pages); returns the number of pages."""
    from PySide6.QtCore import QMarginsF, QRectF
    from PySide6.QtGui import QPageLayout, QPainter, QPdfWriter

    if not cards:
        raise ValidationError("no card to write")
    for c in cards:
        validate_activation_code(c.activation_code)
    size = _page_size(page)
    path = _writable(path)
    ensure_gui_app()
    dpi = 300
    writer = QPdfWriter(str(path))
    writer.setResolution(dpi)
    writer.setCreator("esimdesk")
    writer.setTitle("eSIM cards")
    margin = MARGIN_MM[page]
    writer.setPageLayout(QPageLayout(size, QPageLayout.Orientation.Portrait, QMarginsF(margin, margin, margin, margin),
                                     QPageLayout.Unit.Millimeter))
    painter = QPainter()
    if not painter.begin(writer):
        raise ValidationError(f"cannot write {path}: the PDF could not be opened for writing")
    try:
        paint = writer.pageLayout().paintRectPixels(dpi)
        area = QRectF(0, 0, paint.width(), paint.height())  # the painter's origin is the printable area's corner
        rects = card_rects(area, page, dpi)
        per = len(rects)
        pages = 0
        for i in range(0, len(cards), per):
            if pages:
                writer.newPage()
            for card, r in zip(cards[i:i + per], rects, strict=False):
                paint_card(painter, r, card)
            pages += 1
    finally:
        painter.end()
    if not path.exists() or path.stat().st_size == 0:
        raise ValidationError(f"cannot write {path}: nothing was written")
    return pages


def card_image(card: Card, width_px: int = 1200):
    """The card as an image (Copy image, a preview), with the proportions of a card on an A4 page."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter

    ensure_gui_app()
    height = round(width_px * 0.463)
    image = QImage(width_px, height, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        paint_card(painter, QRectF(0, 0, width_px, height), card)
    finally:
        painter.end()
    return image
