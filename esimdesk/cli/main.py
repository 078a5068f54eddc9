"""Entry point: parse, dispatch, and turn every failure into words on stderr (exit 1), never a traceback."""

from __future__ import annotations

import logging
import os
import sqlite3
import sys

from esimdesk.cli.output import note, set_demo
from esimdesk.cli.parser import build_parser
from esimdesk.domain import EsimdeskError, InvalidInput


def _not_yet(name: str):
    def run(args) -> int:
        print(f"esimdesk {name}: not available yet in this version", file=sys.stderr)
        return 1

    return run


def _commands() -> dict:
    # Imported lazily: the GUI path must not pay for what the command line needs, and vice versa.
    from esimdesk.cli import action_commands, backup_commands, commands, mail_commands

    modules = (commands, backup_commands, action_commands, mail_commands)
    return {name: next((getattr(m, f"cmd_{name}") for m in modules if hasattr(m, f"cmd_{name}")), None)
            or _not_yet(name)
            for name in ("sync", "plans", "order", "topup", "orders", "esims", "balance", "reconcile", "qr",
                         "backup", "restore", "cancel", "suspend", "resume", "revoke", "sms", "usage", "send",
                         "refund", "refunds")}


def _bad_argument(argv: list[str]) -> str | None:
    """Why an argument cannot be taken as text, or None. On POSIX, bytes that are not valid UTF-8 arrive
    as lone surrogates (U+DC80..U+DCFF); a NUL or another control character is no text a command takes."""
    for arg in argv:
        for ch in arg:
            code = ord(ch)
            if 0xD800 <= code <= 0xDFFF:
                return "argument contains text that is not valid UTF-8"
            if (code < 0x20 and ch not in "\t\n\r") or 0x7F <= code <= 0x9F:
                return f"argument contains a control character (U+{code:04X})"
    return None


def _reset_demo() -> None:
    """``--demo --reset``: say what goes, delete it, and let the command (or the window) go on."""
    # Lazy: services and the store are 0.19 s to import (-X importtime); `esimdesk --version` loads neither.
    from esimdesk.services.config import data_home
    from esimdesk.services.demo import reset_demo_folder

    home = data_home(demo=True)

    def say(paths) -> None:
        if not paths:
            print(f"esimdesk --demo --reset: nothing to remove in {home}; the demo starts new", file=sys.stderr)
            return
        names = ", ".join(p.name + ("/" if p.is_dir() else "") for p in paths)
        print(f"esimdesk --demo --reset: removing {names} from {home}", file=sys.stderr)

    reset_demo_folder(home, say)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:  # before the command's own handler is in place (parsing, set-up)
        print("esimdesk: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    bad = _bad_argument(argv)
    if bad:
        parser.error(bad)  # usage line, "esimdesk: error: …", exit 2: before anything else happens
    args = parser.parse_args(argv)
    demo = getattr(args, "demo", False)
    if getattr(args, "reset", False) and not demo:
        parser.error("--reset starts the demo over and needs --demo: 'esimdesk --demo --reset'")
    set_demo(demo)  # under --demo every hint printed says --demo ('esimdesk --demo sync')

    # Here, after parsing: httpx is 0.09 s to import (-X importtime), which `--version` and `--help` skip.
    from esimdesk.vendors.http import install_log_redaction

    level = os.environ.get("ESIMDESK_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    # One prefix for every error line: "esimdesk order: …"; the window (no command): "esimdesk: …".
    prefix = f"esimdesk {args.command}: " if args.command else "esimdesk: "
    try:
        if getattr(args, "reset", False):
            _reset_demo()
        if args.command is None:
            # Before Qt is imported: without a display Qt aborts the process with a misleading message.
            from esimdesk.ui.preflight import display_problem

            problem = display_problem()
            if problem:
                note(prefix + problem)
                return 1
            from esimdesk.ui.app import run_gui  # PySide6 and the window: 0.57 s, never on a command's path

            return run_gui(demo=demo)
        status = _commands()[args.command](args)
        sys.stdout.flush()  # here, not at exit: a reader gone away (`| head -1`) is then caught below
        return status
    except InvalidInput as exc:
        # The command line is wrong (found past parsing: an ICCID not in the cache and mistyped, an option
        # this vendor never takes): its usage and the reason, exit status 2, as argparse says its own.
        parser.command_parsers.get(args.command, parser).error(str(exc))
    except EsimdeskError as exc:
        note(f"{prefix}{exc}")
        return 1
    except sqlite3.Error as exc:
        # The data file said no in a way the store did not foresee: words, and the cache stays as it was.
        logging.getLogger("esimdesk").debug("data file error", exc_info=True)
        note(f"{prefix}the data file could not be used ({exc}); nothing was changed by this command's "
             "last step. 'esimdesk backup' / 'esimdesk restore' keep copies")
        return 1
    except KeyboardInterrupt:
        print(f"{prefix}interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error worth a traceback.

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        # A file or folder the system refused in a way no layer put in words yet: a sentence, not a traceback.
        logging.getLogger("esimdesk").debug("system error", exc_info=True)
        where = f" ({exc.filename})" if exc.filename else ""
        note(f"{prefix}the system refused a file this command needs: {exc.strerror or exc}{where}")
        return 1
