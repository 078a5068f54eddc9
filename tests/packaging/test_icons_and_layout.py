"""The app icon in every size the bundles use is the SVG's current drawing, and build.py lays out the
Linux bundle's desktop entry and themed icons where the README says."""

from __future__ import annotations

import importlib.util
import io
import tarfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"packaging_{name}", ROOT / "packaging" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_icons = _load("make_icons")
build = _load("build")


@pytest.mark.parametrize("size", make_icons.PNG_SIZES)
def test_each_png_is_the_svg_drawn_at_its_size(qapp, size):
    committed = Image.open(make_icons.png_path(size)).convert("RGBA")
    assert committed.size == (size, size)
    fresh = Image.open(io.BytesIO(make_icons.render(size))).convert("RGBA")
    # Same drawing (antialiasing may differ by a step between Qt builds): edit the SVG, then run make_icons.py.
    diff = ImageStat.Stat(ImageChops.difference(committed, fresh)).mean
    assert max(diff) < 2.0, f"resources/icons/esimdesk-{size}.png is not the current SVG: run packaging/make_icons.py"


def test_ico_holds_every_windows_size_and_icns_the_macos_ones():
    ico = Image.open(make_icons.ICO)
    assert sorted(ico.ico.sizes()) == [(s, s) for s in make_icons.ICO_SIZES]
    ico.size = (16, 16)  # the smallest frame is a picture, not an empty square
    assert len(ico.convert("RGB").getcolors(1000) or []) > 2
    icns = Image.open(make_icons.ICNS)
    widths = {w * scale for w, _, scale in icns.info["sizes"]}
    assert {32, 64, 128, 256, 512, 1024} <= widths


def test_desktop_entry_names_the_command_and_an_icon_the_bundle_carries(tmp_path, monkeypatch):
    entry = dict(line.split("=", 1) for line in
                 (ROOT / "packaging" / "linux" / "esimdesk.desktop").read_text().splitlines() if "=" in line)
    assert entry["Type"] == "Application" and entry["Exec"] == "esimdesk" and entry["Terminal"] == "false"

    bundle = tmp_path / "esimdesk"
    bundle.mkdir()
    (bundle / "esimdesk").write_text("frozen")
    monkeypatch.setattr(build, "DIST", tmp_path)
    assert build.finish_linux(archive=True) == bundle
    assert (bundle / "esimdesk.desktop").read_text() == (ROOT / "packaging" / "linux" / "esimdesk.desktop").read_text()
    for size in make_icons.PNG_SIZES:
        themed = bundle / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{entry['Icon']}.png"
        assert Image.open(themed).size == (size, size)
    (archive,) = tmp_path.glob("esimdesk-*-linux-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    assert {"esimdesk/esimdesk", "esimdesk/esimdesk.desktop", "esimdesk/icons/hicolor/256x256/apps/esimdesk.png"} <= names
