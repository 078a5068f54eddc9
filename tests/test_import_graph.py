"""tools/import_graph.py: esimdesk/ has no import circle, no upward import and no unexplained import inside a
function (README → Architecture), and the check fails where it should, on small synthetic packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "import_graph.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=120)


def make_package(root: Path, files: dict[str, str]) -> Path:
    package = root / "pkg"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.parents:  # every folder a package, as in esimdesk/
            if parent == root:
                break
            (parent / "__init__.py").touch()
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return package


def test_esimdesk_has_no_circle_no_upward_import_and_says_why_an_import_is_lazy():
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.rstrip().endswith("0 circles, 0 upward imports, 0 unexplained imports inside functions: ok")


def test_a_clean_package_passes(tmp_path):
    package = make_package(tmp_path, {
        "domain/__init__.py": "from pkg.domain.models import Plan\n",  # a package re-exporting is no circle
        "domain/models.py": "class Plan: ...\n",
        "store/db.py": "from pkg.domain import Plan\nfrom . import rows\n",
        "store/rows.py": "from pkg.domain.models import Plan\n",
        "services/sync.py": """\
            from typing import TYPE_CHECKING

            from pkg.store import db
            if TYPE_CHECKING:  # annotations only: never runs, no edge
                from pkg.ui.window import Window


            def start():
                from pkg.sandbox import server  # the sandbox: only --demo starts it
            """,
        "services/runtime.py": "def start():\n    from pkg.sandbox import server  # only --demo\n",
        "sandbox/server.py": "from pkg.sandbox import app\n",
        "sandbox/app.py": "",
        "ui/window.py": "from pkg.services import sync\n",
    })
    result = run("--root", str(package))
    assert result.returncode == 1  # services/sync.py starts the sandbox: only services.runtime may
    assert result.stdout.count("upward:") == 1 and "pkg.services.sync:" in result.stdout
    (package / "services" / "sync.py").write_text("from pkg.store import db\n")
    result = run("--root", str(package))
    assert result.returncode == 0, result.stdout
    assert "0 circles, 0 upward imports" in result.stdout


def test_circles_and_upward_imports_fail_each_listed(tmp_path):
    package = make_package(tmp_path, {
        "domain/models.py": """\
            def label():
                from pkg.services import orders  # a circle through an import inside a function still counts
            """,
        "services/orders.py": "from pkg.domain.models import label\n",
        "services/a.py": "from pkg.services import b\n",
        "services/b.py": "from .c import x\n",  # a relative import, resolved
        "services/c.py": "from pkg.services.a import y\n",
        "vendors/roumio.py": "from pkg.store import db\n",
        "store/db.py": "from pkg.ui import window\n",
        "ui/window.py": "from pkg.sandbox import server\n",
        "sandbox/server.py": "from pkg.domain import models\n",
    })
    result = run("--root", str(package))
    out = result.stdout
    assert result.returncode == 1, out
    assert "circle: pkg.domain.models <-> pkg.services.orders" in out
    assert "circle: pkg.services.a <-> pkg.services.b <-> pkg.services.c" in out
    upward = sorted(line.split(" imports ")[0] for line in out.splitlines() if line.startswith("upward:"))
    assert upward == ["upward: pkg.domain.models:2", "upward: pkg.sandbox.server:1", "upward: pkg.store.db:1",
                      "upward: pkg.ui.window:1", "upward: pkg.vendors.roumio:1"], out
    assert "domain imports nothing of ours" in out
    assert "vendors and store do not import each other" in out
    assert "store is below ui" in out
    assert "2 circles, 5 upward imports" in out and out.rstrip().endswith("FAILED")


def test_an_import_inside_a_function_without_a_reason_fails(tmp_path):
    package = make_package(tmp_path, {
        "services/a.py": """\
            def f():
                import json

                return json


            def g():
                # httpx: 90 ms at start-up, only when a vendor is asked
                import json
                import os

                return json, os


            def h():
                import json  # said on its line
            """,
    })
    result = run("--root", str(package))
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.startswith("lazy, no comment")]
    assert lines == ["lazy, no comment saying why: pkg/services/a.py:2: import json"], result.stdout
