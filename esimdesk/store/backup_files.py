"""Where the backups of a data file live and how they are named: ``<folder of the data file>/backups/``,
the rolling series ``esimdesk-YYYYMMDD-HHMMSS[-n].sqlite3`` (UTC) and the files a restore replaced,
``replaced-….sqlite3``. Read by store/backups.py, which makes them, and by store/integrity.py, whose
refusals name the newest one."""

from __future__ import annotations

import os
import re
from pathlib import Path

BACKUPS_DIR = "backups"
SERIES = re.compile(r"^esimdesk-(\d{8})-(\d{6})(?:-(\d+))?\.sqlite3$")
REPLACED = re.compile(r"^replaced-(\d{8})-(\d{6})(?:-(\d+))?\.sqlite3$")


def backups_dir(data_file: Path) -> Path:
    return Path(data_file).parent / BACKUPS_DIR


def list_backups(data_file: Path) -> list[Path]:
    """The rolling series, oldest first."""
    return series(backups_dir(data_file), SERIES)


def newest_backup(data_file: Path) -> Path | None:
    found = list_backups(data_file)
    return found[-1] if found else None


def series(folder: Path, pattern: re.Pattern) -> list[Path]:
    """The files of ``folder`` named by ``pattern`` (SERIES, REPLACED), oldest first."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    keyed = []
    for name in names:
        m = pattern.match(name)
        if m:
            keyed.append(((m[1], m[2], int(m[3] or 0)), folder / name))
    return [p for _, p in sorted(keyed)]
