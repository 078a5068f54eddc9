"""One function per subcommand; each returns the exit status. Errors are raised as EsimdeskError and
printed in words by ``main``."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import ExitStack
from pathlib import Path

from esimdesk.cli.action_commands import settle_actions
from esimdesk.cli.output import age_words, note, print_json, print_table
from esimdesk.cli.session import desk_context, say
from esimdesk.domain import (
    StoreError,
    awaits_agent,
    count_of,
    data_amount,
    is_unfinished,
    money_str,
    vendor_title,
)
from esimdesk.services.adapters import make_adapter
from esimdesk.services.balance import fetch_balances
from esimdesk.services.card_settings import reseller_name
from esimdesk.services.cards import cards_for
from esimdesk.services.offers import gaps, order_note
from esimdesk.services.orders import OrderOutcome, OrderService
from esimdesk.services.qr_codes import write_qr_png, write_qr_svg
from esimdesk.services.refresh_settings import refresh_policy
from esimdesk.services.sync import sync_all
from esimdesk.services.sync_process import listen_for_cancel, yield_cpu
from esimdesk.services.sync_words import ProgressWords, refresh_sentence
from esimdesk.services.team_sync import order_names, origins


def _cache_age(store, vendor: str | None) -> None:
    note(f"(from the local cache, {age_words(store.last_sync(vendor))})")


def _say_gaps(args, ctx, listing: str, shown_vendors: set[str]) -> None:
    """Where a vendor cannot fill this listing, say so: always for --vendor V; in a listing of every
    vendor, for each configured vendor that has no row in it."""
    if args.vendor:
        vendors = [args.vendor]
    else:
        vendors = [c.vendor for c in ctx.accounts.enabled if c.vendor not in shown_vendors]
    for sentence in gaps(listing, vendors).values():
        say(args, sentence)


def cmd_sync(args) -> int:
    only = set(args.only.split(",")) if getattr(args, "only", None) else None
    lines = getattr(args, "progress_lines", False)
    if lines:  # the window's own sync child: the window paints first
        yield_cpu()
        listen_for_cancel()
    with desk_context(args) as (ctx, store):
        accounts = [c for c in ctx.accounts.enabled if args.vendor in (None, c.vendor) and (only is None or c.vendor in only)]
        for line in ctx.accounts.notices:
            if args.vendor is None or line.startswith(vendor_title(args.vendor)):
                say(args, line)
        if not accounts:
            say(args, "no vendor account is configured for this sync; see README → Configuration")
            if args.json:
                print_json([])
            return 1

        def progress(p):
            if lines:
                print("@progress " + json.dumps({"vendor": p.vendor, "stage": p.stage, "done": p.done,
                                                 "total": p.total, "due": p.due}), file=sys.stderr, flush=True)
            elif sys.stderr.isatty():
                print(f"\r{words(p)}        ", end="", file=sys.stderr, flush=True)

        words = ProgressWords()
        told: set[str] = set()

        def finished(r):
            if lines:
                told.add(r.vendor)
                print("@done " + json.dumps({**r.to_json(), "problem": r.problem, "reach": r.reach}),
                      file=sys.stderr, flush=True)

        # The exchange rates too, when due (the demo reads its sandbox's ECB files); a failure is a notice.
        rate_notices: list[str] = []
        results = asyncio.run(sync_all(store, accounts, make_adapter, progress=progress, finished=finished,
                                       ecb_url=ctx.accounts.ecb_url, notices=rate_notices,
                                       policy=refresh_policy(ctx.home)))
        for line in rate_notices:
            if lines:  # the window's sync child: the window shows it in its message bar
                print("@notice " + json.dumps(line), file=sys.stderr, flush=True)
            else:
                say(args, line)
        for r in results:  # what the sync did besides the vendors (the team store): its words for the window too
            if r.vendor not in told:
                finished(r)
        if sys.stderr.isatty() and not lines:
            print(file=sys.stderr)
        if not lines:  # the window's child reports each result whole (@done): the window says it
            for r in results:
                if (sentence := refresh_sentence(r)) is not None:
                    say(args, sentence)
        # After each sync, settle orders left unfinished (lost answers, a crash mid-order).
        synced = [r.vendor for r in results if r.ok]
        if synced:
            service = _order_service(ctx, store)
            unsettled = asyncio.run(_reconcile_vendors(service, synced))
            for line in service.notices:  # an order told failed that was placed: first, and loud
                if lines:  # the window's sync child: the window shows it in its message bar
                    print("@notice " + json.dumps(line), file=sys.stderr, flush=True)
                else:
                    say(args, line)
            for entry in unsettled:
                if is_unfinished(entry.state):
                    say(args, f"{vendor_title(entry.vendor)} order {entry.reference} is still {entry.state.value}: "
                         "run 'esimdesk reconcile' for details")
            # Support actions whose answer was lost: settled by reading each eSIM's status, never resent.
            for line in settle_actions(ctx, store, synced):
                say(args, line)
    if args.json:
        print_json([r.to_json() for r in results])
    else:
        print_table(["vendor", "result", "plans", "orders", "esims", "seconds"],
                    [[vendor_title(r.vendor), "ok" if r.ok else f"FAILED: {r.error}", r.plans, r.orders, r.esims,
                      f"{r.seconds:.1f}"] for r in results])
    sys.stdout.flush()  # the table first, then the reasons: in that order on a terminal too
    for r in results:  # the contract: errors in words on stderr, one sentence per failed vendor
        if not r.ok:
            say(args, r.problem or f"{vendor_title(r.vendor)}: the sync failed: {r.error}")
    return 0 if all(r.ok for r in results) else 1


def _fmt_mb(mb: int | None) -> str:
    return data_amount(mb)  # one rule for the command line and the window (domain/units.py)


def cmd_plans(args) -> int:
    with desk_context(args) as (ctx, store):
        plans = store.plans(vendor=args.vendor, country=args.country, search=args.search)
        _cache_age(store, args.vendor)
        _say_gaps(args, ctx, "plans", {p.vendor for p in plans})
    # Prices of different currencies are never compared: grouped by currency, cheapest first within each
    # (a stable sort: the store's order, vendor then plan id, stays within one price).
    plans.sort(key=lambda p: (p.currency, p.price))
    if args.json:
        print_json([p.to_json() for p in plans])
    else:
        print_table(["vendor", "plan_id", "name", "countries", "data", "days", "price", "daily", "top-up"],
                    [[vendor_title(p.vendor), p.plan_id, p.name, _coverage(p), _fmt_mb(p.data_mb), p.validity_days,
                      f"{money_str(p.price)} {p.currency}", "yes" if p.daily else "", _yes(p.topup)] for p in plans])
    return 0


def _yes(v: bool | None) -> str:
    return "" if v is None else ("yes" if v else "no")


def _countries(codes) -> str:
    return ",".join(codes) if len(codes) <= 4 else f"{','.join(codes[:3])} +{len(codes) - 3}"


def _coverage(plan) -> str:
    """Its countries' codes, after the vendor's name for them where it has one: "Africa Adventure: KE,TZ,UG +30"."""
    codes = _countries(plan.countries)
    if not plan.coverage_name:
        return codes
    return f"{plan.coverage_name}: {codes}" if codes else plan.coverage_name


def cmd_orders(args) -> int:
    with desk_context(args) as (ctx, store):
        orders = store.orders(vendor=args.vendor, search=args.search)
        who = _team_origins(ctx, store, orders, "orders")
        # In a team, one name for an order at every desk: the reference its agent typed, then the handle the
        # vendor was sent (another desk's order is kept here under that handle).
        names = order_names(store, orders) if who is not None else [(o.reference, None) for o in orders]
        _cache_age(store, args.vendor)
        _say_gaps(args, ctx, "orders", {o.vendor for o in orders})
    if args.json:
        print_json([o.to_json() | ({"reference": names[i][0], "handle": names[i][1]} if who is not None else {})
                    | _who_json(who, i) for i, o in enumerate(orders)])
    else:
        print_table(["vendor", "order_id", "reference", "status", "created (UTC)", "total", "esims"] + _who_head(who)
                    + (["handle"] if who is not None else []),
                    [[vendor_title(o.vendor), o.order_id or "-", names[i][0] or "", o.status.value,
                      o.created_at.strftime("%Y-%m-%d %H:%M"),
                      f"{money_str(o.total)} {o.currency}" if o.total is not None else "", len(o.esims)]
                     + _who_cells(who, i) + ([names[i][1] or ""] if who is not None else [])
                     for i, o in enumerate(orders)])
    return 0


def _team_origins(ctx, store, rows, listing: str):
    """Team mode (issue 15): each row's desk and agent, or None outside a team (the listing as before)."""
    return origins(ctx.home, store, rows, listing)


def _who_json(who, i: int) -> dict:
    return {} if who is None else {"desk": who[i][0] or None, "agent": who[i][1] or None}


def _who_head(who) -> list[str]:
    return [] if who is None else ["desk", "agent"]


def _who_cells(who, i: int) -> list[str]:
    return [] if who is None else list(who[i])


def cmd_esims(args) -> int:
    with desk_context(args) as (ctx, store):
        esims = store.esims(vendor=args.vendor, status=args.status, search=args.search)
        who = _team_origins(ctx, store, esims, "esims")
        _cache_age(store, args.vendor)
        _say_gaps(args, ctx, "esims", {e.vendor for e in esims})
    if args.json:
        print_json([e.to_json() | _who_json(who, i) for i, e in enumerate(esims)])
    else:
        print_table(["vendor", "iccid", "status", "vendor status", "used", "of", "usage as of (UTC)", "expires (UTC)",
                     "order"] + _who_head(who),
                    [[vendor_title(e.vendor), e.iccid, e.status.value, e.vendor_status,
                      _fmt_mb(e.data_used_mb) if e.data_used_mb is not None else "",
                      _fmt_mb(e.data_total_mb) if e.data_used_mb is not None or e.data_total_mb else "",
                      e.usage_as_of.strftime("%Y-%m-%d %H:%M") if e.usage_as_of and e.data_used_mb is not None else "",
                      e.expires_at.strftime("%Y-%m-%d %H:%M") if e.expires_at else "", e.order_id or ""]
                     + _who_cells(who, i) for i, e in enumerate(esims)])
    return 0


def cmd_balance(args) -> int:
    """Live from the vendors when reachable (a balance is only useful fresh), else the cached value.
    Exit 1 with the reason when no vendor answered: none configured, none reports a balance, all failed."""
    with desk_context(args) as (ctx, store):
        accounts = [c for c in ctx.accounts.enabled if args.vendor in (None, c.vendor)]
        if not accounts:
            for line in ctx.accounts.notices:
                if args.vendor is not None and line.startswith(vendor_title(args.vendor)):
                    say(args, line)
            which = f"no {vendor_title(args.vendor)} account" if args.vendor and ctx.accounts.enabled else "no vendor account"
            say(args, f"{which} is configured; see README → Configuration")
            if args.json:
                print_json([])
            return 1
        rows = asyncio.run(fetch_balances(store, accounts))
    # fetch_balances leaves out the vendors whose API reports no balance.
    answered_by = {r.vendor for r in rows}
    silent = [c.vendor for c in accounts if c.vendor not in answered_by]
    if silent:
        one = len(silent) == 1
        say(args, f"{' and '.join(map(vendor_title, silent))} {'does' if one else 'do'} not offer a balance through "
             f"{'its API' if one else 'their APIs'}")
    failed = False
    for row in rows:
        if row.error:
            title = vendor_title(row.vendor)
            reason = row.error if row.error.startswith((row.vendor, title)) else f"{title}: {row.error}"
            say(args, reason + (" (showing the cached balance)" if row.balance else ""))
            failed = failed or row.balance is None
    live = [r for r in rows if not r.error]
    if not live:
        failed = True
        say(args, "no vendor answered with a balance" if rows
             else "none of the configured vendors offers a balance")
    shown = [r.balance for r in rows if r.balance is not None]
    if args.json:
        print_json([b.to_json() for b in shown])
    elif shown:
        print_table(["vendor", "balance", "as of (UTC)"],
                    [[vendor_title(b.vendor), f"{money_str(b.amount)} {b.currency}",
                      b.observed_at.strftime("%Y-%m-%d %H:%M") if b.observed_at else ""] for b in shown])
    return 1 if failed else 0


async def _reconcile_vendors(service, vendors):
    out = []
    for vendor in vendors:
        out.extend(await service.reconcile(vendor))
    return out


def _order_service(ctx, store, progress=None):
    return OrderService(store, ctx.accounts.enabled, make_adapter, progress=progress)


def _progress(p) -> None:
    if sys.stderr.isatty():
        print(f"\r{p.reference}: {p.message}          ", end="", file=sys.stderr, flush=True)


def _print_order(args, order) -> None:
    gap = order_note(order)  # e.g. Roamify: COMPLETED, but no ICCID or activation code in its answer
    if gap:
        say(args, gap)
    if args.json:
        print_json(order.to_json())
        return
    total = f"{money_str(order.total)} {order.currency}" if order.total is not None else "-"
    print(f"{vendor_title(order.vendor)} {order.kind} {order.order_id or '-'}  reference {order.reference}  {order.status.value}  "
          f"total {total}")
    if order.esims:
        print_table(["iccid", "activation code"], [[e.iccid, e.activation_code or ""] for e in order.esims])


def _run_order(args, call) -> int:
    with ExitStack() as stack:
        try:
            ctx, store = stack.enter_context(desk_context(args))
        except StoreError as exc:  # no journal, no send: say so, an agent wonders whether money went
            say(args, f"{exc}. The order could not be recorded, so nothing was sent to {vendor_title(args.vendor)} and "
                       "nothing was charged")
            return 1
        service = _order_service(ctx, store, _progress)
        try:
            order = asyncio.run(call(service))
        except OrderOutcome as outcome:
            if sys.stderr.isatty():
                print(file=sys.stderr)
            say(args, str(outcome))
            if args.json and outcome.entry is not None:
                e = outcome.entry
                print_json({"vendor": e.vendor, "order_id": e.order_id, "reference": e.reference,
                            "status": e.state.value, "created_at": e.created_at.isoformat(),
                            "total": money_str(e.unit_price * e.quantity) if e.unit_price is not None else None,
                            "currency": e.currency, "esims": [], "error": str(outcome)})
            return 1
    if sys.stderr.isatty():
        print(file=sys.stderr)
    _print_order(args, order)
    return 0


def cmd_order(args) -> int:
    return _run_order(args, lambda s: s.place_order(args.vendor, args.plan, args.quantity, args.reference,
                                                    activation_date=args.activation_date, custom_email=args.email,
                                                    start_date=getattr(args, "start_date", None)))


def cmd_topup(args) -> int:
    return _run_order(args, lambda s: s.topup(args.vendor, args.iccid, args.plan))


def cmd_reconcile(args) -> int:
    if args.adopt or args.resend or args.abandon:
        return _agent_decides(args)
    with desk_context(args) as (ctx, store):
        service = _order_service(ctx, store)
        # The agent ran it: a lost order may be resent with the vendor's own handle (within 15 minutes).
        entries = asyncio.run(service.reconcile(args.vendor, may_send=True))
        audit = {e.id: store.journal_audit(e.id) for e in entries}
    for line in service.notices:
        say(args, line)
    open_ = [e for e in entries if is_unfinished(e.state)]
    if args.json:
        print_json([{"vendor": e.vendor, "reference": e.reference, "kind": e.kind, "order_id": e.order_id,
                     "status": e.state.value, "handle": e.vendor_handle, "candidates": list(e.candidates),
                     "awaiting_agent": awaits_agent(e),
                     "reason": audit[e.id][-1].cause if audit[e.id] else None}
                    for e in entries])
    else:
        if not entries:
            print("nothing to reconcile: every order is settled")
        else:
            print_table(["vendor", "reference", "kind", "order_id", "status", "why"],
                        [[vendor_title(e.vendor), e.reference, e.kind, e.order_id or "-", e.state.value,
                          audit[e.id][-1].cause if audit[e.id] else ""] for e in entries])
    return 1 if open_ else 0


def _agent_decides(args) -> int:
    """reconcile --adopt REFERENCE ORDER_ID | --resend REFERENCE | --abandon REFERENCE: the agent settles one."""
    with desk_context(args) as (ctx, store):
        service = _order_service(ctx, store, _progress)
        try:
            if args.abandon:
                entry = asyncio.run(service.abandon(args.abandon))
                if args.json:
                    print_json({"vendor": entry.vendor, "reference": entry.reference, "status": entry.state.value,
                                "order_id": entry.order_id})
                else:
                    print(f"{vendor_title(entry.vendor)} {entry.kind} {entry.reference}: {entry.state.value} "
                          "(abandoned by the agent)")
                return 0
            if args.adopt:
                order = asyncio.run(service.adopt(*args.adopt))
            else:
                order = asyncio.run(service.resend(args.resend))
        except OrderOutcome as outcome:
            say(args, str(outcome))
            return 1
    _print_order(args, order)
    return 0


def cmd_qr(args) -> int:
    """PNG/SVG: the QR code of one eSIM; PDF: the customer card of the eSIM or of every eSIM of an order."""
    out = Path(args.out)
    with desk_context(args) as (ctx, store):
        found = cards_for(store, args.target, reseller_name(ctx.home))
    kind = out.suffix.lower()
    if kind == ".pdf":
        from esimdesk.services.card_paint import write_pdf  # Qt (QtGui ~90 ms measured): only to paint a PDF

        pages = write_pdf(found, out)
        print(out)
        say(args, f"wrote {count_of(len(found), 'card')} on {count_of(pages, 'page')}")
        return 0
    if len(found) > 1:
        say(args, f"'{args.target}' is an order with {count_of(len(found), 'eSIM')}: give one ICCID for a {kind[1:].upper()}, "
             "or write all the cards with --out FILE.pdf")
        return 1
    (write_qr_png if kind == ".png" else write_qr_svg)(found[0].activation_code, out)
    print(out)
    return 0
