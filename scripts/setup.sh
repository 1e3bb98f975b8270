#!/usr/bin/env bash
# Prepare a fresh machine: mosquitto (broker and clients) and a virtualenv with flowengine.
set -euo pipefail
cd "$(dirname "$0")/.."

# mosquitto (tests start their own brokers), its clients (the demo), openssl (test certificates)
missing=""
{ command -v mosquitto || [ -x /usr/sbin/mosquitto ]; } >/dev/null 2>&1 || missing="$missing mosquitto"
command -v mosquitto_sub >/dev/null 2>&1 || missing="$missing mosquitto-clients"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -n "$missing" ]; then
    echo "setup: installing$missing" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.flowengine-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "setup: installing flowengine and its dependencies" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    if ! .venv/bin/python -m pip install -q -e ".[dev]" >.venv/install.log 2>&1; then
        cat .venv/install.log >&2
        echo "setup: pip install failed (log above, also in .venv/install.log)" >&2
        exit 1
    fi
    .venv/bin/python -c "import flowengine, paho, pydantic, networkx"
    touch "$stamp"
fi
