"""Demo mode only: give the demo desk the history a real desk would have, and start the demo over.

MicroESIM keeps no order list, so a real desk knows its MicroESIM eSIMs only from its own past
orders. The demo desk starts with the sandbox's pre-made MicroESIM orders recorded as if this desk
had placed them (settled, with what each cost), so Orders and the Fleet show them from the start; the
first sync brings each eSIM's status and usage.

``esimdesk --demo --reset`` and *File → Reset demo…* delete the demo data folder's database, its
backups, the sandbox's world file (``sandbox-state.json``) and the demo mailbox (``demo-mailbox/``, what
the demo's mail sink was sent); the next start seeds a new world.
Settings and window geometry stay.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from esimdesk.domain import ConfigError, StoreError
from esimdesk.services.config import load_accounts
from esimdesk.services.runtime import DEMO_MAILBOX, SANDBOX_STATE, start_demo_sandbox
from esimdesk.store import Store, open_store
from esimdesk.store.backups import BACKUPS_DIR, DATA_FILE, _lock
from esimdesk.store.integrity import checked_path, shm_path, wal_path
from esimdesk.vendors.microesim import parse_topup_detail


def seed_demo_history(store: Store, sandbox) -> int:
    """Record the sandbox's pre-made MicroESIM orders as this desk would hold them had it placed them and
    seen them through: the vendor's status, time and eSIMs (its topupDetail answer, read by the adapter)
    and what each cost (the plan's price times the number ordered, as an order placed here records it:
    MicroESIM's answers never state a price, so no sync could ever fill it in)."""
    if sandbox is None or store.orders(vendor="microesim", limit=1):
        return 0
    sim = sandbox.sandbox.vendors.get("microesim")
    if sim is None:
        return 0
    parse = parse_topup_detail
    orders = []
    for answer, price in sim.premade_history():
        order = parse(answer)
        if price is not None:
            total = Decimal(price)
            each = total / order.lines[0].quantity if order.lines else None
            order = replace(order, total=total, currency="HKD",
                            lines=tuple(replace(line, unit_price=each) for line in order.lines))
        orders.append(order)
    return store.upsert_orders(orders)


def demo_files(home: Path) -> list[Path]:
    """What a reset removes from the demo data folder ``home``, of what exists there now."""
    data = home / DATA_FILE
    found = [data, wal_path(data), shm_path(data), data.with_name(data.name + "-journal"), checked_path(data),
             home / BACKUPS_DIR, home / SANDBOX_STATE, home / DEMO_MAILBOX]
    found += sorted(home.glob(f".{SANDBOX_STATE}.*.tmp"))  # a save cut short
    return [p for p in found if p.exists() or p.is_symlink()]


def reset_demo_folder(home: Path, say: Callable[[list[Path]], None] | None = None) -> list[Path]:
    """Delete the demo's database (with its -wal/-shm), backups, sandbox world and mailbox from ``home``, the demo
    data folder; ``say`` is told what will be removed first. Returns what was removed.

    Refused in words (``StoreError``, nothing removed) while another esimdesk has the demo's data file
    open: the window, or a command still running, would go on with a deleted file and write the old
    sandbox world back.
    """
    if home.name != "demo":  # never the real desk's folder, whatever the caller passed
        raise ConfigError(f"{home} is not a demo data folder; only the demo can be reset")
    lock, _ = _lock(home / DATA_FILE)  # StoreError "in use by another esimdesk" when it is
    if lock is not None:
        lock.close()
    found = demo_files(home)
    if say is not None:
        say(found)
    for path in found:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            raise StoreError(f"the demo could not be reset: {path} cannot be removed "
                             f"({exc.strerror or exc}); what was removed before it stays removed",
                             path=str(path)) from None
    return found


def restart_demo(desk) -> list[Path]:
    """The window's *File → Reset demo…*: close the desk's store, sandbox and mail sink, reset the demo data
    folder, then open a new store and sandbox (a new world) in the same ``desk``; a new mail sink starts at the
    next e-mail (``ctx.demo_mail``). Returns what was removed.

    Whatever happens, the desk is open again afterwards: on a refusal, on the files it had.
    """
    ctx = desk.ctx
    if not ctx.demo:
        raise ConfigError("only the demo can be reset")
    desk.store.close(every_thread=True)  # every connection to the old file (the views' queries are done)
    ctx.close()  # stops the sandbox and the mail sink: nothing writes the old world (or a message) back
    try:
        removed = reset_demo_folder(ctx.home)
    finally:  # the same folder again, whatever the environment says now
        ctx.sandbox = start_demo_sandbox(ctx.home)
        ctx.accounts = load_accounts(ctx.home, env=ctx.sandbox.env())
        desk.store = open_store(ctx.home)
        seed_demo_history(desk.store, ctx.sandbox)
    return removed

