"""A window started on a platform nobody sees (QT_QPA_PLATFORM=offscreen left set in the shell) says so
and stops on Ctrl+C, instead of running unseen until killed (issue 29, item 10)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from esimdesk.ui.app import OFFSCREEN_NOTE


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT as Ctrl+C in a terminal does")
def test_an_offscreen_window_says_it_is_unseen_and_ctrl_c_stops_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESIMDESK_")}
    env.update(QT_QPA_PLATFORM="offscreen", ESIMDESK_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "esimdesk", "--demo"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        note = OFFSCREEN_NOTE.format(platform="offscreen")
        before = []  # Qt's own words may come first ("This plugin does not support propagateSizeHints()")
        for line in proc.stderr:  # the event: the note comes once the window is shown
            if line.rstrip("\n") == note:
                break
            before.append(line)
        else:
            pytest.fail(f"no note before the window ended: {''.join(before)}")
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)  # a safety net: the window closes at once
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert rc == 0, rest
    assert "Traceback" not in rest
