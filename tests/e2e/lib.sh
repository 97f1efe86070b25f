# Shared helpers for the end-to-end tests: a real keysupd on loopback and
# real keysup-controller agents, started and stopped by the test itself.
# Source it; it sets B (binaries), W (work dir) and a trap that stops
# everything it started.
set -euo pipefail

B="${KS_BIN:?KS_BIN must point to build/bin}"
W="${KS_WORK:?KS_WORK must name a scratch directory}"
rm -rf "$W"
mkdir -p "$W"
cd "$W"
unset KEYSUP_PASSPHRASE
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"

PIDS=()
steps=0

e2e_cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.2
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    if declare -F pg_stop >/dev/null; then pg_stop; fi
}
trap e2e_cleanup EXIT

fail() {
    echo "FAIL: $*"
    for f in "$W"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
    exit 1
}
ok() { steps=$((steps + 1)); echo "ok $steps - $*"; }

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 100 ms
wait_until() {
    local limit=$1 desc=$2 t0
    shift 2
    t0=$(now_ms)
    until "$@" >/dev/null 2>&1; do
        if [ $(( $(now_ms) - t0 )) -gt $((limit * 1000)) ]; then
            fail "timed out after ${limit}s waiting for: $desc"
        fi
        sleep 0.1
    done
}

# j FILE EXPR: evaluates a Python expression on the JSON in FILE (as d)
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ----- the supervisor -----

# KS_DB=postgresql: the registry in a private PostgreSQL server (pg_lib.sh)
sup_init() {
    local db=()
    if [ "${KS_DB:-sqlite}" = postgresql ]; then
        source "$(dirname "${BASH_SOURCE[0]}")/pg_lib.sh"
        [ -n "${PG_URL:-}" ] || pg_start
        db=(--db "$PG_URL")
    fi
    "$B/keysup" init --data "$W/sup" "${db[@]}" --no-passphrase --token-out "$W/admin.tok" >"$W/init.out" 2>&1 \
        || fail "keysup init: $(cat "$W/init.out")"
    export KEYSUP_TOKEN_FILE="$W/admin.tok"
}

# sup_start [PORT]: 0 or empty picks a free port the first time, then keeps it
# sup_fleet_limits: lifts the per-address nonce limit in keysupd.conf (after
# sup_init): a simulated fleet speaks from one address, where a real fleet
# has many, as bench_supervisor does.
sup_fleet_limits() {
    sed -i -e 's/^nonce_rate = .*/nonce_rate = 100000/' -e 's/^nonce_burst = .*/nonce_burst = 100000/' \
        "$W/sup/keysupd.conf"
}

sup_start() {
    local listen="127.0.0.1:${SUP_PORT:-0}"
    rm -f "$W/port"
    "$B/keysupd" --data "$W/sup" --listen "$listen" --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
    SUP_PID=$!
    PIDS+=("$SUP_PID")
    wait_until 10 "keysupd listening" test -s "$W/port"
    SUP_PORT=$(cat "$W/port")
    export KEYSUP_SERVER="http://127.0.0.1:$SUP_PORT"
}

# ft_lib: FT_LIB, libfaketime's multi-threaded library (scripts/deps.sh test
# installs it), or the test fails saying so.
ft_lib() {
    FT_LIB=""
    local f
    for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
        [ -e "$f" ] && FT_LIB=$f && break
    done
    [ -n "$FT_LIB" ] || fail "libfaketime not installed (scripts/deps.sh test installs it)"
}

# sup_start_ft OFFSET: sup_start with keysupd under libfaketime, its wall
# clock OFFSET away (re-read from $W/sup.ft at every read, so a test moves it
# by rewriting the file), the monotonic clock left alone. ASAN_OPTIONS as in
# fault_clock_e2e.sh: ASan's allocator must not read the clock inside
# libfaketime's own start-up.
sup_start_ft() {
    [ -n "${FT_LIB:-}" ] || ft_lib
    echo "$1" >"$W/sup.ft"
    rm -f "$W/port"
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1" \
        LD_PRELOAD="$FT_LIB" FAKETIME_TIMESTAMP_FILE="$W/sup.ft" FAKETIME_NO_CACHE=1 \
        FAKETIME_DONT_FAKE_MONOTONIC=1 \
        "$B/keysupd" --data "$W/sup" --listen "127.0.0.1:${SUP_PORT:-0}" --port-file "$W/port" \
        >>"$W/keysupd.log" 2>&1 &
    SUP_PID=$!
    PIDS+=("$SUP_PID")
    wait_until 10 "keysupd listening" test -s "$W/port"
    SUP_PORT=$(cat "$W/port")
    export KEYSUP_SERVER="http://127.0.0.1:$SUP_PORT"
}

sup_stop() { kill -TERM "$SUP_PID" 2>/dev/null || true; wait "$SUP_PID" 2>/dev/null || true; }

# api ARGS...: the keysup CLI against the supervisor, JSON on stdout
api() { "$B/keysup" --json "$@"; }

# ----- controllers -----

# ctl_add NAME SCOPE: registers and enrols controller NAME (flash NAME.img)
ctl_add() {
    local name=$1 scope=$2 tok
    api controller add "$name" --scope "$scope" >"$W/$name.add.json" || fail "controller add $name"
    tok=$(j "$W/$name.add.json" 'd["provisioning_token"]')
    CTL_ID[$name]=$(j "$W/$name.add.json" 'd["id"]')
    "$B/keysup-controller" enroll --flash "$W/$name.img" --supervisor "$KEYSUP_SERVER" --token "$tok" \
        >"$W/$name.enroll.log" 2>&1 || fail "enroll $name: $(cat "$W/$name.enroll.log")"
}
declare -A CTL_ID CTL_PID

# ctl_run NAME: starts the agent with a 1 s heartbeat and the fault hooks
# (`ctl NAME fault ...`), which a production agent does not have; without
# them when the test runs with KS_FAULT_HOOKS=0 (faults made the field's way)
ctl_run() {
    local name=$1 hooks=()
    [ "${KS_FAULT_HOOKS:-1}" = 1 ] && hooks=(--enable-fault-hooks)
    "$B/keysup-controller" run --flash "$W/$name.img" --socket "$W/$name.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 1 "${hooks[@]}" >>"$W/$name.log" 2>&1 &
    CTL_PID[$name]=$!
    PIDS+=("${CTL_PID[$name]}")
    wait_until 10 "$name control socket" test -S "$W/$name.sock"
}

# ctl NAME ARGS...: keysup-controller ctl against NAME's socket
ctl() { local name=$1; shift; "$B/keysup-controller" ctl --socket "$W/$name.sock" "$@"; }

# status NAME EXPR: a field of NAME's status
status() { ctl "$1" --json status >"$W/$1.status.json" 2>/dev/null; j "$W/$1.status.json" "$2"; }

# published SCOPE: the supervisor's version for a controller's scope, via `controller show`
ctl_show() { api controller show "${CTL_ID[$1]}" >"$W/$1.show.json"; }

# in_step NAME: the controller holds what the supervisor published for it
in_step() {
    ctl_show "$1" || return 1
    local want have
    want=$(j "$W/$1.show.json" 'd.get("published_version")')
    have=$(status "$1" 'd["applied_version"]') || return 1
    [ "$want" != "None" ] && [ "$want" = "$have" ] || return 1
    want=$(j "$W/$1.show.json" 'd.get("published_root")')
    have=$(status "$1" 'd.get("applied_root")')
    [ "$want" = "$have" ]
}

# present KEY NAME ACTION [READER]: presents a key file; stdout/stderr to present.out/err
present() {
    "$B/keysup" key present "$1" --controller "$W/$2.sock" --action "$3" --reader "${4:-reader-1}" \
        >"$W/present.out" 2>"$W/present.err"
}

# keygen NAME: a software key file NAME.key (no passphrase: tests only)
keygen() { "$B/keysup" key keygen --out "$W/$1.key" --no-passphrase >/dev/null; }

# present_at KEY CTRL COUNTER: presents KEY.key at CTRL for void with that
# counter (the clone tests choose the counters); 0 when granted
present_at() {
    "$B/keysup" --json key present "$W/$1.key" --controller "$W/$2.sock" --action void \
        --counter "$3" >"$W/present.out" 2>"$W/present.err"
}

# sv_key NAME: a software key NAME.key enrolled with SUPERVISOR and VOID in
# scope 1 (NAME.json); sets SV_KID to its key id (a variable, not output,
# so that a failure's message is not swallowed by a command substitution)
sv_key() {
    keygen "$1"
    api key enrol --public-key "$W/$1.key" --privilege SUPERVISOR --privilege VOID --scope 1 \
        >"$W/$1.json" || fail "enrol $1"
    SV_KID=$(j "$W/$1.json" 'd["key_id"]')
}

# key_is KID STATE: the key's state in the registry is STATE
key_is() {
    [ "$(api key get "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = "$2" ]
}

# refused_at KEY COUNTER CTRL...: waits until each controller is in step
# (has the key's suspension), then each refuses KEY at COUNTER with KSE-203
refused_at() {
    local key=$1 counter=$2 c
    shift 2
    for c in "$@"; do wait_until 30 "$c has the suspension" in_step "$c"; done
    for c in "$@"; do
        present_at "$key" "$c" "$counter" && fail "the suspended $key granted at $c: $(cat "$W/present.out")"
        grep -q "KSE-203" "$W/present.out" "$W/present.err" ||
            fail "refusal of $key at $c: $(cat "$W/present.out" "$W/present.err")"
    done
}

# ----- licences and backups (docs/licences.md) -----

# lic EXPR: a part of c1's licence status ('["policy_seq"]'); lic_eq FIELD
# VALUE: that field of it is VALUE (quiet, for wait_until)
lic() { status c1 "d['licence']$1"; }
lic_eq() { [ "$(status c1 "d['licence'].get('$1')" 2>/dev/null)" = "$2" ]; }

# lic_backup: a keysupd with controller c1 (C1) on its first policy
# (sequence 0, nothing enforced), stopped and copied to $W/sup.backup, the
# backup the rollback tests restore; keysupd is left stopped
lic_backup() {
    sup_init
    sup_start
    ctl_add c1 1
    ctl_run c1
    C1=${CTL_ID[c1]}
    wait_until 15 "c1 fetched its first policy" lic_eq policy_seq 0
    sup_stop
    cp -a "$W/sup" "$W/sup.backup"
}

# sup_restore_backup: keysupd stopped, its data replaced by $W/sup.backup, started
sup_restore_backup() {
    sup_stop
    rm -rf "$W/sup"
    cp -a "$W/sup.backup" "$W/sup"
    sup_start
}

# policy_seq_held SEQ: keysupd holds SEQ as c1's reported policy sequence
policy_seq_held() {
    api controller show "$C1" >"$W/show.json" &&
        [ "$(j "$W/show.json" 'd["last_health"]["licence"]["policy_seq"]')" = "$1" ]
}

# ----- the console's sign-in (docs/console.md) -----

# console_sup CONF_LINE...: sup_init, the lines added to keysupd.conf,
# sup_start, and operator tech with the password in $W/op.pw
# (right-password-123); sets U to keysupd's URL
console_sup() {
    sup_init
    printf '%s\n' "$@" >>"$W/sup/keysupd.conf"
    sup_start
    U="$KEYSUP_SERVER"
    printf 'right-password-123\n' >"$W/op.pw"
    api operator add tech --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add"
}

# signin NAME PASS OUT [curl args...]: a JSON sign-in; status on stdout, body in $W/OUT
signin() {
    local n=$1 p=$2 o=$3
    shift 3
    curl -s -o "$W/$o" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
        -d "{\"name\":\"$n\",\"password\":\"$p\"}" "$KEYSUP_SERVER/v1/session"
}

# ----- a device, spoken for by the test (tests/sup_devreq, in KS_TESTS) -----

# devreq SEED CID METHOD PATH [BODY] [sup_devreq options]: a signed device request
devreq() { "${KS_TESTS:?KS_TESTS must point to build/tests}/sup_devreq" req "$KEYSUP_SERVER" "$@"; }

# sup_metric NAME: the value of one metric on keysupd's /metrics
sup_metric() { curl -s "$KEYSUP_SERVER/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

# dev_enrol TOKEN PKHEX: enrols a device key with a provisioning token; the controller id
dev_enrol() {
    curl -s -X POST "$KEYSUP_SERVER/v1/device/enroll" -H 'Content-Type: application/json' \
        -d "{\"token\":\"$1\",\"public_key\":\"$2\",\"protocol_version\":1}" >"$W/enrol.json"
    j "$W/enrol.json" 'd["controller_id"]'
}

# rogue NAME SCOPE: a registered controller whose device key the attacker
# holds (made by sup_devreq); sets ROGUE_ID and ROGUE_SEED
rogue() {
    local pk st
    api controller add "$1" --scope "$2" >"$W/$1.add.json" || fail "controller add $1"
    ROGUE_ID=$(j "$W/$1.add.json" 'd["id"]')
    read -r ROGUE_SEED pk < <("${KS_TESTS:?KS_TESTS must point to build/tests}/sup_devreq" keygen)
    st=$(curl -s -o "$W/$1.enrol.json" -w '%{http_code}' -X POST "$KEYSUP_SERVER/v1/device/enroll" \
        -H 'Content-Type: application/json' \
        -d "{\"token\":\"$(j "$W/$1.add.json" 'd["provisioning_token"]')\",\"public_key\":\"$pk\"}")
    [ "$st" = 200 ] || fail "$1 enrol: $(cat "$W/$1.enrol.json")"
}
