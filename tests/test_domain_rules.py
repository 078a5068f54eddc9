"""The domain's own rules (issue 31, point 3): what each order and action state allows, asked by the window,
the command line, the services and the store from domain/states.py; install links read from the fields of
Esim the adapters fill (domain/activation.py); the card's content without Qt."""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from esimdesk.domain import (
    ACTION_UNFINISHED,
    AWAITING_AGENT,
    MAY_BE_FILED,
    SETTLED,
    UNDECIDED,
    UNFINISHED,
    Esim,
    EsimStatus,
    OrderStatus,
    action_is_open,
    awaits_agent,
    is_undecided,
    is_unfinished,
)
from esimdesk.domain.activation import install_links

ROOT = Path(__file__).resolve().parents[1] / "esimdesk"


def test_every_order_state_is_unfinished_or_settled_once():
    assert set(UNFINISHED) | set(SETTLED) == set(OrderStatus)
    assert not set(UNFINISHED) & set(SETTLED)
    assert set(UNDECIDED) < set(UNFINISHED) and OrderStatus.ALLOCATING not in UNDECIDED
    assert set(MAY_BE_FILED) == {OrderStatus.FAILED, *UNDECIDED}
    assert set(ACTION_UNFINISHED) == {OrderStatus.PENDING, OrderStatus.UNCERTAIN}


@pytest.mark.parametrize("state", list(OrderStatus))
def test_predicates_take_the_state_or_its_stored_text(state):
    assert is_unfinished(state) == is_unfinished(state.value) == (state in UNFINISHED)
    assert is_undecided(state) == is_undecided(state.value) == (state in UNDECIDED)


@dataclass
class _Entry:
    state: OrderStatus
    last_error: str | None = None


def test_an_action_left_to_the_agent_blocks_nothing():
    assert AWAITING_AGENT == "awaiting the agent"  # the text schema v10's trigger compares with
    assert action_is_open(_Entry(OrderStatus.UNCERTAIN, "answer lost: timeout"))
    assert action_is_open(_Entry(OrderStatus.PENDING))
    assert not action_is_open(_Entry(OrderStatus.UNCERTAIN, AWAITING_AGENT))
    assert awaits_agent(_Entry(OrderStatus.UNCERTAIN, AWAITING_AGENT))
    for settled in SETTLED:
        assert not action_is_open(_Entry(settled))


def test_no_state_set_is_spelled_out_of_the_domain():
    """Which states are unfinished or undecided is said once: no tuple of two or more order-state names
    (as strings or OrderStatus members) outside domain/, vendors/ (their own words) and the sandbox."""
    names = {s.value for s in OrderStatus}
    found = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("domain/", "vendors/", "sandbox/")) or rel == "store/migrations.py":
            continue  # migrations: each schema version is SQL frozen as it shipped
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                members = [e.value if isinstance(e, ast.Constant) else e.attr if isinstance(e, ast.Attribute)
                           else None for e in node.elts]
                if sum(m in names for m in members) >= 2:
                    found.append(f"{rel}:{node.lineno}")
    assert not found, found


def _esim(install_url=None, qr_url=None) -> Esim:
    return Esim("microesim", "8900000000000000001", EsimStatus.NEW, "allocated", install_url=install_url,
                qr_url=qr_url)


APPLE = "https://esimsetup.apple.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.example.com$ABC"
ANDROID = "https://esimsetup.android.com/esim_qrcode_provisioning?carddata=LPA:1$smdp.example.com$ABC"


def test_install_links_from_the_fields_the_adapters_fill():
    assert install_links(_esim(APPLE, "https://vendor.example/qr/1.png")) == (APPLE, None)
    assert install_links(_esim(ANDROID)) == (None, ANDROID)
    assert install_links(_esim("https://vendor.example/install/1", ANDROID)) == ("https://vendor.example/install/1",
                                                                                ANDROID)
    assert install_links(_esim("http://esimsetup.apple.com/x")) == (None, None)  # never a plain-http link
    assert install_links(_esim()) == (None, None)


def test_cards_read_no_vendor_json_and_card_content_needs_no_qt():
    """Nothing above vendors/ reads vendor JSON (``raw``) for a card; the card's content and the QR files
    import no Qt (only card_paint paints)."""
    for name in ("cards.py", "qr_codes.py", "card_settings.py"):
        text = (ROOT / "services" / name).read_text(encoding="utf-8")
        assert ".raw" not in text and "PySide6" not in text, name
    code = ("import sys; import esimdesk.services.cards, esimdesk.services.qr_codes; "
            "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
