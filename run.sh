#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing,
# builds, then runs a supervisor (keysupd on SQLite) with a small simulated
# fleet of controllers, enrols keys, shows a few decisions and what keysup
# says when one is refused, and keeps everything running until Ctrl-C.
#
#   ./run.sh                       # runs until Ctrl-C
#   KEYSUP_DEMO_SECONDS=30 ./run.sh   # stops by itself after 30 s
#   KEYSUP_PORT=8750 (default; a free port is picked when it is taken)
set -euo pipefail
cd "$(dirname "$0")"
# KEYSUP_DEMO_BIN=DIR runs the demo on those binaries, installing and
# building nothing, and KEYSUP_DEMO_DIR=DIR keeps its data there: the test
# run_sh_try runs this script so, on the test build, and types every "Try:"
# line it prints.
if [ -z "${KEYSUP_DEMO_BIN:-}" ]; then
    source scripts/deps.sh
    ks_deps build

    # What a user installs: an optimised Release build, no sanitizers and no
    # fuzzer instrumentation, in its own directory (./test.sh owns build/).
    cmake -S . -B build-release -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Release \
          -DKS_SANITIZE=OFF -DKS_WERROR=ON -DKS_FUZZ=OFF -DKS_BENCH=OFF >build-release-configure.log 2>&1 \
        || { cat build-release-configure.log; exit 1; }
    cmake --build build-release -j"$(nproc)" --target keysup keysupd keysup-controller >/dev/null
fi

B=${KEYSUP_DEMO_BIN:-$PWD/build-release/bin}
D=${KEYSUP_DEMO_DIR:-$PWD/demo}
PIDS=()
stop() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped; the data stays in $D/ (rm -rf demo to start afresh)"
}
trap stop EXIT
trap 'exit 0' INT TERM

rm -rf "$D" && mkdir -p "$D" && chmod 700 "$D"
# Bold headings only on a terminal, and never when NO_COLOR is set
# (https://no-color.org): a pipe or a log file gets plain text.
BOLD="" PLAIN=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
    BOLD=$'\033[1m' PLAIN=$'\033[0m'
fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

say "supervisor: keysup init (SQLite, signing key sealed with a passphrase)"
head -c 24 /dev/urandom | base64 >"$D/passphrase"
chmod 600 "$D/passphrase"
"$B/keysup" init --data "$D/sup" --passphrase-file "$D/passphrase" --kdf interactive \
    --token-out "$D/admin.token"
export KEYSUP_TOKEN_FILE="$D/admin.token"

port=${KEYSUP_PORT:-8750}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then port=0; fi
"$B/keysupd" --data "$D/sup" --listen "127.0.0.1:$port" --passphrase-file "$D/passphrase" \
    --port-file "$D/port" >"$D/keysupd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$D/port" ] && break; sleep 0.1; done
export KEYSUP_SERVER="http://127.0.0.1:$(cat "$D/port")"
echo "keysupd listening on $KEYSUP_SERVER (log: $D/keysupd.log)"

say "fleet: three controllers in two scopes, each with its own flash image"
declare -A SCOPE=([front-door]=1 [pos-1]=2 [scale-1]=2)
for c in front-door pos-1 scale-1; do
    tok=$("$B/keysup" --json controller add "$c" --scope "${SCOPE[$c]}" --site demo |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["provisioning_token"])')
    "$B/keysup-controller" enroll --flash "$D/$c.img" --supervisor "$KEYSUP_SERVER" --token "$tok"
    # A demo fleet: the agents accept the test-only fault hooks, so the
    # "Try:" lines below can break one and watch the diagnosis (a real
    # agent refuses them; docs/controller.md).
    "$B/keysup-controller" run --flash "$D/$c.img" --socket "$D/$c.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 2 --enable-fault-hooks >"$D/$c.log" 2>&1 &
    PIDS+=($!)
done

say "keys: software keys for a supervisor, two cashiers and a night guard"
mkdir -p "$D/keys"
enrol() { # name scope privileges...
    local n=$1 s=$2
    shift 2
    "$B/keysup" key keygen --out "$D/keys/$n.key" --no-passphrase >/dev/null
    local args=()
    for p in "$@"; do args+=(--privilege "$p"); done
    "$B/keysup" key enrol --public-key "$D/keys/$n.key" --scope "$s" --label "$n" "${args[@]}" >/dev/null
    echo "  $n: scope $s, $*"
}
enrol maria 0 SUPERVISOR VOID REFUND Z_REPORT PRICE OVERRIDE
enrol tom 2 OPERATOR
enrol ana 2 OPERATOR VOID
enrol guard 1 OPERATOR
# Every controller in step with what was published (a heartbeat or two).
for _ in $(seq 100); do
    "$B/keysup" --json controller list | python3 -c '
import json, sys
d = json.load(sys.stdin); rows = d["items"] if isinstance(d, dict) else d
sys.exit(0 if rows and all(r.get("in_sync") for r in rows) else 1)' && break
    sleep 0.2
done
"$B/keysup" controller list

say "decisions at the terminals (keysup key present KEYFILE --controller SOCKET --action A)"
try() { # key controller action
    printf -- '-- %s presents at %s for %s: ' "$1" "$2" "$3"
    if "$B/keysup" key present "$D/keys/$1.key" --controller "$D/$2.sock" --action "$3" \
        >"$D/present.out" 2>"$D/present.err"; then
        echo "GRANTED"
    else
        echo "REFUSED"
        sed 's/^/     /' "$D/present.err"
    fi
}
try maria pos-1 void        # a supervisor voids a line
try ana pos-1 void          # a cashier cannot: void needs a supervisor (KSE-502)
try maria pos-1 refund
try guard pos-1 access      # the guard's key is for the front door's scope only (KSE-202)
try guard front-door access

say "what the supervisor diagnosed from pos-1's next heartbeat (keysup diagnose 2)"
sleep 2.5
# The two refusals above are the policy working: diagnose shows them as
# evidence under areas that stay ok, and opens no incident unless the same
# refusal repeats (policy_refusal_threshold, docs/diagnosis.md). It ends with
# the open incidents, if any: the table is printed once, here.
"$B/keysup" diagnose 2

say "running"
cat <<EOF
  console        $KEYSUP_SERVER/   (admin, password in $D/sup/console-admin.password)
  API            $KEYSUP_SERVER/v1   (token: $D/admin.token)
  metrics        $KEYSUP_SERVER/metrics
  health         $KEYSUP_SERVER/healthz
  controllers    $D/*.sock  (keysup-controller ctl --socket $D/pos-1.sock status)

Try:  export KEYSUP_SERVER=$KEYSUP_SERVER KEYSUP_TOKEN_FILE=$D/admin.token
      $B/keysup controller show 2
      $B/keysup diagnose 2
      $B/keysup-controller ctl --socket $D/pos-1.sock status
      $B/keysup-controller ctl --socket $D/pos-1.sock fault corrupt_sector
      $B/keysup incidents
      $B/keysup error KSE-301
      $B/keysup audit list
Ctrl-C stops the supervisor and the fleet.
EOF
# The sleep runs in the background and the script waits for it: a TERM (kill
# PID) is then handled at once, where a foreground sleep would hold it back
# until the sleep ended (Ctrl-C reached the sleep too, so only it worked).
if [ -n "${KEYSUP_DEMO_SECONDS:-}" ]; then
    sleep "$KEYSUP_DEMO_SECONDS" &
    PIDS+=($!)
    wait $!
else
    while :; do
        sleep 3600 &
        PIDS+=($!)
        wait $!
    done
fi
