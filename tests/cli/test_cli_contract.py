"""The command-line contract (foundation issue): help, version, every subcommand, usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from esimdesk import __version__
from esimdesk.cli.main import main

SUBCOMMANDS = ("sync", "plans", "order", "topup", "orders", "esims", "balance", "reconcile", "qr", "send")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "esimdesk", *args], capture_output=True, text=True, timeout=60)


def test_help_lists_every_command():
    res = run("--help")
    assert res.returncode == 0
    for name in SUBCOMMANDS:
        assert name in res.stdout
    assert "--demo" in res.stdout


def test_version():
    res = run("--version")
    assert res.returncode == 0
    assert res.stdout.strip() == f"esimdesk {__version__}"


def test_console_script_is_installed():
    import shutil

    exe = shutil.which("esimdesk")
    assert exe, "the esimdesk entry point is not on PATH"
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_subcommand_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: esimdesk {command}")
    assert "--demo" in out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["frobnicate"], "invalid choice"),
        (["order", "--plan", "X"], "--vendor"),
        (["order", "--vendor", "acme", "--plan", "X"], "invalid choice"),
        (["order", "--vendor", "roumio", "--plan", "X", "--quantity", "0"], "at least 1"),
        (["plans", "--country", "Jpan"], "'Jpan' is not a country; did you mean: Japan (JP)?"),
        (["plans", "--country", "XX"], "'XX' is not a country"),
        (["esims", "--status", "happy"], "not one of"),
        (["qr", "8944", "--out", "card.jpg"], ".png, .svg or .pdf"),
        (["topup", "--vendor", "roumio", "--iccid", "1"], "--plan"),
    ],
)
def test_usage_error_exits_2_with_message(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


def test_json_flag_accepted_where_the_contract_has_it():
    parser_cmds = {"sync", "plans", "order", "topup", "orders", "esims", "balance", "reconcile"}
    from esimdesk.cli.parser import build_parser

    parser = build_parser()
    for cmd in parser_cmds:
        extra = {"order": ["--vendor", "roumio", "--plan", "P"],
                 "topup": ["--vendor", "roumio", "--iccid", "89852350824010131081", "--plan", "P"]}.get(cmd, [])
        args = parser.parse_args([cmd, *extra, "--json", "--demo"])
        assert args.json is True and args.demo is True


def test_output_cut_short_by_a_pipe_is_no_traceback(tmp_path):
    """`esimdesk plans | head`: the reader leaves early; the command ends quietly."""
    import os

    env = {**os.environ, "ESIMDESK_HOME": str(tmp_path)}
    assert subprocess.run([sys.executable, "-m", "esimdesk", "--demo", "sync"], env=env, capture_output=True,
                          timeout=120).returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk", "--demo", "plans"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    proc.stdout.readline()
    proc.stdout.close()  # more than a pipe buffer of rows is still to come
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err
