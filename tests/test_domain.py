from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from esimdesk.domain import (
    Esim,
    EsimStatus,
    Order,
    OrderStatus,
    Plan,
    ValidationError,
    VendorConfig,
    validate_iccid,
)
from esimdesk.domain.iccid import luhn_ok


def test_plan_requires_decimal_and_int_mb():
    with pytest.raises(TypeError):
        Plan("roumio", "P1", "x", ("JP",), 1024, 7, 5.0, "USD")
    with pytest.raises(TypeError):
        Plan("roumio", "P1", "x", ("JP",), 1024.5, 7, Decimal("5"), "USD")
    plan = Plan("roumio", "P1", "Japan 1GB", ["JP"], None, 7, Decimal("5"), "USD")
    assert plan.to_json()["price"] == "5.00" and plan.to_json()["data_mb"] is None


def test_times_are_normalised_to_utc_and_naive_refused():
    cst = timezone(timedelta(hours=8))
    esim = Esim("microesim", "8900", EsimStatus.NEW, "x", expires_at=datetime(2024, 8, 16, 14, 0, tzinfo=cst))
    assert esim.expires_at == datetime(2024, 8, 16, 6, 0, tzinfo=UTC)
    assert esim.expires_at.tzinfo is UTC
    with pytest.raises(ValueError):
        Esim("microesim", "8900", EsimStatus.NEW, "x", expires_at=datetime(2024, 8, 16))


def test_order_json_contract():
    order = Order("roumio", "B1", "txn", OrderStatus.COMPLETED, datetime(2024, 1, 1, tzinfo=UTC), Decimal("15.7"), "USD",
                  esims=[Esim("roumio", "8943", "NEW", "GOT_RESOURCE/RELEASED", activation_code="LPA:1$a$b")])
    doc = order.to_json()
    assert doc == {"vendor": "roumio", "order_id": "B1", "reference": "txn", "status": "COMPLETED",
                   "created_at": "2024-01-01T00:00:00+00:00", "total": "15.70", "currency": "USD",
                   "esims": [{"iccid": "8943", "activation_code": "LPA:1$a$b"}]}


@pytest.mark.parametrize("iccid", ["89852246280001113117", "8944 5000 0000 0000 0019"])
def test_valid_iccids(iccid):
    digits = validate_iccid(iccid)
    assert luhn_ok(digits)


@pytest.mark.parametrize(
    "iccid, words",
    [("89852246280001113119", "check digit"), ("12345678901234567890", "start with 89"), ("8985", "18 to 22"),
     ("8985abc", "digits only")],
)
def test_invalid_iccids_say_why(iccid, words):
    with pytest.raises(ValidationError, match=words):
        validate_iccid(iccid)


def test_vendor_config_hides_secrets():
    cfg = VendorConfig("roumio", "http://x", {"KEY": "super-secret-value"})
    assert "super-secret-value" not in repr(cfg) and "super-secret-value" not in str(cfg)
