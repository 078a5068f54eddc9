"""Can a window open here? Asked before Qt is imported: on Linux, Qt aborts the process (SIGABRT, with a
misleading "xcb-cursor0 … is needed") when it has no display or its X11 plugin cannot load. This module
imports no Qt, so the command line can say the real cause in words instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

# Not "set QT_QPA_PLATFORM=offscreen": a window drawn off screen is one nobody sees, and that variable, left
# set in the shell, kept every later start unseen. A virtual display (Xvfb) is one a screenshot can show.
WHERE_TO_RUN = "run it on a desktop, or on a virtual display (xvfb-run esimdesk); the commands need none (esimdesk --help)"
NO_DISPLAY = "no display found: " + WHERE_TO_RUN

# The Debian/Ubuntu package of each system library Qt's xcb plugin needs (what `ldd` names).
LIB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-sync.so.1": "libxcb-sync1", "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-render.so.0": "libxcb-render0", "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-util.so.1": "libxcb-util1", "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6", "libSM.so.6": "libsm6", "libICE.so.6": "libice6",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1", "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0", "libdbus-1.so.3": "libdbus-1-3",
}


def _platforms(env: Mapping[str, str]) -> list[str]:
    """QT_QPA_PLATFORM as a list of plugin names ("wayland;xcb", "xcb:option=1" → ["wayland", "xcb"])."""
    raw = env.get("QT_QPA_PLATFORM", "").strip()
    return [p.split(":", 1)[0].strip().lower() for p in raw.split(";") if p.strip()]


def display_problem(env: Mapping[str, str] | None = None, platform: str | None = None) -> str | None:
    """Why no window can open, in one sentence without the "esimdesk: " prefix; None when it can (or
    when we cannot tell: then Qt decides). Linux (and other X11/Wayland systems) only."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return None
    x11 = bool(env.get("DISPLAY", "").strip())
    wayland = bool(env.get("WAYLAND_DISPLAY", "").strip())
    names = _platforms(env)
    if not names:  # Qt's own choice: Wayland where it is set, else X11
        if not x11 and not wayland:
            return NO_DISPLAY
        uses_x11_only = not wayland
    else:
        if any(n != "xcb" and not n.startswith("wayland") for n in names):
            return None  # offscreen, vnc, eglfs, linuxfb, minimal…: no desktop display needed
        usable_x11 = x11 and "xcb" in names
        usable_wayland = wayland and any(n.startswith("wayland") for n in names)
        if not usable_x11 and not usable_wayland:
            return NO_DISPLAY
        uses_x11_only = not usable_wayland
    if uses_x11_only:
        return _x11_problem(env["DISPLAY"].strip(), env)
    return None


def _x11_problem(display: str, env: Mapping[str, str]) -> str | None:
    if not _x_server_answers(display):
        return f"no display found: no X server answers at DISPLAY={display}; {WHERE_TO_RUN}"
    missing = missing_xcb_libraries(env)
    if missing:
        packages = [LIB_PACKAGES[m] for m in missing if m in LIB_PACKAGES]
        hint = f" (on Debian/Ubuntu: sudo apt-get install {' '.join(packages)})" if packages else ""
        return (f"Qt's X11 (xcb) window plugin cannot load: missing system "
                f"librar{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}{hint}")
    return None


def _x_server_answers(display: str) -> bool:
    """For a local display (":0", "unix:0.0"): is there an X server socket to connect to? Anything
    else (a host, a path) is left to Qt: True."""
    m = re.fullmatch(r"(?:unix)?:(\d+)(?:\.\d+)?", display)
    if not m:
        return True
    number = m.group(1)
    for address in (f"\0/tmp/.X11-unix/X{number}", f"/tmp/.X11-unix/X{number}"):  # abstract, then the file
        if address.startswith("/") and not Path(address).exists():
            continue
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(address)
                return True
        except OSError:
            continue
    return False


def xcb_plugin() -> Path | None:
    """Qt's xcb platform plugin inside the installed PySide6, found without importing PySide6."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        plugin = Path(location) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.exists():
            return plugin
    return None


def missing_xcb_libraries(env: Mapping[str, str] | None = None) -> list[str]:
    """The system libraries the xcb plugin needs and the loader cannot find (``ldd``); [] when all are
    there or when it cannot be told cheaply (no ldd, no plugin)."""
    env = os.environ if env is None else env
    plugin = xcb_plugin()
    ldd = shutil.which("ldd", path=env.get("PATH"))
    if plugin is None or ldd is None:
        return []
    try:
        out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=10,
                             env=dict(env)).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return parse_ldd_missing(out)


def parse_ldd_missing(text: str) -> list[str]:
    """``ldd`` output → the libraries it could not find, each once, in order."""
    missing: list[str] = []
    for line in text.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+not found", line)
        if m and m.group(1) not in missing:
            missing.append(m.group(1))
    return missing
