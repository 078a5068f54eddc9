"""Build the desk bundle for the platform this runs on (README → Building the desk bundles).

    python -m pip install -e '.[package]'
    python packaging/build.py [--archive]

Linux:   dist/esimdesk/ (run dist/esimdesk/esimdesk), with esimdesk.desktop and the icons beside it;
         --archive also writes dist/esimdesk-<version>-linux-<arch>.tar.gz.
Windows: dist/esimdesk/ (esimdesk.exe: command line; esimdeskw.exe: the window, for shortcuts);
         --archive also writes dist/esimdesk-<version>-windows-<arch>.zip.
macOS:   dist/esimdesk.app, and dist/esimdesk-<version>-macos-<arch>.dmg (hdiutil). Signed when
         ESIMDESK_CODESIGN_IDENTITY names a "Developer ID Application" identity in the keychain.
Signing for Windows and notarising for macOS are separate steps (README).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "esimdesk.spec"
DIST = ROOT / "dist"
WORK = ROOT / "build"
NEEDED_ICONS = [ROOT / "resources" / name for name in ("esimdesk.svg", "esimdesk.ico", "esimdesk.icns")]


def version() -> str:
    sys.path.insert(0, str(ROOT))
    from esimdesk import __version__

    return __version__


PACKAGE_EXTRA = "python -m pip install -e '.[package]'"


def tools_missing() -> str | None:
    """Without the packaging extra (PyInstaller) the build would end in a traceback: a sentence instead."""
    if importlib.util.find_spec("PyInstaller") is not None:
        return None
    return (f"build: PyInstaller is not installed in this Python ({sys.executable}): run  {PACKAGE_EXTRA}  first "
            "(Windows cmd: .[package] without the quotes)")


def run_pyinstaller() -> None:
    missing = [str(p.relative_to(ROOT)) for p in NEEDED_ICONS if not p.exists()]
    if missing:
        raise SystemExit(f"build: {', '.join(missing)} missing: run python packaging/make_icons.py")
    # --clean: a cache from another PySide6 or PyInstaller version must not leak into the bundle.
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
           "--distpath", str(DIST), "--workpath", str(WORK), str(SPEC)]
    print("build:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def finish_linux(archive: bool) -> Path:
    bundle = DIST / "esimdesk"
    # The .desktop file and the themed icons, laid out as under /usr/share (README says where to copy).
    shutil.copy2(ROOT / "packaging" / "linux" / "esimdesk.desktop", bundle / "esimdesk.desktop")
    for png in sorted((ROOT / "resources" / "icons").glob("esimdesk-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        target = bundle / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "esimdesk.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(png, target)
    if archive:
        out = DIST / f"esimdesk-{version()}-linux-{platform.machine()}.tar.gz"
        with tarfile.open(out, "w:gz") as tar:
            tar.add(bundle, arcname="esimdesk")
        print("build:", out)
    return bundle


def finish_windows(archive: bool) -> Path:
    bundle = DIST / "esimdesk"
    if archive:
        out = shutil.make_archive(str(DIST / f"esimdesk-{version()}-windows-{platform.machine().lower()}"),
                                  "zip", DIST, "esimdesk")
        print("build:", out)
    return bundle


def finish_macos() -> Path:
    app = DIST / "esimdesk.app"
    dmg = DIST / f"esimdesk-{version()}-macos-{platform.machine()}.dmg"
    dmg.unlink(missing_ok=True)
    subprocess.run(["hdiutil", "create", "-volname", "esimdesk", "-srcfolder", str(app), "-ov",
                    "-format", "UDZO", str(dmg)], check=True)
    identity = os.environ.get("ESIMDESK_CODESIGN_IDENTITY")
    if identity:  # the .app inside is signed by PyInstaller (the spec); notarising is the README's next step
        subprocess.run(["codesign", "-s", identity, "--timestamp", str(dmg)], check=True)
    print("build:", dmg)
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python packaging/build.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archive", action="store_true", help="also pack the bundle (.tar.gz / .zip; macOS: always a .dmg)")
    args = p.parse_args(argv)
    problem = tools_missing()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    run_pyinstaller()
    if sys.platform == "darwin":
        out = finish_macos()
    elif sys.platform == "win32":
        out = finish_windows(args.archive)
    else:
        out = finish_linux(args.archive)
    print(f"build: the bundle is {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
