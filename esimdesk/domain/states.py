"""What each order and support-action state allows, and what an eSIM's state allows of a top-up: the one
place the window, the command line, the services and the store ask, instead of each spelling the states out.

An order journal entry is PENDING (recorded here, not yet answered), ALLOCATING (the vendor took it, its
profiles are coming), UNCERTAIN (the answer was lost), COMPLETED or FAILED. A support action
(domain/actions.py) reuses the same states without ALLOCATING.
"""

from __future__ import annotations

from typing import Any

from esimdesk.domain.models import EsimStatus, OrderStatus

# Not settled yet: a reconcile (after each sync, 'esimdesk reconcile', "Reconcile now") still works on these.
UNFINISHED = (OrderStatus.PENDING, OrderStatus.ALLOCATING, OrderStatus.UNCERTAIN)
# Not yet known to the vendor as ours: an entry may be sent, adopted or abandoned only from these
# (ALLOCATING is unfinished too, but the vendor took it: it is only polled).
UNDECIDED = (OrderStatus.PENDING, OrderStatus.UNCERTAIN)
SETTLED = (OrderStatus.COMPLETED, OrderStatus.FAILED)
# What a vendor order a sync listed under this desk's handle may still be filed under: an entry the vendor
# has not been seen to take (undecided) or one the agent was told had failed (it may have been placed).
MAY_BE_FILED = (OrderStatus.FAILED, *UNDECIDED)
# A support action is unfinished while recorded and not answered, or while its answer is lost.
ACTION_UNFINISHED = (OrderStatus.PENDING, OrderStatus.UNCERTAIN)

# The last_error of an order entry or support action only the agent can settle: nothing settles it by
# itself (a reconcile leaves it, a lost SMS leaves no trace in the eSIM's status).
AWAITING_AGENT = "awaiting the agent"


def is_unfinished(state: OrderStatus | str) -> bool:
    """An order entry a reconcile still works on (PENDING, ALLOCATING, UNCERTAIN)."""
    return state in UNFINISHED


def is_undecided(state: OrderStatus | str) -> bool:
    """An order entry the agent may still send, adopt or abandon (PENDING, UNCERTAIN)."""
    return state in UNDECIDED


def awaits_agent(entry: Any) -> bool:
    """An order entry or support action (anything with ``last_error``) left for the agent to decide."""
    return entry.last_error == AWAITING_AGENT


def action_is_open(action: Any) -> bool:
    """A support action still unknown that something other than the agent may settle: unfinished and not
    left to the agent. Such an action blocks a new one on the same eSIM (store/actions.py, schema v10)."""
    return action.state in ACTION_UNFINISHED and not awaits_agent(action)


# --- what an eSIM's state allows -----------------------------------------------------------------------
# A top-up adds data to a profile still in service: never to one cancelled, revoked or deleted (gone for
# good), expired (Roumio answers 200002; sell a new eSIM) or suspended (resume it first). Asked by the
# window's Top up… button and dialog and by the orders service (the window and ``esimdesk topup``) before
# anything is sent; the support actions' rules are each vendor's (``VendorAdapter.refusal``).
TOPUP_REFUSED: dict[EsimStatus, str] = {
    EsimStatus.CANCELLED: "this eSIM is cancelled: it can no longer be topped up",
    EsimStatus.DELETED: "this eSIM's profile is deleted: it can no longer be topped up",
    EsimStatus.EXPIRED: "this eSIM has expired: it can no longer be topped up; sell a new eSIM",
    EsimStatus.SUSPENDED: "this eSIM is suspended: resume it before a top-up",
}


def topup_refusal(esim: Any) -> str | None:
    """Why the eSIM (anything with ``status``, as last seen) cannot be topped up, in words; None if its
    state allows it (the vendor still decides which top-ups fit)."""
    return TOPUP_REFUSED.get(esim.status)


def status_after_usage(status: EsimStatus, used_mb: int | None, total_mb: int | None) -> EsimStatus:
    """An eSIM a vendor calls installed, seen with its usage: in use once it has used data, used up once it
    has used its whole (limited) allowance. A vendor that lists state and usage apart (Roamify) says only
    "installed"; its usage makes it ACTIVE or DEPLETED."""
    if status is EsimStatus.INSTALLED and used_mb:
        status = EsimStatus.ACTIVE
    if status in (EsimStatus.INSTALLED, EsimStatus.ACTIVE) and total_mb is not None and used_mb is not None \
            and used_mb >= total_mb:
        status = EsimStatus.DEPLETED
    return status
