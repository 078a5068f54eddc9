"""Issue 27: in team mode the price rules come from the team store, so every desk quotes the same price.
A real PostgreSQL server, two data folders: rules saved at desk A reach desk B with the next syncs, B
quotes with them (over its own), and still does with the team store gone."""

from __future__ import annotations

from decimal import Decimal

from esimdesk.domain import Plan
from esimdesk.domain.pricing import PriceRule, quote
from esimdesk.services.config import load_settings
from esimdesk.services.currency import PUBLISH_KEY, desk_price_rules, save_price_rules
from esimdesk.services.team_sync import run
from esimdesk.store.team_local import team_rules
from tests.team.helpers import config, desk
from tests.team.test_two_desks import team_url

PLAN = Plan("roumio", "JC016", "Japan 5GB 7 days", ("JP",), 5120, 7, Decimal("2.38"), "USD")


def test_rules_saved_at_one_desk_are_quoted_at_every_desk_and_kept_offline(pg, team_db, tmp_path, monkeypatch):
    url, password = team_db
    monkeypatch.setenv("ESIMDESK_TEAM_URL", team_url(url, password))
    a, b = desk(tmp_path, "a"), desk(tmp_path, "b")
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    save_price_rules(home_b, [PriceRule(markup_pct=Decimal(5))])  # B's own rule, before the team's
    assert run(b, config(team_db, "bob"), home=home_b).ok  # B publishes its rule first
    team = PriceRule(markup_pct=Decimal(30), rounding="99")
    japan = PriceRule(vendor="roumio", region="JP", markup_pct=Decimal(50))
    save_price_rules(home_a, [team, japan])
    assert load_settings(home_a)[PUBLISH_KEY]  # saved here, to go to the team store with the next sync
    assert desk_price_rules(home_a, team_rules(a)) == (team, japan)  # A quotes its own at once

    assert run(a, config(team_db, "alice"), home=home_a).ok
    assert PUBLISH_KEY not in load_settings(home_a)
    assert run(b, config(team_db, "bob"), home=home_b).ok
    got = desk_price_rules(home_b, team_rules(b))
    assert got == (team, japan) and team_rules(b)["set_by"] == "alice"
    # one price at both desks for the same cost
    assert quote(PLAN, Decimal("2.19"), "EUR", got).sell == quote(PLAN, Decimal("2.19"), "EUR",
                                                                   desk_price_rules(home_a, team_rules(a))).sell

    pg.stop("immediate")
    try:
        assert not run(b, config(team_db, "bob"), home=home_b).ok
        assert desk_price_rules(home_b, team_rules(b)) == (team, japan)  # offline: the team's, from B's file
    finally:
        pg.start()
    a.close()
    b.close()
