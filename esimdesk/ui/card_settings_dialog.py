"""File → Card settings: the reseller's name and logo printed on every customer card (issue 14).

Both go to settings.json through esimdesk.services.cards (the logo as the path of a PNG, JPEG or SVG file,
read when cards are made); nothing secret is asked or kept here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from esimdesk.domain import EsimdeskError
from esimdesk.services.cards import (
    DEFAULT_RESELLER,
    card_settings,
    load_logo,
    logo_error,
    paint_logo,
    save_card_settings,
)

PREVIEW = (160, 64)  # px: the preview box of the logo


class CardSettingsDialog(QDialog):
    def __init__(self, home, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Card settings")
        self.home = home
        layout = QVBoxLayout(self)
        note = QLabel("The reseller's name and logo are printed on every customer card.")
        note.setWordWrap(True)
        layout.addWidget(note)
        form = QFormLayout()
        self.error = QLabel()  # why Save did not save, or why a chosen file is no logo
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # an error quotes a path
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b00020;")
        self.error.hide()
        try:
            name, logo = card_settings(home)
        except EsimdeskError as exc:  # an unreadable settings file: say so, Save then reports it too
            name, logo = "", ""
            self._show_error(str(exc))
        self.name = QLineEdit(name)
        self.name.setPlaceholderText(DEFAULT_RESELLER)
        form.addRow("Reseller name", self.name)
        self.logo_path = logo
        self.preview = QLabel()
        self.preview.setFixedSize(*PREVIEW)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setStyleSheet("border: 1px solid #c0c0c0; background: white;")
        self.path_label = QLabel()
        self.path_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_label.setWordWrap(True)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.clicked.connect(self.choose_logo)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_logo)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(self.choose_button)
        buttons_row.addWidget(self.remove_button)
        buttons_row.addStretch(1)
        logo_box = QVBoxLayout()
        logo_box.addWidget(self.preview)
        logo_box.addWidget(self.path_label)
        logo_box.addLayout(buttons_row)
        form.addRow("Logo", logo_box)
        layout.addLayout(form)
        layout.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._show_logo()

    def _show_error(self, text: str) -> None:
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
            self._show_error(f"The logo cannot be used: {problem}")
            return
        self.error.hide()
        self.logo_path = path
        self._show_logo()

    def remove_logo(self) -> None:
        self.logo_path = ""
        self.error.hide()
        self._show_logo()

    def save(self) -> None:
        try:
            save_card_settings(self.home, self.name.text(), self.logo_path or None)
        except EsimdeskError as exc:
            self._show_error(str(exc))
            return
        self.error.hide()
        self.accept()
