"""The README's set-up commands, per shell, do what they say (issue 29, items 10 and 11).

No test machine has every shell, so each line is checked the way its shell reads it: bash's with
``bash -n`` and a dry run (pip and python stand-ins, the rest real bash); cmd's and PowerShell's by a
parser of the little of their grammar the lines use — cmd's ``&&`` and ``set`` (which keeps the space
before ``&&`` in the value: ``set QT_QPA_PLATFORM=offscreen && …`` stores ``"offscreen "``, and Qt then
aborts), PowerShell's ``;`` and ``$env:`` assignments. The tests' own Qt platform comes from
``tests/conftest.py``, for the test process alone: no line sets it in the shell.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def setup_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Set-up: two commands")
    return text[start:text.index("\n## ", start + 1)]


def bash_blocks() -> list[str]:
    """The two commands of "Set-up: two commands": its first two bash blocks (install and run; the tests)."""
    blocks = re.findall(r"```bash\n(.*?)```", setup_section(), re.S)
    return [b.strip() for b in blocks[:2]]


def desk_rows() -> dict[str, tuple[str, str]]:
    """The table "The same on an agent's desk": shell -> (install-and-run line, test line)."""
    rows = {}
    for line in setup_section().splitlines():
        m = re.match(r"\| \*\*(\w+)\*\* \((\w+)\) \| `([^`]*)` \| (`([^`]*)`|[^|]*) \|$", line)
        if m:
            rows[m.group(2)] = (m.group(3), m.group(5) or m.group(4).strip())
    return rows


# --- cmd.exe, the part of it the README's lines use -------------------------------------------------

def cmd_commands(line: str) -> list[str]:
    """cmd splits a line at ``&&`` and keeps everything between, spaces included."""
    return line.split("&&")


def cmd_set(command: str, env: dict[str, str]) -> None:
    """cmd's ``set``: ``set NAME=value`` stores everything after the ``=`` to the command's end (trailing
    spaces too); ``set "NAME=value"`` stores what is between the first quote and the last."""
    body = command.lstrip()[len("set"):].lstrip(" ")
    if body.startswith('"'):
        body = body[1:body.rindex('"')]
    name, _, value = body.partition("=")
    if value:
        env[name.upper()] = value
    else:
        env.pop(name.upper(), None)


def run_cmd_line(line: str, env: dict[str, str]) -> list[str]:
    """Apply the line's ``set`` commands to ``env`` in order; the other commands, as cmd would run them."""
    ran = []
    for command in cmd_commands(line):
        if re.match(r"\s*set\s", command, re.I):
            cmd_set(command, env)
        else:
            ran.append(command.strip())
    return ran


def run_powershell_line(line: str, env: dict[str, str]) -> list[str]:
    """``;`` separates statements; ``$env:NAME='value'`` (or "value") sets exactly what is quoted."""
    ran = []
    for statement in line.split(";"):
        m = re.fullmatch(r"\s*\$env:(\w+)\s*=\s*(['\"])(.*)\2\s*", statement)
        if m:
            env[m.group(1).upper()] = m.group(3)
        elif statement.strip():
            ran.append(statement.strip())
    return ran


def platform_for_tests(env: dict[str, str]) -> str:
    """The Qt platform the tests get with ``env`` as the shell left it: what tests/conftest.py makes of it,
    by importing it in a fresh Python (as pytest does, before any QApplication)."""
    code = "import os, tests.conftest; print(repr(os.environ['QT_QPA_PLATFORM']))"
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    return eval(res.stdout.strip())  # a repr of a str


def base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}


def test_the_cmd_parser_has_the_pitfall_the_readme_once_fell_into():
    """The parser is cmd's: the old README line left "offscreen " (a trailing space) set, and Qt aborted."""
    env: dict[str, str] = {}
    run_cmd_line("pip install -e .[test] && set QT_QPA_PLATFORM=offscreen && python -m pytest -q", env)
    assert env["QT_QPA_PLATFORM"] == "offscreen "
    env = {}
    run_cmd_line('set "QT_QPA_PLATFORM=offscreen" && python -m pytest -q', env)
    assert env["QT_QPA_PLATFORM"] == "offscreen"


def test_the_readme_has_each_shells_lines():
    rows = desk_rows()
    assert set(rows) == {"PowerShell", "cmd", "Terminal"}, rows
    install, tests = bash_blocks()
    assert install.endswith("esimdesk --demo") and "pip install -e ." in install
    assert tests == "pip install -e '.[test]' && python -m pytest -q"


def test_no_test_command_sets_the_qt_platform_in_the_shell():
    """Set in the shell, it stayed set: an `esimdesk --demo` there later showed no window and ran until killed."""
    _, tests = bash_blocks()
    rows = desk_rows()
    for line in (tests, rows["PowerShell"][1], rows["cmd"][1]):
        assert "QT_QPA_PLATFORM" not in line and "export" not in line, line
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert not re.search(r"^\s*export QT_QPA_PLATFORM", ci, re.M), ".ci/run must run the README's command as it is"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_linux_and_macos_lines_are_bash_and_leave_the_shell_as_it_was(tmp_path):
    """bash -n on both; then a dry run of the test line in bash (pip and python stand-ins that say what they
    were asked), and the shell afterwards has no QT_QPA_PLATFORM: `esimdesk --demo` would show its window."""
    install, tests = bash_blocks()
    for block in (install, tests):
        res = subprocess.run(["bash", "-n", "-c", block], capture_output=True, text=True)
        assert res.returncode == 0, (block, res.stderr)
    script = ('pip() { echo "pip $*"; }; python() { echo "python $*"; }\n' + tests +
              '\necho "after: ${QT_QPA_PLATFORM-unset}"\n')
    res = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=base_env())
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["pip install -e .[test]", "python -m pytest -q", "after: unset"]
    assert desk_rows()["Terminal"] == (install, "as on Linux")


def test_the_cmd_lines_leave_exactly_offscreen_for_the_tests():
    install, tests = desk_rows()["cmd"]
    env = base_env()
    before = dict(env)
    assert run_cmd_line(install, env)[0].startswith("py -3 ")
    ran = run_cmd_line(tests, env)
    assert ran == ["pip install -e .[test]", "python -m pytest -q"]
    for name, value in env.items():  # whatever a line sets, cmd stores it with no stray space
        if before.get(name) != value:
            assert value == value.strip(), (name, value)
    assert platform_for_tests(env) == "offscreen"
    # and a desk where the old line already left "offscreen " set still runs its tests
    assert platform_for_tests({**env, "QT_QPA_PLATFORM": "offscreen "}) == "offscreen"


def test_the_powershell_lines_leave_exactly_offscreen_for_the_tests():
    install, tests = desk_rows()["PowerShell"]
    env = base_env()
    first, activate, *_ = run_powershell_line(install, env)
    assert first.startswith("py -3 ") and activate == r".venv\Scripts\Activate.ps1"
    ran = run_powershell_line(tests, env)
    assert ran == ["pip install -e '.[test]'", "python -m pytest -q"]
    assert platform_for_tests(env) == "offscreen"
    # Activate.ps1 under Windows' default execution policy: the one command that allows it, for this user
    assert "`Set-ExecutionPolicy -Scope CurrentUser RemoteSigned`" in setup_section()


def test_the_readme_says_which_python_and_how_to_get_the_code():
    section = setup_section()
    assert "py -3.11" not in section  # fails where only 3.12+ is installed
    assert "py --list" in section and "python.org" in section
    assert "3.9" in section and "python3.12 -m venv .venv" in section  # stock macOS python3
    assert "git clone" in section


def test_a_deliberate_platform_is_kept_for_the_tests():
    """QT_QPA_PLATFORM=xcb on Xvfb (to watch the window tests) is the developer's choice: kept."""
    assert platform_for_tests({**base_env(), "QT_QPA_PLATFORM": "xcb"}) == "xcb"
