"""Customer cards drawn with QPainter: one layout (``card_regions`` + ``paint_card``) on any device — the
window, a printer, a PDF (``write_pdf``) or an image (``card_image``).

A card has three parts: the activation code's QR code (large: what Settings → Add eSIM scans), the text
column, and a framed "Install in one tap" panel (``paint_install_links``) with two small QR codes of the
one-tap iPhone and Android links (``services.cards.card_install_links``), which the phone's camera app opens.
What a card says is services/cards.py (``card_lines``); the QR symbols are services/qr_codes.py.
"""

from __future__ import annotations

import functools
import logging
import os
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
from esimdesk.domain.install_links import InstallLinks
from esimdesk.services.card_settings import logo_kind
from esimdesk.services.cards import Card, card_install_links, card_lines
from esimdesk.services.qr_codes import QUIET_ZONE, dark_runs, link_qr, qr, writable

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


@dataclass(frozen=True)
class CardRegions:
    """Where the parts of a card go, in the card rect's coordinates."""

    qr: Any  # QRectF: the activation code's QR code (its quiet zone included)
    text: Any  # QRectF: the text column (the logo at its top)
    links: Any  # QRectF: the "Install in one tap" panel with the link QR codes


def card_regions(rect) -> CardRegions:
    """The parts of a card in ``rect``. Wide (a card of an A4/Letter page, the image): the code on the left,
    the text in the middle, the links panel at the right edge. Tall (a
    label): the code at the top left, the links panel beside it, the text below both."""
    w, h = rect.width(), rect.height()
    pad = min(w, h) * 0.05
    if w >= h:
        side = min(h - 2 * pad, w * 0.37)  # 68 mm on A4 (module 1.7 mm): room for the text and the links
        qr_rect = QRectF(rect.left() + pad, rect.top() + (h - side) / 2, side, side)
        lw = min(h * 0.32, w * 0.18)
        links = QRectF(rect.right() - pad - lw, rect.top() + pad, lw, h - 2 * pad)
        left = qr_rect.right() + pad
        text = QRectF(left, rect.top() + pad, links.left() - pad * 0.7 - left, h - 2 * pad)
    else:
        inner = w - 2 * pad
        lw = inner * 0.32
        side = min(inner - lw - pad * 0.6, h * 0.5)  # 53 mm on a label (module 1.3 mm)
        qr_rect = QRectF(rect.left() + pad, rect.top() + pad + side * 0.1, side, side)
        links = QRectF(rect.right() - pad - lw, rect.top() + pad, lw, side * 1.2)
        top = links.bottom() + pad * 0.5
        text = QRectF(rect.left() + pad, top, inner, rect.bottom() - pad - top)
    return CardRegions(qr_rect, text, links)


def _paint_matrix(painter, rect, matrix, snap_loss: float = 1.0) -> Any:
    """A QR matrix as crisp modules, quiet zone included, centred in ``rect``; returns the square drawn.

    Modules of two device pixels or more are whole pixels (no blurred module edges on a bitmap) where that
    costs at most ``snap_loss`` of the module (a small link code keeps its size: 5.99 pixels stay 5.99)."""
    n = len(matrix)
    side = min(rect.width(), rect.height())
    module = side / (n + 2 * QUIET_ZONE)
    if module >= 2 and module - int(module) <= snap_loss * module:
        module = float(int(module))
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
    return QRectF(x0, y0, total, total)


def paint_qr(painter, rect, code: str) -> None:
    """The QR code as crisp modules from segno's matrix, quiet zone included, centred in ``rect``."""
    _paint_matrix(painter, rect, _code_matrix(code))


# segno's mask search is most of a card's time (about 13 of its 22 ms: three codes): a print preview or the
# customer view repaints each card, and an e-mail's PDF computes its codes in a worker thread first
# (``prepare_symbols``) so the window paints from here. Room for the cards of an order of 200.
@functools.lru_cache(maxsize=512)
def _link_matrix(url: str) -> tuple[bytes, ...]:
    return tuple(bytes(row) for row in link_qr(url).matrix)


@functools.lru_cache(maxsize=256)
def _code_matrix(code: str) -> tuple[bytes, ...]:
    return tuple(bytes(row) for row in qr(code).matrix)


def prepare_symbols(cards: list[Card]) -> None:
    """Compute the QR codes of ``cards`` (pure Python, no Qt: safe in a worker thread) before they are painted."""
    for card in cards:
        _code_matrix(card.activation_code)
        links = card_install_links(card)
        for url in (links.apple, links.android):
            if url:
                _link_matrix(url)


def paint_link_qr(painter, rect, url: str) -> Any:
    """A one-tap install link's QR code (``qr_codes.link_qr``) centred in ``rect``; returns the square drawn."""
    return _paint_matrix(painter, rect, _link_matrix(url), snap_loss=0.1)


LINKS_HEADING = "Install in one tap"
LINKS_CAPTION = "Or scan a small code with the camera of the phone that gets the eSIM"
LINK_LABELS = ("iPhone · iOS 17.4+", "Android")


def _text_height(font, width: float, text: str) -> float:
    return QFontMetricsF(font).boundingRect(QRectF(0, 0, width, 1e6), int(Qt.TextFlag.TextWordWrap), text).height()


def paint_install_links(painter, rect, links: InstallLinks, font_px: float | None = None,
                        frame: bool = True) -> list[Any]:
    """The "Install in one tap" panel in ``rect``: a heading, a caption and the QR codes of the iPhone and
    the Android link, each labelled, stacked or side by side (whichever gives larger codes). Framed, so it
    reads as apart from the activation code's QR code. Returns the two squares drawn (iPhone, Android)."""
    painter.save()
    w = rect.width()
    margin = min(w, rect.height()) * 0.06 if frame else 0.0
    if frame:
        pen = QPen(QColor("#b0b0b0"))
        pen.setWidthF(max(1.0, w / 250))
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setRenderHint(painter.RenderHint.Antialiasing, True)
        radius = min(w, rect.height()) * 0.06
        inset = pen.widthF() / 2
        painter.drawRoundedRect(rect.adjusted(inset, inset, -inset, -inset), radius, radius)
    inner = rect.adjusted(margin, margin, -margin, -margin)
    px = font_px or max(1.0, min(inner.width() / 10.5, inner.height() / 18))
    head, small = QFont("DejaVu Sans"), QFont("DejaVu Sans")
    head.setPixelSize(max(1, round(px)))
    head.setBold(True)
    small.setPixelSize(max(1, round(px * 0.82)))
    gap = px * 0.35
    caption_h = _text_height(head, inner.width(), LINKS_HEADING) + _text_height(small, inner.width(), LINKS_CAPTION)
    label_h = max(_text_height(small, inner.width(), t) for t in LINK_LABELS)
    stacked = min(inner.width(), (inner.height() - caption_h - 2 * label_h - 3 * gap) / 2)
    side_by_side = min((inner.width() - gap) / 2, inner.height() - caption_h - label_h - 2 * gap)
    q = max(stacked, side_by_side)
    squares: list[Any] = []
    if q > 0:
        flags = int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap)
        if stacked >= side_by_side:
            used = caption_h + 2 * (q + label_h) + 3 * gap
            cells = [(inner.left() + (inner.width() - q) / 2, 0.0), (inner.left() + (inner.width() - q) / 2, 1.0)]
        else:
            used = caption_h + q + label_h + 2 * gap
            x0 = inner.left() + (inner.width() - 2 * q - gap) / 2
            cells = [(x0, 0.0), (x0 + q + gap, 0.0)]
        y = inner.top() + max(0.0, (inner.height() - used) / 2)
        painter.setPen(QColor("black"))
        painter.setFont(head)
        h = _text_height(head, inner.width(), LINKS_HEADING)
        painter.drawText(QRectF(inner.left(), y, inner.width(), h), flags, LINKS_HEADING)
        y += h
        painter.setPen(QColor("#555555"))
        painter.setFont(small)
        h = _text_height(small, inner.width(), LINKS_CAPTION)
        painter.drawText(QRectF(inner.left(), y, inner.width(), h), flags, LINKS_CAPTION)
        y += h + gap
        for (x, row), url, label in zip(cells, (links.apple, links.android), LINK_LABELS, strict=True):
            top = y + row * (q + label_h + gap)
            squares.append(paint_link_qr(painter, QRectF(x, top, q, q), url))
            painter.setPen(QColor("black"))
            painter.setFont(small)
            painter.drawText(QRectF(x - gap, top + q, q + 2 * gap, label_h), flags, label)
    painter.restore()
    return squares


_ONE_LINE = "Activation code: " + "0" * 32
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
    return list(dict.fromkeys(ch for style, text in card_lines(card, links_drawn=True) for ch in left_out_of(text, fonts[style])))


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
    regions = card_regions(rect)
    qr_rect, text_rect = regions.qr, regions.text
    paint_qr(painter, qr_rect, card.activation_code)
    paint_install_links(painter, regions.links, card_install_links(card))
    if card.logo:  # at the top of the text column, above the reseller's name: never over the code
        box_h = min(min(rect.width(), rect.height()) * LOGO_BOX_MM / CARD_MM, text_rect.height() * 0.22)
        box = QRectF(text_rect.left(), text_rect.top(), text_rect.width() * 0.5, box_h)
        drawn = paint_logo(painter, box, card.logo)
        if drawn:
            text_rect = text_rect.adjusted(0, drawn + box_h * 0.15, 0, 0)

    lines = card_lines(card, links_drawn=True)
    # The font size is fitted for the fullest card (long countries), so every card of a page has the same
    # type size whatever its plan; the text block is centred beside the code. The one-tap links are the
    # panel's QR codes, not text (a vendor's own link without the code in it, a rare case, stays text).
    fullest = card_lines(replace(card, countries=(card.countries or "").ljust(38, "x")), links_drawn=True)
    # The usual 32-character matching id on one line (a code cut in two is misread when typed) unless that
    # would shrink the type by more than a quarter.
    start = base = max(rect.width(), rect.height()) / 48  # the largest that fits, shrunk below
    while True:
        fonts = _fonts(base)
        fits = sum(_measure(fullest, fonts, text_rect.width())) <= text_rect.height()
        one_line = QFontMetricsF(fonts["mono"]).horizontalAdvance(_ONE_LINE) <= text_rect.width()
        if (fits and (one_line or base < start * 0.75)) or base < 4:
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
    return deque(pdf_pages(cards, path, page), maxlen=1)[0]  # the last count: the file is whole


def pdf_pages(cards: list[Card], path, page: str = "A4") -> Iterator[int]:
    """``write_pdf`` a page at a time: yields the pages painted so far after each one, so a caller on the
    window's thread can let it repaint between pages (an e-mail's 50 cards are 17 pages of ~20 ms); the file
    is whole once the iteration ends (closed as it is left, ended early or not)."""
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
            if pages * per < len(cards):
                yield pages
    finally:
        painter.end()
    if not path.exists() or path.stat().st_size == 0:
        raise ValidationError(f"cannot write {path}: nothing was written")
    yield pages


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
