"""Input and output that meet the agent halfway (issue 19): data amounts as people read them, one rule
for the command line and the window; countries typed as alpha-2, alpha-3 or a name; what each vendor
does not offer, in one sentence, from the adapters' capabilities."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from esimdesk.domain import OrderStatus, ValidationError, data_amount
from esimdesk.domain.countries import country_code, resolve_country


@pytest.mark.parametrize("mb, text", [
    (None, "unlimited"), (0, "0 MB"), (500, "500 MB"), (1000, "1,000 MB"), (1023, "1,023 MB"),
    (1024, "1 GB"), (1280, "1.3 GB"), (1536, "1.5 GB"), (5000, "4.9 GB"), (15000, "14.6 GB"),
    (20480, "20 GB"), (102400, "100 GB"), (1228800, "1,200 GB"),
])
def test_data_amounts_as_people_read_them(mb, text):
    assert data_amount(mb) == text


def test_unlimited_can_be_said_shorter():
    assert data_amount(None, "∞") == "∞"
    assert data_amount(2048, "∞") == "2 GB"


@given(st.integers(min_value=0, max_value=10**8))
def test_never_more_than_one_decimal(mb):
    text = data_amount(mb)
    assert re.fullmatch(r"\d{1,3}(,\d{3})* MB|\d{1,3}(,\d{3})*(\.\d)? GB", text), text
    if text.endswith(" GB"):
        assert abs(float(text[:-3].replace(",", "")) - mb / 1024) <= 0.05 + 1e-9
        assert not text.endswith(".0 GB")


def test_the_cli_and_the_window_use_the_one_rule():
    from esimdesk.cli.commands import _fmt_mb
    from esimdesk.ui.text import mb_text

    for mb in (None, 500, 1024, 5000, 15000):
        assert _fmt_mb(mb) == mb_text(mb) == data_amount(mb)
    assert mb_text(None, "∞") == "∞"


@pytest.mark.parametrize("text", ["JP", "jp", " jP ", "JPN", "jpn", "Japan", "japan", "JAPAN", "392"])
def test_a_country_in_any_form(text):
    assert resolve_country(text) == "JP"
    assert country_code(text) == "JP"


@pytest.mark.parametrize("text, code", [
    ("Türkiye", "TR"), ("Turkey", "TR"), ("UK", "GB"), ("United Kingdom", "GB"), ("GBR", "GB"),
    ("Vietnam", "VN"), ("Viet Nam", "VN"), ("South Korea", "KR"), ("Russia", "RU"), ("usa", "US"),
    ("Bolivia", "BO"), ("Iran", "IR"),
])
def test_names_agents_type(text, code):
    assert resolve_country(text) == code


@pytest.mark.parametrize("text, message", [
    ("Jpan", "'Jpan' is not a country; did you mean: Japan (JP)?"),
    ("Germny", "'Germny' is not a country; did you mean: Germany (DE)?"),
    ("Korea", "'Korea' is not a country; did you mean: South Korea (KR), North Korea (KP)?"),
    ("XX", "'XX' is not a country: give its name or ISO 3166 code (e.g. Japan, JP or JPN)"),
    ("XXX", "'XXX' is not a country"),
    ("", "'' is not a country"),
])
def test_an_unknown_country_is_refused_with_the_closest_matches(text, message):
    with pytest.raises(ValidationError) as exc:
        resolve_country(text)
    assert str(exc.value).startswith(message)
    assert country_code(text) is None


# --- what each vendor offers -------------------------------------------------------------------

def test_gaps_follow_the_adapters_capabilities():
    from esimdesk.services import offers
    from esimdesk.vendors import Capability, adapter_class

    assert offers.gap("flexiroam", "plans") == "Flexiroam offers no plans through its API"
    assert offers.gap("flexiroam", "orders") == "Flexiroam takes no orders through its API"
    assert offers.gap("microesim", "orders").startswith("MicroESIM lists no orders through its API")
    assert offers.gap("roamify", "plans") is None and offers.gap("roamify", "esims") is None  # its current API
    for vendor in ("roumio", "roamify", "microesim", "flexiroam"):
        caps = adapter_class(vendor).capabilities
        assert (offers.gap(vendor, "plans") is None) == (Capability.PLANS in caps)
        assert (offers.gap(vendor, "orders") is None) == (Capability.LIST_ORDERS in caps)
    assert offers.gaps("plans", ["roumio", "microesim"]) == {}


def test_a_completed_order_without_iccid_says_where_to_get_it():
    from datetime import UTC, datetime
    from decimal import Decimal

    from esimdesk.domain import Esim, EsimStatus, Order
    from esimdesk.services.offers import order_note

    def order(vendor, status, esims=()):
        return Order(vendor=vendor, order_id="o-1", reference="r", status=status,
                     created_at=datetime(2026, 1, 1, tzinfo=UTC), total=Decimal("5"), currency="USD",
                     esims=tuple(esims))

    note = order_note(order("roamify", OrderStatus.COMPLETED))
    assert note.startswith("Roamify's answer carries no ICCID or activation code yet: get them from "
                           "Roamify's Partner Portal")
    assert order_note(order("roamify", OrderStatus.ALLOCATING)) is None
    esim = Esim(vendor="roumio", iccid="8985224628000111311", status=EsimStatus.NEW, vendor_status="new",
                activation_code="LPA:1$x$y")
    assert order_note(order("roumio", OrderStatus.COMPLETED, [esim])) is None
