#!/usr/bin/env bash
# CI: the real window on X11. Starts Xvfb, runs `esimdesk --demo` on Qt's xcb platform (the README's
# Debian packages are all it has beyond the wheel), waits until the window is drawn, takes a screenshot
# of the X screen and fails if the process died or the screenshot has fewer than MIN_COLOURS colours.
# Run with the venv active (esimdesk on PATH). Leaves the screenshot in $GUI_SMOKE_SHOT if set.
set -euo pipefail

MIN_COLOURS="${MIN_COLOURS:-50}"
WAIT_SECONDS="${WAIT_SECONDS:-60}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/esimdesk-gui.XXXXXX")"
XVFB_PID=""
APP_PID=""
cleanup() {
  rc=$?
  if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$APP_PID" 2>/dev/null || true
  fi
  if [ -n "$XVFB_PID" ]; then
    kill -TERM "$XVFB_PID" 2>/dev/null || true
    wait "$XVFB_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free display number: the first with no X lock file and no socket.
N=90
while [ -e "/tmp/.X$N-lock" ] || [ -e "/tmp/.X11-unix/X$N" ]; do N=$((N + 1)); done
Xvfb ":$N" -screen 0 1400x900x24 -nolisten tcp >"$WORK/xvfb.log" 2>&1 &
XVFB_PID=$!
for _ in $(seq 1 100); do [ -e "/tmp/.X11-unix/X$N" ] && break; sleep 0.1; done
if ! kill -0 "$XVFB_PID" 2>/dev/null || [ ! -e "/tmp/.X11-unix/X$N" ]; then
  echo "gui smoke: Xvfb :$N did not start" >&2; cat "$WORK/xvfb.log" >&2; exit 1
fi

export DISPLAY=":$N" QT_QPA_PLATFORM=xcb ESIMDESK_HOME="$WORK/home"
unset QT_DEBUG_PLUGINS
esimdesk --demo >"$WORK/app.log" 2>&1 &
APP_PID=$!

# Drawn = the screen (black while empty) shows at least MIN_COLOURS colours.
shot="$WORK/screen.png"
colours=0
deadline=$((SECONDS + WAIT_SECONDS))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ! kill -0 "$APP_PID" 2>/dev/null; then
    app_rc=0; wait "$APP_PID" || app_rc=$?
    APP_PID=""
    echo "gui smoke: esimdesk --demo exited (status $app_rc) before its window was drawn:" >&2
    cat "$WORK/app.log" >&2
    exit 1
  fi
  if import -display ":$N" -window root "$shot" 2>/dev/null; then
    colours="$(identify -format %k "$shot" 2>/dev/null || echo 0)"
    [ "$colours" -ge "$MIN_COLOURS" ] && break
  fi
  sleep 1
done
if [ "$colours" -lt "$MIN_COLOURS" ]; then
  echo "gui smoke: after ${WAIT_SECONDS}s the screen has $colours colours (< $MIN_COLOURS): the window was not drawn" >&2
  cat "$WORK/app.log" >&2
  exit 1
fi
# Still alive a moment after drawing (no crash right after the first paint).
sleep 2
if ! kill -0 "$APP_PID" 2>/dev/null; then
  echo "gui smoke: esimdesk --demo died after drawing its window:" >&2; cat "$WORK/app.log" >&2; exit 1
fi
if [ -n "${GUI_SMOKE_SHOT:-}" ]; then cp "$shot" "$GUI_SMOKE_SHOT"; fi
echo "gui smoke: esimdesk --demo drew its window on Xvfb :$N over xcb ($colours colours)"

kill -TERM "$APP_PID"
app_rc=0
for _ in $(seq 1 100); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$APP_PID" 2>/dev/null; then
  echo "gui smoke: esimdesk --demo did not end within 10 s of SIGTERM" >&2; exit 1
fi
wait "$APP_PID" 2>/dev/null || app_rc=$?
APP_PID=""
# 143 = ended by the SIGTERM we sent (Qt's default); anything else after the window closed is reported.
if [ "$app_rc" -ne 0 ] && [ "$app_rc" -ne 143 ]; then
  echo "gui smoke: esimdesk --demo exited with status $app_rc on SIGTERM:" >&2; cat "$WORK/app.log" >&2; exit 1
fi
