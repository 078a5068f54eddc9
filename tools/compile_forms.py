"""Compile every Designer form in ui/*.ui to esimdesk/ui/forms/ui_<name>.py with pyside6-uic.

Run after editing a form in Qt Designer (`pyside6-designer ui/settings_dialog.ui`); the compiled modules
are checked in, so `pip install .` and the PyInstaller bundle carry them as ordinary Python modules.
`--check`: change nothing, exit 1 naming every module that differs from a fresh compile.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORMS = ROOT / "ui"
OUT = ROOT / "esimdesk" / "ui" / "forms"
# uic names its own version in the header: a patch release of PySide6 must not make every form "stale".
_VERSION_LINE = re.compile(r"^## Created by: Qt User Interface Compiler version .*$", re.MULTILINE)


def uic_command() -> list[str]:
    exe = shutil.which("pyside6-uic", path=str(Path(sys.executable).parent)) or shutil.which("pyside6-uic")
    if exe is None:
        raise SystemExit("pyside6-uic not found: it comes with pyside6-essentials (pip install -e .)")
    return [exe]


def compile_form(ui: Path) -> str:
    return subprocess.run([*uic_command(), str(ui)], check=True, capture_output=True, text=True).stdout


def normalised(text: str) -> str:
    return _VERSION_LINE.sub("## Created by: Qt User Interface Compiler", text.replace("\r\n", "\n"))


def target(ui: Path) -> Path:
    return OUT / f"ui_{ui.stem}.py"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for ui in sorted(FORMS.glob("*.ui")):
        fresh = compile_form(ui)
        out = target(ui)
        if out.exists() and normalised(out.read_text()) == normalised(fresh):
            continue
        stale.append(out.relative_to(ROOT))
        if not check:
            out.write_text(fresh)
    if check and stale:
        print("stale, run python tools/compile_forms.py: " + ", ".join(map(str, stale)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
