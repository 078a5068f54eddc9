"""The Designer forms (ui/*.ui) are compiled into checked-in Python (esimdesk/ui/forms): each module must
be what pyside6-uic makes of its form today, so an edit in Designer is never lost or left uncompiled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("compile_forms", ROOT / "tools" / "compile_forms.py")
compile_forms = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compile_forms)

FORMS = sorted((ROOT / "ui").glob("*.ui"))


def test_every_form_has_its_module_and_no_module_lacks_its_form():
    assert {f.stem for f in FORMS} >= {"settings_dialog", "vendor_account", "card_settings"}
    modules = {p.name for p in (ROOT / "esimdesk" / "ui" / "forms").glob("ui_*.py")}
    assert modules == {f"ui_{f.stem}.py" for f in FORMS}


@pytest.mark.parametrize("form", FORMS, ids=[f.stem for f in FORMS])
def test_checked_in_module_matches_a_fresh_uic(form):
    fresh = compile_forms.normalised(compile_forms.compile_form(form))
    assert "class Ui_" in fresh
    checked_in = compile_forms.normalised(compile_forms.target(form).read_text())
    assert checked_in == fresh, f"{compile_forms.target(form).name} is stale: run python tools/compile_forms.py"
