#!/usr/bin/env bash
# The default pages in a real browser: starts the quick-start app (fresh SQLite database, mail
# as .eml files) and chromedriver on free ports, runs flow.mjs (register, confirm, log in,
# change, reset, log out; axe-core on every page; screenshots), and stops both whatever happens.
#
#   bash browser-tests/run.sh
#
# Environment (all optional):
#   QUICKSTART_BIN    the quick-start binary to run (default: `cargo build -p quickstart`)
#   SCREENSHOT_DIR    where the PNGs and axe-violations.json go (default target/browser-screenshots)
#   CHROME_BIN        the Chromium binary (default: chromium on the PATH)
#   CHROMEDRIVER_BIN  chromedriver (default: chromedriver on the PATH)
#   AXE_REPORT_ONLY=1 a development aid: list axe violations and phone-layout problems without
#                     failing on them (never in CI)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

die() { printf 'browser-tests: %s\n' "$*" >&2; exit 1; }

# --- tools ----------------------------------------------------------------------------------
chrome="${CHROME_BIN:-$(command -v chromium || command -v chromium-browser || true)}"
driver="${CHROMEDRIVER_BIN:-$(command -v chromedriver || true)}"
[ -n "$chrome" ] && [ -x "$chrome" ] ||
    die "Chromium is not installed (Debian: apt-get install chromium chromium-driver), or set CHROME_BIN"
[ -n "$driver" ] && [ -x "$driver" ] ||
    die "chromedriver is not installed (Debian: apt-get install chromium-driver), or set CHROMEDRIVER_BIN"
command -v node >/dev/null 2>&1 || die "Node.js (18 or later) is not installed"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' ||
    die "Node.js 18 or later is needed (fetch); this is $(node --version)"

# --- axe-core (pinned in package-lock.json) -------------------------------------------------
(cd "$here" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error) ||
    die "npm ci failed in $here"

# --- the quick-start binary -----------------------------------------------------------------
bin="${QUICKSTART_BIN:-}"
if [ -z "$bin" ]; then
    (cd "$root" && cargo build -p quickstart)
    target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
    bin="$target_dir/debug/quickstart"
fi
[ -x "$bin" ] || die "the quick-start binary $bin does not exist (build it, or set QUICKSTART_BIN)"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

shots="${SCREENSHOT_DIR:-$root/target/browser-screenshots}"
mkdir -p "$shots"
shots="$(cd "$shots" && pwd)"
rm -f "$shots"/*-light-phone.png "$shots"/*-light-desktop.png "$shots"/*-dark-phone.png \
      "$shots"/*-dark-desktop.png "$shots"/axe-violations.json

# --- start the app and the driver; always stop them -----------------------------------------
work="$(mktemp -d)"
mkdir -p "$work/mail"
app_pid=""
driver_pid=""
cleanup() {
    status=$?
    # chromedriver leads a process group of its own: the group takes any Chromium it left.
    [ -n "$driver_pid" ] && kill -- "-$driver_pid" 2>/dev/null || true
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    for pid in $app_pid $driver_pid; do wait "$pid" 2>/dev/null || true; done
    if [ "$status" -ne 0 ]; then
        printf '\n--- quick-start log (last 40 lines) ---\n'
        grep -v 'sqlx::query' "$work/quickstart.log" 2>/dev/null | tail -n 40 || true
        printf -- '--- chromedriver log (last 20 lines) ---\n'
        tail -n 20 "$work/chromedriver.log" 2>/dev/null || true
    fi
    rm -rf "$work"
    printf '\nscreenshots: %s\n' "$shots"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_for_port() { # port, what, pid
    for _ in $(seq 1 150); do
        kill -0 "$3" 2>/dev/null || die "$2 exited at start"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$2 did not listen on port $1 within 15 s"
}

app_port="$(free_port)"
(
    cd "$work"
    export QUICKSTART_ADDR="127.0.0.1:$app_port"
    export QUICKSTART_DATABASE_URL="sqlite://$work/quickstart.db?mode=rwc"
    export QUICKSTART_MAIL_DIR="$work/mail"
    export RUST_LOG="${RUST_LOG:-warn,quickstart=info,security=info}" NO_COLOR=1
    exec "$bin"
) >"$work/quickstart.log" 2>&1 &
app_pid=$!
wait_for_port "$app_port" "the quick-start app ($bin)" "$app_pid"

driver_port="$(free_port)"
setsid "$driver" --port="$driver_port" >"$work/chromedriver.log" 2>&1 &
driver_pid=$!
wait_for_port "$driver_port" "chromedriver ($driver)" "$driver_pid"

echo "quick start: http://127.0.0.1:$app_port   chromedriver: $driver_port   Chromium: $chrome"
BASE_URL="http://127.0.0.1:$app_port" \
WEBDRIVER_URL="http://127.0.0.1:$driver_port" \
MAIL_DIR="$work/mail" \
SCREENSHOT_DIR="$shots" \
CHROME_BIN="${CHROME_BIN:-}" \
    node "$here/flow.mjs"
