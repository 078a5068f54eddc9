"""Printing for the command line: one JSON document with --json, an aligned table otherwise."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def print_json(doc: Any) -> None:
    # One write: a Ctrl+C between chunks must not leave half a document behind.
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    # Each row one write with its line end: a Ctrl+C or a closed pipe never leaves half a row.
    sys.stdout.write("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


def note(text: str) -> None:
    print(text, file=sys.stderr)


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
