"""Customer cards in the window: Print…, Save as PDF…, Copy image and Show to customer (issue 14).

One card layout (``services.card_paint.paint_card``) is drawn on every surface: the print preview's QPrinter
(several cards per page, as ``write_pdf`` lays them out), the PDF, the clipboard image. The views only hold
a ``CardActions`` bar and tell it which eSIM or order is selected; loading cards and writing the PDF run
in worker threads through the Desk service.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PySide6.QtCore import QLocale, QRectF, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QColor,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QPageSize,
    QPainter,
    QPaintEvent,
)
from PySide6.QtPrintSupport import QPrinter, QPrintPreviewDialog
from PySide6.QtWidgets import QDialog, QFileDialog, QHBoxLayout, QToolButton, QWidget

from esimdesk.domain import EsimdeskError
from esimdesk.services.card_paint import (
    card_image,
    card_rects,
    left_out_sentences,
    paint_card,
    paint_install_links,
    paint_qr,
)
from esimdesk.services.cards import card_install_links

log = logging.getLogger("esimdesk.ui")

NO_CODE = "No activation code from the vendor yet: sync again once the eSIM is allocated"


# --- one layout for the printer ------------------------------------------------------------------
def page_name(printer: QPrinter) -> str:
    """The ``services.card_paint`` page kind of the printer's paper: "Letter", "label" (small paper) or "A4"."""
    size = printer.pageLayout().pageSize()
    if size.id() == QPageSize.PageSizeId.Letter:
        return "Letter"
    mm = size.size(QPageSize.Unit.Millimeter)
    return "label" if max(mm.width(), mm.height()) < 200 else "A4"


def paint_cards(printer: QPrinter, cards: list) -> int:
    """Paint the cards on a QPrinter (preview, printer or PDF-format printer) as ``write_pdf`` lays them
    out (``services.card_paint.card_rects``: whole cards, several per page); returns the pages painted."""
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError("the printer could not be opened")
    pages = 0
    try:
        dpi = printer.resolution()
        paint = printer.pageLayout().paintRectPixels(dpi)
        area = QRectF(0, 0, paint.width(), paint.height())  # the painter's origin is the printable corner
        rects = card_rects(area, page_name(printer), dpi)
        for i in range(0, len(cards), len(rects)):
            if pages:
                printer.newPage()
            for card, rect in zip(cards[i:i + len(rects)], rects, strict=False):
                paint_card(painter, rect, card)
            pages += 1
    finally:
        painter.end()
    return pages


def pdf_page() -> str:
    """Letter where the desk's locale measures in US units, else A4."""
    return "Letter" if QLocale().measurementSystem() == QLocale.MeasurementSystem.ImperialUSSystem else "A4"


def print_preview(cards: list, parent: QWidget | None = None) -> QPrintPreviewDialog:
    """The print preview of the cards (its Print button opens the system's print dialog)."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintPreviewDialog(printer, parent)
    dialog.setWindowTitle(f"Print {len(cards)} customer card{'s' if len(cards) != 1 else ''}")
    dialog.resize(1000, 760)
    dialog.paintRequested.connect(lambda p: paint_cards(p, cards))
    dialog.cards = cards
    dialog.printer = printer  # the dialog does not own it
    return dialog


def cards_image(cards: list, width_px: int = 1200) -> QImage:
    """One card's image, or the cards of an order one under the other (on the clipboard as one image)."""
    images = [card_image(c, width_px) for c in cards]
    if len(images) == 1:
        return images[0]
    out = QImage(max(i.width() for i in images), sum(i.height() for i in images), QImage.Format.Format_RGB32)
    out.fill(QColor("white"))
    painter = QPainter(out)
    y = 0
    for image in images:
        painter.drawImage(0, y, image)
        y += image.height()
    painter.end()
    return out


# --- the customer's view ---------------------------------------------------------------------------
class CustomerView(QDialog):
    """The QR code as big as the screen allows, black on white, with the plan's name, and beside it the
    "Install in one tap" panel (the iPhone and Android links' QR codes, which the customer's camera app
    opens); Esc closes, the arrow keys or Space go through the cards of an order."""

    def __init__(self, cards: list, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.FramelessWindowHint)
        self.setWindowTitle("Show to customer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setStyleSheet("background: white;")
        self.cards = cards
        self.index = 0
        self.link_squares: list = []  # where the link codes were last drawn (iPhone, Android)
        self.resize(900, 900)

    @property
    def card(self):
        return self.cards[self.index]

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt's name)
        step = {Qt.Key.Key_Right: 1, Qt.Key.Key_Space: 1, Qt.Key.Key_PageDown: 1,
                Qt.Key.Key_Left: -1, Qt.Key.Key_PageUp: -1}.get(Qt.Key(event.key()))
        if step and len(self.cards) > 1:
            self.index = (self.index + step) % len(self.cards)
            self.update()
        else:
            super().keyPressEvent(event)  # Esc rejects (closes)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("white"))
        font = painter.font()
        text_h = max(24, self.height() // 14)
        height = self.height() - 2 * text_h - 60
        links_w = max(10, min(height * 0.42, self.width() * 0.24))
        side = max(10, min(self.width() - 100 - links_w, height))
        y0 = 20 + text_h
        x0 = (self.width() - side - 40 - links_w) / 2
        paint_qr(painter, QRectF(x0, y0, side, side), self.card.activation_code)
        self.link_squares = paint_install_links(painter, QRectF(x0 + side + 40, y0, links_w, side),
                                                card_install_links(self.card))
        painter.setPen(QColor("black"))
        font.setPixelSize(int(text_h * 0.7))
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(QRectF(0, 10, self.width(), text_h), Qt.AlignmentFlag.AlignCenter, self.card.plan_name or "")
        font.setBold(False)
        more = f"   ·   card {self.index + 1} of {len(self.cards)} (← →)" if len(self.cards) > 1 else ""
        line = f"Scan the large code with the phone's camera or in Settings → Add eSIM   ·   Esc closes{more}"
        px = text_h * 0.4
        while True:  # the whole sentence on a narrow screen too
            font.setPixelSize(max(8, int(px)))
            if px <= 8 or QFontMetricsF(font).horizontalAdvance(line) <= self.width() - 20:
                break
            px *= 0.92
        painter.setFont(font)
        painter.drawText(QRectF(0, y0 + side + 10, self.width(), text_h), Qt.AlignmentFlag.AlignCenter, line)
        painter.end()


# --- the actions bar in Fleet and Orders ---------------------------------------------------------
class CardActions(QWidget):
    """Print…, Save as PDF…, Copy image, Show to customer for the selected eSIM or order."""

    cardsSaved = Signal(str, int)  # path, cards written
    cardsCopied = Signal(int)  # cards in the clipboard image
    cardsPrinted = Signal(int)  # cards sent to the printer
    customerViewOpened = Signal(str)  # the target shown
    cardsFailed = Signal(str)  # one sentence: why nothing was produced
    charactersLeftOut = Signal(str)  # after a card was made: which characters it lacks (no font draws them)

    def __init__(self, desk, parent: QWidget | None = None):
        super().__init__(parent)
        self.desk = desk
        self.target: str | None = None
        self.print_action = QAction("Print…", self)
        self.pdf_action = QAction("Save as PDF…", self)
        self.copy_action = QAction("Copy image", self)
        self.show_action = QAction("Show to customer", self)
        self.actions_ = (self.print_action, self.pdf_action, self.copy_action, self.show_action)
        self.print_action.triggered.connect(lambda: self._start(self.print_cards()))
        self.pdf_action.triggered.connect(lambda: self._start(self.save_pdf()))
        self.copy_action.triggered.connect(lambda: self._start(self.copy_image()))
        self.show_action.triggered.connect(lambda: self._start(self.show_to_customer()))
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for action in self.actions_:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            row.addWidget(button)
        row.addStretch(1)
        self.task: asyncio.Task | None = None
        self.preview: QPrintPreviewDialog | None = None
        self.customer_view: CustomerView | None = None
        self.left_out: list[str] = []  # sentences for the last cards made
        self.set_target(None, "Select an eSIM or an order first")

    def set_target(self, target: str | None, unavailable: str | None = None) -> None:
        """What the actions act on (an ICCID or an order id/reference), or None and why not."""
        self.target = target if not unavailable else None
        for action in self.actions_:
            action.setEnabled(self.target is not None)
            action.setToolTip(unavailable or f"{action.text().rstrip('…')}: the customer card(s) of {target}")
        for button in self.findChildren(QToolButton):
            button.setToolTip(button.defaultAction().toolTip())

    def _start(self, coro) -> None:
        self.task = asyncio.ensure_future(coro)

    async def _cards(self) -> list:
        if self.target is None:
            return []
        try:
            cards = await self.desk.cards(self.target)
        except EsimdeskError as exc:
            self.cardsFailed.emit(str(exc))
        except Exception as exc:
            log.exception("customer cards failed")
            self.cardsFailed.emit(f"The customer card could not be made: {exc}")
            return []
        self.left_out = left_out_sentences(cards)
        return cards

    def _say_left_out(self) -> None:
        # After the success message, so the agent reads both: an emoji in a reference is an empty box else.
        if self.left_out:
            sentence = "; ".join(self.left_out)
            self.charactersLeftOut.emit(sentence[0].upper() + sentence[1:] + ".")

    async def print_cards(self) -> None:
        cards = await self._cards()
        if not cards:
            return
        self.preview = print_preview(cards, self.window())
        if self.preview.exec() == QDialog.DialogCode.Accepted:
            self.cardsPrinted.emit(len(cards))
            self._say_left_out()
        self.preview.deleteLater()
        self.preview = None

    async def save_pdf(self) -> str | None:
        cards = await self._cards()
        if not cards:
            return None
        name = f"esim-{self.target}.pdf".replace("/", "-")
        path, _ = QFileDialog.getSaveFileName(self.window(), "Save customer cards as PDF",
                                              str(Path.home() / name), "PDF (*.pdf)")
        if not path:
            return None
        if not path.lower().endswith(".pdf"):
            path += ".pdf"
        try:
            written = await self.desk.cards_pdf(cards, path, pdf_page())
        except (EsimdeskError, OSError) as exc:
            self.cardsFailed.emit(f"The PDF was not saved: {exc}")
            return None
        log.info("%d card(s) on %s page(s) saved to %s", len(cards), written, path)
        self.cardsSaved.emit(path, len(cards))
        self._say_left_out()
        return path

    async def copy_image(self) -> QImage | None:
        cards = await self._cards()
        if not cards:
            return None
        image = cards_image(cards)
        QGuiApplication.clipboard().setImage(image)
        self.cardsCopied.emit(len(cards))
        self._say_left_out()
        return image

    async def show_to_customer(self) -> CustomerView | None:
        cards = await self._cards()
        if not cards:
            return None
        if self.customer_view is not None:
            self.customer_view.close()
        view = CustomerView(cards, self.window())
        view.destroyed.connect(lambda: setattr(self, "customer_view", None))
        self.customer_view = view
        view.showMaximized()
        view.raise_()
        view.activateWindow()
        self.customerViewOpened.emit(self.target or "")
        self._say_left_out()
        return view
