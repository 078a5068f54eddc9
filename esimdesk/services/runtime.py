"""The running app's context: data folder, accounts, and in demo mode the built-in sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esimdesk.domain import ConfigError
from esimdesk.services.config import Accounts, data_home, load_accounts

SANDBOX_STATE = "sandbox-state.json"  # the demo's vendor world, in the demo data folder (esimdesk/sandbox/state.py)


@dataclass
class AppContext:
    home: Path
    accounts: Accounts
    demo: bool = False
    sandbox: Any = None  # SandboxServer in demo mode
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None


def open_context(demo: bool = False) -> AppContext:
    """Real vendors from the configuration, or (``demo``) the sandbox on 127.0.0.1 with its own data folder."""
    home = data_home(demo)
    if not demo:
        return AppContext(home=home, accounts=load_accounts(home))
    server = start_demo_sandbox(home)
    return AppContext(home=home, accounts=load_accounts(home, env=server.env()), demo=True, sandbox=server)


def start_demo_sandbox(home: Path):
    """The demo's sandbox on 127.0.0.1, playing the one vendor world of the demo data folder ``home``."""
    # Imported here: the sandbox is a separate program that only --demo and tests start.
    from esimdesk.sandbox import SandboxConfig, SandboxServer
    from esimdesk.sandbox.state import StateFileError

    # One vendor world per demo data folder: every --demo command (and the window) plays the same one.
    try:
        return SandboxServer(SandboxConfig.from_env(), state_file=home / SANDBOX_STATE).start()
    except StateFileError as exc:
        raise ConfigError(f"{exc}; 'esimdesk --demo --reset' starts a new demo") from None
