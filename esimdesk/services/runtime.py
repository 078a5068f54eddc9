"""The running app's context: data folder, accounts, and in demo mode the built-in sandbox."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from esimdesk.domain import ConfigError
from esimdesk.domain.mail import MailSettings, Security
from esimdesk.services.config import Accounts, data_home, load_accounts

SANDBOX_STATE = "sandbox-state.json"  # the demo's vendor world, in the demo data folder (esimdesk/sandbox/state.py)
DEMO_MAILBOX = "demo-mailbox"  # the demo's mail sink keeps what it is sent here (a Maildir), in the demo data folder
DEMO_FROM = "support@demo-travel.example"
DEMO_RESELLER = "Demo Travel eSIM"


@dataclass
class AppContext:
    home: Path
    accounts: Accounts
    demo: bool = False
    sandbox: Any = None  # SandboxServer in demo mode
    mail_sink: DemoMailSink | None = None  # demo mode: the local SMTP server e-mails to customers go to
    extras: dict[str, Any] = field(default_factory=dict)
    _sink_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def demo_mail(self) -> MailSettings | None:
        """Demo mode: the SMTP settings of the demo's mail sink, used instead of Settings → E-mail (a demo
        never sends a real e-mail); None outside the demo (or once closed: no sandbox). The sink starts here,
        at the first e-mail (or a worker thread preparing one): a demo command or window that sends none does
        not pay its ~0.1 s at start."""
        with self._sink_lock:
            if self.demo and self.mail_sink is None and self.sandbox is not None:
                self.mail_sink = start_demo_mail_sink(self.home)
            return self.mail_sink.settings if self.mail_sink is not None else None

    @property
    def mailbox(self) -> Path | None:
        """Demo mode: the Maildir folder the demo's mail sink writes into (the window's demo mailbox)."""
        return self.home / DEMO_MAILBOX if self.demo else None

    def close(self) -> None:
        if self.mail_sink is not None:
            self.mail_sink.stop()
            self.mail_sink = None
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


DEMO_REFUND_DECISION_S = 30.0


def start_demo_sandbox(home: Path):
    """The demo's sandbox on 127.0.0.1, playing the one vendor world of the demo data folder ``home``."""
    # Imported here: the sandbox is a separate program that only --demo and tests start.
    from esimdesk.sandbox import SandboxConfig, SandboxServer
    from esimdesk.sandbox.state import StateFileError

    # One vendor world per demo data folder: every --demo command (and the window) plays the same one.
    try:
        # Roamify refund requests decide themselves in the demo (sandbox/roamify_refunds.py): PROCESSING after
        # DEMO_REFUND_DECISION_S, REFUNDED (or REJECTED for notes saying "test") at twice that.
        config = SandboxConfig.from_env(refund_decision_s=DEMO_REFUND_DECISION_S)
        return SandboxServer(config, state_file=home / SANDBOX_STATE).start()
    except StateFileError as exc:
        raise ConfigError(f"{exc}; 'esimdesk --demo --reset' starts a new demo") from None


@dataclass
class DemoMailSink:
    """The demo's mail sink as the app sees it: the SMTP settings that reach it and the folder it fills."""

    settings: MailSettings
    maildir: Path
    server: Any  # esimdesk.sandbox.mail_sink.MailSink

    def stop(self) -> None:
        self.server.stop()


def start_demo_mail_sink(home: Path) -> DemoMailSink:
    """The demo's local SMTP server on 127.0.0.1 (no TLS, no login), keeping every message in the Maildir
    ``home / DEMO_MAILBOX`` of the demo data folder ``home``. Each --demo command and the window start their
    own, all writing into that one folder, which the window's *File → Demo mailbox…* reads."""
    # Imported here: the sandbox is a separate program that only --demo and tests start (aiosmtpd with it).
    from esimdesk.sandbox.mail_sink import HOST, MailSink

    maildir = home / DEMO_MAILBOX
    try:
        server = MailSink(maildir).start()
    except (OSError, TimeoutError, RuntimeError) as exc:
        raise ConfigError(f"the demo's mail sink could not start ({exc}); "
                          f"check that {maildir} can be written") from None
    settings = MailSettings(host=HOST, port=server.port, security=Security.NONE, username="",
                            from_address=DEMO_FROM, reseller_name=DEMO_RESELLER, language="en", timeout=10.0)
    return DemoMailSink(settings=settings, maildir=maildir, server=server)
