"""Issue 26, case 8, in the window: a key pasted into Settings with a zero-width space after it is refused
on Save in a sentence naming the character and its position (nothing written, the dialog stays open), and
Test connection says the same, never a UnicodeEncodeError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from esimdesk.sandbox import SANDBOX_CREDENTIALS
from esimdesk.services.config import Accounts, settings_path
from esimdesk.ui.settings_dialog import SettingsDialog

ZWSP = "\u200b"
KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]


@pytest.fixture
def home():
    path = Path(os.environ["ESIMDESK_HOME"])  # tests/conftest.py points it at tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _dialog_closing_is_not_the_app_quitting(qapp):
    qapp.setQuitOnLastWindowClosed(False)
    yield
    qapp.setQuitOnLastWindowClosed(True)


def test_settings_refuses_a_key_with_a_zero_width_space_in_words(loop, qtbot, home, sandbox, memory_keyring):
    dialog = SettingsDialog(home, Accounts())
    qtbot.addWidget(dialog)
    dialog.show()
    box = dialog.boxes["roumio"]
    box.base_url.setText(sandbox.urls["roumio"])
    box.secrets["KEY"].setText(KEY + ZWSP)
    words = (f"he Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position {len(KEY) + 1}: "
             "paste it again without it")

    result = loop.run_until_complete(dialog.test_connection("roumio"))
    assert not result.ok and words in box.test_result.text()

    assert loop.run_until_complete(dialog.save()) is False
    assert not dialog.error.isHidden() and words in dialog.error.text()
    assert "nothing was saved" in dialog.error.text()
    assert dialog.isVisible() and dialog.result() != SettingsDialog.DialogCode.Accepted
    assert memory_keyring.store == {} and not settings_path(home).exists()
