"""One exit-status rule for every command, and the words an agent reads (issue 29, items 7-8).

Exit status: 0 done; 1 refused or failed (a vendor or the data said no); 2 the command line is wrong (a
value the command line itself can tell is invalid: a quantity out of range, a date in the past, a
malformed ICCID or reference, an option the vendor never takes, an unknown option). README → Command line
has the same table.

Words: vendors by their names ("MicroESIM", never "microesim" in a table or a sentence), counts with their
plural right ("1 eSIM", never "eSIM(s)"), no API endpoint in a sentence meant for the agent (the log keeps it).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess

import pytest

from esimdesk.domain import VENDOR_TITLES, VendorRejected, count_of, plural, vendor_title
from esimdesk.sandbox.faults import Fault
from esimdesk.vendors.http import RedactingFilter
from tests.services.helpers import cli, cli_env

PAST = "2020-01-01"
FUTURE = "2099-01-01"
WELL_FORMED_UNKNOWN_ICCID = "8944000000000000001"  # Luhn-valid, in no cache


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def synced_env(sandbox, tmp_path_factory):
    env = cli_env(sandbox, tmp_path_factory.mktemp("exit-codes") / "home")
    res = run(env, "sync")
    assert res.returncode == 0, res.stderr
    return env


# (arguments, exit status, words on stderr). No case here sends an order: the shared sandbox is left as it was.
EXIT_TABLE = [
    # 0: done
    (["plans", "--vendor", "roumio"], 0, ""),
    (["balance", "--vendor", "roumio"], 0, ""),
    # 2: the command line is wrong — nothing recorded, nothing sent
    (["plans", "--colour", "red"], 2, "unrecognized arguments"),
    (["order", "--vendor", "acme", "--plan", "X"], 2, "invalid choice"),
    (["order", "--vendor", "roumio", "--plan", "X", "--quantity", "0"], 2, "the quantity must be at least 1"),
    (["order", "--vendor", "roumio", "--plan", "X", "--quantity", "1000000"], 2, "is more than 50"),
    (["order", "--vendor", "roumio", "--plan", "X", "--quantity", "51"], 2, "is more than 50"),
    (["order", "--vendor", "roumio", "--plan", "X", "--quantity", "two"], 2, "'two' is not a whole number"),
    (["order", "--vendor", "roamify", "--plan", "X", "--start-date", PAST], 2, f"the start date {PAST} is in the past"),
    (["order", "--vendor", "microesim", "--plan", "X", "--activation-date", PAST], 2, "is in the past"),
    (["order", "--vendor", "roumio", "--plan", "X", "--reference", " "], 2, "the reference is blank"),
    (["order", "--vendor", "roumio", "--plan", "X", "--email", "nobody"], 2, "is not an e-mail address"),
    (["order", "--vendor", "roumio", "--plan", "X", "--email", "a@b.cc"], 2, "Roumio takes no custom email"),
    (["order", "--vendor", "roumio", "--plan", "X", "--start-date", FUTURE], 2, "Roumio orders take no start date"),
    (["topup", "--vendor", "roumio", "--iccid", "1234", "--plan", "X"], 2, "ICCID '1234' has 4 digits"),
    (["cancel", "1234"], 2, "ICCID '1234' has 4 digits"),
    (["suspend", "89440000000000000x1"], 2, "must contain digits only"),
    (["usage", "8944000000000000002"], 2, "fails its check digit"),
    (["sms", "1234", "--message", "hello"], 2, "ICCID '1234' has 4 digits"),
    (["sms", WELL_FORMED_UNKNOWN_ICCID, "--message", " "], 2, "the message is empty"),
    (["esims", "--status", "happy"], 2, "not one of"),
    # 1: refused or failed — the vendor or the data said no
    (["order", "--vendor", "roumio", "--plan", "NO-SUCH-PLAN"], 1, "Roumio has no plan 'NO-SUCH-PLAN'"),
    (["order", "--vendor", "flexiroam", "--plan", "X"], 1, "Flexiroam does not offer orders through its API"),
    (["topup", "--vendor", "flexiroam", "--iccid", "89852350824010131081", "--plan", "X"], 1,
     "Flexiroam does not offer top-ups through its API"),
    (["cancel", WELL_FORMED_UNKNOWN_ICCID], 1, "is not in this desk's cache"),
    (["usage", WELL_FORMED_UNKNOWN_ICCID], 1, "is not in this desk's cache"),
    (["reconcile", "--abandon", "NO-SUCH-REFERENCE"], 1, "no order with reference 'NO-SUCH-REFERENCE'"),
    (["qr", WELL_FORMED_UNKNOWN_ICCID, "--out", "x.png"], 1, ""),
    (["restore", "/no/such/backup.sqlite3"], 1, ""),
]


@pytest.mark.parametrize("argv, status, words", EXIT_TABLE, ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_exit_status_table(synced_env, tmp_path, argv, status, words):
    res = subprocess.run(cli(*argv), env=synced_env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == status, (argv, res.stdout, res.stderr)
    assert words in res.stderr, (argv, res.stderr)
    assert "Traceback" not in res.stderr
    if status == 2:  # said as a usage error: the command's usage line, then the reason
        # (argparse says an unknown option with the program's usage, every other with its command's)
        command = "" if words == "unrecognized arguments" else f" {argv[0]}"
        assert res.stderr.startswith(f"usage: esimdesk{command}"), res.stderr
        assert f"esimdesk{command}: error: " in res.stderr
    elif status == 1:  # one sentence with the command's prefix, no usage line
        assert any(line.startswith(f"esimdesk {argv[0]}: ") for line in res.stderr.splitlines()), res.stderr
        assert not res.stderr.startswith("usage: ")


def test_the_readme_has_the_exit_status_table():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for row in ("| 0 |", "| 1 |", "| 2 |"):
        assert row in readme


# --- words -----------------------------------------------------------------------------------------

def test_plurals_and_vendor_titles():
    assert [count_of(n, "eSIM") for n in (0, 1, 2)] == ["0 eSIMs", "1 eSIM", "2 eSIMs"]
    assert count_of(1, "top-up") == "1 top-up" and count_of(3, "top-up") == "3 top-ups"
    assert count_of(1200, "plan") == "1,200 plans" and plural(2, "entry") == "entries"
    assert [vendor_title(v) for v in ("roumio", "roamify", "microesim", "flexiroam")] == \
        ["Roumio", "Roamify", "MicroESIM", "Flexiroam"]
    assert set(VENDOR_TITLES) == {"roumio", "roamify", "microesim", "flexiroam"}


def test_a_vendor_error_names_the_vendor_and_keeps_the_endpoint_for_the_log():
    exc = VendorRejected("roumio", "package/list", "the package is not for sale", code="310241")
    assert str(exc) == "Roumio: the package is not for sale (code 310241)"
    assert exc.detail == "roumio package/list: the package is not for sale (code 310241)"
    record = logging.LogRecord("esimdesk.orders", logging.INFO, __file__, 1, "top-up refused: %s", (exc,), None)
    RedactingFilter().filter(record)
    assert record.getMessage() == "top-up refused: roumio package/list: the package is not for sale (code 310241)"


LOWER_IDS = re.compile(r"\b(roumio|roamify|microesim|flexiroam)\b")
# An API path in a sentence: "package/list", "esim/topup", "allesim/v1/…", "api/esim/order" (not "active/normal").
ENDPOINT = re.compile(r"\b(?:package|esim|allesim|api|v\d|order|orders|topup|balance)/[A-Za-z]")


def scan(res: subprocess.CompletedProcess, what: str) -> list[str]:
    """What an agent should not read in this command's output."""
    bad = []
    for line in (res.stdout + res.stderr).splitlines():
        if "(s)" in line:
            bad.append(f"{what}: a '(s)' plural: {line}")
        if re.search(r"\b1 (eSIMs|cards|pages|top-ups|orders|plans|profiles)\b", line):
            bad.append(f"{what}: a plural after 1: {line}")
    for line in res.stderr.splitlines():
        if LOWER_IDS.search(line.replace("esimdesk --demo", "")) and "--vendor" not in line and "ESIMDESK_" not in line:
            bad.append(f"{what}: a vendor id in a sentence: {line}")
        if ENDPOINT.search(line):
            bad.append(f"{what}: an endpoint in a sentence: {line}")
    lines = res.stdout.splitlines()
    if lines and lines[0].startswith("vendor "):  # a table: its vendor column
        for row in lines[1:]:
            if LOWER_IDS.match(row):
                bad.append(f"{what}: a vendor id in a table cell: {row}")
    return bad


def test_demo_outputs_name_vendors_count_right_and_carry_no_endpoint(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env["ESIMDESK_HOME"] = str(tmp_path / "home")

    def demo(*args: str) -> subprocess.CompletedProcess:
        res = subprocess.run(cli("--demo", *args), env=env, capture_output=True, text=True, timeout=180,
                             cwd=tmp_path)
        assert "Traceback" not in res.stderr, res.stderr
        return res

    bad: list[str] = []
    assert demo("sync").returncode == 0
    for args in (["sync"], ["plans", "--country", "JP"], ["plans", "--vendor", "flexiroam"], ["orders"], ["esims"],
                 ["balance"], ["reconcile"], ["orders", "--vendor", "flexiroam"]):
        bad += scan(demo(*args), " ".join(args))
    plan = json.loads(demo("plans", "--vendor", "roumio", "--json").stdout)[0]["plan_id"]
    for quantity in ("1", "2"):
        res = demo("order", "--vendor", "roumio", "--plan", plan, "--quantity", quantity)
        assert res.returncode == 0, res.stderr
        assert res.stdout.startswith("Roumio order "), res.stdout
        bad += scan(res, f"order ×{quantity}")
    iccid = json.loads(demo("esims", "--vendor", "roumio", "--json").stdout)[0]["iccid"]
    for args in (["usage", iccid], ["topup", "--vendor", "roumio", "--iccid", iccid, "--plan", "NO-SUCH-TOPUP"],
                 ["order", "--vendor", "flexiroam", "--plan", "X"], ["cancel", WELL_FORMED_UNKNOWN_ICCID],
                 ["qr", iccid, "--out", str(tmp_path / "card.pdf")]):
        bad += scan(demo(*args), " ".join(args))
    res = demo("qr", iccid, "--out", str(tmp_path / "one.pdf"))
    assert "wrote 1 card on 1 page" in res.stderr, res.stderr
    assert not bad, "\n".join(bad)


def test_a_vendor_failure_is_said_without_its_endpoint(fresh_sandbox, tmp_path):
    env = cli_env(fresh_sandbox, tmp_path / "home")
    assert run(env, "sync", "--vendor", "roumio").returncode == 0
    iccid = next(e["iccid"] for e in json.loads(run(env, "esims", "--vendor", "roumio", "--json").stdout)
                 if e["vendor_status"] == "IN_USE/ENABLED")
    fresh_sandbox.sandbox.faults["roumio"].add(Fault("html", endpoint="package/list", times=None))
    res = run(env, "topup", "--vendor", "roumio", "--iccid", iccid, "--plan", "X")
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("esimdesk topup: Roumio: "), res.stderr
    assert not ENDPOINT.search(res.stderr) and "package/list" not in res.stderr, res.stderr
