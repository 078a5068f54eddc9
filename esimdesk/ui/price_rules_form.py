"""Settings → Prices: the reseller's price rules, one row each (vendor, region, markup %, fixed amount,
rounding). Layout only: the rules are read and checked by services/currency.py (``parse_rule``) and
applied by domain/pricing.py; the most specific rule that matches a plan makes its selling price."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from esimdesk.domain import VENDOR_TITLES, VENDORS
from esimdesk.domain.pricing import ROUNDINGS, PriceRule
from esimdesk.services.currency import parse_rule

COLUMNS = ("Vendor", "Region", "Markup %", "Fixed amount", "Rounding")


class PriceRulesForm(QWidget):
    def __init__(self, rules: tuple[PriceRule, ...], parent=None):
        super().__init__(parent)
        note = QLabel("The customer's price is the cost in your currency, plus the markup, plus the fixed amount, "
                      "rounded up. The most specific rule applies: vendor and region, then region, then vendor, then "
                      "a rule for every plan. Region: a country (Japan, JP) or \"regional\" / \"global\" bundles. "
                      "Without a rule a plan sells at cost.")
        note.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setObjectName("price_rules")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        add, remove = QPushButton("Add rule", self), QPushButton("Remove rule", self)
        add.clicked.connect(lambda: self.add_row())
        remove.clicked.connect(self.remove_row)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        for rule in rules:
            self.add_row(rule)

    def add_row(self, rule: PriceRule | None = None) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        vendor = QComboBox()
        vendor.addItem("Every vendor", "")
        for v in VENDORS:
            vendor.addItem(VENDOR_TITLES[v], v)
        vendor.setCurrentIndex(max(0, vendor.findData(rule.vendor or "")) if rule else 0)
        self.table.setCellWidget(row, 0, vendor)
        texts = ("", "", "") if rule is None else (rule.region or "", f"{rule.markup_pct.normalize():f}",
                                                   f"{rule.fixed:f}" if rule.fixed else "")
        for column, text in enumerate(texts, start=1):
            self.table.setItem(row, column, QTableWidgetItem(text))
        rounding = QComboBox()
        for key, words in ROUNDINGS.items():
            rounding.addItem(words, key)
        rounding.setCurrentIndex(max(0, rounding.findData(rule.rounding)) if rule else 0)
        self.table.setCellWidget(row, 4, rounding)
        return row

    def remove_row(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()} or {self.table.currentRow()}, reverse=True)
        for row in rows:
            if row >= 0:
                self.table.removeRow(row)

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def rules(self) -> list[PriceRule]:
        """The rules as typed, checked (ValidationError in words); a row left empty is no rule."""
        out = []
        for row in range(self.table.rowCount()):
            region, markup, fixed = (self._text(row, c) for c in (1, 2, 3))
            vendor = self.table.cellWidget(row, 0).currentData()
            if not (vendor or region.strip() or markup.strip() or fixed.strip()):
                continue
            out.append(parse_rule(vendor, region, markup, fixed, self.table.cellWidget(row, 4).currentData()))
        return out
