#!/usr/bin/env bash
# Load benchmark of the guards: one release-built server (examples/bench-server) pinned to one
# core, wrk pinned to another, the same trivial handler bare and behind each guard, measured in
# one go so that the ratios to /bare compare like with like on a noisy machine.
#
#   bash bench/load.sh
#
# Two runs of the server: without the identity cache, then with SECURITY_IDENTITY_CACHE_TTL.
# Then the login rate (JSON POST /login, right password, argon2id at its default cost) with the
# brute-force protection off and on (SECURITY_LOCKABLE=true and a login_failed limit, counters in
# the database), one server run each per round, and their ratio.
# /nolayer is /bare's handler on a router without the security layer: the line after the table
# gives the layer's cost per request on an unguarded route (/bare minus /nolayer).
# For each route: a warm-up, then a measured wrk run; prints requests/s, the p99 latency and the
# ratio to /bare of the same run, and the server's CPU time per request (steadier than req/s
# when other work shares the core; its share is shown as foreign%). /basic and /hash (one argon2id hash per request) run with
# fewer connections, since a hash costs milliseconds: more connections only queue.
#
# Environment (all optional):
#   BENCH_DURATION          seconds measured per route (default 10)
#   BENCH_WARMUP            seconds of warm-up per route (default 2; 0 = none)
#   BENCH_CONNECTIONS       wrk connections for the cheap routes (default 32)
#   BENCH_HASH_CONNECTIONS  wrk connections for /basic, /hash and /login (default 4)
#   BENCH_HASH_DURATION     seconds measured for /basic, /hash and /login (default 5)
#   BENCH_ROUNDS            rounds over all the routes, interleaved; medians shown (default 3)
#   BENCH_CACHE_TTL         the cached mode's SECURITY_IDENTITY_CACHE_TTL (default "5 seconds")
#   BENCH_MODES             "nocache cache login flood" (default), or some of them, or
#                           "tuned": the nocache run with BENCH_TUNED_DB_OPTS (default
#                           noping,nolog,wal: SQLite as the README recommends), or
#                           "fleet": the propagation time of the identity cache's invalidation
#                           between two processes (PostgreSQL and/or Redis; see run_fleet), or
#                           "instructions": the guarded and bare routes counted by callgrind,
#                           instructions per request (repeatable where timings are noisy; see
#                           run_instructions)
#   BENCH_IR_DURATION       seconds counted per route in the instructions mode (default 4)
#   BENCH_IR_LOGIN_DURATION seconds counted for /hash and /login in that mode (default 20: an
#                           argon2id hash takes about a second under callgrind)
#   BENCH_FLOOD_CONNECTIONS the flood's wrk connections sending wrong passwords (default 32)
#   BENCH_PROBE_CONNECTIONS connections of the guarded GET measured idle and during the flood
#                           (default 4)
#   BENCH_PROBE_DELAY_MS    the light probe's pause after each answer, per connection (default
#                           1: about 3,500 requests a second, a few per cent of the core)
#   BENCH_LOGIN_LIMITS      the throttled login run's SECURITY_RATE_LIMITS
#                           (default {"login_failed": "10/m/ip,5/15m/key"})
#   BENCH_PORT              the server's port (default 18080)
#   BENCH_SERVER_CPU        the server's core (default 0)
#   BENCH_CLIENT_CPU        wrk's core (default 1)
#   BENCH_SKIP_BUILD        1 = use the binary already built
#   BENCH_DIAG              1 = also the server's diagnostic routes (no guard): /x-load (the
#                           guards' identity query through SeaORM), /x-sqlx (the same SQL through
#                           sqlx's pool), /x-held (the same SQL on a connection held for good),
#                           /x-batch (the load batched: one IN (..) query for the loads waiting)
#   BENCH_USERS             admins seeded (default 1); /x-batch cycles through them
#   BENCH_KEEP_WRK          a file to copy wrk's raw output to
#   BENCH_DB_OPTS           passed to the server: connection experiments (noping,nolog,wal,pool=N)
#
# Exits non-zero when wrk cannot be installed, the build fails, the server does not start, or
# a route does not answer 200 with its credentials.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${BENCH_DURATION:-10}"
WARMUP="${BENCH_WARMUP:-2}"
CONNS="${BENCH_CONNECTIONS:-32}"
HASH_CONNS="${BENCH_HASH_CONNECTIONS:-4}"
HASH_DURATION="${BENCH_HASH_DURATION:-5}"
ROUNDS="${BENCH_ROUNDS:-3}"
CACHE_TTL="${BENCH_CACHE_TTL:-5 seconds}"
MODES="${BENCH_MODES:-nocache cache login flood}"
FLOOD_CONNS="${BENCH_FLOOD_CONNECTIONS:-32}"
IR_DURATION="${BENCH_IR_DURATION:-4}"
IR_LOGIN_DURATION="${BENCH_IR_LOGIN_DURATION:-20}"
PROBE_CONNS="${BENCH_PROBE_CONNECTIONS:-4}"
PROBE_DELAY_MS="${BENCH_PROBE_DELAY_MS:-1}"
TUNED_DB_OPTS="${BENCH_TUNED_DB_OPTS:-noping,nolog,wal}"
DEFAULT_LOGIN_LIMITS='{"login_failed": "10/m/ip,5/15m/key"}'
LOGIN_LIMITS="${BENCH_LOGIN_LIMITS:-$DEFAULT_LOGIN_LIMITS}"
PORT="${BENCH_PORT:-18080}"
SERVER_CPU="${BENCH_SERVER_CPU:-0}"
CLIENT_CPU="${BENCH_CLIENT_CPU:-1}"
EMAIL="bench@example.com"
PASSWORD="benchmark-password"

say() { printf '%s\n' "$*" >&2; }
die() {
    say "load.sh: $*"
    exit 1
}

for v in DURATION WARMUP CONNS HASH_CONNS HASH_DURATION ROUNDS PORT SERVER_CPU CLIENT_CPU \
    FLOOD_CONNS PROBE_CONNS PROBE_DELAY_MS IR_DURATION; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
[[ "$DURATION" -gt 0 && "$HASH_DURATION" -gt 0 && "$ROUNDS" -gt 0 ]] ||
    die "durations and rounds must be positive"

# --- tools -------------------------------------------------------------------------------------
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}
if ! command -v wrk >/dev/null 2>&1; then
    say "installing wrk (Debian package)…"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null 2>&1 || {
        as_root apt-get update >/dev/null
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null
    } || die "cannot install wrk"
fi
command -v taskset >/dev/null 2>&1 || die "taskset (util-linux) is missing"
command -v curl >/dev/null 2>&1 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y curl >/dev/null 2>&1 ||
        die "cannot install curl"
}
CORES="$(nproc --all)"
if [[ "$CORES" -le "$SERVER_CPU" || "$CORES" -le "$CLIENT_CPU" ]]; then
    die "this machine has $CORES core(s); set BENCH_SERVER_CPU / BENCH_CLIENT_CPU"
fi
[[ "$SERVER_CPU" -ne "$CLIENT_CPU" ]] || say "warning: server and wrk share core $SERVER_CPU"

# --- build -------------------------------------------------------------------------------------
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
    say "building bench-server (release)…"
    (cd "$ROOT" && cargo build --release -p bench-server --quiet) || die "build failed"
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SERVER="$TARGET_DIR/release/bench-server"
[[ -x "$SERVER" ]] || die "no server binary at $SERVER"

# --- server lifecycle --------------------------------------------------------------------------
WORK="$(mktemp -d)"
SERVER_PID=""
SERVER_WRAP=() # a command the server runs under (valgrind, in the instructions mode)
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server TTL [NAME=VALUE…]: starts the server (TTL empty = no identity cache) with these
# more variables, waits for READY, sets SESSION_COOKIE and AUTH_TOKEN.
start_server() {
    local ttl="$1"
    shift
    local out="$WORK/server.out" err="$WORK/server.err"
    : >"$out"
    : >"$err"
    local -a env_vars=(
        "SECRET_KEY=load-benchmark-secret-key-0123456789abcdef"
        "PORT=$PORT"
        "BENCH_DB=$WORK/bench.db"
        "RUST_LOG=error"
        "BENCH_DIAG=${BENCH_DIAG:-0}"
        "BENCH_USERS=${BENCH_USERS:-1}"
    )
    [[ -n "$ttl" ]] && env_vars+=("SECURITY_IDENTITY_CACHE_TTL=$ttl")
    env_vars+=("$@")
    # What the modes set is theirs alone: the caller's environment does not change it.
    env -u SECURITY_IDENTITY_CACHE_TTL -u SECURITY_LOCKABLE -u SECURITY_RATE_LIMITS \
        -u SECURITY_THROTTLE_STORE -u WTF_CSRF_ENABLED "${env_vars[@]}" \
        taskset -c "$SERVER_CPU" "${SERVER_WRAP[@]}" "$SERVER" >"$out" 2>"$err" &
    SERVER_PID=$!
    local waited=0 limit=300
    # Under valgrind the start (migrations, the seeded argon2id hash) is tens of times slower.
    [[ ${#SERVER_WRAP[@]} -gt 0 ]] && limit=3000
    until grep -qx READY "$out" 2>/dev/null; do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            say "the server exited before it was ready; its stderr:"
            cat "$err" >&2
            SERVER_PID=""
            die "server failed to start"
        fi
        if [[ "$waited" -ge "$limit" ]]; then
            cat "$err" >&2
            die "server not ready after $((limit / 10)) s"
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    SESSION_COOKIE="$(sed -n 's/^SESSION_COOKIE=//p' "$out")"
    AUTH_TOKEN="$(sed -n 's/^AUTH_TOKEN=//p' "$out")"
    [[ -n "$SESSION_COOKIE" && -n "$AUTH_TOKEN" ]] || die "the server printed no cookie or token"
}

BASIC="Basic $(printf '%s:%s' "$EMAIL" "$PASSWORD" | base64 | tr -d '\n')"

# header_for ROUTE: the credentials header of the route (empty for none).
header_for() {
    case "$1" in
    /session | /roles) printf 'Cookie: %s' "$SESSION_COOKIE" ;;
    /token) printf 'Authentication-Token: %s' "$AUTH_TOKEN" ;;
    /basic) printf 'Authorization: %s' "$BASIC" ;;
    *) ;;
    esac
}

# check_route ROUTE: one request with curl; must be 200, and no Set-Cookie for the cookie routes
# (the session is not re-signed when nothing changed).
check_route() {
    local route="$1" header
    header="$(header_for "$route")"
    local -a args=(-s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 10)
    [[ -n "$header" ]] && args+=(-H "$header")
    local code
    code="$(curl "${args[@]}" "http://127.0.0.1:$PORT$route")" || die "curl $route failed"
    [[ "$code" == 200 ]] || die "$route answered $code with its credentials"
    if grep -qi '^set-cookie:' "$WORK/headers"; then
        say "note: $route answered with Set-Cookie:"
        grep -i '^set-cookie:' "$WORK/headers" >&2
        SET_COOKIE_SEEN="$SET_COOKIE_SEEN $route"
    fi
}

# to_ms VALUE: a wrk latency (850.00us, 1.23ms, 2.01s, 1.50m) in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n
    }'
}

TICKS="$(getconf CLK_TCK)"

# server_ticks: CPU time (user + system, all threads) of the server so far, in clock ticks.
server_ticks() {
    awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}

# core_ticks: busy time of the server's core so far (user, nice, system, irq, softirq, steal).
core_ticks() {
    awk -v cpu="cpu$SERVER_CPU" '$1 == cpu { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# run_wrk ROUTE CONNS SECONDS [SCRIPT]: a warm-up, then a measured run (SCRIPT: a wrk Lua script,
# e.g. for a POST); sets RPS, P99_MS, CPU_US (server
# CPU time per request, in µs), FOREIGN (per cent of the server's core busy outside the server
# process during the run: other processes, interrupts, steal), SRV_PCT (the server's CPU use, per
# cent of one core: well under 100 means the server was not the bottleneck) and ERRS.
run_wrk() {
    local route="$1" conns="$2" secs="$3" script="${4:-}" header
    header="$(header_for "$route")"
    local -a args=(-t1 "-c$conns" --latency --timeout 10s)
    [[ -n "$header" ]] && args+=(-H "$header")
    [[ -n "$script" ]] && args+=(-s "$script")
    if [[ "$WARMUP" -gt 0 ]]; then
        taskset -c "$CLIENT_CPU" wrk "${args[@]}" "-d${WARMUP}s" "http://127.0.0.1:$PORT$route" \
            >/dev/null
    fi
    local s0 c0 s1 c1
    s0="$(server_ticks)"
    c0="$(core_ticks)"
    taskset -c "$CLIENT_CPU" wrk "${args[@]}" "-d${secs}s" "http://127.0.0.1:$PORT$route" \
        >"$WORK/wrk.out"
    s1="$(server_ticks)"
    c1="$(core_ticks)"
    {
        printf '### %s %s\n' "$route" "$(date -u +%T)"
        cat "$WORK/wrk.out"
    } >>"$WORK/wrk.all"
    RPS="$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out")"
    local p99 total
    p99="$(awk '$1 == "99%" {print $2}' "$WORK/wrk.out")"
    total="$(awk '/ requests in / {print $1}' "$WORK/wrk.out")"
    [[ -n "$RPS" && -n "$p99" && -n "$total" ]] || {
        cat "$WORK/wrk.out" >&2
        die "cannot parse wrk's output for $route"
    }
    P99_MS="$(to_ms "$p99")"
    CPU_US="$(awk -v d="$((s1 - s0))" -v t="$TICKS" -v n="$total" \
        'BEGIN { printf "%.1f", (n > 0 ? d / t * 1e6 / n : 0) }')"
    SRV_PCT="$(awk -v s="$((s1 - s0))" -v t="$TICKS" -v secs="$secs" \
        'BEGIN { printf "%.0f", s / t / secs * 100 }')"
    FOREIGN="$(awk -v s="$((s1 - s0))" -v c="$((c1 - c0))" -v t="$TICKS" -v secs="$secs" \
        'BEGIN { f = (c - s) / t / secs * 100; if (f < 0) f = 0; printf "%.0f", f }')"
    local non2xx sock
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$WORK/wrk.out")"
    sock="$(awk '/Socket errors:/ {sub(/.*Socket errors: /, ""); print}' "$WORK/wrk.out")"
    ERRS=""
    [[ -n "$non2xx" ]] && ERRS="non-2xx=$non2xx"
    [[ -n "$sock" ]] && ERRS="${ERRS:+$ERRS; }socket errors: $sock"
    return 0
}

# median WORDS…: the median of numbers.
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
}

# --- the runs ----------------------------------------------------------------------------------
ROUTES=(/bare /nolayer /session /token /roles)
[[ "${BENCH_DIAG:-0}" == 1 ]] && ROUTES+=(/x-load /x-sqlx /x-held /x-batch)
ROUTES+=(/basic /hash)
declare -A GUARD=(
    [/x-load]="diag: load_with_roles (SeaORM), no guard"
    [/x-sqlx]="diag: same SQL, sqlx pool, no SeaORM"
    [/x-held]="diag: same SQL, one held sqlx connection"
    [/x-batch]="diag: load batched over waiting requests"
    [/bare]="none"
    [/nolayer]="none, router without security.layer()"
    [/session]="#[login_required], session cookie"
    [/token]="#[auth_token_required], header"
    [/roles]="#[roles_required(\"admin\")], session cookie"
    [/basic]="#[http_auth_required], Basic"
    [/hash]="one argon2id verify, no guard"
)
SET_COOKIE_SEEN=""
FAILED_ROUTES=""

say "load.sh: $(date -u '+%Y-%m-%d %H:%M:%SZ'), $CORES cores, server on core $SERVER_CPU, wrk on core $CLIENT_CPU"
say "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (+ local changes)')"
[[ -n "${BENCH_DB_OPTS:-}" ]] &&
    say "BENCH_DB_OPTS=$BENCH_DB_OPTS (server's connection options changed from SeaORM's defaults)"
say "wrk -t1 -c$CONNS -d${DURATION}s --latency after a ${WARMUP}s warm-up, per route;" \
    "/basic and /hash: -c$HASH_CONNS -d${HASH_DURATION}s; $ROUNDS round(s), routes interleaved, medians shown"
say "columns: req/s and p99 (wrk), x /bare (req/s ratio), cpu us/req (the server's CPU time per" \
    "request) and x cpu (bare's cpu us/req over the route's), srv% (the server's use of its core;" \
    "well under 100: it was not the bottleneck), foreign% (share of core $SERVER_CPU busy outside" \
    "the server during the run: other processes, irq, steal)"

# --- login: the brute-force protection's cost ----------------------------------------------------
# A JSON login with the right password (what a user pays: one argon2id verify, the session, the
# token), with the protection off, then on: before the password is checked every counter that
# could refuse it is read, and a success issues the device cookie.
LOGIN_BODY="{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}"
LOGIN_LUA="$WORK/login.lua"
cat >"$LOGIN_LUA" <<LUA
wrk.method = "POST"
wrk.body = '$LOGIN_BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
# The JSON login needs no CSRF token then (as an API client's).
LOGIN_ENV=("WTF_CSRF_ENABLED=false")
THROTTLE_ENV=("SECURITY_LOCKABLE=true" "SECURITY_RATE_LIMITS=$LOGIN_LIMITS" "SECURITY_THROTTLE_STORE=database")
declare -A LOGIN_LABEL=(
    [off]="off"
    [on]="lockout + login_failed limits (database)"
)

# check_login: one JSON login with curl; must answer 200 with meta.code 200 and a device cookie
# when the protection is on.
check_login() {
    local variant="$1" code
    code="$(curl -s -D "$WORK/headers" -o "$WORK/body" -w '%{http_code}' --max-time 10 \
        -H 'Content-Type: application/json' --data "$LOGIN_BODY" \
        "http://127.0.0.1:$PORT/login")" || die "curl POST /login failed"
    [[ "$code" == 200 ]] && grep -q '"code": *200' "$WORK/body" ||
        die "POST /login answered $code: $(head -c 300 "$WORK/body")"
    if [[ "$variant" == on ]] && ! grep -qi '^set-cookie: security_device=' "$WORK/headers"; then
        die "POST /login with the protection on set no device cookie"
    fi
}

# run_hash_rate: /hash on the running server, added to h_rps and h_cpu (run_login's).
run_hash_rate() {
    run_wrk /hash "$HASH_CONNS" "$HASH_DURATION"
    h_rps="$h_rps $RPS"
    h_cpu="$h_cpu $CPU_US"
    if [[ -n "$ERRS" ]]; then FAILED_ROUTES="$FAILED_ROUTES login-off:/hash"; fi
}

run_login() {
    printf '\n== JSON POST /login, right password, argon2id default cost (load average before: %s)\n' \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'protection on: SECURITY_LOCKABLE=true SECURITY_RATE_LIMITS=%s SECURITY_THROTTLE_STORE=database\n' \
        "$LOGIN_LIMITS"
    declare -A L_RPS=() L_P99=() L_CPU=() L_FOR=() L_SRV=() L_ERR=()
    local variant h_rps="" h_cpu=""
    for ((round = 1; round <= ROUNDS; round++)); do
        for variant in off on; do
            if [[ "$variant" == on ]]; then
                start_server "" "${LOGIN_ENV[@]}" "${THROTTLE_ENV[@]}"
            else
                start_server "" "${LOGIN_ENV[@]}"
            fi
            check_login "$variant"
            # The raw rate of argon2id on the same core, in the same server run: /hash is one
            # verification of the same stored hash through the same hashing pool. Before the
            # logins in odd rounds, after them in even ones: what comes second in a server run
            # (its database grown by the logins, the machine warmer) is not always /login.
            if [[ "$variant" == off && $((round % 2)) == 1 ]]; then
                run_hash_rate
            fi
            run_wrk /login "$HASH_CONNS" "$HASH_DURATION" "$LOGIN_LUA"
            local login_errs="$ERRS"
            L_RPS[$variant]="${L_RPS[$variant]:-} $RPS"
            L_P99[$variant]="${L_P99[$variant]:-} $P99_MS"
            L_CPU[$variant]="${L_CPU[$variant]:-} $CPU_US"
            L_FOR[$variant]="${L_FOR[$variant]:-} $FOREIGN"
            L_SRV[$variant]="${L_SRV[$variant]:-} $SRV_PCT"
            if [[ "$variant" == off && $((round % 2)) == 0 ]]; then
                run_hash_rate
            fi
            stop_server
            ERRS="$login_errs"
            if [[ -n "$ERRS" ]]; then
                L_ERR[$variant]="${L_ERR[$variant]:-} [$ERRS]"
                FAILED_ROUTES="$FAILED_ROUTES login-$variant:/login"
            fi
        done
    done
    # shellcheck disable=SC2086 # word splitting of the number lists is meant
    {
        off_rps="$(median ${L_RPS[off]})"
        off_cpu="$(median ${L_CPU[off]})"
        printf '%-9s %-44s %5s %10s %8s %8s %8s %7s %5s %8s  %s\n' route protection conns 'req/s' \
            'p99 ms' 'x off' 'cpu us' 'x cpu' srv% foreign% notes
        for variant in off on; do
            rps="$(median ${L_RPS[$variant]})"
            cpu="$(median ${L_CPU[$variant]})"
            notes="${L_ERR[$variant]:-}"
            if [[ "$ROUNDS" -gt 1 ]]; then
                notes="req/s range $(printf '%s\n' ${L_RPS[$variant]} | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')${notes:+; $notes}"
            fi
            awk -v r=/login -v g="${LOGIN_LABEL[$variant]}" -v c="$HASH_CONNS" -v rps="$rps" \
                -v p99="$(median ${L_P99[$variant]})" -v brps="$off_rps" -v cpu="$cpu" \
                -v bcpu="$off_cpu" -v f="$(median ${L_FOR[$variant]})" -v n="$notes" \
                -v sp="$(median ${L_SRV[$variant]})" 'BEGIN {
                printf "%-9s %-44s %5s %10.1f %8.2f %8.3f %8.1f %7.3f %5.0f %8.0f  %s\n", r, g, c,
                    rps, p99, (brps > 0 ? rps / brps : 0), cpu, (cpu > 0 ? bcpu / cpu : 0), sp, f, n
            }'
        done
        on_rps="$(median ${L_RPS[on]})"
        on_cpu="$(median ${L_CPU[on]})"
    }
    awk -v on="$on_rps" -v off="$off_rps" -v con="$on_cpu" -v coff="$off_cpu" 'BEGIN {
        if (off > 0) printf "/login with vs without the brute-force protection: %.1f vs %.1f req/s = %.3fx; %+.0f us server CPU a login\n", on, off, on / off, con - coff
    }'
    # shellcheck disable=SC2086 # word splitting of the number lists is meant
    awk -v l="$off_rps" -v h="$(median $h_rps)" -v lc="$off_cpu" -v hc="$(median $h_cpu)" 'BEGIN {
        if (h > 0) printf "/login (protection off) vs raw argon2id (/hash, same server runs): %.1f vs %.1f req/s = %.3fx; %.0f vs %.0f us server CPU\n", l, h, l / h, lc, hc
    }'
    printf '(load average after: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# --- flood: wrong passwords as fast as they come, and a guarded GET beside them ---------------------
# FLOOD_CONNS connections post wrong passwords (JSON /login) for the whole run while /session is
# read by PROBE_CONNS connections, twice: a light load (each connection pauses
# PROBE_DELAY_MS after each answer: what other users see during the flood; the target) and a
# saturating one (no pause: the core is busy with the probe alone). Each p99 is compared with
# the same load on the idle server. A saturated core gives a SCHED_IDLE hashing thread one
# scheduler tick now and then (the kernel's guard against starvation), which the saturating
# probe's p99 shows. Also the server's resident memory (VmRSS, sampled every 0.2 s) against its
# idle size plus what the hashing may hold: one argon2id memory cost per hashing permit (one per
# core the server may use: taskset gives it one). Protection off, then on (the throttled flood
# is refused before any hash).
WRONG_LUA="$WORK/wrong.lua"
cat >"$WRONG_LUA" <<LUA
wrk.method = "POST"
wrk.body = '{"email": "$EMAIL", "password": "not the password"}'
wrk.headers["Content-Type"] = "application/json"
LUA
LIGHT_LUA="$WORK/light.lua"
cat >"$LIGHT_LUA" <<LUA
function delay()
    return $PROBE_DELAY_MS
end
LUA
ARGON2_KIB=19456 # the default argon2id memory cost (OWASP: m=19 MiB, t=2, p=1)
HASH_PERMITS=1   # available_parallelism() of a server pinned to one core

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }

# probe_both: the light, then the saturating probe of /session; sets LIGHT_P99, LIGHT_RPS,
# FULL_P99 and PROBE_ERRS.
probe_both() {
    run_wrk /session "$PROBE_CONNS" "$DURATION" "$LIGHT_LUA"
    LIGHT_P99="$P99_MS" LIGHT_RPS="$RPS" PROBE_ERRS="$ERRS"
    run_wrk /session "$PROBE_CONNS" "$DURATION"
    FULL_P99="$P99_MS"
    PROBE_ERRS="$PROBE_ERRS${ERRS:+ $ERRS}"
}

run_flood() {
    printf '\n== flood: %s connections of wrong passwords (JSON POST /login) beside a guarded GET (load average before: %s)\n' \
        "$FLOOD_CONNS" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'GET /session by %s connections: light = a %s ms pause after each answer; saturating = none\n' \
        "$PROBE_CONNS" "$PROBE_DELAY_MS"
    printf '%-10s %9s %9s %9s %7s %10s %10s %7s %9s %9s %9s  %s\n' protection 'light/s' \
        'idle p99' 'flood p99' 'x idle' 'sat. idle' 'sat. flood' 'x idle' 'idle MiB' 'peak MiB' \
        'logins/s' notes
    local variant idle_p99 idle_full idle_rps flood_pid bound logins peak rss idle_rss
    for variant in off on; do
        if [[ "$variant" == on ]]; then
            start_server "" "${LOGIN_ENV[@]}" "${THROTTLE_ENV[@]}"
        else
            start_server "" "${LOGIN_ENV[@]}"
        fi
        probe_both
        idle_p99="$LIGHT_P99" idle_full="$FULL_P99" idle_rps="$LIGHT_RPS"
        idle_rss="$(rss_kib)"
        # The flood runs a little longer than the two probes, which start once it is under way.
        taskset -c "$CLIENT_CPU" wrk -t1 "-c$FLOOD_CONNS" "-d$((2 * (DURATION + WARMUP) + 3))s" \
            --timeout 30s -s "$WRONG_LUA" "http://127.0.0.1:$PORT/login" >"$WORK/flood.out" 2>&1 &
        flood_pid=$!
        sleep 1
        peak="$idle_rss"
        (
            # On wrk's core: its forks (awk, sleep) on the server's core would delay the probe.
            taskset -p -c "$CLIENT_CPU" "$BASHPID" >/dev/null
            while kill -0 "$flood_pid" 2>/dev/null; do
                rss_kib
                sleep 0.2
            done
        ) >"$WORK/rss.samples" &
        local sampler=$!
        probe_both
        wait "$flood_pid" || true
        wait "$sampler" 2>/dev/null || true
        for rss in $(cat "$WORK/rss.samples"); do
            [[ "$rss" -gt "$peak" ]] && peak="$rss"
        done
        logins="$(awk '/^Requests\/sec:/ {print $2}' "$WORK/flood.out")"
        stop_server
        bound=$((idle_rss + HASH_PERMITS * ARGON2_KIB))
        awk -v v="$variant" -v lr="$idle_rps" -v i="$idle_p99" -v f="$LIGHT_P99" -v si="$idle_full" \
            -v sf="$FULL_P99" -v ir="$idle_rss" -v pk="$peak" -v b="$bound" -v l="${logins:-0}" \
            -v e="$PROBE_ERRS" 'BEGIN {
            printf "%-10s %9.0f %9.2f %9.2f %7.2f %10.2f %10.2f %7.2f %9.1f %9.1f %9.1f  %s%s\n", v,
                lr, i, f, (i > 0 ? f / i : 0), si, sf, (si > 0 ? sf / si : 0), ir / 1024, pk / 1024,
                l, (pk <= b ? "memory within bound (" sprintf("%.1f", b / 1024) " MiB)" : "MEMORY ABOVE BOUND"),
                (e != "" ? "; " e : "")
        }'
        [[ -n "$PROBE_ERRS" ]] && FAILED_ROUTES="$FAILED_ROUTES flood-$variant:/session"
    done
    printf '(load average after: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# --- fleet: how long a change on one instance takes to reach another's identity cache ---------
# The fleet test (examples/conformance-app/tests/fleet.rs) runs two conformance-app processes
# on one PostgreSQL database (channel: LISTEN/NOTIFY), then on Redis pub/sub, with a 5-minute
# identity cache; after a password change on A (and a `users deactivate` from the command line)
# it polls B with the old session every millisecond until B refuses it. Needs
# SECURITY_TEST_POSTGRES_URL and/or SECURITY_TEST_REDIS_URL; a debug build, like the tests.
run_fleet() {
    printf '\n== fleet: a change on instance A reaching B'"'"'s identity cache (TTL 5 minutes), %s round(s)\n' "$ROUNDS"
    if [[ -z "${SECURITY_TEST_POSTGRES_URL:-}" && -z "${SECURITY_TEST_REDIS_URL:-}" ]]; then
        say "fleet: set SECURITY_TEST_POSTGRES_URL and/or SECURITY_TEST_REDIS_URL: skipped"
        return 0
    fi
    local round
    : >"$WORK/fleet.all"
    for ((round = 1; round <= ROUNDS; round++)); do
        (cd "$ROOT" && cargo test -q --workspace --test fleet -- \
            identity_cache_follows_changes --nocapture --test-threads=1) >"$WORK/fleet.out" 2>&1 ||
            { cat "$WORK/fleet.out" >&2; die "the fleet test failed"; }
        grep -E 'reached B' "$WORK/fleet.out" >>"$WORK/fleet.all" || true
    done
    [[ -s "$WORK/fleet.all" ]] || die "the fleet test printed no propagation time (was it ignored?)"
    sort "$WORK/fleet.all"
}

# --- instructions: the routes counted by callgrind -------------------------------------------------
# Timings on a shared machine spread by 10% and more between rounds; instruction counts do not.
# The server runs under valgrind's callgrind (on its core, every thread counted, user space
# only: the kernel's part of a request, the same for every route, is not in them). Each route
# gets a warm-up, then its counters are zeroed, wrk -c1 runs for BENCH_IR_DURATION seconds and
# the counters are dumped: instructions per request, and their ratio to /bare's. Cache off,
# then on. Then the login against the raw argon2id verification (/hash), the same way: their
# timed ratio moves with the machine's speed between the two measurements (by 5-10% here),
# their instruction counts do not.
IR_ROUTES=(/bare /nolayer /session /token /roles)

# count_instructions ROUTE SECONDS WRK-ARGS…: zeroes the server's counters, runs wrk on ROUTE,
# dumps them; sets IR_COUNT (instructions a request) and IR_REQUESTS.
count_instructions() {
    local route="$1" seconds="$2" total dump
    shift 2
    callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
    taskset -c "$CLIENT_CPU" wrk "$@" "-d${seconds}s" "http://127.0.0.1:$PORT$route" >"$WORK/wrk.out"
    callgrind_control -d "$SERVER_PID" >/dev/null 2>&1
    IR_REQUESTS="$(awk '/ requests in / {print $1}' "$WORK/wrk.out")"
    # shellcheck disable=SC2012 # the newest dump; the names are ours
    dump="$(ls -t "$WORK"/callgrind.out.* | head -1)"
    total="$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")"
    [[ -n "$IR_REQUESTS" && "$IR_REQUESTS" -gt 0 && -n "$total" ]] ||
        die "no instruction count for $route"
    IR_COUNT=$((total / IR_REQUESTS))
}

run_instructions() {
    if ! command -v callgrind_control >/dev/null 2>&1; then
        say "installing valgrind (Debian package)…"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y valgrind >/dev/null 2>&1 ||
            die "cannot install valgrind"
    fi
    printf '\n== instructions per request (valgrind --tool=callgrind, wrk -c1 -d%ss per route after a 2s warm-up)\n' \
        "$IR_DURATION"
    printf '%-8s %-9s %-44s %9s %10s %8s\n' cache route guard requests 'instr/req' 'x /bare'
    local variant route requests bare nolayer
    SERVER_WRAP=(valgrind --tool=callgrind --dump-instr=no "--callgrind-out-file=$WORK/callgrind.out")
    for variant in off on; do
        rm -f "$WORK"/callgrind.out*
        if [[ "$variant" == on ]]; then start_server "$CACHE_TTL"; else start_server ""; fi
        declare -A IR=()
        for route in "${IR_ROUTES[@]}"; do
            check_route "$route"
            local -a args=(-t1 -c1 --timeout 30s)
            [[ -n "$(header_for "$route")" ]] && args+=(-H "$(header_for "$route")")
            taskset -c "$CLIENT_CPU" wrk "${args[@]}" -d2s "http://127.0.0.1:$PORT$route" >/dev/null
            count_instructions "$route" "$IR_DURATION" "${args[@]}"
            IR[$route]="$IR_COUNT" requests="$IR_REQUESTS"
            awk -v c="$variant" -v r="$route" -v g="${GUARD[$route]}" -v n="$requests" \
                -v i="${IR[$route]}" -v b="${IR[/bare]}" 'BEGIN {
                printf "%-8s %-9s %-44s %9d %10d %8.3f\n", c, r, g, n, i, b / i
            }'
        done
        stop_server
        bare="${IR[/bare]}" nolayer="${IR[/nolayer]}"
        awk -v b="$bare" -v n="$nolayer" 'BEGIN {
            printf "the layer on an unguarded route (/bare - /nolayer): %+d instructions a request (%.1f%% of /bare)\n", b - n, (b - n) * 100 / b
        }'
        unset IR
    done
    start_server "" "${LOGIN_ENV[@]}"
    check_login off
    declare -A IR=()
    for route in /hash /login; do
        local -a args=(-t1 -c1 --timeout 60s)
        [[ "$route" == /login ]] && args+=(-s "$LOGIN_LUA")
        count_instructions "$route" "$IR_LOGIN_DURATION" "${args[@]}"
        IR[$route]="$IR_COUNT"
    done
    stop_server
    awk -v h="${IR[/hash]}" -v l="${IR[/login]}" 'BEGIN {
        printf "JSON /login (protection off) vs one argon2id verification (/hash): %d vs %d instructions a request = %.3fx\n", l, h, h / l
    }'
    unset IR
    SERVER_WRAP=()
}

for mode in $MODES; do
    case "$mode" in
    nocache) ttl="" label="identity cache off" extra=() ;;
    cache) ttl="$CACHE_TTL" label="SECURITY_IDENTITY_CACHE_TTL=\"$CACHE_TTL\"" extra=() ;;
    tuned)
        # The connection options the README recommends for SQLite, cache off.
        ttl="" label="identity cache off, SQLite tuned (BENCH_DB_OPTS=$TUNED_DB_OPTS)"
        extra=("BENCH_DB_OPTS=$TUNED_DB_OPTS")
        ;;
    login)
        run_login
        continue
        ;;
    flood)
        run_flood
        continue
        ;;
    fleet)
        run_fleet
        continue
        ;;
    instructions)
        run_instructions
        continue
        ;;
    *) die "unknown mode '$mode' in BENCH_MODES" ;;
    esac
    start_server "$ttl" "${extra[@]}"
    # A server built before /nolayer existed (a baseline binary) runs without the pair.
    if [[ " ${ROUTES[*]} " == *" /nolayer "* ]] &&
        [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/nolayer")" == 404 ]]; then
        say "note: this server has no /nolayer route; the layer's cost is not measured"
        routes=()
        for route in "${ROUTES[@]}"; do
            [[ "$route" == /nolayer ]] || routes+=("$route")
        done
        ROUTES=("${routes[@]}")
    fi
    for route in "${ROUTES[@]}"; do
        check_route "$route"
    done
    printf '\n== %s (load average before: %s)\n' "$label" "$(cut -d' ' -f1-3 /proc/loadavg)"
    declare -A R_RPS=() R_P99=() R_CPU=() R_FOR=() R_SRV=() R_ERR=()
    for ((round = 1; round <= ROUNDS; round++)); do
        for route in "${ROUTES[@]}"; do
            conns="$CONNS" secs="$DURATION"
            if [[ "$route" == /basic || "$route" == /hash ]]; then
                conns="$HASH_CONNS" secs="$HASH_DURATION"
            fi
            run_wrk "$route" "$conns" "$secs"
            R_RPS[$route]="${R_RPS[$route]:-} $RPS"
            R_P99[$route]="${R_P99[$route]:-} $P99_MS"
            R_CPU[$route]="${R_CPU[$route]:-} $CPU_US"
            R_FOR[$route]="${R_FOR[$route]:-} $FOREIGN"
            R_SRV[$route]="${R_SRV[$route]:-} $SRV_PCT"
            if [[ -n "$ERRS" ]]; then
                R_ERR[$route]="${R_ERR[$route]:-} [$ERRS]"
                FAILED_ROUTES="$FAILED_ROUTES $mode:$route"
            fi
        done
    done
    # shellcheck disable=SC2086 # word splitting of the number lists is meant
    {
        bare_rps="$(median ${R_RPS[/bare]})"
        bare_cpu="$(median ${R_CPU[/bare]})"
        printf '%-9s %-44s %5s %10s %8s %8s %8s %7s %5s %8s  %s\n' route guard conns 'req/s' \
            'p99 ms' 'x /bare' 'cpu us' 'x cpu' srv% foreign% notes
        for route in "${ROUTES[@]}"; do
            conns="$CONNS"
            [[ "$route" == /basic || "$route" == /hash ]] && conns="$HASH_CONNS"
            rps="$(median ${R_RPS[$route]})"
            cpu="$(median ${R_CPU[$route]})"
            notes="${R_ERR[$route]:-}"
            if [[ "$ROUNDS" -gt 1 ]]; then
                notes="req/s range $(printf '%s\n' ${R_RPS[$route]} | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%.0f-%.0f", a, b }')${notes:+; $notes}"
            fi
            awk -v r="$route" -v g="${GUARD[$route]}" -v c="$conns" -v rps="$rps" \
                -v p99="$(median ${R_P99[$route]})" -v brps="$bare_rps" -v cpu="$cpu" \
                -v bcpu="$bare_cpu" -v f="$(median ${R_FOR[$route]})" -v n="$notes" \
                -v sp="$(median ${R_SRV[$route]})" 'BEGIN {
                printf "%-9s %-44s %5s %10.1f %8.2f %8.3f %8.1f %7.3f %5.0f %8.0f  %s\n", r, g, c,
                    rps, p99, (brps > 0 ? rps / brps : 0), cpu, (cpu > 0 ? bcpu / cpu : 0), sp, f, n
            }'
        done
        nolayer_rps="$(median ${R_RPS[/nolayer]:-})"
        nolayer_cpu="$(median ${R_CPU[/nolayer]:-})"
        basic_rps="$(median ${R_RPS[/basic]})"
        hash_rps="$(median ${R_RPS[/hash]})"
    }
    # The layer on an unguarded route: /bare (through security.layer()) vs /nolayer (the same
    # handler without it), per request: from the server's CPU time, and from the req/s (the
    # server's core is the bottleneck, so 1/req/s is its time per request).
    awk -v br="$bare_rps" -v nr="$nolayer_rps" -v bc="$bare_cpu" -v nc="$nolayer_cpu" 'BEGIN {
        if (br > 0 && nr > 0) printf "the layer on an unguarded route (/bare - /nolayer): %+.1f us cpu/req, %+.1f us from req/s (%.3fx)\n", bc - nc, 1e6 / br - 1e6 / nr, br / nr
    }'
    awk -v b="$basic_rps" -v h="$hash_rps" 'BEGIN {
        if (h > 0) printf "/basic vs raw argon2id (/hash): %.1f vs %.1f req/s = %.2fx; %.1f ms a hash on one core\n", b, h, b / h, 1000 / h
    }'
    printf '(load average after: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    unset R_RPS R_P99 R_CPU R_FOR R_SRV R_ERR
    stop_server
done

if [[ -n "${BENCH_KEEP_WRK:-}" ]]; then
    cp "$WORK/wrk.all" "$BENCH_KEEP_WRK" && say "wrk's raw output: $BENCH_KEEP_WRK"
fi
if [[ -n "$SET_COOKIE_SEEN" ]]; then
    say "note: Set-Cookie on a request that changed nothing:$SET_COOKIE_SEEN"
fi
if [[ -n "$FAILED_ROUTES" ]]; then
    die "errors or non-2xx answers under load on:$FAILED_ROUTES"
fi
