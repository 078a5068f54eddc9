"""Simulated Roamify exchange-rates module (roamify-support.md §4): ``GET /api/rates`` and ``/api/currencies``.

Roamify documents the requests only, not the answers; the sandbox answers in Roamify's usual envelope,
the first of the shapes the adapter accepts (esimdesk/vendors/roamify_rates.py):
``{"status": "success", "data": {"source": "USD", "target": "EUR", "rate": 0.93414, "timestamp": "…Z"}}``
and ``{"status": "success", "data": ["AUD", "BRL", …]}``. The rates are the ECB's cross rates (ecb.py) of
the last working day on or before Roamify's clock's today, to 6 significant digits, stamped with its clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from esimdesk.sandbox.ecb import BASE_RATES, cross_rate, last_working_day

CURRENCIES = sorted([*BASE_RATES, "EUR"])


def rate_answer(source: str | None, target: str | None, now: float) -> tuple[dict[str, Any], int]:
    """(body, HTTP status) of ``GET /api/rates?source=&target=`` at ``now`` (epoch seconds)."""
    if not source or not target:
        return {"status": "error", "message": "source and target are required"}, 400
    source, target = source.strip().upper(), target.strip().upper()
    for code in (source, target):
        if code not in CURRENCIES:
            return {"status": "error", "message": f"Currency {code} is not supported"}, 400
    moment = datetime.fromtimestamp(now, UTC)
    rate = cross_rate(last_working_day(moment.date()), source, target)
    assert rate is not None  # both codes are listed
    return {"status": "success", "data": {
        "source": source, "target": target, "rate": float(f"{rate:.6g}"),
        "timestamp": moment.replace(microsecond=0).isoformat().replace("+00:00", "Z"),
    }}, 200


def currencies_answer() -> dict[str, Any]:
    return {"status": "success", "data": list(CURRENCIES)}
