#!/usr/bin/env bash
# CI: the frozen Linux desk bundle, run as on an agent's machine that has no Python of ours.
#   bash .ci/bundle_smoke.sh [--build] [BUNDLE]     (BUNDLE: default dist/esimdesk)
#   --build: first install the pinned PyInstaller ('.[package]') and run packaging/build.py (venv active).
# The bundle is copied out of the checkout and run with an empty environment (env -i: no venv on PATH,
# no PYTHONPATH); where a private mount namespace can be had (root: unshare -m), the Python install,
# the venv and the checkout are also hidden under empty tmpfs mounts, so a module the bundle lacks
# cannot be found there. Checks, each from the bundle: `esimdesk --version`; the window on Qt's
# offscreen platform with --demo, closing by itself (ESIMDESK_QUIT_AFTER) after its first sync,
# exit 0, no traceback; then `esimdesk --demo plans --json` lists the plans that window's sync cached;
# where Xvfb is installed, .ci/gui_smoke.sh with the frozen esimdesk (the window drawn over X11).
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then
  # Second half, in the private mount namespace (or not: NS=0): hide, then run the checks.
  WORK="$2"; NS="$3"; shift 3
  B="$WORK/bundle/esimdesk"
  if [ "$NS" = 1 ]; then
    for d in "$@"; do
      [ -d "$d" ] || continue
      case "$d" in /|/usr|/usr/local|/bin|/lib|/lib64|/opt|/root|/home|/tmp) continue ;; esac  # never the system
      case "$WORK/" in "$d"/*) continue ;; esac  # nor the folder the bundle runs from
      mount -t tmpfs -o size=1m,mode=0755 none "$d"
      [ -z "$(ls -A "$d")" ] || { echo "bundle smoke: could not hide $d" >&2; exit 1; }
    done
  fi
  cd "$WORK"
  clean_env() { env -i HOME="$WORK/home" PATH=/usr/bin:/bin LANG=C.UTF-8 ESIMDESK_HOME="$WORK/home/data" "$@"; }
  mkdir -p "$WORK/home"
  clean_env "$B/esimdesk" --version >"$WORK/version.out" 2>"$WORK/version.err" \
    || { echo "bundle smoke: esimdesk --version failed:" >&2; cat "$WORK/version.err" >&2; exit 1; }
  gui_rc=0
  clean_env QT_QPA_PLATFORM=offscreen ESIMDESK_QUIT_AFTER=1 timeout 180 "$B/esimdesk" --demo \
    >"$WORK/gui.out" 2>"$WORK/gui.err" || gui_rc=$?
  if [ "$gui_rc" -ne 0 ] || grep -q Traceback "$WORK/gui.err"; then
    echo "bundle smoke: the frozen window (offscreen, --demo) did not quit cleanly (status $gui_rc):" >&2
    cat "$WORK/gui.err" >&2; exit 1
  fi
  clean_env "$B/esimdesk" --demo plans --json >"$WORK/plans.json" 2>"$WORK/plans.err" \
    || { echo "bundle smoke: esimdesk --demo plans --json failed:" >&2; cat "$WORK/plans.err" >&2; exit 1; }
  # Where Xvfb is (CI installs it): the frozen window on a real X11 server too, as .ci/gui_smoke.sh checks
  # the installed one (drawn, alive, ends on SIGTERM), with the bundle's esimdesk first on PATH.
  if command -v Xvfb >/dev/null 2>&1 && command -v import >/dev/null 2>&1; then
    env -i HOME="$WORK/home" PATH="$B:/usr/bin:/bin" LANG=C.UTF-8 bash "$WORK/gui_smoke.sh"
    touch "$WORK/x11.ok"
  fi
  exit 0
fi

cd "$(dirname "$0")/.."
BUILD=""
if [ "${1:-}" = "--build" ]; then BUILD=1; shift; fi
BUNDLE="${1:-dist/esimdesk}"
if [ -n "$BUILD" ]; then
  # pipefail: a failed install fails here (only pip's noise about local index paths is dropped).
  python -m pip install -q -e '.[package]' 2>&1 | { grep -v '^WARNING: Location' || true; }
  python packaging/build.py
fi
[ -x "$BUNDLE/esimdesk" ] || { echo "bundle smoke: no bundle at $BUNDLE (python packaging/build.py makes it)" >&2; exit 1; }
expected="esimdesk $(sed -n 's/^__version__ = "\(.*\)"$/\1/p' esimdesk/__init__.py)"

WORK="$(mktemp -d /tmp/esimdesk-bundle.XXXXXX)"  # /tmp: outside the checkout, which may be hidden
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/bundle"
cp -a "$BUNDLE" "$WORK/bundle/esimdesk"
cp "$0" "$WORK/smoke.sh"  # the second half runs from here: the checkout may be mounted over
cp .ci/gui_smoke.sh "$WORK/gui_smoke.sh"

# What to hide: this Python (venv and install), any system Python library folder, and the checkout.
hide=("$PWD")
if command -v python >/dev/null 2>&1; then
  while IFS= read -r d; do hide+=("$d"); done < <(python -c 'import sys; print(sys.prefix); print(sys.base_prefix)')
fi
for d in /usr/lib/python3* /usr/local/lib/python3*; do [ -d "$d" ] && hide+=("$d"); done

if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
  unshare -m --propagation private bash "$WORK/smoke.sh" --inside "$WORK" 1 "${hide[@]}"
  how="with ${hide[*]} hidden"
else
  echo "bundle smoke: note: no private mount namespace here (needs root); the Python install stays visible"
  bash "$WORK/smoke.sh" --inside "$WORK" 0
  how="with an empty environment only"
fi

got="$(cat "$WORK/version.out")"
[ "$got" = "$expected" ] || { echo "bundle smoke: --version printed '$got', expected '$expected'" >&2; exit 1; }
# The plans the frozen window's demo sync cached: JSON, and not empty (read with a plain python3 if any).
PY="$(command -v python3 || command -v python || true)"
if [ -n "$PY" ]; then
  count="$("$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); assert isinstance(d, list); print(len(d))' "$WORK/plans.json")" \
    || { echo "bundle smoke: esimdesk --demo plans --json printed no JSON list:" >&2; head -c 500 "$WORK/plans.json" >&2; exit 1; }
else
  count="$(grep -c '"plan_id"' "$WORK/plans.json" || true)"
fi
[ "$count" -gt 0 ] || { echo "bundle smoke: no plans cached: the frozen window's demo sync did not run" >&2; exit 1; }
echo "bundle smoke: $BUNDLE ($(du -sh "$WORK/bundle/esimdesk" | cut -f1)), $how: $got; the window ran --demo offscreen and quit (0)$([ -e "$WORK/x11.ok" ] && echo " and was drawn over X11"); plans --json lists $count plans"
