"""The first ten minutes at the command line (issue 19, items 3-5), over the real program in its own
process: no display said in words, gaps said where they would appear, vendor names in any case,
countries by name or code, data amounts as people read them, prices never compared across currencies,
one error prefix."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from decimal import Decimal
from itertools import groupby
from pathlib import Path

import pytest

from esimdesk.domain import vendor_title
from esimdesk.ui.preflight import NO_DISPLAY, display_problem, parse_ldd_missing, xcb_plugin
from tests.services.helpers import cli, cli_env

NO_DISPLAY_LINE = ("esimdesk: no display found: run it on a desktop, or on a virtual display (xvfb-run esimdesk); "
                   "the commands need none (esimdesk --help)")


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cli(*args), env=env, capture_output=True, text=True, timeout=timeout)


def gui_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM") and not k.startswith("ESIMDESK_")}
    env["ESIMDESK_HOME"] = str(tmp_path / "home")
    env.update(extra)
    return env


# --- no display: words, not a Qt abort ---------------------------------------------------------

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is for Linux")


@linux_only
@pytest.mark.parametrize("argv, extra", [
    ([], {}),
    (["--demo"], {}),
    ([], {"QT_QPA_PLATFORM": "xcb"}),
    ([], {"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}),  # Wayland asked for, only an X display set
    ([], {"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ""}),
])
def test_no_display_is_one_sentence_and_exit_1(tmp_path, argv, extra):
    res = run(gui_env(tmp_path, **extra), *argv, timeout=60)
    assert res.returncode == 1, res.stderr
    assert res.stderr == NO_DISPLAY_LINE + "\n"
    assert res.stdout == ""
    assert not (tmp_path / "home").exists()  # nothing was started or written


@linux_only
def test_the_display_is_checked_before_qt_is_imported(tmp_path):
    code = ("import sys; from esimdesk.cli.main import main; rc = main([]); "
            "print(rc, sorted(m for m in sys.modules if m.startswith('PySide6')))")
    res = subprocess.run([sys.executable, "-c", code], env=gui_env(tmp_path), capture_output=True, text=True,
                         timeout=60)
    assert res.stdout.strip() == "1 []", res.stderr
    assert res.stderr == NO_DISPLAY_LINE + "\n"


@linux_only
def test_a_display_nobody_answers_at_is_said(tmp_path):
    number = str(59000 + os.getpid() % 900)  # no X server has this display number
    res = run(gui_env(tmp_path, DISPLAY=f":{number}"), timeout=60)
    assert res.returncode == 1
    assert res.stderr == (f"esimdesk: no display found: no X server answers at DISPLAY=:{number}; "
                          "run it on a desktop, or on a virtual display (xvfb-run esimdesk); "
                          "the commands need none (esimdesk --help)\n")


@linux_only
@pytest.mark.skipif(xcb_plugin() is None, reason="this PySide6 has no xcb plugin")
def test_missing_system_libraries_of_the_x11_plugin_are_named(tmp_path):
    """A display answers but Qt's xcb plugin cannot load: the libraries the loader misses are named
    (here the loader is a stand-in `ldd`, so the test does not depend on this machine's libraries)."""
    number = str(60000 + os.getpid() % 900)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(f"\0/tmp/.X11-unix/X{number}")  # an X server's (abstract) socket: something answers there
    server.listen(4)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "ldd").write_text("#!/bin/sh\necho '\tlibxcb-icccm.so.4 => not found'\n"
                              "echo '\tlibxcb.so.1 => /usr/lib/libxcb.so.1 (0x0001)'\n"
                              "echo '\tlibxcb-cursor.so.0 => not found'\necho '\tlibxcb-icccm.so.4 => not found'\n")
    (fake / "ldd").chmod(0o755)
    try:
        env = gui_env(tmp_path, DISPLAY=f":{number}", PATH=f"{fake}{os.pathsep}{os.environ['PATH']}")
        res = run(env, timeout=60)
    finally:
        server.close()
    assert res.returncode == 1, res.stderr
    assert res.stderr == ("esimdesk: Qt's X11 (xcb) window plugin cannot load: missing system libraries "
                          "libxcb-icccm.so.4, libxcb-cursor.so.0 (on Debian/Ubuntu: sudo apt-get install "
                          "libxcb-icccm4 libxcb-cursor0)\n")


def test_display_rules():
    assert display_problem({}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux") is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb:nograb", "WAYLAND_DISPLAY": "wayland-0"}, "linux") == NO_DISPLAY
    assert display_problem({"QT_QPA_PLATFORM": "wayland-egl", "WAYLAND_DISPLAY": "w"}, "linux") is None
    assert display_problem({}, "darwin") is None and display_problem({}, "win32") is None
    assert parse_ldd_missing("\tlibA.so.1 => not found\n\tlibB.so => /x (0x1)\n\tlibA.so.1 => not found\n") == \
        ["libA.so.1"]


# --- one synced desk for the listings ----------------------------------------------------------

@pytest.fixture(scope="module")
def desk_env(sandbox, tmp_path_factory):
    env = cli_env(sandbox, tmp_path_factory.mktemp("first-ten") / "home")
    res = run(env, "sync")
    assert res.returncode == 0, res.stderr
    return env


def listed(env, *args: str) -> list[dict]:
    res = run(env, *args, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("typed", ["ROUMIO", "Roumio", "rOuMiO"])
def test_vendor_names_in_any_case(desk_env, typed):
    expected = listed(desk_env, "plans", "--vendor", "roumio")
    assert expected and listed(desk_env, "plans", "--vendor", typed) == expected
    res = run(desk_env, "esims", "--vendor", typed)
    assert res.returncode == 0 and "Roumio" in res.stdout


def test_an_unknown_vendor_is_still_a_usage_error(desk_env):
    res = run(desk_env, "plans", "--vendor", "ACME")
    assert res.returncode == 2 and "invalid choice: 'acme'" in res.stderr


@pytest.mark.parametrize("typed", ["Japan", "JPN", "jp", "japan"])
def test_country_by_name_alpha3_or_alpha2(desk_env, typed):
    expected = listed(desk_env, "plans", "--country", "JP")
    assert expected and all("JP" in p["countries"] for p in expected)
    assert listed(desk_env, "plans", "--country", typed) == expected


@pytest.mark.parametrize("typed, words", [
    ("Jpan", "argument --country: 'Jpan' is not a country; did you mean: Japan (JP)?"),
    ("XX", "argument --country: 'XX' is not a country: give its name or ISO 3166 code"),
    ("Narnia", "argument --country: 'Narnia' is not a country"),
])
def test_an_unknown_country_exits_2_with_the_closest_matches(desk_env, typed, words):
    res = run(desk_env, "plans", "--country", typed)
    assert res.returncode == 2
    assert res.stdout == ""
    assert f"esimdesk plans: error: {words}" in res.stderr
    assert "Traceback" not in res.stderr


def test_plans_are_grouped_by_currency_cheapest_first_within_each(desk_env):
    plans = listed(desk_env, "plans")
    currencies = [c for c, _ in groupby(p["currency"] for p in plans)]
    assert len(currencies) == len(set(currencies)) >= 2, currencies  # each currency in one block
    for _, block in groupby(plans, key=lambda p: p["currency"]):
        prices = [Decimal(p["price"]) for p in block]
        assert prices == sorted(prices)
    # The table the agent reads: the same order.
    res = run(desk_env, "plans")
    rows = [line.split() for line in res.stdout.splitlines()[1:]]
    assert [r[0] + r[1] for r in rows] == [vendor_title(p["vendor"]) + p["plan_id"] for p in plans]
    help_text = run(desk_env, "plans", "--help").stdout
    assert "grouped by currency" in help_text


def test_data_amounts_are_read_as_people_read_them(desk_env):
    for command in ("plans", "esims"):
        res = run(desk_env, command)
        assert res.returncode == 0
        assert not re.search(r"\d\.\d{2,} GB", res.stdout), re.search(r"\S+ GB", res.stdout)
        assert re.search(r"\b\d+(\.\d)? GB\b", res.stdout)


# --- gaps said where they would appear ---------------------------------------------------------

def test_plans_of_flexiroam_say_it_offers_none(desk_env):
    res = run(desk_env, "plans", "--vendor", "Flexiroam")
    assert res.returncode == 0
    assert "esimdesk plans: Flexiroam offers no plans through its API" in res.stderr.splitlines()
    res = run(desk_env, "plans", "--vendor", "flexiroam", "--json")
    assert json.loads(res.stdout) == [] and "Flexiroam offers no plans through its API" in res.stderr


def test_a_listing_of_every_vendor_names_those_that_offer_none(desk_env):
    res = run(desk_env, "orders")
    assert "esimdesk orders: Flexiroam takes no orders through its API" in res.stderr.splitlines()
    res = run(desk_env, "esims", "--vendor", "microesim")
    assert ("esimdesk esims: MicroESIM lists no eSIMs through its API: only eSIMs ordered from this desk "
            "appear here") in res.stderr.splitlines()
    res = run(desk_env, "plans", "--vendor", "roumio")
    assert "esimdesk plans:" not in res.stderr  # Roumio lists its plans: nothing to say


def test_balance_names_the_vendors_without_one_with_the_prefix(desk_env):
    res = run(desk_env, "balance")
    assert res.returncode == 0, res.stderr
    assert "esimdesk balance: Flexiroam does not offer a balance through its API" in res.stderr.splitlines()
    assert re.search(r"^Roamify\s+\d+\.\d\d USD", res.stdout, re.M), res.stdout  # GET /api/balance


def test_a_roamify_order_prints_iccid_and_lpa_code_and_its_qr_decodes_to_it(fresh_sandbox, tmp_path):
    import zxingcpp
    from PIL import Image

    env = cli_env(fresh_sandbox, tmp_path / "home")
    assert run(env, "sync", "--vendor", "roamify").returncode == 0
    plans = listed(env, "plans", "--vendor", "roamify")
    assert len(plans) == len(fresh_sandbox.sandbox.vendors["roamify"].catalog)  # the whole paged catalog
    plan = next(p["plan_id"] for p in plans if p["plan_id"] == "esim-cambodia-7days-1gb-all")
    res = run(env, "order", "--vendor", "ROAMIFY", "--plan", plan)
    assert res.returncode == 0, res.stderr
    assert "COMPLETED" in res.stdout and "Partner Portal" not in res.stderr
    found = re.search(r"^(89\d{16,20})\s+(LPA:1\$\S+)$", res.stdout, re.M)
    assert found, res.stdout
    iccid, code = found.groups()
    out = tmp_path / "qr.png"
    assert run(env, "qr", iccid, "--out", str(out)).returncode == 0
    [decoded] = zxingcpp.read_barcodes(Image.open(out))
    assert decoded.text == code
    res = run(env, "order", "--vendor", "roamify", "--plan", plan, "--json")
    assert res.returncode == 0, res.stderr
    [esim] = json.loads(res.stdout)["esims"]
    assert esim["iccid"] and esim["activation_code"].startswith("LPA:1$")


# --- one error prefix --------------------------------------------------------------------------

def test_every_error_line_starts_with_the_command(desk_env):
    res = run(desk_env, "order", "--vendor", "roumio", "--plan", "NO-SUCH-PLAN")
    assert res.returncode == 1
    assert res.stderr.startswith("esimdesk order: Roumio has no plan 'NO-SUCH-PLAN'"), res.stderr
    res = run(desk_env, "topup", "--vendor", "flexiroam", "--iccid", "89852350824010131081", "--plan", "X")
    assert res.returncode == 1
    assert res.stderr == "esimdesk topup: Flexiroam does not offer top-ups through its API\n"


def test_a_damaged_data_file_is_refused_with_the_command_prefix(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "esimdesk.sqlite3").write_bytes(b"this is not a database" * 100)
    env = gui_env(tmp_path, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    res = run(env, "orders")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("esimdesk orders: "), res.stderr
