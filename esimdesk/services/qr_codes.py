"""The QR code of an eSIM's activation code: the symbol (segno), and as PNG or SVG files.

The payload is the activation code exactly as the vendor gave it (``LPA:1$<SM-DP+ address>$<matching id>``),
validated first. Painting it on a card is services/card_paint.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import segno

from esimdesk.domain.activation import validate_activation_code
from esimdesk.domain.errors import ValidationError

QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks for


def qr(code: str) -> segno.QRCode:
    """The QR code of a validated activation code.

    Error correction M (15 % of the code can be lost): enough for a smudged or folded print and for a
    phone camera reading a screen with glare, while keeping modules large for a given print size; H/Q
    would make the symbol denser for no gain. boost_error=False: the level stays what we chose, so the
    symbol size is predictable for the card layout.
    """
    return segno.make_qr(validate_activation_code(code), error="m", boost_error=False)


def link_qr(url: str) -> segno.QRCode:
    """The QR code of a one-tap install link (``domain.install_links``), printed small beside the code.

    Error correction L: a link of about 125 characters is version 6 (41 modules) at L and 8 (49) at M, so
    L gives the largest modules in the little room a card has for it; a smudged link code still leaves the
    activation code's own (level M) and the manual entry. boost_error=False, as for ``qr``.
    """
    if not isinstance(url, str) or not url.startswith("https://"):
        raise ValidationError(f"'{url}' is not an https install link")
    return segno.make_qr(url, error="l", boost_error=False)


def writable(path) -> Path:
    """``path`` as a Path whose folder exists; ValidationError in words otherwise (PNG, SVG and PDF files)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ValidationError(f"cannot write {path}: the folder {path.parent} does not exist")
    return path


def _write(save: Callable[[], object], path: Path) -> None:
    try:
        save()
    except OSError as exc:
        raise ValidationError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_qr_png(code: str, path, scale: int = 10) -> Path:
    symbol, path = qr(code), writable(path)
    _write(lambda: symbol.save(str(path), kind="png", scale=scale, border=QUIET_ZONE), path)
    return path


def dark_runs(matrix) -> Iterator[tuple[int, int, int]]:
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
    parts = [f"M{start + q} {r + q}h{length}v1h-{length}z" for r, start, length in dark_runs(matrix)]
    size = n + 2 * q
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * scale}" height="{size * scale}" '
            f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
            f'<rect width="{size}" height="{size}" fill="#fff"/>'
            f'<path fill="#000" d="{"".join(parts)}"/></svg>\n')


def write_qr_svg(code: str, path) -> Path:
    text, path = qr_svg(code), writable(path)
    _write(lambda: path.write_text(text, encoding="utf-8"), path)
    return path
