"""Issue 29, point 5: in a team an order reads the same at every desk — the reference its agent typed, and
the handle its desk sent the vendor beside it — though the other desk keeps it under that handle (the key
its own vendor listings carry). Two desks, a real PostgreSQL and the sandbox, through the command line."""

from __future__ import annotations

import zxingcpp
from PIL import Image

from esimdesk.domain.listing import ListingQuery
from tests.services.helpers import cli_env, open_store
from tests.team.test_two_desks import ok_json, run, team_url


def order_at_a_seen_at_b(sandbox, team_db, tmp_path):
    """Desk A (alice) orders on Roumio as "bar-team-a" and syncs; desk B (bob) syncs: (A's env, B's env, the
    order as A's command line answered it)."""
    url, password = team_db
    a = cli_env(sandbox, tmp_path / "a", ESIMDESK_TEAM_URL=team_url(url, password), ESIMDESK_TEAM_AGENT="alice")
    b = cli_env(sandbox, tmp_path / "b", ESIMDESK_TEAM_URL=team_url(url, password), ESIMDESK_TEAM_AGENT="bob")
    ok_json(a, "sync", "--vendor", "roumio")
    plan = ok_json(a, "plans", "--vendor", "roumio")[0]["plan_id"]
    placed = ok_json(a, "order", "--vendor", "roumio", "--plan", plan, "--reference", "bar-team-a")
    assert placed["reference"] == "bar-team-a"
    ok_json(a, "sync", "--vendor", "roumio")  # pushed to the team store
    ok_json(b, "sync", "--vendor", "roumio")  # pulled, and listed by Roumio under A's handle
    return a, b, placed


def test_an_order_reads_the_same_at_both_desks_reference_as_typed_and_handle_beside(fresh_sandbox, pg, team_db,
                                                                                    tmp_path):
    a, b, placed = order_at_a_seen_at_b(fresh_sandbox, team_db, tmp_path)

    [at_a] = [o for o in ok_json(a, "orders", "--vendor", "roumio") if o["order_id"] == placed["order_id"]]
    [at_b] = [o for o in ok_json(b, "orders", "--vendor", "roumio") if o["order_id"] == placed["order_id"]]
    assert at_a["reference"] == at_b["reference"] == "bar-team-a"
    assert at_a["handle"] == at_b["handle"] and at_a["handle"].startswith("bar-team-a-")
    assert at_a["desk"] == at_b["desk"] and at_a["agent"] == at_b["agent"] == "alice"

    # The table too: the reference as typed, the handle in its own column, at the other desk.
    table = run(b, "orders", "--vendor", "roumio", "--search", placed["order_id"])
    head, row = table.stdout.splitlines()[:2]
    assert head.split() == ["vendor", "order_id", "reference", "status", "created", "(UTC)", "total", "esims",
                            "desk", "agent", "handle"]
    assert row.split()[2] == "bar-team-a" and row.split()[-1] == at_b["handle"]


def test_the_other_desk_finds_shows_and_prints_an_order_by_the_reference_its_agent_typed(fresh_sandbox, pg,
                                                                                         team_db, tmp_path):
    """Desk B keeps desk A's order under A's handle (its Roumio listing's key). Its Orders tab (the listing the
    tab pages through), its search and `qr` still know the order as "bar-team-a", as desk A does."""
    _a, b, placed = order_at_a_seen_at_b(fresh_sandbox, team_db, tmp_path)
    [code] = [e["activation_code"] for e in placed["esims"]]

    store = open_store(tmp_path / "b")
    try:
        [kept] = [o for o in store.orders(vendor="roumio") if o.order_id == placed["order_id"]]
        assert kept.reference.startswith("bar-team-a-")  # the key its vendor listing carries
        assert kept.typed_reference == kept.shown_reference == "bar-team-a"
        # The Orders tab's search box, typed as desk A's agent wrote it: the order, under that name.
        head = store.listing_head(ListingQuery("orders", text="bar-team-a"), 100)
        assert [order.order_id for _, order in head.rows] == [placed["order_id"]]
        assert head.rows[0][1].shown_reference == "bar-team-a"
        assert store.text_finds("bar-team-a").order
    finally:
        store.close()

    out = tmp_path / "card.png"
    run(b, "qr", "bar-team-a", "--out", str(out))
    assert [r.text for r in zxingcpp.read_barcodes(Image.open(out).convert("L"))] == [code]
