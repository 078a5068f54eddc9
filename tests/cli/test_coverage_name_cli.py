"""`esimdesk --demo plans` names a bundle as its vendor does (issue 27): the JSON carries ``coverage_name``,
the table shows it, and a search for its name finds packages whose own names do not say it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from esimdesk.sandbox.roamify_catalog import AREAS


def esimdesk(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    # Enough Roamify packages for every area, Africa Adventure's and Afghanistan's too.
    env.update(ESIMDESK_HOME=str(home), ESIMDESK_SANDBOX_PLANS=str(len(AREAS) + 10), ESIMDESK_SANDBOX_ESIMS="4",
               ESIMDESK_SANDBOX_ALLOCATION="0.3", PYTHONUNBUFFERED="1")
    res = subprocess.run([sys.executable, "-m", "esimdesk", "--demo", *args], env=env,
                         capture_output=True, text=True, timeout=120)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0, f"esimdesk --demo {' '.join(args)}: exit {res.returncode}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("coverage-cli") / "home"
    esimdesk(home, "sync")
    return home


def test_plans_json_carries_coverage_name(home):
    plans = json.loads(esimdesk(home, "plans", "--json").stdout)
    assert plans and all("coverage_name" in p for p in plans)
    africa = [p for p in plans if p["vendor"] == "roamify" and p["coverage_name"] == "Africa Adventure"]
    assert africa and all("AF" not in p["countries"] and len(p["countries"]) > 1 for p in africa)
    assert any(p["vendor"] == "microesim" and p["coverage_name"] for p in plans)
    assert all(p["coverage_name"] is None for p in plans if p["vendor"] == "roamify" and len(p["countries"]) == 1)


def test_a_search_for_the_name_finds_the_bundle(home):
    found = json.loads(esimdesk(home, "plans", "--vendor", "roamify", "--search", "africa adventure", "--json").stdout)
    assert found and {p["coverage_name"] for p in found} == {"Africa Adventure"}


def test_the_table_names_the_bundle(home):
    table = esimdesk(home, "plans", "--vendor", "roamify", "--search", "africa adventure").stdout
    assert "Africa Adventure: " in table and "1 GB - 7 Days" in table


def test_afghanistan_is_not_africa_adventure(home):
    af = json.loads(esimdesk(home, "plans", "--country", "AF", "--json").stdout)
    assert af and all(p["countries"] == ["AF"] and p["coverage_name"] is None for p in af)
