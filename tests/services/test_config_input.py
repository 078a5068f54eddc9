"""Credentials are trimmed when read (environment, keychain); a blank one counts as absent; saving
without a keychain raises one sentence and writes nothing."""

from __future__ import annotations

import json

import keyring
import keyring.backends.fail
import pytest

from esimdesk.domain import ConfigError
from esimdesk.services.config import (
    KeychainUnavailable,
    keychain_available,
    load_accounts,
    save_account,
    settings_path,
)


def test_environment_credentials_are_trimmed_and_blank_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("ESIMDESK_ROUMIO_KEY", "  rk-123\r\n")
    monkeypatch.setenv("ESIMDESK_FLEXIROAM_KEY", " \r\n\t")
    accounts = load_accounts(tmp_path)
    assert accounts.get("roumio").secrets == {"KEY": "rk-123"}
    assert accounts.get("flexiroam") is None
    assert any(n.startswith("Flexiroam: skipped") for n in accounts.notices)


def test_env_mapping_credentials_are_trimmed(tmp_path):
    accounts = load_accounts(tmp_path, env={"ESIMDESK_ROAMIFY_TOKEN": "tok-9\n", "ESIMDESK_ROUMIO_KEY": "   "})
    assert accounts.get("roamify").secrets == {"TOKEN": "tok-9"}
    assert accounts.get("roumio") is None


def test_keychain_credentials_are_trimmed_and_blank_is_absent(tmp_path, memory_keyring):
    memory_keyring.store[("esimdesk", "roumio.key")] = "rk-from-file\r\n"
    memory_keyring.store[("esimdesk", "flexiroam.key")] = "\r\n"
    accounts = load_accounts(tmp_path)
    assert accounts.get("roumio").secrets == {"KEY": "rk-from-file"}
    assert accounts.get("flexiroam") is None


def test_saving_trims_and_skips_blank(tmp_path, memory_keyring):
    save_account(tmp_path, "microesim", None, {"ACCOUNT": " acc \n", "SECRET": "sec\r\n", "SALT": "   "})
    assert memory_keyring.store == {("esimdesk", "microesim.account"): "acc",
                                    ("esimdesk", "microesim.secret"): "sec"}


def test_saving_without_a_keychain_writes_nothing(tmp_path):
    settings_path(tmp_path).write_text(json.dumps({"urls": {}}))
    before = settings_path(tmp_path).read_bytes()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert not keychain_available()
    with pytest.raises(KeychainUnavailable) as err:
        save_account(tmp_path, "roumio", "http://127.0.0.1:9/x", {"KEY": "k"})
    assert isinstance(err.value, ConfigError)
    assert "keyrings.alt" in str(err.value) and "ESIMDESK_" in str(err.value)
    assert settings_path(tmp_path).read_bytes() == before
    # a URL alone needs no keychain
    save_account(tmp_path, "roumio", "http://127.0.0.1:9/x", {"KEY": "  "})
    assert json.loads(settings_path(tmp_path).read_text())["urls"]["roumio"] == "http://127.0.0.1:9/x"
    # and reading with no keychain is "no credentials", not a traceback
    assert load_accounts(tmp_path).enabled == []
