"""Cold start: process launch to the main window shown (first expose), via the real entry point.

Run: python bench/cold_start.py   (writes bench/results/cold_start.json; budget 1.5 s)
Measured twice: a real desk with an empty cache and no accounts, and `--demo` (starts the sandbox).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

CHILD = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    class Shown(QObject):
        def eventFilter(self, obj, event):
            # The main window's first paint: the agent sees it.
            if event.type() == QEvent.Type.Paint and obj.metaObject().className() == "MainWindow":
                print("SHOWN", flush=True)
                QTimer.singleShot(0, obj.close)
                app.removeEventFilter(self)
            return False
    f = Shown()
    app.installEventFilter(f)
    from esimdesk.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def once(args: list[str]) -> float:
    env = dict(os.environ, ESIMDESK_HOME=tempfile.mkdtemp(), QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env = {k: v for k, v in env.items() if not k.startswith("ESIMDESK_") or k == "ESIMDESK_HOME"}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env)
    for line in proc.stdout:
        if line.startswith("SHOWN"):
            elapsed = (time.perf_counter() - t0) * 1000
            break
    else:
        raise RuntimeError("window never shown")
    proc.wait(timeout=60)
    return elapsed


def main() -> None:
    result = {}
    for label, args in (("real_desk_empty_cache", []), ("demo_with_sandbox", ["--demo"])):
        once(args)  # warm the OS file cache: "cold" is the process, not the disk
        samples = sorted(once(args) for _ in range(9))
        result[label] = {"median_ms": round(statistics.median(samples)), "min_ms": round(samples[0]),
                         "max_ms": round(samples[-1])}
    result["platform"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    save("cold_start", result)


if __name__ == "__main__":
    main()
