"""Customer cards drawn with QPainter: one layout (``card_layout`` + ``paint_card``) on any device — the
window, a printer, a PDF (``write_pdf``) or an image (``card_image``).

What a card says is services/cards.py (``card_lines``); the QR symbol is services/qr_codes.py.
"""

from __future__ import annotations

import functools
import logging
import os
import unicodedata
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QMarginsF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QTextLayout,
)
from PySide6.QtSvg import QSvgRenderer

from esimdesk.domain.activation import validate_activation_code
from esimdesk.domain.errors import ValidationError
from esimdesk.services.card_settings import logo_kind
from esimdesk.services.cards import Card, card_lines
from esimdesk.services.qr_codes import QUIET_ZONE, dark_runs, qr, writable

log = logging.getLogger("esimdesk.cards")

LOGO_BOX_MM = 18.0  # the reseller's logo is at most this high on a card of an A4/Letter page
CARD_MM = 88.0  # the short side of a card on an A4/Letter page, about
PAGES = ("A4", "Letter", "label")
CARDS_PER_PAGE = {"A4": 3, "Letter": 3, "label": 1}
LABEL_MM = (100.0, 150.0)  # a 4x6-inch style shipping label, portrait: one card per label
MARGIN_MM = {"A4": 10.0, "Letter": 10.0, "label": 4.0}  # inside every office printer's unprintable edge
GAP_MM = 6.0  # between cards on a page: room for scissors

_gui_app = None


def ensure_gui_app():
    """A QGuiApplication for painting (fonts need one): the existing one, or an offscreen one."""
    global _gui_app
    app = QGuiApplication.instance()
    if app is not None:
        return app
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _gui_app = QGuiApplication(["esimdesk"])
    return _gui_app


def card_layout(rect) -> tuple[Any, Any]:
    """(QR rect, text rect) inside a card rect: QR on the left of a wide card, on top of a tall one."""
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
    for r, start, length in dark_runs(matrix):
        painter.fillRect(QRectF(x0 + (start + QUIET_ZONE) * module, y0 + (r + QUIET_ZONE) * module,
                                length * module, module), black)
    painter.restore()


_LINK = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$rsp-eu.example.com$" + "0" * 32
_SCALE = {"title": 1.35, "plan": 1.15, "head": 0.95, "text": 0.9, "mono": 0.85, "link": 0.7, "small": 0.8}


def _fonts(base: float) -> dict[str, Any]:
    fonts = {}
    for style, k in _SCALE.items():
        f = QFont("DejaVu Sans Mono" if style in ("mono", "link") else "DejaVu Sans")
        if style in ("mono", "link"):
            f.setStyleHint(QFont.StyleHint.Monospace)
        f.setPixelSize(max(1, round(base * k)))
        f.setBold(style in ("title", "plan", "head"))
        fonts[style] = f
    return fonts


def _ignorable(ch: str) -> bool:
    """Characters drawn as nothing by design (joiners, variation selectors, direction marks): never a box."""
    return unicodedata.category(ch) == "Cf" or "\ufe00" <= ch <= "\ufe0f" or "\U000e0100" <= ch <= "\U000e01ef"


@functools.lru_cache(maxsize=4096)
def _drawable(ch: str, family: str, bold: bool) -> bool:
    """Whether Qt finds a font here that draws ``ch`` (the card's font or one Qt falls back to: Segoe UI Emoji
    on Windows, Apple Color Emoji on macOS): glyph 0 is the font's "missing" box."""
    font = QFont(family)
    font.setBold(bold)
    layout = QTextLayout(ch, font)
    layout.beginLayout()
    layout.createLine()
    layout.endLayout()
    glyphs = [g for run in layout.glyphRuns() for g in run.glyphIndexes()]
    return bool(glyphs) and 0 not in glyphs


def left_out_of(text: str, font) -> list[str]:
    """The characters of ``text`` no font here draws in ``font`` (an emoji on a desk without an emoji font):
    printed, each would be an empty box."""
    out: list[str] = []
    for ch in dict.fromkeys(text):
        if ord(ch) > 0x7E and not _ignorable(ch) and not _drawable(ch, font.family(), font.bold()):
            out.append(ch)
    return out


def card_left_out(card: Card) -> list[str]:
    """What ``paint_card`` leaves out of this card (see ``left_out_of``), each character once."""
    ensure_gui_app()
    fonts = _fonts(12)
    return list(dict.fromkeys(ch for style, text in card_lines(card) for ch in left_out_of(text, fonts[style])))


def left_out_sentences(cards: list[Card]) -> list[str]:
    """One sentence per card that leaves a character out: for the agent, who would otherwise find an empty
    box on the printed card."""
    out = []
    for card in cards:
        chars = card_left_out(card)
        if chars:
            named = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in chars)
            out.append(f"the card of {card.iccid} leaves out {named}: no font on this computer draws "
                       f"{'it' if len(chars) == 1 else 'them'}")
    return out


@functools.lru_cache(maxsize=256)
def _say_once(sentence: str) -> None:
    log.warning("%s", sentence)  # once per card and process: a print preview paints each page many times


def _printable(text: str, font) -> str:
    missing = left_out_of(text, font)
    return "".join(ch for ch in text if ch not in missing) if missing else text


def _flags(style: str) -> int:
    wrap = Qt.TextFlag.TextWrapAnywhere if style in ("mono", "link") else Qt.TextFlag.TextWordWrap
    return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | wrap)


def _measure(lines, fonts, width: float) -> list[float]:
    heights = []
    for style, text in lines:
        fm = QFontMetricsF(fonts[style])
        r = fm.boundingRect(QRectF(0, 0, width, 1e6), _flags(style), text)
        heights.append(r.height() + (fm.height() * 0.35 if style in ("plan", "head") else fm.height() * 0.12))
    return heights


@functools.lru_cache(maxsize=4)
def _logo_picture(data: bytes) -> Any:
    """A QImage (PNG, JPEG) or a QSvgRenderer (SVG) of logo bytes; None (logged) when Qt cannot read them."""
    if logo_kind(data) == "svg":
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

    lines = card_lines(card)
    # The font size is fitted for the fullest card (both install links, long countries), so every card of
    # a page has the same type size whatever its vendor gives; the text block is centred beside the code.
    fullest = card_lines(replace(card, ios_link=card.ios_link or _LINK, android_link=card.android_link or _LINK,
                                 countries=(card.countries or "").ljust(38, "x")))
    base = max(rect.width(), rect.height()) / 48  # the largest that fits, shrunk below
    while True:
        fonts = _fonts(base)
        if sum(_measure(fullest, fonts, text_rect.width())) <= text_rect.height() or base < 4:
            break
        base *= 0.95
    # A character no font here draws is left out (an empty box, else), and said (the command line shows the
    # warning on stderr); left_out_sentences gives the same sentences to a caller.
    if any(left_out_of(text, fonts[style]) for style, text in lines):
        for sentence in left_out_sentences([card]):
            _say_once(sentence)
        lines = [(style, _printable(text, fonts[style])) for style, text in lines]
    heights = _measure(lines, fonts, text_rect.width())
    y = text_rect.top() + max(0.0, (text_rect.height() - sum(heights)) / 2)
    for (style, text), h in zip(lines, heights, strict=True):
        painter.setFont(fonts[style])
        painter.setPen(QColor("#555555") if style in ("small", "link") else QColor("black"))
        painter.drawText(QRectF(text_rect.left(), y, text_rect.width(), h), _flags(style), text)
        y += h
    painter.restore()


def _page_size(page: str):
    if page == "A4":
        return QPageSize(QPageSize.PageSizeId.A4)
    if page == "Letter":
        return QPageSize(QPageSize.PageSizeId.Letter)
    if page == "label":
        return QPageSize(QSizeF(*LABEL_MM), QPageSize.Unit.Millimeter, "Label 100 x 150 mm")
    raise ValidationError(f"page size '{page}' is not one of {', '.join(PAGES)}")


def card_rects(paint_rect, page: str, dpi: float) -> list[Any]:
    """The card rects of one page, in device pixels inside the printable area ``paint_rect``."""
    per = CARDS_PER_PAGE[page]
    gap = GAP_MM / 25.4 * dpi if per > 1 else 0.0
    h = (paint_rect.height() - gap * (per - 1)) / per
    if page != "label":
        h = min(h, paint_rect.width() * 0.48)  # a card keeps its shape on tall pages
    return [QRectF(paint_rect.left(), paint_rect.top() + i * (h + gap), paint_rect.width(), h) for i in range(per)]


def write_pdf(cards: list[Card], path, page: str = "A4") -> int:
    """Every card into a PDF, whole cards only (never split over pages); returns the number of pages."""
    if not cards:
        raise ValidationError("no card to write")
    for c in cards:
        validate_activation_code(c.activation_code)
    size = _page_size(page)
    path = writable(path)
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
