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
# (default 25), and each of the three runs (CSRF on; off; off and logged in) within
# SCHEMATHESIS_TIMEOUT seconds (default 120). One worker: with two, Python 3.11's parser has
# been seen to fail inside Hypothesis (`AST constructor recursion depth mismatch`).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

binary="${1:-target/release/conformance-app}"
case "$binary" in /*) ;; *) binary="$root/$binary" ;; esac
[ -x "$binary" ] || { echo "schemathesis: $binary is not built" >&2; exit 2; }
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "schemathesis: $python is not installed" >&2; exit 2; }
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-25}"
budget="${SCHEMATHESIS_TIMEOUT:-120}"

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

# --- the app and the run ----------------------------------------------------------------------
pid=""
work=""
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        pid=""
    fi
    if [ -n "$work" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# One run against a fresh app. $1: WTF_CSRF_ENABLED (with CSRF on, form posts without the
# session's token are refused; with it off, they reach the views). $2: `anonymous`, or
# `logged-in`: every request carries the session cookie of a user who logged in first (logout
# is left out, so that the session lasts), so that the views that need a user are exercised.
check() {
    local csrf="$1" who="$2" port url status=0 cookie=""
    local -a extra=()
    work="$(mktemp -d)"
    port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    local -a vars=(
        "PORT=$port"
        "DATABASE_URL=sqlite://$work/app.db?mode=rwc"
        "SECRET_KEY=schemathesis-secret-key-0123456789"
        "SECURITY_PASSWORD_SALT=schemathesis-salt"
        "SECURITY_OPENAPI_URL=/openapi.json"
        "WTF_CSRF_ENABLED=$csrf"
        SECURITY_REGISTERABLE=true SECURITY_RECOVERABLE=true SECURITY_CHANGEABLE=true
        SECURITY_CONFIRMABLE=true SECURITY_LOCKABLE=true SECURITY_CHANGE_EMAIL=true
        SECURITY_API_KEYS=true SECURITY_SIGN_OUT_EVERYWHERE=true SECURITY_REFRESH_TOKEN=true
        SECURITY_USERNAME_ENABLE=true SECURITY_CHANGE_USERNAME=true
        # Mail goes to the outbox (no SMTP server listens here; the sender retries in the
        # background, which the answers do not wait for).
        MAIL_SERVER=127.0.0.1 MAIL_PORT=9
        "RUST_LOG=${RUST_LOG:-warn}"
    )
    # The logged-in run's user was made by the command line, unconfirmed.
    if [ "$who" = logged-in ]; then vars+=(SECURITY_LOGIN_WITHOUT_CONFIRMATION=true); fi
    (cd "$work" && exec env "${vars[@]}" "$binary" serve) >"$work/server.log" 2>&1 &
    pid=$!

    url="http://127.0.0.1:$port/openapi.json"
    for _ in $(seq 1 100); do
        if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url" 2>/dev/null; then
            break
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "schemathesis: the app exited" >&2
            cat "$work/server.log" >&2
            return 1
        fi
        sleep 0.2
    done

    if [ "$who" = logged-in ]; then
        (cd "$work" && env "${vars[@]}" "$binary" users create schemathesis@example.com \
            --password "schemathesis password" >/dev/null)
        # A JSON login (no CSRF token needed without cookies); the session cookie it sets.
        cookie="$("$python" - "http://127.0.0.1:$port/login" <<'PY'
import json, sys, urllib.request
body = json.dumps({"email": "schemathesis@example.com", "password": "schemathesis password"})
request = urllib.request.Request(sys.argv[1], data=body.encode(),
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request) as response:
    cookies = [c.split(";", 1)[0] for c in response.headers.get_all("Set-Cookie") or []]
print("; ".join(cookies))
PY
)"
        [ -n "$cookie" ] || { echo "schemathesis: the login set no cookie" >&2; return 1; }
        extra=(-H "Cookie: $cookie" --exclude-operation-id logout --exclude-operation-id logout_get
               --generation-with-security-parameters false)
    fi

    echo "schemathesis: WTF_CSRF_ENABLED=$csrf, $who, $url"
    (
        cd "$work"
        timeout "$budget" "$venv/bin/schemathesis" --no-color run "$url" \
            --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
            --phases examples,coverage,fuzzing \
            --max-examples "$max_examples" \
            --max-redirects 0 \
            --workers 1 \
            --seed 14 \
            --generation-database none \
            "${extra[@]}"
    ) || status=$?
    if [ "$status" -ne 0 ]; then
        echo "schemathesis: failed ($status); the app's log:" >&2
        tail -n 50 "$work/server.log" >&2
    fi
    cleanup
    return "$status"
}

check true anonymous
check false anonymous
check false logged-in
