"""Amounts as people read them: one rule for the command line and the window."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MB_PER_GB = 1024  # the vendors' volumes are binary: 1 GB = 1024 MB


def data_amount(mb: int | None, unlimited: str = "unlimited") -> str:
    """A data volume in whole MB as an agent reads it.

    Below 1 GB in MB ("500 MB"); from 1 GB on in GB with at most one decimal, rounded half up and
    without a trailing ".0" (1024 → "1 GB", 5,000 → "4.9 GB", 15,000 → "14.6 GB"); thousands
    grouped ("1,200 GB"). None is an unlimited plan: ``unlimited`` (e.g. "∞" in a narrow column).
    """
    if mb is None:
        return unlimited
    mb = int(mb)
    if abs(mb) < MB_PER_GB:
        return f"{mb:,} MB"
    gb = (Decimal(mb) / MB_PER_GB).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = f"{gb:,.1f}"
    return f"{text[:-2] if text.endswith('.0') else text} GB"
