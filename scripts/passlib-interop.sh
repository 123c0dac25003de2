#!/usr/bin/env bash
# Checks that what the Rust port writes (legacy password hashes, login timestamps) is read back by
# Flask-Security 1.7.4's passlib and SQLAlchemy's SQLite DATETIME parsing: see
# scripts/passlib_interop.py.
#
# Usage: scripts/passlib-interop.sh [BINARY]   (default: target/release/conformance-app)
#
# Needs only python3 and PyPI: the pinned packages go into a venv under
# ${XDG_CACHE_HOME:-$HOME/.cache}/security-passlib (or $TMPDIR/security-passlib when that is not
# writable), created once and reused while the pins and the Python stay the same.
#
# Pins: passlib 1.6.5 is the 1.6 release nearest to Flask-Security 1.7.4's passlib 1.6.2 that
# works on Python 3.11 with a bcrypt wheel (1.6.2 only drives the cffi-era `bcrypt` that exposed
# `_ffi` or py-bcrypt; with today's wheels it passes str salts and fails, and its pure-Python
# fallback needs about a minute per cost-12 hash). bcrypt 4.0.1: bcrypt 5 refuses secrets over 72
# bytes (Flask-Security's 88-byte HMAC always is) where 1.6.2's backends truncated; 4.0.1 is also
# the release passlib 1.7.4 works with (4.1 dropped `__about__`), and it ships abi3 wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

PASSLIB_VERSION=1.6.5
BCRYPT_VERSION=4.0.1

binary="${1:-target/release/conformance-app}"
python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || { echo "passlib-interop: $python is not installed" >&2; exit 2; }

writable_dir() { [ -n "$1" ] && mkdir -p "$1" 2>/dev/null && [ -w "$1" ]; }
cache="${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}"
if ! writable_dir "$cache"; then
    cache="${TMPDIR:-/tmp}"
    writable_dir "$cache" || { echo "passlib-interop: no writable cache directory" >&2; exit 2; }
fi
venv="$cache/security-passlib"
want="passlib==$PASSLIB_VERSION bcrypt==$BCRYPT_VERSION $("$python" -c 'import sys; print(sys.version.split()[0])') $(command -v "$python")"

ready() {
    [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.pins" 2>/dev/null)" = "$want" ] &&
        "$venv/bin/python" -W ignore -c 'import passlib, bcrypt' >/dev/null 2>&1
}

setup() {
    if ready; then return 0; fi
    echo "passlib-interop: creating $venv ($want)"
    rm -rf "$venv"
    if ! "$python" -m venv "$venv"; then
        echo "passlib-interop: '$python -m venv' failed (on Debian: apt-get install python3-venv)" >&2
        return 2
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "passlib==$PASSLIB_VERSION" "bcrypt==$BCRYPT_VERSION"
    printf '%s\n' "$want" >"$venv/.pins"
}

# Concurrent runs sharing the cache take turns creating the venv.
if command -v flock >/dev/null 2>&1; then
    exec 9>"$cache/security-passlib.lock"
    flock 9
    setup
    flock -u 9
else
    setup
fi

exec "$venv/bin/python" scripts/passlib_interop.py "$binary"
