#!/usr/bin/env bash
# The MQTT link against the newest paho-mqtt on PyPI, whatever pyproject pins: the fast path's
# guard (flowengine/mqtt/guard.py) must either accept that release or fall back to paho's public
# API, and the link tests must pass either way. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=.venv-newest-paho
PYTHON="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    echo "test-newest-paho: creating $VENV" >&2
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
fi
"$VENV/bin/python" -m pip install -q -e ".[dev]" >"$VENV/install.log" 2>&1 || { cat "$VENV/install.log" >&2; exit 1; }
"$VENV/bin/python" -m pip install -q --upgrade --no-deps paho-mqtt >>"$VENV/install.log" 2>&1
version=$("$VENV/bin/python" -c 'import paho.mqtt as m; print(m.__version__)')
verdict=$("$VENV/bin/python" -c 'from flowengine.mqtt.guard import _problem; print(_problem() or "fast path on")')
echo "test-newest-paho: paho-mqtt $version: $verdict" >&2
set +e
"$VENV/bin/python" -m pytest -q tests/test_mqtt_link.py tests/test_mqtt_offline_link.py tests/test_mqtt_auth_tls.py \
    tests/test_mqtt_nodes.py tests/test_mqtt_guard.py tests/test_agent_link.py "$@"
status=$?
set -e
[ "$status" -ne 5 ] || { echo "test-newest-paho: no tests collected" >&2; exit 1; }
exit "$status"
