"""Settings → Cards: the reseller's name and logo printed on every customer card (issue 14).

The form is ui/card_settings.ui (compiled: esimdesk/ui/forms). Both values go to settings.json through
esimdesk.services.card_settings when the Settings dialog saves (the logo as the path of a PNG, JPEG or SVG file,
read when cards are made); nothing secret is asked or kept here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import QCheckBox, QFileDialog, QWidget

from esimdesk.domain import EsimdeskError
from esimdesk.services.card_paint import paint_logo
from esimdesk.services.card_settings import DEFAULT_RESELLER, card_settings, load_logo, logo_error, show_price
from esimdesk.ui.forms.ui_card_settings import Ui_CardSettingsForm

PREVIEW = (160, 64)  # px: the preview box of the logo (the .ui's fixed size of ``preview``)


class CardSettingsForm(QWidget, Ui_CardSettingsForm):
    def __init__(self, home, parent=None):
        super().__init__(parent)
        self.setupUi(self)
        self.home = home
        self.error.hide()
        try:
            name, logo = card_settings(home)
        except EsimdeskError as exc:  # an unreadable settings file: say so, Save then reports it too
            name, logo = "", ""
            self.show_error(str(exc))
        self.name.setText(name)
        self.name.setPlaceholderText(DEFAULT_RESELLER)
        self.logo_path = logo
        self.show_price = QCheckBox("Print the price the customer paid on the card", self)
        self.show_price.setChecked(show_price(home))
        self.form.addRow("", self.show_price)
        self.choose_button.clicked.connect(self.choose_logo)
        self.remove_button.clicked.connect(self.remove_logo)
        self._show_logo()

    def values(self) -> tuple[str, str | None, bool]:
        """(reseller name, logo path or None, the price on the card) as the agent left them, for save_card_settings."""
        return self.name.text(), self.logo_path or None, self.show_price.isChecked()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _show_logo(self) -> None:
        data = load_logo(self.logo_path) if self.logo_path else None
        self.path_label.setText(self.logo_path or "No logo")
        self.remove_button.setEnabled(bool(self.logo_path))
        if not data:
            self.preview.clear()
            self.preview.setText("No logo" if not self.logo_path else "Cannot read the logo")
            return
        image = QImage(*PREVIEW, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        try:
            drawn = paint_logo(painter, image.rect().toRectF(), data)
        finally:
            painter.end()
        if drawn:
            self.preview.setPixmap(QPixmap.fromImage(image))
        else:
            self.preview.clear()
            self.preview.setText("Cannot draw the logo")

    def choose_logo(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the reseller's logo", self.logo_path or "",
                                              "Images (*.png *.jpg *.jpeg *.svg)")
        if not path:
            return
        problem = logo_error(path)
        if problem:
            self.show_error(f"The logo cannot be used: {problem}")
            return
        self.error.hide()
        self.logo_path = path
        self._show_logo()

    def remove_logo(self) -> None:
        self.logo_path = ""
        self.error.hide()
        self._show_logo()
