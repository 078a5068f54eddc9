"""The Linux desk bundle: its size on disk and packed, and how long the frozen commands take to start.

Run: python packaging/build.py && python bench/bundle.py [BUNDLE]   (writes bench/results/bundle.json)

The bundle is copied to a new folder first (as if just unpacked) and run from there with an empty
environment (no venv, no PYTHONPATH). Each command runs 1 + 5 times: the first run is reported on its
own (the first start of a new copy: the bootloader and Python's caches are new to it; the OS page cache
is not dropped, so the files are warm from the copy), then the median of the 5 runs after it; each as
wall time and as CPU time (user + system), which a busy shared machine disturbs less.
`--demo plans --json` runs against one new data folder: its first run also seeds the demo's vendor
world; it lists the cache (empty here), so the time is the start-up, sandbox included. For scale, the
same two commands from the venv (`python -m esimdesk`, not frozen) are timed the same way, in the same run.
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import save  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LATER_RUNS = 5


def _run_ms(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (what the agent waits) and CPU time (user + system, the process and its children: on
    a shared, busy machine the steadier of the two) of one run, in ms."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
    wall = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    return round(wall, 1), round(cpu, 1)


def _starts(cmd: list[str], env: dict[str, str]) -> dict:
    first_wall, first_cpu = _run_ms(cmd, env)
    later = [_run_ms(cmd, env) for _ in range(LATER_RUNS)]
    return {"first_ms": first_wall, "later_median_ms": statistics.median(w for w, _ in later),
            "later_ms": [w for w, _ in later],
            "first_cpu_ms": first_cpu, "later_median_cpu_ms": statistics.median(c for _, c in later)}


def _size(bundle: Path) -> dict:
    files = [p for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()]
    du = subprocess.run(["du", "-sh", str(bundle)], capture_output=True, text=True, check=True).stdout.split()[0]
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / "bundle.tar.gz"
        with tarfile.open(packed, "w:gz") as tar:
            tar.add(bundle, arcname="esimdesk")
        packed_mb = round(packed.stat().st_size / 2**20, 1)
    return {"du_sh": du, "bytes_mb": round(sum(p.stat().st_size for p in files) / 2**20, 1), "files": len(files),
            "tar_gz_mb": packed_mb}


def main() -> int:
    bundle = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "dist" / "esimdesk"
    if not (bundle / "esimdesk").is_file():
        print(f"bench/bundle.py: no bundle at {bundle}: run python packaging/build.py first", file=sys.stderr)
        return 1
    load = round(os.getloadavg()[0], 2)  # the machine is shared: a busy one slows every start
    with tempfile.TemporaryDirectory(prefix="esimdesk-bench-") as tmp:
        copy = Path(tmp) / "esimdesk"
        shutil.copytree(bundle, copy, symlinks=True)
        home = Path(tmp) / "home"
        home.mkdir()
        env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "ESIMDESK_HOME": str(home / "data")}
        exe = str(copy / "esimdesk")
        venv_env = {**os.environ, "HOME": str(home), "ESIMDESK_HOME": str(home / "venv-data")}
        venv = [sys.executable, "-m", "esimdesk"]
        result = {
            "bundle": _size(copy),
            "version": _starts([exe, "--version"], env),
            "demo_plans_json": _starts([exe, "--demo", "plans", "--json"], env),
            "venv_for_scale": {"version": _starts([*venv, "--version"], venv_env),
                               "demo_plans_json": _starts([*venv, "--demo", "plans", "--json"], venv_env)},
            "load_average_1min_at_start": load,
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores (shared)",
            "python": platform.python_version(),
        }
    try:
        import PyInstaller

        result["pyinstaller"] = PyInstaller.__version__
    except ImportError:
        pass
    save("bundle", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
