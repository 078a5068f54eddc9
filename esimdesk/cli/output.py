"""Printing for the command line: one JSON document with --json, an aligned table otherwise."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

# A command hint in what esimdesk prints: 'esimdesk sync', `esimdesk restore FILE`, 'esimdesk reconcile --adopt …'
# (quoted, as every layer writes them), without --demo yet. One says in words it is for the real desk and
# stays as written: "restore it without --demo ('esimdesk restore FILE')" (services/data_folder.py).
_HINT = re.compile(r"(?<!without --demo \(')(?<=['`])esimdesk (?!--demo\b)")
_demo = False


def set_demo(on: bool) -> None:
    """The command runs under --demo: every hint it prints says --demo too (see ``hinted``)."""
    global _demo
    _demo = on


def hinted(text: str) -> str:
    """``text`` with each command hint in it as the agent must type it: under --demo, 'esimdesk sync' is
    'esimdesk --demo sync' (the hint works on the demo's data folder, not on the real desk's). The services,
    the store and the journal's stored sentences write hints without --demo; every line printed here passes."""
    return _HINT.sub("esimdesk --demo ", text) if _demo else text


def print_json(doc: Any) -> None:
    # One write: a Ctrl+C between chunks must not leave half a document behind.
    sys.stdout.write(hinted(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else hinted(str(v))) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    # Each row one write with its line end: a Ctrl+C or a closed pipe never leaves half a row.
    sys.stdout.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


def note(text: str) -> None:
    print(hinted(text), file=sys.stderr)


def age_words(when: datetime | None) -> str:
    if when is None:
        return "never synced"
    seconds = (datetime.now(UTC) - when).total_seconds()
    if seconds < 90:
        return f"synced {int(seconds)} s ago"
    if seconds < 5400:
        return f"synced {int(seconds // 60)} min ago"
    if seconds < 172800:
        return f"synced {seconds / 3600:.1f} h ago"
    return f"synced {int(seconds // 86400)} days ago"
