"""The data file as a whole: back it up now, put a backup back in its place.

Neither opens a Desk nor starts the demo sandbox: restore exists for the day the current file is
damaged (and a Desk would refuse to open it), and backup needs only the file.
"""

from __future__ import annotations

from pathlib import Path

from esimdesk.domain import StoreError
from esimdesk.services.config import data_home
from esimdesk.store import SqliteStore
from esimdesk.store.backups import (
    BACKUPS_DIR,
    DATA_FILE,
    RestoreResult,
    backup_now,
    list_backups,
    restore_into_place,
)
from esimdesk.store.integrity import behind


def data_file(demo: bool = False) -> Path:
    """The data file of the real desk, or (``demo``) of the demo desk."""
    return data_home(demo) / DATA_FILE


def update_pending(home: Path) -> bool:
    """Whether the data file in ``home`` is of an older schema: its first open brings it forward, once (a large
    fleet's file up to a minute: bench/results/data_file_update.json)."""
    return behind(home / DATA_FILE)


def bring_up_to_date(home: Path) -> None:
    """Open the data file in ``home`` once and close it: the open brings it up to this esimdesk's schema."""
    SqliteStore(home / DATA_FILE).close()


def backup_data_file(demo: bool = False) -> tuple[Path, list[Path]]:
    """A backup now (see ``backup_now``), and the backups kept after it, oldest first.

    The store is opened first, so a damaged file is refused in words and never joins the backups.
    """
    path = data_file(demo)
    if not path.exists():
        raise StoreError(f"there is no data file at {path} yet, so there is nothing to back up", path=str(path),
                         reason="missing")
    SqliteStore(path).close()
    made = backup_now(path)
    return made, list_backups(path)


def restore_data_file(source: Path, demo: bool = False) -> RestoreResult:
    """Replace the data file with ``source`` once it is verified (see ``restore_into_place``).

    A backup of the demo desk is not restored into the real one (both are healthy esimdesk files, and
    a refusal names the backup without ``--demo``), nor the other way round.
    """
    source = Path(source).expanduser().absolute()
    target = data_file(demo)
    other = target.parent.parent if demo else target.parent / "demo"  # data_home(True) is <home>/demo
    if source.parent == other / BACKUPS_DIR or source == other / DATA_FILE:
        which, how = ("the real desk", "without --demo") if demo else ("the demo desk", "with --demo")
        raise StoreError(f"{source} belongs to {which}; restore it {how} ('esimdesk{'' if demo else ' --demo'} "
                         f"restore {source}'); nothing was changed", path=str(source), reason="other-desk")
    return restore_into_place(target, source)
