"""What each order and support-action state allows: the one place the window, the command line, the
services and the store ask, instead of each spelling the states out.

An order journal entry is PENDING (recorded here, not yet answered), ALLOCATING (the vendor took it, its
profiles are coming), UNCERTAIN (the answer was lost), COMPLETED or FAILED. A support action
(domain/actions.py) reuses the same states without ALLOCATING.
"""

from __future__ import annotations

from typing import Any

from esimdesk.domain.models import OrderStatus

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
