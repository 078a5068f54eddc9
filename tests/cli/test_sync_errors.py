"""Issue 11, item 1: when a vendor fails during `esimdesk sync`, the table (or JSON) stays on stdout and
stderr says, in one sentence per failed vendor with the command's prefix, what went wrong; exit 1. A
refused credential reads as a credential problem and is never echoed; a 500 on every read reads as the
vendor's server failing. Real CLI processes against the sandbox."""

from __future__ import annotations

import json
import subprocess

import pytest

from esimdesk.domain import vendor_title
from esimdesk.sandbox.faults import Fault
from tests.services.helpers import cli, cli_env

WRONG = {  # a wrong value for each vendor's credential(s), easy to find in any output
    "roumio": {"ESIMDESK_ROUMIO_KEY": "wrong-roumio-key-5f1e"},
    "roamify": {"ESIMDESK_ROAMIFY_TOKEN": "wrong-roamify-token-77ab"},
    "microesim": {"ESIMDESK_MICROESIM_SECRET": "wrong-microesim-secret-c0de"},
    "flexiroam": {"ESIMDESK_FLEXIROAM_KEY": "wrong-flexiroam-key-9a9a"},
}
CREDENTIAL_LINE = {
    "roumio": "esimdesk sync: Roumio: the key was refused — check File → Accounts (or ESIMDESK_ROUMIO_KEY)",
    "roamify": "esimdesk sync: Roamify: the token was refused — check File → Accounts (or ESIMDESK_ROAMIFY_TOKEN)",
    "microesim": "esimdesk sync: MicroESIM: the account, secret or salt was refused — check File → Accounts "
                 "(or ESIMDESK_MICROESIM_ACCOUNT, ESIMDESK_MICROESIM_SECRET, ESIMDESK_MICROESIM_SALT)",
    "flexiroam": "esimdesk sync: Flexiroam: the key was refused — check File → Accounts (or ESIMDESK_FLEXIROAM_KEY)",
}


def sync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(cli("sync", *args), env=env, capture_output=True, text=True, timeout=120)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.parametrize("vendor", sorted(WRONG))
def test_a_wrong_credential_is_one_sentence_on_stderr_about_the_credential(sandbox, tmp_path, vendor):
    secret = next(iter(WRONG[vendor].values()))
    res = sync(cli_env(sandbox, tmp_path / "home", **WRONG[vendor]), "--vendor", vendor)
    assert res.returncode == 1
    assert lines(res.stderr) == [CREDENTIAL_LINE[vendor]]
    assert "server" not in res.stderr and "Traceback" not in res.stderr
    # The table is on stdout as before: the vendor's row says FAILED.
    row = next(line for line in res.stdout.splitlines() if line.startswith(vendor_title(vendor)))
    assert "FAILED" in row
    assert secret not in res.stdout + res.stderr


def test_one_wrong_key_among_four_vendors_names_only_that_vendor(sandbox, tmp_path):
    secret = WRONG["roumio"]["ESIMDESK_ROUMIO_KEY"]
    res = sync(cli_env(sandbox, tmp_path / "home", **WRONG["roumio"]), "--json")
    assert res.returncode == 1
    assert lines(res.stderr) == [CREDENTIAL_LINE["roumio"]]
    doc = json.loads(res.stdout)  # stdout is still one JSON document
    assert {r["vendor"]: r["ok"] for r in doc} == {"roumio": False, "roamify": True, "microesim": True,
                                                    "flexiroam": True}
    assert secret not in res.stdout + res.stderr


def test_a_500_on_every_read_is_the_vendors_server_failing(fresh_sandbox, tmp_path):
    fresh_sandbox.sandbox.faults["roumio"].add(Fault("http_500", endpoint="*", times=None))
    env = cli_env(fresh_sandbox, tmp_path / "home")
    res = sync(env)
    assert res.returncode == 1
    assert lines(res.stderr) == ["esimdesk sync: Roumio: the vendor's server is failing (HTTP 500), on every try — "
                                 "the cached data is kept; try again later"]
    assert "refused" not in res.stderr and "Traceback" not in res.stderr
    rows = {line.split()[0]: line for line in lines(res.stdout)[1:]}
    assert "FAILED" in rows["Roumio"] and all(" ok " in rows[v] for v in ("Roamify", "MicroESIM", "Flexiroam"))
    for secret in (v for k, v in env.items() if k.endswith(("_KEY", "_TOKEN", "_SECRET", "_SALT"))):
        assert secret not in res.stdout + res.stderr


def test_every_vendor_synced_is_exit_0_and_a_quiet_stderr(sandbox, tmp_path):
    res = sync(cli_env(sandbox, tmp_path / "home"))
    assert res.returncode == 0
    assert lines(res.stderr) == []
