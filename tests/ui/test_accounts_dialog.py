"""File → Accounts without a keychain: the dialog says so and how to get one, and nothing is half saved."""

from __future__ import annotations

import json

import keyring
import keyring.backends.fail
import keyring.errors
import pytest

from esimdesk.services.config import Accounts, load_accounts, settings_path
from esimdesk.ui.accounts_dialog import AccountsDialog
from tests.conftest import MemoryKeyring


class RefusingKeyring(MemoryKeyring):
    """Takes the first secret, then refuses (a locked keychain mid-save)."""

    def set_password(self, service, username, password):
        if self.store:
            raise keyring.errors.PasswordSetError("the keychain is locked")
        super().set_password(service, username, password)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    settings_path(home).write_text(json.dumps({"urls": {"roamify": "http://127.0.0.1:9/roamify"}}, indent=2))
    return home


def fill(dialog) -> None:
    url, secrets = dialog.fields["roumio"]
    url.setText("http://127.0.0.1:9/roumio/v1")
    secrets["KEY"].setText("k-roumio-1")
    url, secrets = dialog.fields["flexiroam"]
    url.setText("")  # back to the default: would drop nothing here, but is a settings change too
    secrets["KEY"].setText("k-flexiroam-2")


@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring, RefusingKeyring])
def test_save_without_a_keychain_says_so_and_writes_nothing(qtbot, home, backend):
    before = settings_path(home).read_bytes()
    ring = backend()
    keyring.set_keyring(ring)
    dialog = AccountsDialog(home, Accounts())
    qtbot.addWidget(dialog)
    dialog.show()
    fill(dialog)
    dialog.save()  # no exception escapes
    assert settings_path(home).read_bytes() == before
    assert dialog.error.isVisible()
    text = dialog.error.text()
    assert "keychain" in text and "keyrings.alt" in text and "ESIMDESK_" in text
    assert "GNOME Keyring" in text and "KWallet" in text
    assert dialog.result() != dialog.DialogCode.Accepted and dialog.isVisible()
    if isinstance(ring, MemoryKeyring):
        assert ring.store == {}  # the one secret it took was taken back


def test_save_with_a_keychain_trims_pasted_credentials(qtbot, home, memory_keyring):
    dialog = AccountsDialog(home, Accounts())
    qtbot.addWidget(dialog)
    url, secrets = dialog.fields["roumio"]
    url.setText("  http://127.0.0.1:9/roumio/v1 \n")
    secrets["KEY"].setText("  k-pasted-7\r\n")
    _, flexiroam = dialog.fields["flexiroam"]
    flexiroam["KEY"].setText(" \r\n ")  # blank: keeps what is stored, stores nothing
    dialog.save()
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.error.isHidden()
    assert memory_keyring.store == {("esimdesk", "roumio.key"): "k-pasted-7"}
    settings = json.loads(settings_path(home).read_text())
    assert settings["urls"]["roumio"] == "http://127.0.0.1:9/roumio/v1"
    assert load_accounts(home).get("roumio").secrets == {"KEY": "k-pasted-7"}
