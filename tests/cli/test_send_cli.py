"""``esimdesk send`` (issue 30): through a real SMTP server with STARTTLS and a login set in settings.json (the
password from the environment, as headless use has it), with ``--json``; a second send needs ``--again``;
and in the demo, the message lands in the demo's mailbox with the order's codes."""

from __future__ import annotations

import json
import mailbox
import re
import subprocess
from datetime import UTC, datetime
from decimal import Decimal

from esimdesk.domain import Esim, EsimStatus, Order, OrderStatus, Plan
from esimdesk.domain.install_links import carddata_of
from esimdesk.services.config import save_settings
from esimdesk.store import SqliteStore
from tests.services.helpers import cli
from tests.smtp_server import PASSWORD, USER, SmtpServer

CODE = "LPA:1$rsp.roumio.example$A1B2-C3D4-E5F6"
ICCID = "8985200000000000017"


def _env(home, **extra):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env.update(ESIMDESK_HOME=str(home), QT_QPA_PLATFORM="offscreen", **extra)
    return env


def test_send_through_the_resellers_server_with_json(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    store = SqliteStore(home / "esimdesk.sqlite3")
    store.upsert_plans([Plan("roumio", "CKH003", "Spain 5GB 30Days", ("ES",), 5120, 30, Decimal("4.50"), "USD")])
    esim = Esim("roumio", ICCID, EsimStatus.NEW, "allocated", order_id="B1", plan_id="CKH003", activation_code=CODE)
    store.upsert_esims([esim])
    store.upsert_orders([Order("roumio", "B1", "ref-1", OrderStatus.COMPLETED, datetime.now(UTC), esims=(esim,))])
    store.close()
    with SmtpServer(tmp_path, "starttls") as srv:
        save_settings(home, {"email": {"host": "127.0.0.1", "port": srv.port, "security": "starttls", "username": USER,
                                       "from_address": "support@acme.example", "reseller_name": "Acme Travel",
                                       "ca_file": str(srv.cert)}})
        env = _env(home, ESIMDESK_SMTP_PASSWORD=PASSWORD)
        first = subprocess.run(cli("send", ICCID, "--to", "anna@example.com", "--language", "de", "--json"),
                               env=env, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        doc = json.loads(first.stdout)
        assert doc["status"] == "sent" and doc["to"] == "anna@example.com" and doc["language"] == "de"
        assert doc["smtp_reply"].startswith("250") and doc["message_id"] == srv.messages[0]["Message-ID"]
        assert srv.messages[0]["Subject"] == "Ihre eSIM von Acme Travel: Spain 5GB 30Days"
        second = subprocess.run(cli("send", ICCID, "--to", "anna@example.com", "--json"), env=env,
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and json.loads(second.stdout)["needs_again"] is True
        assert "--again" in second.stderr and len(srv.messages) == 1
        again = subprocess.run(cli("send", ICCID, "--to", "anna@example.com", "--again"), env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stderr
        assert len(srv.messages) == 2
        wrong = subprocess.run(cli("send", ICCID, "--to", "anna@example.com", "--again"),
                               env=_env(home, ESIMDESK_SMTP_PASSWORD="not-it"), capture_output=True, text=True,
                               timeout=120)
        assert wrong.returncode == 1 and "refused the login" in wrong.stderr and "not-it" not in wrong.stderr
        assert "Traceback" not in wrong.stderr
    assert PASSWORD not in (home / "settings.json").read_text()


def test_demo_send_lands_in_the_demo_mailbox(tmp_path):
    env = _env(tmp_path)
    sync = subprocess.run(cli("--demo", "sync"), env=env, capture_output=True, text=True, timeout=300)
    assert sync.returncode == 0, sync.stderr
    orders = json.loads(subprocess.run(cli("--demo", "orders", "--vendor", "roumio", "--json"), env=env,
                                       capture_output=True, text=True, timeout=120).stdout)
    order = next(o for o in orders if len(o["esims"]) > 1 and all(e["activation_code"] for e in o["esims"]))
    sent = subprocess.run(cli("--demo", "send", order["order_id"], "--to", "anna@example.com", "--json"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert sent.returncode == 0, sent.stderr
    box = mailbox.Maildir(tmp_path / "demo" / "demo-mailbox", create=False)
    [msg] = list(box)
    body = msg.get_payload()[0].get_payload()[0].get_payload(decode=True).decode()
    links = re.findall(r"https://esimsetup\.apple\.com/\S+", body)
    assert sorted(carddata_of(x) for x in links) == sorted(e["activation_code"] for e in order["esims"])
    assert "Demo Travel eSIM" in msg["From"]
