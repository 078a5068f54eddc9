"""The command-line contract. Scripts and acceptance checks depend on it: keep it stable."""

from __future__ import annotations

import argparse
from datetime import date

from esimdesk import __version__
from esimdesk.domain import SMS_MAX_CHARS, VENDORS, ValidationError, validate_iccid, validate_reference
from esimdesk.domain.order_options import (
    MAX_QUANTITY,
    parse_activation_date,
    validate_activation_date,
    validate_email,
    validate_quantity,
    validate_start_date,
)
from esimdesk.domain.refunds import REFUND_NOTES_MAX, REFUND_REASONS

ESIM_STATUSES = ("NEW", "INSTALLED", "ACTIVE", "DEPLETED", "EXPIRED", "SUSPENDED", "CANCELLED", "DELETED", "UNKNOWN")


def _checked(check, value):
    """A domain check as an argparse type: its ValidationError is the command line's error (exit 2), in its
    own words."""
    try:
        return check(value)
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _quantity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    return _checked(validate_quantity, value)


def _iccid(text: str) -> str:
    return _checked(validate_iccid, text)


def _country(text: str) -> str:
    """alpha-2, alpha-3 or a name ("jp", "JPN", "Japan") → "JP"; else the closest matches (exit 2)."""
    from esimdesk.domain.countries import resolve_country  # pycountry: loaded only when a country is typed

    return _checked(resolve_country, text)


def _vendor(text: str) -> str:
    """Vendor names in any case ("Roumio", "ROUMIO"); argparse then checks the choices."""
    return text.strip().lower()


def _status(text: str) -> str:
    if text.upper() not in ESIM_STATUSES:
        raise argparse.ArgumentTypeError(f"'{text}' is not one of {', '.join(ESIM_STATUSES)}")
    return text.upper()


def _reference(text: str) -> str:
    return _checked(validate_reference, text)


def _start_date(text: str):
    """YYYY-MM-DD: the customer's travel start date (Roamify packages with requirements.travelDate), today or later."""
    try:
        start = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-12-24") from None
    return _checked(validate_start_date, start)


def _qr_out(text: str) -> str:
    if not text.lower().endswith((".png", ".svg", ".pdf")):
        raise argparse.ArgumentTypeError("--out must end in .png, .svg or .pdf")
    return text


def _activation_date(text: str):
    return _checked(lambda t: validate_activation_date(parse_activation_date(t)), text)


def _email(text: str) -> str:
    return _checked(validate_email, text)


def _sms_text(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the message is empty")
    if len(text) > SMS_MAX_CHARS:
        raise argparse.ArgumentTypeError(f"the message has {len(text)} characters; at most {SMS_MAX_CHARS}")
    return text


def _refund_reason(text: str) -> str:
    code = text.strip().upper().replace("-", "_")
    if code not in REFUND_REASONS:
        raise argparse.ArgumentTypeError(f"'{text}' is not a refund reason: one of {', '.join(REFUND_REASONS)}")
    return code


def _refund_notes(text: str) -> str:
    if len(text) > REFUND_NOTES_MAX:
        raise argparse.ArgumentTypeError(f"the notes have {len(text)} characters; at most {REFUND_NOTES_MAX}")
    return text


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--demo", action="store_true", default=argparse.SUPPRESS,
                        help="use the built-in sandbox instead of real vendors (own data folder)")

    def vendor_opt(p: argparse.ArgumentParser, required: bool = False) -> None:
        p.add_argument("--vendor", type=_vendor, choices=VENDORS, required=required, metavar="V",
                       help=f"one of {', '.join(VENDORS)} (any case)")

    def json_opt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")

    parser = argparse.ArgumentParser(
        prog="esimdesk",
        description="Desk console for eSIM support agents: Roumio, Roamify, MicroESIM and Flexiroam in one place. "
        "Without a command, opens the window.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"esimdesk {__version__}")
    parser.add_argument("--reset", action="store_true",
                        help="with --demo: start the demo over (its database, backups and sandbox world are "
                             "deleted, after saying which), then go on, e.g. 'esimdesk --demo --reset sync'")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("sync", parents=[common], help="refresh plans, orders, eSIMs, balances into the cache")
    vendor_opt(p)
    json_opt(p)
    # For the window, which runs its sync as this command in a child process (services/sync_process.py):
    # progress and each vendor's result as "@progress {json}" / "@done {json}" lines on stderr, and only
    # the vendors the window has open. Not part of the command-line contract.
    p.add_argument("--progress-lines", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--only", metavar="V,V", help=argparse.SUPPRESS)

    p = sub.add_parser("plans", parents=[common], help="list plans from the cache",
                       description="List plans from the cache, grouped by currency (prices of different "
                       "currencies are never compared), cheapest first within each.")
    vendor_opt(p)
    p.add_argument("--country", type=_country, metavar="CC",
                   help="a country: ISO 3166 alpha-2 or alpha-3 code or its name, e.g. JP, JPN or Japan")
    p.add_argument("--search", metavar="TEXT", help="words in the plan name, country or id")
    json_opt(p)

    p = sub.add_parser("order", parents=[common], help="order eSIMs (recorded locally before the vendor call)")
    vendor_opt(p, required=True)
    p.add_argument("--plan", required=True, metavar="PLAN_ID", help="the vendor's plan id")
    p.add_argument("--quantity", type=_quantity, default=1, metavar="N",
                   help=f"number of eSIMs, 1 to {MAX_QUANTITY} (default 1)")
    p.add_argument("--reference", type=_reference, metavar="TEXT",
                   help="your reference / idempotency handle, at most 50 printable characters (default: generated)")
    p.add_argument("--activation-date", type=_activation_date, metavar="DATE",
                   help="MicroESIM: start a plan that starts by order date on this UTC date, "
                        "'YYYY-MM-DD[ HH:MM]', within 30 days (default: at once)")
    p.add_argument("--email", type=_email, metavar="ADDRESS",
                   help="MicroESIM: the vendor mails the eSIM to this address (custom_email)")
    p.add_argument("--start-date", type=_start_date, metavar="YYYY-MM-DD",
                   help="the customer's travel start date, for packages that need one (Roamify)")
    json_opt(p)

    p = sub.add_parser("topup", parents=[common], help="add a top-up plan to an existing eSIM")
    vendor_opt(p, required=True)
    p.add_argument("--iccid", required=True, type=_iccid, metavar="ICCID")
    p.add_argument("--plan", required=True, metavar="PLAN_ID", help="a top-up plan the vendor lists for this eSIM")
    json_opt(p)

    p = sub.add_parser("orders", parents=[common], help="list orders from the cache")
    vendor_opt(p)
    p.add_argument("--search", metavar="TEXT", help="order id, reference, ICCID or plan")
    json_opt(p)

    p = sub.add_parser("esims", parents=[common], help="list eSIMs from the cache")
    vendor_opt(p)
    p.add_argument("--status", type=_status, metavar="S", help=", ".join(ESIM_STATUSES))
    p.add_argument("--search", metavar="TEXT", help="ICCID (or its last digits), order id, plan, country")
    json_opt(p)

    p = sub.add_parser("balance", parents=[common], help="account balance per vendor")
    vendor_opt(p)
    json_opt(p)

    p = sub.add_parser("reconcile", parents=[common],
                       help="settle PENDING/ALLOCATING/UNCERTAIN orders with the vendor")
    vendor_opt(p)
    decide = p.add_mutually_exclusive_group()
    decide.add_argument("--adopt", nargs=2, type=_reference, metavar=("REFERENCE", "ORDER_ID"),
                        help="the vendor's order ORDER_ID is this entry's (checked with the vendor)")
    decide.add_argument("--resend", type=_reference, metavar="REFERENCE",
                        help="send this entry again (with the same handle where the vendor has one)")
    decide.add_argument("--abandon", type=_reference, metavar="REFERENCE",
                        help="this entry was not placed or is not wanted: stop settling it")
    json_opt(p)

    p = sub.add_parser("qr", parents=[common], help="write an eSIM's QR code or an order's customer cards")
    p.add_argument("target", metavar="ICCID_OR_ORDER_ID")
    p.add_argument("--out", required=True, type=_qr_out, metavar="FILE.png|FILE.svg|FILE.pdf")

    # Support actions on one eSIM (issue 21): journaled before they are sent, a lost answer settled by status.
    for name, text in (("cancel", "cancel an unused eSIM: its price goes back to the vendor balance"),
                       ("suspend", "pause an eSIM's data service (resume undoes it)"),
                       ("resume", "bring a suspended eSIM's data service back"),
                       ("revoke", "delete an eSIM's profile for good, no refund")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("iccid", metavar="ICCID")
        vendor_opt(p)
        json_opt(p)
    p = sub.add_parser("sms", parents=[common], help="send an SMS (at most 500 characters) to an installed eSIM")
    p.add_argument("iccid", metavar="ICCID")
    p.add_argument("--message", required=True, type=_sms_text, metavar="TEXT")
    vendor_opt(p)
    json_opt(p)
    p = sub.add_parser("send", parents=[common],
                       help="e-mail an eSIM (or every eSIM of an order) to the customer: card PDF, install links")
    p.add_argument("target", metavar="ICCID_OR_ORDER_ID")
    p.add_argument("--to", required=True, metavar="ADDRESS", help="the customer's e-mail address")
    p.add_argument("--language", metavar="xx", help="the e-mail's language: en, es or de (default: the customer's "
                   "last, else Settings → E-mail's)")
    p.add_argument("--again", action="store_true",
                   help="send it again although it was sent (or may have been) to this address before")
    json_opt(p)
    # Refund requests (issue 30; Roamify): its support decides; nothing is refunded until it approves.
    p = sub.add_parser("refund", parents=[common],
                       help="ask the vendor (Roamify) to refund an eSIM; its support decides, nothing moves until "
                            "it approves; --cancel withdraws the open request",
                       epilog="reasons: " + "; ".join(f"{k} ({v})" for k, v in REFUND_REASONS.items()))
    p.add_argument("iccid", metavar="ICCID")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--reason", type=_refund_reason, metavar="R", help=", ".join(REFUND_REASONS) + " (any case)")
    what.add_argument("--cancel", action="store_true", help="withdraw the eSIM's open refund request")
    p.add_argument("--notes", type=_refund_notes, metavar="TEXT",
                   help=f"what support should know, at most {REFUND_NOTES_MAX} characters")
    vendor_opt(p)
    json_opt(p)
    p = sub.add_parser("refunds", parents=[common],
                       help="refund requests with their status (open ones asked again; offline: as last seen)")
    vendor_opt(p)
    json_opt(p)
    p = sub.add_parser("usage", parents=[common], help="fresh data usage of eSIMs from their vendors, with its age")
    p.add_argument("iccids", nargs="+", metavar="ICCID")
    json_opt(p)

    p = sub.add_parser("backup", parents=[common], help="write a backup of the data file now (the last 7 are kept)")
    json_opt(p)

    p = sub.add_parser("restore", parents=[common],
                       help="replace the data file with a checked backup (the current file is kept aside first)")
    p.add_argument("file", metavar="FILE", help="a backup, e.g. from the data folder's backups/")
    json_opt(p)
    # For main: a check made after parsing that finds the command line wrong is said as its command's
    # usage error (exit status 2), like the ones argparse finds.
    parser.command_parsers = dict(sub.choices)
    return parser
