"""Issue 26, case 8, the keychain path: a credential with a character no vendor key has (a zero-width space
pasted after it) is refused when it is set, in a sentence naming the character and its position, with
nothing written; one already in the keychain (set with `keyring set`) is refused in words when a vendor
is asked, and Settings' Test connection says the same, never a UnicodeEncodeError."""

from __future__ import annotations

import json

import keyring
import pytest

from esimdesk.domain import ConfigError
from esimdesk.sandbox import SANDBOX_CREDENTIALS
from esimdesk.services.balance import fetch_balances
from esimdesk.services.config import (
    KEYRING_SERVICE,
    load_accounts,
    save_accounts,
    secret_problem,
    settings_path,
    store_secret,
)
from esimdesk.services.connection_check import check_connection
from esimdesk.store import SqliteStore

ZWSP = "\u200b"
KEY = SANDBOX_CREDENTIALS["roumio"]["KEY"]


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_secret_problem_names_the_character_and_its_position_and_trims_as_before():
    assert secret_problem("roumio", "KEY", KEY + ZWSP) == (
        f"the Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position {len(KEY) + 1}: paste it "
        "again without it")
    assert secret_problem("microesim", "SECRET", "ab" + ZWSP + "cd").startswith(
        "the MicroESIM secret has an invisible character U+200B (ZERO WIDTH SPACE) at position 3")
    # Surrounding whitespace (a CR/LF pasted from a file) is trimmed, as it always was: no refusal.
    assert secret_problem("roumio", "KEY", f"  {KEY}\r\n") is None
    assert secret_problem("roumio", "KEY", "   ") is None  # blank: absent, not refused


def test_saving_such_a_key_is_refused_in_words_and_nothing_is_written(home, memory_keyring):
    settings_path(home).write_text(json.dumps({"urls": {"roamify": "http://127.0.0.1:9/roamify"}}, indent=2))
    before = settings_path(home).read_bytes()
    with pytest.raises(ConfigError) as info:
        save_accounts(home, {"flexiroam": (None, {"KEY": "a-good-flexiroam-key"}),
                             "roumio": ("http://127.0.0.1:9/v1", {"KEY": KEY + ZWSP})})
    assert str(info.value) == (
        f"The Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position {len(KEY) + 1}: paste it "
        "again without it; nothing was saved.")
    assert memory_keyring.store == {}  # all or nothing: the good key was not kept either
    assert settings_path(home).read_bytes() == before
    with pytest.raises(ConfigError, match=r"U\+200B \(ZERO WIDTH SPACE\) at position 4"):
        store_secret("roumio", "KEY", "abc" + ZWSP)
    assert memory_keyring.store == {}


def test_a_non_ascii_letter_is_refused_too(home, memory_keyring):
    with pytest.raises(ConfigError, match=r"The Roamify token has a character that is not plain ASCII, U\+00E9 "
                                          r"\(LATIN SMALL LETTER E WITH ACUTE\) at position 2"):
        save_accounts(home, {"roamify": (None, {"TOKEN": "réal-token"})})
    assert memory_keyring.store == {}


async def test_a_key_already_in_the_keychain_is_refused_in_words_when_the_vendor_is_asked(home, sandbox):
    keyring.set_password(KEYRING_SERVICE, "roumio.key", KEY + ZWSP)  # as `keyring set esimdesk roumio.key` would
    env = {"ESIMDESK_ROUMIO_URL": sandbox.urls["roumio"]}
    config = load_accounts(home, env=env).get("roumio")
    assert config is not None
    store = SqliteStore(home / "esimdesk.sqlite3")
    try:
        rows = await fetch_balances(store, [config])
    finally:
        store.close()
    assert rows[0].balance is None
    assert rows[0].error.startswith(f"the Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position "
                                    f"{len(KEY) + 1}: paste it again without it")


async def test_test_connection_with_such_a_key_says_so(sandbox):
    result = await check_connection("roumio", sandbox.urls["roumio"], {"KEY": KEY + ZWSP})
    assert not result.ok
    assert result.text.startswith("the Roumio key has an invisible character U+200B (ZERO WIDTH SPACE) at position "
                                  f"{len(KEY) + 1}: paste it again without it")
