"""`python -m esimdesk.sandbox`: serves the four simulators and prints how to reach and log in to them."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx


def test_standalone_sandbox_prints_urls_and_credentials_and_serves(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk.sandbox", "--plans", "500", "--esims", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        exports = {}
        for line in proc.stdout:
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").strip().partition("=")
                exports[key] = value
            if line.startswith("Ctrl+C"):
                break
        assert {"ESIMDESK_ROUMIO_URL", "ESIMDESK_ROUMIO_KEY", "ESIMDESK_ROAMIFY_TOKEN", "ESIMDESK_MICROESIM_SALT",
                "ESIMDESK_FLEXIROAM_KEY"} <= set(exports)
        assert exports["ESIMDESK_ROUMIO_URL"].startswith("http://127.0.0.1:")
        resp = httpx.post(exports["ESIMDESK_ROUMIO_URL"] + "/package/list", json={},
                          headers={"Authorization": exports["ESIMDESK_ROUMIO_KEY"]})
        assert resp.status_code == 200 and len(resp.json()["obj"]["packageList"]) >= 500
        denied = httpx.post(exports["ESIMDESK_ROUMIO_URL"] + "/balance", json={}, headers={"Authorization": "nope"})
        assert denied.json()["success"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_standalone_sandbox_can_play_roamifys_older_api():
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk.sandbox", "--plans", "100", "--esims", "10",
                             "--roamify-older-api"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        root = None
        for line in proc.stdout:
            if line.startswith("esimdesk sandbox on "):
                root = line.split()[3]
            if line.startswith("Ctrl+C"):
                break
        assert root is not None
        assert httpx.get(root + "/_sandbox/config").json()["roamify_reference_ids"] is False
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
