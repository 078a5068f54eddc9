"""Shared fixtures: the sandbox over real HTTP on 127.0.0.1, an in-memory keyring, offscreen Qt."""

from __future__ import annotations

import os

# The tests' Qt platform, set here for the test process (and what it starts) alone: the README's test
# command sets nothing in the shell, so an `esimdesk --demo` started there afterwards opens its window.
# A platform chosen on purpose (QT_QPA_PLATFORM=xcb under Xvfb, to watch the window tests) is kept; spaces
# around it are not (cmd's `set QT_QPA_PLATFORM=offscreen && …` stores "offscreen ", and Qt then aborts).
os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "").strip() or "offscreen"

import keyring
import pytest
from keyring.backend import KeyringBackend

from esimdesk.domain import VendorConfig
from esimdesk.sandbox import SANDBOX_CREDENTIALS, SandboxConfig, SandboxServer


class MemoryKeyring(KeyringBackend):
    """The OS keychain is the one part that cannot be real here."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch):
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test sees the developer's real accounts or data folder."""
    for key in list(os.environ):
        if key.startswith("ESIMDESK_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ESIMDESK_HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def sandbox():
    """One shared sandbox (fast allocation). Tests that change its state should use ``fresh_sandbox``."""
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3)) as server:
        yield server


@pytest.fixture
def fresh_sandbox():
    with SandboxServer(SandboxConfig(seed=7, allocation_delay=0.3)) as server:
        yield server


def vendor_config(server: SandboxServer, vendor: str) -> VendorConfig:
    return VendorConfig(vendor, server.urls[vendor], dict(SANDBOX_CREDENTIALS[vendor]))


@pytest.fixture
def sandbox_config(sandbox):
    return lambda vendor: vendor_config(sandbox, vendor)
