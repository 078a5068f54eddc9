"""Render resources/esimdesk.svg to the app icon at every size the bundles need; run after editing the SVG.

    python packaging/make_icons.py        (PySide6 and Pillow: pip install -e '.[package]')

Writes resources/icons/esimdesk-<N>.png (N in PNG_SIZES: Linux's icon theme sizes, and the sources
of the other two), resources/esimdesk.ico (Windows: 16-256) and resources/esimdesk.icns (macOS).
Qt's SVG renderer draws each size from the vector, so small sizes stay sharp instead of being one
large bitmap scaled down; Pillow only packs the rendered PNGs into .ico and .icns.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "esimdesk.svg"
ICONS = ROOT / "resources" / "icons"
ICO = ROOT / "resources" / "esimdesk.ico"
ICNS = ROOT / "resources" / "esimdesk.icns"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)  # Windows Explorer, taskbar, title bar at 100-400 % scaling


def png_path(size: int) -> Path:
    return ICONS / f"esimdesk-{size}.png"


def render(size: int, svg: Path = SVG) -> bytes:
    """The SVG drawn at size x size pixels on a transparent background, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # no display needed to draw into an image
        render.app = QGuiApplication([])  # kept: Qt must not outlive its application
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not an SVG Qt can draw")
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data)


def main() -> int:
    from PIL import Image

    ICONS.mkdir(exist_ok=True)
    images = {}
    for size in PNG_SIZES:
        data = render(size)
        png_path(size).write_bytes(data)
        images[size] = Image.open(io.BytesIO(data)).convert("RGBA")
    largest = images[max(ICO_SIZES)]
    largest.save(ICO, format="ICO", sizes=[(s, s) for s in ICO_SIZES],
                 append_images=[images[s] for s in ICO_SIZES if s != max(ICO_SIZES)])
    images[1024].save(ICNS, format="ICNS", append_images=[images[s] for s in (32, 64, 128, 256, 512)])
    for path in [png_path(s) for s in PNG_SIZES] + [ICO, ICNS]:
        print(f"{path.relative_to(ROOT)}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
