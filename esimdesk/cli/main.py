"""Entry point: parse, dispatch, and turn every failure into words on stderr (exit 1), never a traceback."""

from __future__ import annotations

import logging
import sys

from esimdesk.cli.parser import build_parser
from esimdesk.domain import EsimdeskError


def _not_yet(name: str):
    def run(args) -> int:
        print(f"esimdesk {name}: not available yet in this version", file=sys.stderr)
        return 1

    return run


def _commands() -> dict:
    # Imported lazily: the GUI path must not pay for what the command line needs, and vice versa.
    from esimdesk.cli import commands

    return {name: getattr(commands, f"cmd_{name}", None) or _not_yet(name)
            for name in ("sync", "plans", "order", "topup", "orders", "esims", "balance", "reconcile", "qr")}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    demo = getattr(args, "demo", False)
    import os

    from esimdesk.vendors.http import install_log_redaction

    level = os.environ.get("ESIMDESK_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        if args.command is None:
            from esimdesk.ui.app import run_gui

            return run_gui(demo=demo)
        return _commands()[args.command](args)
    except EsimdeskError as exc:
        print(f"esimdesk: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("esimdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
