"""A sandbox world kept in a file, so separate runs share one vendor world.

Every ``esimdesk --demo`` command starts its own in-process sandbox; with a world file (the demo's is
``<home>/demo/sandbox-state.json``, the standalone sandbox's ``--state FILE``) they all play the same
vendors: the orders, eSIMs (ICCIDs, usage, status), top-ups, balances, order-number sequences, clock
offsets and Roamify referenceIds one run made are there in the next. The seeded sample data is made
once, when the file does not exist yet; catalogs are not stored (they follow from the seed alone).

The file is one JSON document::

    {"format": "esimdesk-sandbox-world", "version": 1, "saved_at": <epoch seconds>,
     "config": {"seed": 1, "plans": null, "esims": null, "balance_cents": 500000},
     "clock_offset": <seconds the shared clock runs ahead of wall time>,
     "vendors": {"roumio": {...}, "roamify": {...}, "microesim": {...}, "flexiroam": {...}}}

where each vendor's part is what its ``VendorSandbox.dump_state`` returns (times are epoch seconds of
the sandbox clock). It is written whole to a temporary file beside it and moved into place with
``os.replace``, after every request that may change the world, before the answer leaves: a process
killed at any moment leaves the old world or the new one, never half of one. A sandbox notices when
another process (the window beside a command) saved the file and reads it again before it answers.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

FORMAT = "esimdesk-sandbox-world"
VERSION = 1
# The settings a world is made from: a world keeps its own, whatever this run's configuration says.
WORLD_FIELDS = ("seed", "plans", "esims", "balance_cents")


class StateFileError(Exception):
    """The world file exists but cannot be used; the message says which file and why, in words."""


def _stamp(st: os.stat_result) -> tuple[int, int, int]:
    # os.replace gives every save a new inode, so a change is seen even within one mtime tick.
    return st.st_mtime_ns, st.st_size, st.st_ino


class StateFile:
    """Reads and writes one world file; remembers what it last read or wrote to notice other writers."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None

    def read(self) -> dict[str, Any] | None:
        """The saved world, or None when there is no file yet. ``StateFileError`` when it is unusable."""
        try:
            with open(self.path, encoding="utf-8") as f:
                stamp = _stamp(os.fstat(f.fileno()))
                text = f.read()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StateFileError(f"the sandbox world {self.path} cannot be read "
                                 f"({getattr(exc, 'strerror', None) or exc})") from None
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise StateFileError(f"the sandbox world {self.path} is damaged (not JSON: {exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise StateFileError(f"{self.path} is not an esimdesk sandbox world")
        if doc.get("version") != VERSION:
            raise StateFileError(f"the sandbox world {self.path} has version {doc.get('version')!r}; "
                                 f"this esimdesk reads version {VERSION}")
        if not isinstance(doc.get("config"), dict) or not isinstance(doc.get("vendors"), dict):
            raise StateFileError(f"the sandbox world {self.path} is damaged (no config or vendors)")
        self._stamp = stamp
        return doc

    def changed(self) -> bool:
        """True when the file is not the one this object last read or wrote (another process saved it).
        A file that is gone counts as unchanged: this world is written again at its next change."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False
        return _stamp(st) != self._stamp

    def write(self, doc: dict[str, Any]) -> None:
        """Replace the file with ``doc`` atomically (temporary file + ``os.replace``). Raises OSError."""
        text = json.dumps(doc, separators=(",", ":"))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            for attempt in range(20):
                try:
                    os.replace(tmp, self.path)
                    break
                except PermissionError:  # Windows: another process is reading the file this instant
                    if attempt == 19:
                        raise
                    time.sleep(0.05)
            self._stamp = _stamp(os.stat(self.path))
        finally:
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
