"""Input at the command line: text that is not valid UTF-8 or holds control characters is a usage error
(exit 2), a typed --reference is validated; `balance` with nothing answered exits 1 with the reason."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from esimdesk.cli.main import main
from esimdesk.domain import ValidationError, validate_reference

NOT_UTF8 = "esimdesk: error: argument contains text that is not valid UTF-8"


def cli(*args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real program in a process of its own; the machine's own keychain is never asked."""
    full = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", **(env or {})}
    return subprocess.run([sys.executable.encode(), b"-m", b"esimdesk", *args], capture_output=True, env=full,
                          timeout=120)


@pytest.mark.parametrize("argv", [
    [b"plans", b"--search", b"jap\xff\xfean"],
    [b"esims", b"--search", os.fsencode("caf\udce9")],   # Latin-1 "café" from an old file
    [b"order", b"--vendor", b"roumio", b"--plan", b"P1", b"--reference", b"shop\xc3"],
    [b"\xff\xfe"],
])
def test_arguments_that_are_not_utf8_are_a_usage_error(argv):
    res = cli(*argv)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 2, err
    assert err.startswith("usage: esimdesk")
    assert NOT_UTF8 in err
    assert "Traceback" not in err and "UnicodeEncodeError" not in err
    assert res.stdout == b""


@pytest.mark.parametrize("argv", [
    ["plans", "--search", "a\x00b"],
    ["orders", "--search", "\x1b[2J"],
    ["esims", "--search", "x\x7f"],
    ["plans", "--search", "\ud800"],
])
def test_control_characters_and_surrogates_in_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: esimdesk")
    assert "esimdesk: error: argument contains" in err and "Traceback" not in err


# --- --reference --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("shop-17", "shop-17"), ("  shop-17 \n", "shop-17"), ("Kundin Müller #4", "Kundin Müller #4"),
    ("x" * 50, "x" * 50),
])
def test_validate_reference_accepts_and_trims(text, expected):
    assert validate_reference(text) == expected


@pytest.mark.parametrize("text, words", [
    ("", "blank"), ("   \t ", "blank"), ("x" * 51, "51 characters; at most 50"), ("x" * 300, "at most 50"),
    ("a\x00b", "unprintable"), ("a\tb", "unprintable"), ("line\nbreak", "unprintable"), ("\u200bzw", "unprintable"),
])
def test_validate_reference_refuses_with_a_sentence(text, words):
    with pytest.raises(ValidationError, match=words):
        validate_reference(text)


@pytest.mark.parametrize("reference, words", [
    ("   ", "blank"), ("r" * 300, "at most 50"), ("a\u200bb", "unprintable"), ("a\u00a0b", "unprintable"),
])
def test_a_bad_reference_exits_2_before_anything_is_sent(reference, words, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["order", "--vendor", "roumio", "--plan", "P1", "--reference", reference])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --reference" in err and words in err


def test_a_good_reference_is_passed_on_trimmed():
    from esimdesk.cli.parser import build_parser

    args = build_parser().parse_args(["order", "--vendor", "roumio", "--plan", "P1", "--reference", " shop-17 "])
    assert args.reference == "shop-17"


# --- balance ------------------------------------------------------------------------------------

def test_balance_with_no_vendor_configured_exits_1_with_the_reason():
    res = cli(b"balance")
    assert res.returncode == 1
    assert res.stderr.decode().strip() == \
        "esimdesk balance: no vendor account is configured; see README → Configuration"
    assert res.stdout == b""
    res = cli(b"balance", b"--json")
    assert res.returncode == 1 and res.stdout.decode().strip() == "[]"


def test_balance_with_every_key_refused_exits_1_with_each_reason(sandbox):
    env = sandbox.env()
    env.update({k: "wrong-key" for k in env if k.endswith(("_KEY", "_TOKEN", "_SECRET"))})
    res = cli(b"balance", env=env)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "Roumio refused the API key" in err
    assert "MicroESIM" in err and "refused" in err
    assert "Roamify: credentials refused" in err
    assert "no vendor answered with a balance" in err
    assert "Flexiroam does not offer a balance through its API" in err
    assert "Traceback" not in err and "wrong-key" not in err
    assert res.stdout == b""


def test_balance_with_only_vendors_that_offer_none_exits_1(sandbox):
    env = {k: v for k, v in sandbox.env().items() if "FLEXIROAM" in k}
    res = cli(b"balance", env=env)
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert "Flexiroam does not offer a balance through its API" in err
    assert "none of the configured vendors offers a balance" in err
    # Roamify reports one (GET /api/balance, roamify-more.md §15): with it, the command answers.
    env = {k: v for k, v in sandbox.env().items() if "ROAMIFY" in k or "FLEXIROAM" in k}
    res = cli(b"balance", env=env)
    assert res.returncode == 0 and b"Roamify" in res.stdout, res.stderr


def test_balance_that_answers_exits_0_and_notes_the_vendors_without_one(sandbox):
    res = cli(b"balance", env=sandbox.env())
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, err
    assert "Roumio" in out and "MicroESIM" in out and "Roamify" in out
    assert "esimdesk balance: Flexiroam does not offer a balance through its API" in err
    res = cli(b"balance", b"--vendor", b"flexiroam", env=sandbox.env())
    assert res.returncode == 1
    assert "Flexiroam does not offer a balance through its API" in res.stderr.decode()
