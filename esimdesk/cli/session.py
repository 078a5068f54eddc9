"""What every command shares: the desk it works on, opened and closed around the command, and its lines
on stderr."""

from __future__ import annotations

from contextlib import contextmanager

from esimdesk.cli.output import note
from esimdesk.services.desk import Desk
from esimdesk.services.runtime import open_context


@contextmanager
def desk_context(args):
    """The desk (data folder, accounts, store; in demo mode the sandbox), closed when the command ends."""
    desk = Desk(open_context(getattr(args, "demo", False)))
    try:
        yield desk.ctx, desk.store
    finally:
        desk.close()


def say(args, text: str) -> None:
    """One line on stderr with the command's prefix ("esimdesk plans: …"), like every error line."""
    note(f"esimdesk {args.command}: {text}")
