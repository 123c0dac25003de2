#!/usr/bin/env bash
# Checks the running conformance app against the OpenAPI document it serves
# (`SECURITY_OPENAPI_URL`, /openapi.json): schemathesis generates requests for every documented
# operation and fails on a 5xx answer or on an answer the document does not describe (status,
# content type, headers, JSON schema).
#
# Usage: scripts/schemathesis.sh [BINARY]   (default: target/release/conformance-app)
#
# Starts BINARY (`serve`) on a free port with a fresh SQLite database and every view on, runs
# schemathesis (pinned in scripts/schemathesis/requirements.txt, installed once into a venv
# under target/), stops the app. Bounded: SCHEMATHESIS_MAX_EXAMPLES cases per operation
# (default 25), and the whole run within SCHEMATHESIS_TIMEOUT seconds (default 240).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

binary="${1:-target/release/conformance-app}"
case "$binary" in /*) ;; *) binary="$root/$binary" ;; esac
[ -x "$binary" ] || { echo "schemathesis: $binary is not built" >&2; exit 2; }
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "schemathesis: $python is not installed" >&2; exit 2; }
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
budget="${SCHEMATHESIS_TIMEOUT:-240}"

# --- the venv (created once, again when the pins or the Python change) ----------------------
requirements="$root/scripts/schemathesis/requirements.txt"
venv="$root/target/schemathesis-venv"
want="$(cat "$requirements") $("$python" -c 'import sys; print(sys.version.split()[0])')"
if ! { [ -x "$venv/bin/schemathesis" ] && [ "$(cat "$venv/.pins" 2>/dev/null)" = "$want" ]; }; then
    echo "schemathesis: creating $venv"
    rm -rf "$venv"
    mkdir -p "$root/target"
    "$python" -m venv "$venv" ||
        { echo "schemathesis: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2; exit 2; }
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$requirements"
    printf '%s\n' "$want" >"$venv/.pins"
fi

# --- the app -----------------------------------------------------------------------------------
work="$(mktemp -d)"
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
pid=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

(
    cd "$work"
    export PORT="$port"
    export DATABASE_URL="sqlite://$work/app.db?mode=rwc"
    export SECRET_KEY="schemathesis-secret-key-0123456789"
    export SECURITY_PASSWORD_SALT="schemathesis-salt"
    export SECURITY_OPENAPI_URL="/openapi.json"
    export SECURITY_REGISTERABLE=true SECURITY_RECOVERABLE=true SECURITY_CHANGEABLE=true
    export SECURITY_CONFIRMABLE=true SECURITY_LOCKABLE=true SECURITY_CHANGE_EMAIL=true
    export SECURITY_API_KEYS=true SECURITY_SIGN_OUT_EVERYWHERE=true SECURITY_REFRESH_TOKEN=true
    export SECURITY_USERNAME_ENABLE=true SECURITY_CHANGE_USERNAME=true
    # Mail goes to the outbox (no SMTP server listens here; the sender retries in the
    # background, which the answers do not wait for).
    export MAIL_SERVER=127.0.0.1 MAIL_PORT=9
    export RUST_LOG="${RUST_LOG:-warn}"
    exec "$binary" serve
) >"$work/server.log" 2>&1 &
pid=$!

url="http://127.0.0.1:$port/openapi.json"
for _ in $(seq 1 100); do
    if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "schemathesis: the app exited" >&2
        cat "$work/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

# --- the run -------------------------------------------------------------------------------------
status=0
(
    cd "$work"
    timeout "$budget" "$venv/bin/schemathesis" --no-color run "$url" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$max_examples" \
        --max-redirects 0 \
        --workers 2 \
        --seed 14 \
        --generation-database none
) || status=$?
if [ "$status" -ne 0 ]; then
    echo "schemathesis: failed ($status); the app's log:" >&2
    tail -n 50 "$work/server.log" >&2
fi
exit "$status"
