"""TLS as the URL asks: a server that takes only TLS, its certificate checked against the CA the URL
names (sslmode=verify-full); a desk that asks for no TLS, or trusts another CA, is refused in one sentence."""

from __future__ import annotations

import subprocess

import pytest

from esimdesk.services import team_sync
from esimdesk.services.team_config import TeamConfig
from tests.team.helpers import desk, place_local_orders, server_entries
from tests.team.pg import PgServer, why_not


@pytest.fixture(scope="module")
def tls_server():
    reason = why_not()
    if reason:
        pytest.skip(reason)
    server = PgServer().init()
    ca = server.enable_tls()
    server.start()
    try:
        server.admin("CREATE ROLE tdesk LOGIN PASSWORD 'tpw'")
        server.admin("CREATE DATABASE tteam OWNER tdesk")
        yield server, ca
    finally:
        server.cleanup()


def test_verify_full_against_the_servers_ca(tls_server, tmp_path):
    server, ca = tls_server
    url = server.url("tteam", user="tdesk") + f"?sslmode=verify-full&sslrootcert={ca}"
    a = desk(tmp_path, "a")
    place_local_orders(a, 2, "T")
    res = team_sync.run(a, TeamConfig(url, "tpw", "alice"))
    assert res.ok, res.problem
    assert len(server_entries((url, "tpw"))) == 4


def test_no_tls_or_another_ca_is_refused_in_one_sentence(tls_server, tmp_path):
    server, _ = tls_server
    other = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k"),
                    "-out", str(other), "-subj", "/CN=someone else", "-days", "1"], check=True, capture_output=True)
    base = server.url("tteam", user="tdesk")
    for query, words in (("?sslmode=disable", "does not accept this connection"),
                         (f"?sslmode=verify-full&sslrootcert={other}", "TLS connection failed")):
        a = desk(tmp_path, query[9:15])
        res = team_sync.run(a, TeamConfig(base + query, "tpw", "alice"))
        assert not res.ok and res.problem.startswith("team: ") and words in res.problem, res.problem
        assert "\n" not in res.problem and "tpw" not in res.problem
        assert team_sync.offline_notice(a) is None  # a refusal is not "offline": it would not pass by waiting
    assert "certificate verify failed" in res.problem


def test_a_tls_server_that_goes_away_is_offline_not_a_tls_problem(tls_server, tmp_path):
    server, ca = tls_server
    url = server.url("tteam", user="tdesk") + f"?sslmode=verify-full&sslrootcert={ca}"
    a = desk(tmp_path, "gone")
    place_local_orders(a, 30, "G")

    def stop(stage, batch):
        if (stage, batch) == ("before-commit", 2):
            server.stop("immediate")  # the TLS session is cut in the middle of a batch

    try:
        res = team_sync.run(a, TeamConfig(url, "tpw", "alice"), push_batch=10, fault=stop)
    finally:
        server.start()
    assert not res.ok and res.problem.startswith("team store offline since "), res.problem
    assert team_sync.run(a, TeamConfig(url, "tpw", "alice")).ok
