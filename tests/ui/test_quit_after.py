"""ESIMDESK_QUIT_AFTER (smoke tests, .ci/bundle_smoke.sh): the real window, started as `esimdesk --demo`,
does its start-up sync, closes by itself and exits 0; a value that is no number of seconds is one sentence."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _esimdesk(tmp_path, *args, **env):
    full = {**os.environ, "ESIMDESK_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
            "ESIMDESK_SANDBOX_PLANS": "40", "ESIMDESK_SANDBOX_ESIMS": "8", **env}
    return subprocess.run([sys.executable, "-m", "esimdesk", *args], capture_output=True, text=True,
                          timeout=120, env=full)


def test_window_quits_by_itself_after_its_first_sync(tmp_path):
    run = _esimdesk(tmp_path, "--demo", ESIMDESK_QUIT_AFTER="0")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    # It quit after the start-up sync, not before: the demo cache holds the sandbox's plans.
    plans = json.loads(_esimdesk(tmp_path, "--demo", "plans", "--json").stdout)
    assert plans and {p["vendor"] for p in plans} >= {"roumio", "microesim"}


def test_a_value_that_is_no_number_of_seconds_is_one_sentence(tmp_path):
    for bad in ("soon", "-1", "nan", "86401"):
        run = _esimdesk(tmp_path, "--demo", ESIMDESK_QUIT_AFTER=bad)
        assert run.returncode == 1
        assert run.stderr.strip().splitlines() == [
            f"esimdesk: ESIMDESK_QUIT_AFTER={bad!r} is not a number of seconds from 0 to 86400"]
