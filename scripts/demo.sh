#!/usr/bin/env bash
# Set up (if needed), start a private mosquitto, run the agent in --simulate mode and
# watch everything it publishes live (`flowengine watch`; one line per message when the
# output is not a terminal). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

PORT="${PORT:-$(.venv/bin/python -c 'from flowengine.testing import free_port; print(free_port())')}"
WORK="$(mktemp -d)"
printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" > "$WORK/mosquitto.conf"
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER=$!
AGENT="" WATCH=""
cleanup() {
    # SIGTERM lets the watcher restore the terminal; the broker goes last, so the agent closes cleanly.
    kill $WATCH $AGENT 2>/dev/null || true
    wait $WATCH $AGENT 2>/dev/null || true
    kill $BROKER 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
.venv/bin/python -c "from flowengine.testing import wait_for_port; wait_for_port($PORT)"

CLIENT_ID="${CLIENT_ID:-demo-vg710}"
mkdir -p ./state
LOG=./state/demo-agent.log
echo "demo: broker 127.0.0.1:$PORT, client id $CLIENT_ID, state in ./state/demo, agent log in $LOG" >&2
.venv/bin/flowengine run --simulate --broker "127.0.0.1:$PORT" --client-id "$CLIENT_ID" \
    --state-dir ./state/demo "$@" >"$LOG" 2>&1 &
AGENT=$!
echo "demo: try   .venv/bin/flowengine call --broker 127.0.0.1:$PORT $CLIENT_ID gnss/refresh" >&2
VIEW=()
[ -t 1 ] || VIEW=(--plain)
.venv/bin/flowengine watch --broker "127.0.0.1:$PORT" "$CLIENT_ID" "${VIEW[@]}" &
WATCH=$!
set +e
wait -n  # whichever ends first: the watcher (Ctrl-C), the agent or the broker
status=$?
set -e
if ! kill -0 "$AGENT" 2>/dev/null; then
    echo "demo: the agent stopped (status $status); the end of $LOG:" >&2
    tail -n 20 "$LOG" >&2
fi
exit "$status"
