"""The Catalog tab's pieces: its filters' choices, the country box's completion, the cheapest-per-vendor
panel, header tooltips and the text of its money cells. Thin: the store filters and sorts, the domain and
services compute (price per GB, conversion); this only words and lays them out."""

from __future__ import annotations

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import QCompleter, QHBoxLayout, QLabel, QPushButton, QWidget

from esimdesk.domain import Plan, PlanDetails, money_str, price_per_gb
from esimdesk.domain.countries import country_choices
from esimdesk.domain.units import MB_PER_GB
from esimdesk.services.preferences import VENDOR_TITLES, Rates, convert
from esimdesk.ui.table_model import WindowedModel

# (label, minimum MB over the whole plan); unlimited plans meet any minimum.
DATA_CHOICES = [("Any data", None)] + [(f"≥ {gb} GB", gb * MB_PER_GB) for gb in (1, 3, 5, 10, 20)]
# (label, (min days, max days)): lengths agents sell ("a weekend", "a week", "two weeks", "a month", longer).
DAYS_CHOICES = [("Any length", (None, None)), ("1–3 days", (1, 3)), ("4–7 days", (4, 7)), ("8–15 days", (8, 15)),
                ("16–30 days", (16, 30)), ("31–90 days", (31, 90)), ("Over 90 days", (91, None))]
KIND_CHOICES = [("Any allowance", None), ("Unlimited only", "unlimited"), ("Daily only", "daily"),
                ("Fixed total only", "fixed")]

PRICE_TIP = ("Sorted by currency, then price: amounts in different currencies are never compared as one "
             "number.")
NO_RATES = ("prices compare within one currency only (set exchange rates in File → Settings… → Exchange rates "
            "to see each in your currency)")
PER_GB_TIP = ("Price per GB of the plan's whole data, in the plan's currency: a daily plan's per GB of a day's "
              "allowance × its days. Unlimited plans have none (—). Sorted by currency, then per GB.")
TOPUP_TIP = "Whether the vendor says the plan can be topped up later (\"not stated\": the vendor does not say)"


def vendor_title(vendor: str) -> str:
    return VENDOR_TITLES.get(vendor, vendor)


def price_text(plan: Plan) -> str:
    return f"{money_str(plan.price)} {plan.currency}"


def per_gb_text(plan: Plan) -> str:
    value = price_per_gb(plan)
    return f"{money_str(value)} {plan.currency}" if value is not None else "—"


def topup_text(plan: Plan) -> str:
    return "yes" if plan.topup else "no" if plan.topup is False else "not stated"


def agent_price_text(plan: Plan, rates: Rates) -> str:
    """The price in the agent's currency with the rate's date ("≈ 5.25 EUR · 2026-11-28"); the price itself
    in the agent's own currency; "no rate for HKD" where none is configured."""
    converted = convert(plan.price, plan.currency, rates)
    if converted is None:
        return f"no rate for {plan.currency}"
    amount = f"{money_str(converted.amount)} {converted.currency}"
    return amount if converted.as_of is None else f"≈ {amount} · {converted.as_of.isoformat()}"


def rates_dates(rates: Rates) -> str:
    """The rates' dates, for the column's tooltip: "HKD 2026-11-28, USD 2026-11-27"."""
    return ", ".join(f"{r.currency} {r.as_of.isoformat()}" for r in sorted(rates.by_currency.values(),
                                                                          key=lambda r: r.currency))


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

    tips: dict[str, str] = {}

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            tip = self.tips.get(self.columns[section].sort or self.columns[section].title)
            if tip:
                return tip
        return super().headerData(section, orientation, role)

    def redraw(self) -> None:
        """Every loaded row's cells made again (the agent's currency or rates changed): O(rows on screen)."""
        self._cells.clear()
        if self.total:
            self.dataChanged.emit(self.index(0, 0), self.index(self.total - 1, len(self.columns) - 1),
                                  [Qt.ItemDataRole.DisplayRole])
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, len(self.columns) - 1)


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

    def show_cheapest(self, country: str, found: list[tuple[int, Plan]], rates: Rates | None = None) -> None:
        self._drop_buttons()
        if not found:
            self.title.setText(f"No plan for {country} matches these filters.")
        else:
            self.title.setText(f"Cheapest in {country}:")
        for i, (rowid, plan) in enumerate(found):
            button = QPushButton(f"{vendor_title(plan.vendor)} {price_text(plan)}")
            button.setFlat(True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            converted = agent_price_text(plan, rates) if rates is not None and rates.agent_currency else None
            button.setToolTip(f"{plan.name} · {plan.validity_days} days" + (f" · {converted}" if converted else "")
                              + "\nClick to select it")
            button.clicked.connect(lambda _c=False, r=rowid, p=plan: self.planChosen.emit(r, p))
            self.row.insertWidget(1 + i, button)
            self.buttons.append(button)

    def clear(self) -> None:
        self._drop_buttons()
        self.title.setText("Cheapest per vendor: choose a country")
