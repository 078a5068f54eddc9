"""Locate bundled resources (icons, images) in a checkout and in an installed wheel alike."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    for base in (_PKG / "_resources", _PKG.parent / "resources"):
        path = base / name
        if path.exists():
            return path
    raise FileNotFoundError(f"resource {name!r} is missing from this installation")
