"""The README's Debian packages for Qt are complete, and `.ci/run` installs exactly that list.

Completeness is read from the wheel itself: every shared library that Qt's X11 window plugin and the Qt
libraries the app loads link to, and that neither the wheel nor the C/C++ runtime provides, must come
from a package the README names (Debian names a library's package after its soname).
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Always on a Debian system (Essential or required priority): not for the README to list.
BASE = {
    "libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1", "libzstd.so.1",
}
# Sonames whose Debian package does not follow the soname rule.
PACKAGE_OF = {"libglib-2.0.so.0": "libglib2.0-0", "libgthread-2.0.so.0": "libglib2.0-0",
              "libgobject-2.0.so.0": "libglib2.0-0", "libgio-2.0.so.0": "libglib2.0-0"}


def readme_debs() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    at = text.index("On a bare Linux machine Qt needs")
    block = re.search(r"```bash\n(.*?)```", text[at:], re.S)
    assert block, "the README's apt-get block after 'On a bare Linux machine Qt needs' is gone"
    command = " ".join(line.split("#")[0].rstrip().rstrip("\\") for line in block.group(1).splitlines())
    words = command.split()
    assert words[:3] == ["sudo", "apt-get", "install"], command
    return [w for w in words[3:] if not w.startswith("-")]


def ci_debs() -> list[str]:
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    found = re.findall(r'^QT_DEBS="([^"]*)"', text, re.M)
    assert len(found) == 1, "`.ci/run` sets QT_DEBS exactly once"
    return found[0].split()


def test_ci_installs_exactly_the_readme_list():
    readme = readme_debs()
    assert len(readme) == len(set(readme)), "a package is named twice in the README"
    assert ci_debs() == readme


def test_ci_runs_the_gui_check():
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^bash \.ci/gui_smoke\.sh$", run, re.M)
    check = re.search(r'^CHECK_DEBS="([^"]*)"', run, re.M)
    assert check and {"xvfb", "imagemagick"} <= set(check.group(1).split())


def test_ci_installs_what_the_card_tests_decode_with():
    """The printed-card tests rasterise PDFs (pdftoppm) and decode with a second decoder (zbarimg);
    without them they skip, so CI installs both: a green CI must not hide a skipped check."""
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    check = re.search(r'^CHECK_DEBS="([^"]*)"', run, re.M)
    assert check and {"poppler-utils", "zbar-tools"} <= set(check.group(1).split())


def debian_package(soname: str) -> str:
    """libxcb-shape.so.0 -> libxcb-shape0, libX11.so.6 -> libx11-6 (a digit before the version: a dash)."""
    if soname in PACKAGE_OF:
        return PACKAGE_OF[soname]
    name, _, version = soname.partition(".so.")
    name = name.lower()
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def needed(path: Path) -> list[str]:
    """DT_NEEDED entries of a 64-bit little-endian ELF file (what `readelf -d` lists as NEEDED)."""
    data = path.read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, path
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, _entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab_offset = sections[link][4]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strtab_offset + value
                out.append(data[start:data.index(b"\0", start)].decode())
    return out


def test_readme_list_covers_what_qt_links_to_on_linux():
    PySide6 = pytest.importorskip("PySide6")
    qt = Path(PySide6.__file__).parent / "Qt"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        pytest.skip("no X11 plugin in this wheel (not Linux)")
    if struct.unpack_from("<H", plugin.read_bytes(), 0x12)[0] != 62:  # EM_X86_64: the soname rule is Debian's
        pytest.skip("checked on x86_64")
    libs = [plugin] + [qt / "lib" / f"libQt6{m}.so.6" for m in
                       ("XcbQpa", "Core", "Gui", "Widgets", "DBus", "PrintSupport", "Svg")]
    bundled = {p.name for p in (qt / "lib").iterdir()}
    wanted: dict[str, str] = {}
    for lib in libs:
        if not lib.exists():
            continue
        for soname in needed(lib):
            if soname in bundled or soname in BASE:
                continue
            wanted[soname] = debian_package(soname)
    assert "libxcb-shape.so.0" in wanted, sorted(wanted)  # the parser reads the plugin
    listed = set(readme_debs())
    missing = {soname: package for soname, package in wanted.items() if package not in listed}
    assert not missing, f"Qt links to libraries whose packages the README does not name: {missing}"


def test_soname_rule():
    assert debian_package("libxcb-shape.so.0") == "libxcb-shape0"
    assert debian_package("libX11.so.6") == "libx11-6"
    assert debian_package("libX11-xcb.so.1") == "libx11-xcb1"
    assert debian_package("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert debian_package("libdbus-1.so.3") == "libdbus-1-3"
    assert debian_package("libglib-2.0.so.0") == "libglib2.0-0"
