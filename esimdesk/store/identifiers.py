"""A table's or index's name as SQL takes it: the store builds a few statements from names it reads from the file."""

from __future__ import annotations


def quoted(name: str) -> str:
    """``name`` as an SQL identifier, its double quotes doubled: any name the file holds is read as that name."""
    return '"' + name.replace('"', '""') + '"'
