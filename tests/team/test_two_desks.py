"""Issue 15's first "done when": two desks (two data folders) on one team store and the sandbox, through
the command line as agents use it. An order placed at desk A is found at desk B by the last 6 digits of
its ICCID once B has synced, with A's agent name; B then loses the team store and still finds it."""

from __future__ import annotations

import json
import subprocess
from urllib.parse import quote

from tests.services.helpers import cli, cli_env


def run(env, *args):
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=180)


def ok_json(env, *args):
    res = run(env, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def team_url(url: str, password: str) -> str:
    user, _, rest = url.partition("://")[2].partition("@")
    return f"postgresql://{user}:{quote(password)}@{rest}"


def test_an_order_at_desk_a_is_found_at_desk_b_by_its_iccid_then_offline(fresh_sandbox, pg, team_db, tmp_path):
    url, password = team_db
    a = cli_env(fresh_sandbox, tmp_path / "a", ESIMDESK_TEAM_URL=team_url(url, password), ESIMDESK_TEAM_AGENT="alice")
    b = cli_env(fresh_sandbox, tmp_path / "b", ESIMDESK_TEAM_URL=team_url(url, password), ESIMDESK_TEAM_AGENT="bob")

    first = ok_json(a, "sync")
    [team] = [r for r in first if r["vendor"] == "team"]
    assert team == {"vendor": "team", "ok": True, "plans": 0, "orders": 0, "esims": 0, "error": None,
                    "seconds": team["seconds"]}
    plan = ok_json(a, "plans", "--vendor", "microesim")[0]["plan_id"]
    order = ok_json(a, "order", "--vendor", "microesim", "--plan", plan)
    iccid = order["esims"][0]["iccid"]
    assert order["status"] == "COMPLETED" and order["esims"][0]["activation_code"]
    assert [r for r in ok_json(a, "sync") if r["vendor"] == "team"][0]["ok"]

    # Desk B has never seen it: MicroESIM keeps no order list, so only the team store can tell B.
    res = run(b, "orders", "--search", iccid[-6:], "--json")
    assert json.loads(res.stdout) == []
    [team_b] = [r for r in ok_json(b, "sync") if r["vendor"] == "team"]
    assert team_b["ok"] and team_b["orders"] >= 1 and team_b["esims"] >= 1

    desk_a = [o for o in ok_json(a, "orders") if o["order_id"] == order["order_id"]][0]["desk"]
    [found] = ok_json(b, "orders", "--search", iccid[-6:])
    assert found["order_id"] == order["order_id"] and found["agent"] == "alice" and found["desk"] == desk_a
    assert found["esims"] == order["esims"]  # the ICCID and its activation code (the QR code)
    [esim] = ok_json(b, "esims", "--search", iccid[-6:])
    assert esim["iccid"] == iccid and esim["agent"] == "alice" and esim["activation_code"]
    table = run(b, "orders", "--search", iccid[-6:])
    assert "alice" in table.stdout and desk_a in table.stdout and "agent" in table.stdout.splitlines()[0]

    # The team store goes away: B's sync says so in one line and B keeps working from its own file.
    pg.stop("immediate")
    try:
        res = run(b, "sync", "--json")
        [team_b] = [r for r in json.loads(res.stdout) if r["vendor"] == "team"]
        assert not team_b["ok"] and res.returncode == 1
        assert "team store offline since " in res.stderr and "Traceback" not in res.stderr
        assert password not in res.stderr + res.stdout
        [again] = ok_json(b, "orders", "--search", iccid[-6:])
        assert again["order_id"] == order["order_id"] and again["agent"] == "alice"
        res = run(b, "qr", iccid, "--out", str(tmp_path / "card.png"))
        assert res.returncode == 0, res.stderr
    finally:
        pg.start()
