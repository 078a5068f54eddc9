"""The Catalog tab's pieces: its filters' choices, the country box's completion, the cheapest-per-vendor
panel, header tooltips and the text of its money cells. Thin: the store filters and sorts, the domain and
services compute (price per GB, conversion); this only words and lays them out."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QPushButton, QWidget

from esimdesk.domain import Plan, PlanDetails, money_str, price_per_gb, vendor_title
from esimdesk.domain.countries import country_choices
from esimdesk.domain.units import MB_PER_GB
from esimdesk.services.currency import Pricing
from esimdesk.ui.table_model import WindowedModel

# (label, minimum MB over the whole plan); unlimited plans meet any minimum.
DATA_CHOICES = [("Any data", None)] + [(f"≥ {gb} GB", gb * MB_PER_GB) for gb in (1, 3, 5, 10, 20)]
# (label, (min days, max days)): lengths agents sell ("a weekend", "a week", "two weeks", "a month", longer).
# "At least a week" first: a customer who asks for a week is served by an 8-day plan, not by a 5-day one.
DAYS_CHOICES = [("Any length", (None, None)), ("At least 7 days", (7, None)), ("At least 14 days", (14, None)),
                ("At least 30 days", (30, None)), ("1–3 days", (1, 3)), ("4–7 days", (4, 7)), ("8–15 days", (8, 15)),
                ("16–30 days", (16, 30)), ("31–90 days", (31, 90)), ("Over 90 days", (91, None))]
KIND_CHOICES = [("Any allowance", None), ("Unlimited only", "unlimited"), ("Daily only", "daily"),
                ("Fixed total only", "fixed")]

PRICE_TIP = ("What the plan costs the reseller, in your currency at the day's exchange rate (≈: converted; "
             "the vendor's own price is under \"Vendor price\"). Sorted across every vendor and currency; at one "
             "price, more days and then more data first.")
SELL_TIP = ("What the customer pays: the cost with your price rule (File → Settings… → Prices), rounded as the "
            "rule says; the cost itself where no rule applies.")
VENDOR_PRICE_TIP = "The price as the vendor states it, in the vendor's currency (what the vendor charges)."
PER_GB_TIP = ("Cost per GB of the plan's whole data, in your currency: a daily plan's per GB of a day's "
              "allowance × its days. Unlimited plans have none (—).")
TOPUP_TIP = "Whether the vendor says the plan can be topped up later (\"not stated\": the vendor does not say)"


def price_text(plan: Plan) -> str:
    return f"{money_str(plan.price)} {plan.currency}"


def per_gb_text(plan: Plan) -> str:
    value = price_per_gb(plan)
    return f"{money_str(value)} {plan.currency}" if value is not None else "—"


def topup_text(plan: Plan) -> str:
    return "yes" if plan.topup else "no" if plan.topup is False else "not stated"


def money_text(amount, currency: str, converted: bool, note: str = "") -> str:
    text = f"{'≈ ' if converted else ''}{money_str(amount)} {currency}"
    return f"{text} · {note}" if note else text


def cost_text(plan: Plan, pricing: Pricing) -> str:
    """The plan's cost in the agent's currency ("≈ 2.19 EUR"; its rate's age when over three working days
    old), or the vendor's price with "no rate" where none is known."""
    converted = pricing.cost(plan.price, plan.currency)
    if converted is None:
        return f"{money_str(plan.price)} {plan.currency} (no rate)"
    return money_text(converted.amount, converted.currency, converted.as_of is not None, pricing.note(plan.currency))


def sell_text(plan: Plan, pricing: Pricing) -> str:
    quoted = pricing.quote(plan)
    return "—" if quoted is None else f"{money_str(quoted.sell)} {quoted.currency}"


def rule_words(quoted) -> str:
    """After a margin: which price rule made the selling price."""
    return f"; rule {quoted.rule.words()}" if quoted.rule is not None else ""


def per_gb_cost_text(plan: Plan, pricing: Pricing) -> str:
    value = price_per_gb(plan)
    if value is None:
        return "—"
    converted = pricing.cost(value, plan.currency)
    if converted is None:
        return f"{money_str(value)} {plan.currency}"
    return money_text(converted.amount, converted.currency, converted.as_of is not None)


NETWORKS_SHOWN = 8  # a global plan names a hundred countries' networks: the first few, and how many more


def detail_lines(plan: Plan, details: PlanDetails) -> list[tuple[str, str]]:
    """(label, text) for the detail pane: what the vendor states, "not stated by <vendor>" otherwise."""
    missing = f"not stated by {vendor_title(plan.vendor)}"
    networks = "; ".join(details.networks[:NETWORKS_SHOWN]) + (
        f"; and {len(details.networks) - NETWORKS_SHOWN} more" if len(details.networks) > NETWORKS_SHOWN else "")
    return [
        ("Networks", networks or missing),
        ("Speed", details.speed or missing),
        ("APN", details.apn or missing),
        ("Activation", details.activation or missing),
        ("Top-ups", details.topups or missing),
        *([("Notes", "; ".join(details.notes))] if details.notes else []),
    ]


class CatalogModel(WindowedModel):
    """The plans' model: each header says how its column compares (currencies, per GB, rates)."""


def country_completer(parent) -> QCompleter:
    """Completion by name or code, anywhere in the label, any case: "jap" and "jpn" both offer
    "Japan (JP, JPN)" (pycountry's names and ISO codes; the box resolves the label to JP)."""
    completer = QCompleter(QStringListModel([label for label, _code in country_choices()], parent), parent)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    completer.setMaxVisibleItems(12)
    return completer


class CheapestPanel(QWidget):
    """With a country chosen: each vendor's cheapest plan there (per currency), matching the other filters,
    as buttons; a click selects that plan (its detail and Order… one more click away).

    A panel rather than a toggle that reorders the table: the comparison an agent makes on every sale
    ("a week in Japan: who is cheapest?") is on screen as soon as the country is, while the table keeps
    its order, filters and selection; prices stay in their own currencies side by side."""

    planChosen = Signal(int, object)  # rowid, Plan: the agent clicked a vendor's cheapest plan

    def __init__(self, parent=None):
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.row.addWidget(self.title)
        self.buttons: list[QPushButton] = []
        self.row.addStretch(1)
        # Always there, one line high: the table never jumps down when a country is typed, and the agent sees
        # where the comparison will be before choosing one.
        self.setFixedHeight(QPushButton("X").sizeHint().height())
        self.clear()

    def _drop_buttons(self) -> None:
        for button in self.buttons:
            self.row.removeWidget(button)
            button.deleteLater()
        self.buttons = []

    def show_cheapest(self, country: str, found: list[tuple[int, Plan]], pricing: Pricing | None = None) -> None:
        """Each vendor's cheapest, cheapest first, in the agent's currency (the vendor's own price in the
        tooltip): "Roumio ≈ 2.19 EUR · Roamify ≈ 2.43 EUR · MicroESIM ≈ 0.96 EUR" compares at a glance."""
        self._drop_buttons()
        if not found:
            self.title.setText(f"No plan for {country} matches these filters.")
        else:
            self.title.setText(f"Cheapest in {country}:")

        def converted(item):
            c = pricing.cost(item[1].price, item[1].currency) if pricing is not None else None
            return (c is None, c.amount if c is not None else item[1].price)

        for i, (rowid, plan) in enumerate(sorted(found, key=converted)):
            shown = cost_text(plan, pricing) if pricing is not None else price_text(plan)
            button = QPushButton(f"{vendor_title(plan.vendor)} {shown}")
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"{plan.name} · {plan.validity_days} days · the vendor's price {price_text(plan)}"
                              + "\nClick to select it")
            button.clicked.connect(lambda _c=False, r=rowid, p=plan: self.planChosen.emit(r, p))
            self.row.insertWidget(1 + i, button)
            self.buttons.append(button)

    def clear(self) -> None:
        self._drop_buttons()
        self.title.setText("Cheapest per vendor: choose a country")
