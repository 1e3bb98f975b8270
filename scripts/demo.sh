#!/usr/bin/env bash
# Set up (if needed), start a private mosquitto, run the agent in --simulate mode and
# show every FlexAPI message it publishes. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

PORT="${PORT:-$(.venv/bin/python -c 'from flowengine.testing import free_port; print(free_port())')}"
WORK="$(mktemp -d)"
printf 'user root\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" > "$WORK/mosquitto.conf"
MOSQUITTO="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER=$!
trap 'kill $AGENT $BROKER $WATCH 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT INT TERM
.venv/bin/python -c "from flowengine.testing import wait_for_port; wait_for_port($PORT)"

CLIENT_ID="${CLIENT_ID:-demo-vg710}"
echo "demo: broker 127.0.0.1:$PORT, client id $CLIENT_ID, state in ./state/demo" >&2
echo "demo: try   mosquitto_pub -p $PORT -t v1/$CLIENT_ID/gnss/refresh -m '{\"client_token\":\"t1\"}'" >&2
mosquitto_sub -p "$PORT" -v -t "v1/$CLIENT_ID/#" &
WATCH=$!
.venv/bin/flowengine run --simulate --broker "127.0.0.1:$PORT" --client-id "$CLIENT_ID" \
    --state-dir ./state/demo "$@" &
AGENT=$!
wait $AGENT
