"""Small text rules the window's pieces share: amounts of data, times, and vendor or agent strings made safe
for Qt's rich text."""

from __future__ import annotations

import html
from datetime import datetime

from esimdesk.domain import data_amount


def mb_text(mb: int | None, unlimited: str = "unlimited") -> str:
    return data_amount(mb, unlimited)  # one rule for the command line and the window (domain/units.py)


def when_text(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def esc(value) -> str:
    """A vendor's or agent's string (plan name, reference, ICCID, note, message) made safe for rich text:
    ``<b>`` shows as those three characters, never as bold."""
    return html.escape(str(value))


def rich(text: str) -> str:
    """Plain text as rich text that shows exactly those characters, for the widgets that guess the format
    (QMessageBox, QInputDialog's label): a plan named '<b>…' would otherwise switch the guess to HTML."""
    return "<p>" + esc(text).replace("\n", "<br>") + "</p>"
