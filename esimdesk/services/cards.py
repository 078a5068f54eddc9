"""Customer cards: what one eSIM's card says, assembled from the local cache's domain fields.

A card holds the activation code exactly as the vendor gave it (validated: ``domain.activation``), the
plan's facts, the manual-entry fields, the direct-install links (``domain.activation.install_links``),
the order's reference and the reseller's name and logo (services/card_settings.py); ``card_lines`` is its
text, top to bottom; ``card_install_links`` the one-tap iPhone and Android links a card carries as small QR
codes beside the activation code's (``domain.install_links``). No Qt here: the QR codes are
services/qr_codes.py, the painting (window, printer, PDF, image) services/card_paint.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esimdesk.domain.activation import install_links, split_activation_code
from esimdesk.domain.errors import ValidationError
from esimdesk.domain.install_links import InstallLinks, carddata_of, lpa_string, one_tap_links
from esimdesk.domain.models import money_str
from esimdesk.domain.plans import coverage_text
from esimdesk.domain.units import data_amount
from esimdesk.services.card_settings import DEFAULT_RESELLER, reseller_logo, reseller_name, show_price

INSTALL_STEPS = (
    "On the phone, with Wi-Fi on: Settings → Mobile data / Connections → Add eSIM.",
    "Choose \"Use QR code\" and scan this code (or use the link or manual entry above).",
    "Keep the new line on and turn on data roaming for it when you arrive.",
)


@dataclass(frozen=True)
class Card:
    iccid: str
    activation_code: str  # exactly as the vendor gave it
    vendor: str
    plan_name: str | None
    data: str | None
    validity_days: int | None
    countries: str | None
    smdp_address: str
    matching_id: str
    ios_link: str | None
    android_link: str | None
    reference: str | None
    reseller: str = DEFAULT_RESELLER
    logo: bytes | None = field(default=None, repr=False)  # PNG, JPEG or SVG bytes of the reseller's logo
    price: str | None = None  # what the customer paid for this eSIM ("4.99 EUR"), where the reseller shows it

    def __post_init__(self) -> None:
        address, matching = split_activation_code(self.activation_code)  # ValidationError in words
        if (self.smdp_address, self.matching_id) != (address, matching):
            raise ValidationError(f"card of {self.iccid}: SM-DP+ address and matching id do not match "
                                  f"the activation code '{self.activation_code}'")


def _carries(link: str | None, card: Card) -> bool:
    """Whether ``link`` is a one-tap link carrying this card's own activation code."""
    return bool(link) and carddata_of(link) == lpa_string(card.activation_code)


def card_install_links(card: Card) -> InstallLinks:
    """The one-tap links a card carries as QR codes: the vendor's own, unchanged, where it gave one that
    carries this card's activation code (Roamify's ``iosQuickInstall``, MicroESIM's install links); else
    built from the code. A vendor link with another code in it (a typo in a vendor's sample) is never used:
    decoded, every link gives back exactly the code of the card's main QR."""
    return one_tap_links(card.activation_code, apple=card.ios_link if _carries(card.ios_link, card) else None,
                         android=card.android_link if _carries(card.android_link, card) else None)


def card_lines(card: Card, *, links_drawn: bool = False) -> list[tuple[str, str]]:
    """(style, text) of the card's text column, top to bottom. Styles: title, plan, head, text, mono,
    link, small (how each is drawn is services/card_paint.py's).

    ``links_drawn``: the one-tap links are on the card as QR codes (``card_install_links``), so the vendor's
    links that carry an activation code are not written out again (one that carries another code is never
    printed); a vendor's link without one (its own universal link) stays, as text."""
    out: list[tuple[str, str]] = [("title", card.reseller)]
    out.append(("plan", card.plan_name or f"{card.vendor} eSIM"))
    facts = [f for f in (card.data and f"Data: {card.data}",
                         card.validity_days and f"Valid: {card.validity_days} days") if f]
    if facts:
        out.append(("text", "   ·   ".join(facts)))
    if card.countries:
        out.append(("text", f"Countries: {card.countries}"))
    if card.price:
        out.append(("text", f"Price paid: {card.price}"))
    out.append(("text", f"ICCID: {card.iccid}"))
    out.append(("head", "Manual entry"))
    out.append(("mono", f"SM-DP+ address: {card.smdp_address}"))
    out.append(("mono", f"Activation code: {card.matching_id}"))
    for name, link in (("iPhone", card.ios_link), ("Android", card.android_link)):
        if link and not (links_drawn and carddata_of(link) is not None):
            out.append(("link", f"{name}: {link}"))
    out.append(("head", "Install"))
    out += [("text", f"{i}. {step}") for i, step in enumerate(INSTALL_STEPS, 1)]
    if card.reference:
        out.append(("small", f"Reference: {card.reference}"))
    return out


# --- from the local cache -----------------------------------------------------------------------------

def _store_home(store: Any) -> Path | None:
    path = getattr(store, "path", None)
    return Path(path).parent if path else None


def _countries(codes: tuple[str, ...]) -> str | None:
    if not codes:
        return None
    return ", ".join(codes) if len(codes) <= 8 else f"{', '.join(codes[:7])} and {len(codes) - 7} more"


def _coverage(plan: Any) -> str | None:
    """The plan's countries; a bundle the vendor names, by its name: "Africa Adventure (33 countries)"."""
    if getattr(plan, "coverage_name", None):
        return coverage_text(plan.countries, plan.region, plan.coverage_name)
    return _countries(plan.countries)


def _price_each(order: Any) -> str | None:
    """What the customer paid for one eSIM of ``order`` (its sale shared by its eSIMs), or None."""
    sale = getattr(order, "sale", None)
    if sale is None or not order.esims:
        return None
    return f"{money_str(sale.total / len(order.esims))} {sale.currency}"


def card_for_esim(store: Any, esim: Any, reseller: str, reference: str | None = None,
                  logo: bytes | None = None, price: bool | str | None = None) -> Card:
    """``price``: the price paid to print ("4.99 EUR"), or True to read it from the eSIM's order."""
    if not esim.activation_code:
        raise ValidationError(f"eSIM {esim.iccid} has no activation code yet: {esim.vendor} has not allocated it; "
                              "run a sync later")
    code = str(esim.activation_code).strip()
    try:
        address, matching = split_activation_code(code)
    except ValidationError as exc:
        raise ValidationError(f"eSIM {esim.iccid}: {exc}") from None
    plan = store.plan(esim.vendor, esim.plan_id) if esim.plan_id else None
    order = store.order(esim.vendor, esim.order_id) if esim.order_id and (reference is None or price is True) else None
    if reference is None and esim.order_id:
        reference = (order.shown_reference or order.order_id) if order else esim.order_id
    if price is True:
        price = _price_each(order) if order is not None else None
    data_mb = plan.data_mb if plan else esim.data_total_mb
    data = data_amount(data_mb) if (plan or esim.data_total_mb is not None) else None
    ios, android = install_links(esim)
    return Card(
        iccid=esim.iccid, activation_code=code, vendor=esim.vendor,
        plan_name=plan.name if plan else None, data=data,
        validity_days=plan.validity_days if plan else None,
        countries=_coverage(plan) if plan else None,
        smdp_address=address, matching_id=matching, ios_link=ios, android_link=android,
        reference=reference, reseller=reseller, logo=logo, price=price or None,
    )


def cards_for(store: Any, target: str, reseller: str | None = None, logo: bytes | None = None) -> list[Card]:
    """The cards of an eSIM (ICCID) or of every eSIM of an order (order id or reference).

    The reseller's name and logo come from settings.json beside the store unless given; the logo file is
    read once here, for every card.
    """
    text = (target or "").strip()
    if reseller is None:
        reseller = reseller_name(_store_home(store))
    if logo is None:
        logo = reseller_logo(_store_home(store))
    if not text:
        raise ValidationError("no eSIM or order given: pass an ICCID or an order id")
    esim = store.esim(text) or (store.esim("".join(text.split())) if " " in text else None)
    priced = show_price(_store_home(store))
    if esim is not None:
        return [card_for_esim(store, esim, reseller, logo=logo, price=priced or None)]
    orders = [o for o in store.orders(search=text) if text in (o.order_id, o.reference, o.typed_reference)]
    if not orders:
        raise ValidationError(f"no eSIM or order '{text}' in the local cache; run a sync")
    cards = []
    for order in orders:
        if not order.esims:
            raise ValidationError(f"order '{text}' has no eSIM in the local cache yet: {order.vendor} has not "
                                  "allocated it; run a sync later")
        ref = order.shown_reference or order.order_id
        each = _price_each(order) if priced else None
        cards += [card_for_esim(store, e, reseller, ref, logo, each) for e in order.esims]
    return cards
