"""`packaging/build.py` without the packaging extra says what to install instead of ending in a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_build_without_pyinstaller_names_the_packaging_extra(tmp_path):
    # PyInstaller hidden from this Python (None in sys.modules: "not installed" to the import system).
    code = ("import runpy, sys; sys.modules['PyInstaller'] = None; sys.argv = ['packaging/build.py']; "
            "runpy.run_path('packaging/build.py', run_name='__main__')")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "PyInstaller is not installed" in res.stderr
    assert "pip install -e '.[package]'" in res.stderr
    assert not (ROOT / "build" / "esimdesk").exists() or res.stdout == ""  # nothing was started
