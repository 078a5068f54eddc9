"""``esimdesk cancel|suspend|resume|revoke ICCID``, ``esimdesk sms ICCID --message TEXT`` and
``esimdesk usage ICCID…`` (issue 21); ``esimdesk refund ICCID --reason R [--notes TEXT] | --cancel`` and
``esimdesk refunds`` (issue 30). Exit 0 when done, 1 when refused, not done or not known yet (the
reason in words on stderr), 2 for usage errors (argparse). With ``--json``: one document on stdout,
also on failure, so a script can tell a refusal (nothing sent) from an answer that was lost."""

from __future__ import annotations

import asyncio
import sys

from esimdesk.cli.output import print_json, print_table
from esimdesk.cli.session import desk_context, say
from esimdesk.domain import Action, action_is_open, data_amount, vendor_title
from esimdesk.services.actions import ActionOutcome, ActionService
from esimdesk.services.adapters import make_adapter
from esimdesk.services.refunds import RefundOutcome, RefundService, refund_json


def _service(ctx, store):
    def progress(p) -> None:
        if sys.stderr.isatty():
            print(f"\r{p.iccid}: {p.message}          ", end="", file=sys.stderr, flush=True)

    return ActionService(store, ctx.accounts.enabled, make_adapter, progress=progress)


def _run(args, action: Action, message: str | None = None) -> int:
    with desk_context(args) as (ctx, store):
        service = _service(ctx, store)
        try:
            result = asyncio.run(service.run(args.iccid, action, message, vendor=args.vendor))
        except ActionOutcome as outcome:
            return _refused(args, action, outcome)
    return _done(args, result)


def _refused(args, action: Action, outcome, **extra) -> int:
    """Exit 1: the sentence on stderr; with --json the entry's state (REFUSED: refused here before anything was
    recorded or sent)."""
    if sys.stderr.isatty():
        print(file=sys.stderr)
    say(args, str(outcome))
    if args.json:
        e = outcome.entry
        print_json({"vendor": e.vendor if e else args.vendor, "iccid": e.iccid if e else args.iccid,
                    "action": action.value, "status": e.state.value if e else "REFUSED", **extra,
                    "desk": e.desk_id if e else None, "error": str(outcome)})
    return 1


def _done(args, result) -> int:
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        print_json(result.to_json())
    else:
        print(result.message)
    return 0


def settle_actions(ctx, store, vendors: list[str]) -> list[str]:
    """After a sync: settle lost support actions by status; a sentence for each that stays unknown."""
    async def run():
        service = _service(ctx, store)
        out = []
        for vendor in vendors:
            out.extend(await service.settle(vendor))
        return out

    # A lost SMS waits for the agent (it leaves no trace in the status): said once, when it was lost.
    return [f"{vendor_title(e.vendor)} {e.action.value} of eSIM {e.iccid} is still {e.state.value}: its answer was lost and "
            "its status does not tell yet" for e in asyncio.run(run())
            if action_is_open(e)]


def cmd_cancel(args) -> int:
    return _run(args, Action.CANCEL)


def cmd_suspend(args) -> int:
    return _run(args, Action.SUSPEND)


def cmd_resume(args) -> int:
    return _run(args, Action.RESUME)


def cmd_revoke(args) -> int:
    return _run(args, Action.REVOKE)


def cmd_sms(args) -> int:
    return _run(args, Action.SMS, args.message)


def cmd_usage(args) -> int:
    """Fresh usage of each eSIM from its vendor, with the time it is true for ("as of")."""
    with desk_context(args) as (ctx, store):
        report = asyncio.run(_service(ctx, store).usage(list(dict.fromkeys(args.iccids))))
    rows = sorted(report.readings, key=lambda u: args.iccids.index(u.iccid) if u.iccid in args.iccids else 0)
    if args.json:
        # data_remaining_mb: the vendor's figure, else total less used where both are known; "note": why a
        # reading has no figures, where the vendor's rules tell (null otherwise).
        print_json([{"vendor": u.vendor, "iccid": u.iccid, "data_used_mb": u.data_used_mb,
                     "data_total_mb": u.data_total_mb, "data_remaining_mb": u.left_mb,
                     "as_of": u.when.isoformat(), "fetched_at": u.observed_at.isoformat(), "note": u.note}
                    for u in rows])
    else:
        print_table(["vendor", "iccid", "used", "of", "left", "as of (UTC)"],
                    [[vendor_title(u.vendor), u.iccid, data_amount(u.data_used_mb, "") if u.data_used_mb is not None else "",
                      data_amount(u.data_total_mb) if u.data_total_mb is not None else "",
                      data_amount(u.left_mb, "") if u.left_mb is not None else "",
                      u.when.strftime("%Y-%m-%d %H:%M")] for u in rows])
    sys.stdout.flush()
    for u in rows:  # blank usage in words: not a failure (exit 0), the reason the vendor gives none
        if u.note:
            say(args, f"eSIM {u.iccid} has no usage figures: {u.note}")
    for problem in report.problems:
        say(args, problem)
    return 1 if report.problems else 0


def cmd_refund(args) -> int:
    """A refund request (or ``--cancel``: its withdrawal), journaled like a support action."""
    with desk_context(args) as (ctx, store):
        service = RefundService(store, ctx.accounts.enabled, make_adapter, progress=_service(ctx, store).progress)
        action = Action.CANCEL_REFUND if args.cancel else Action.REFUND
        try:
            if args.cancel:
                result = asyncio.run(service.cancel(args.iccid, vendor=args.vendor))
            else:
                result = asyncio.run(service.request(args.iccid, args.reason, args.notes, vendor=args.vendor))
        except RefundOutcome as outcome:
            return _refused(args, action, outcome,
                            refund=refund_json(outcome.refund) if outcome.refund else None)
    return _done(args, result)


def cmd_refunds(args) -> int:
    """Every refund request this desk knows, newest first; the open ones asked again where the vendor answers
    (offline: as last seen, said on stderr). Exit 0 either way: a listing."""
    with desk_context(args) as (ctx, store):
        service = RefundService(store, ctx.accounts.enabled, make_adapter)
        shown, problems = asyncio.run(service.refresh(args.vendor))
    if args.json:
        print_json([refund_json(r) for r in shown])
    else:
        print_table(["vendor", "iccid", "request", "status", "reason", "amount", "requested (UTC)", "decision"],
                    [[vendor_title(r.vendor), r.iccid, r.refund_id, r.vendor_status, r.reason or "",
                      f"{r.amount} {r.currency}" if r.amount is not None else "",
                      r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else "",
                      r.rejection_reason or ("waiting for the vendor: nothing refunded yet" if r.is_open else
                                             "money back to the vendor balance" if r.status.value == "REFUNDED"
                                             else "")]
                     for r in shown])
    sys.stdout.flush()
    for problem in problems:
        say(args, problem)
    return 0
