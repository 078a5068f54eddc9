"""What each vendor offers through esimdesk, and the sentence that says so where something is missing.

One source for the command line's notes and the window's empty states: the adapters' ``capabilities``.
When an adapter learns more (e.g. Roamify's catalog), the gap and its sentence go away by themselves.
"""

from __future__ import annotations

from esimdesk.domain import VENDORS, Esim, Order, OrderStatus, count_of
from esimdesk.vendors import Capability, adapter_class

TITLES = {"roumio": "Roumio", "roamify": "Roamify", "microesim": "MicroESIM", "flexiroam": "Flexiroam"}

# Where an agent looks for what esimdesk cannot fetch yet.
PORTALS = {"roamify": "Roamify's Partner Portal"}

LISTINGS = ("plans", "orders", "esims")

# What the vendors' own APIs lack (their documents): said as "X offers no …". Any other gap is
# esimdesk's and said as "… is not fetched yet".
NOT_IN_API = {"flexiroam": {"plans", "orders"}, "microesim": {"orders", "esims"}}


def title(vendor: str) -> str:
    return TITLES.get(vendor, vendor)


def portal(vendor: str) -> str:
    return PORTALS.get(vendor, f"the {title(vendor)} portal")


def capabilities(vendor: str) -> frozenset[Capability]:
    return adapter_class(vendor).capabilities


def gap(vendor: str, listing: str) -> str | None:
    """The sentence for a listing ("plans", "orders", "esims") that this vendor cannot fill, or fills
    only in part; None when esimdesk gets the whole of it."""
    caps = capabilities(vendor)
    name = title(vendor)
    api_lacks = listing in NOT_IN_API.get(vendor, ())
    if listing == "plans":
        if Capability.PLANS in caps:
            return None
        if api_lacks:
            return f"{name} offers no plans through its API"
        if Capability.LIST_ORDERS in caps:  # Roamify: the catalog is the packages of its past orders
            return f"{name}'s plan catalog is not fetched yet: its plans here are the packages of its past orders"
        return f"{name}'s plans are not fetched yet"
    if listing == "orders":
        if Capability.LIST_ORDERS in caps:
            return None
        if Capability.ORDER not in caps:
            return f"{name} takes no orders through its API" if api_lacks else \
                f"{name} orders are not placed or fetched yet"
        return (f"{name} lists no orders through its API" if api_lacks else
                f"{name}'s order list is not fetched yet") + ": only orders placed from this desk appear here"
    if listing == "esims":
        if Capability.LIST_ESIMS in caps or adapter_class(vendor).orders_carry_fleet:
            return None
        if Capability.GET_ESIM in caps:
            return (f"{name} lists no eSIMs through its API" if api_lacks else
                    f"{name}'s eSIM list is not fetched yet") + ": only eSIMs ordered from this desk appear here"
        return f"{name}'s eSIMs are not fetched yet: find them (ICCID, activation code) in {portal(vendor)}"
    raise ValueError(f"unknown listing {listing!r}")


def gaps(listing: str, vendors: list[str] | tuple[str, ...] = VENDORS) -> dict[str, str]:
    """vendor → sentence, for the vendors that cannot fill this listing (in the given order)."""
    out = {}
    for vendor in vendors:
        sentence = gap(vendor, listing)
        if sentence:
            out[vendor] = sentence
    return out


def order_note(order: Order) -> str | None:
    """A COMPLETED order whose answer carries no ICCID or activation code: say so, and where to get them."""
    if order.status is not OrderStatus.COMPLETED or order.kind == "topup":  # a top-up delivers no new eSIM
        return None
    name = title(order.vendor)
    where = portal(order.vendor)
    if not any(e.iccid for e in order.esims):
        return (f"{name}'s answer carries no ICCID or activation code yet: get them from {where} "
                "(esimdesk does not fetch them yet)")
    without = [e for e in order.esims if not e.activation_code]
    if without:
        return (f"{name}'s answer carries no activation code for {len(without)} of {count_of(len(order.esims), 'eSIM')} "
                f"yet: 'esimdesk sync' asks again, or get them from {where}")
    return None



def usage_gap(esim: Esim) -> str | None:
    """Why this eSIM shows no usage, where its vendor's rules tell ("not installed yet: Roamify reports usage
    once the eSIM is installed"); None when it shows some, or nothing tells why."""
    if esim.data_used_mb is not None or esim.data_remaining_mb is not None or esim.vendor not in TITLES:
        return None
    return adapter_class(esim.vendor).usage_gap(esim)


def usage_gap_word(esim: Esim) -> str:
    """The few words of ``usage_gap`` before its colon, for a table cell ("not installed yet"); "" if none."""
    gap = usage_gap(esim)
    return gap.split(":", 1)[0] if gap else ""
