#!/usr/bin/env bash
# ./run.sh as the README describes it, on the test build (KEYSUP_DEMO_BIN;
# the Release build itself is run.sh's own business): it starts keysupd and
# three agents, shows a grant and refusals with their KSE codes, prints what
# to try next, and every "Try:" line it prints then works, typed as printed
# (bash -e -x: the first failing line is shown). Ctrl-C (here SIGTERM)
# stops it and it says where the data stayed.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B="${KS_BIN:?KS_BIN must point to build/bin}"
W="${KS_WORK:?KS_WORK must name a scratch directory}"
rm -rf "$W" && mkdir -p "$W"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
unset KEYSUP_PASSPHRASE KEYSUP_TOKEN_FILE KEYSUP_SERVER KEYSUP_CACERT KEYSUP_PIN_SHA256 NO_COLOR
steps=0
ok() { steps=$((steps + 1)); echo "ok $steps - $*"; }
fail() { echo "FAIL: $*"; echo "--- run.sh said:"; tail -n 60 "$W/run.out"; exit 1; }

# Port 0: a free port (run.sh falls back to one when 8750 is taken anyway).
setsid env KEYSUP_DEMO_BIN="$B" KEYSUP_DEMO_DIR="$W/demo" KEYSUP_PORT=0 KEYSUP_DEMO_SECONDS=300 \
    bash "$SRC/run.sh" >"$W/run.out" 2>&1 </dev/null &
pid=$!
trap 'kill -TERM -- -"$pid" 2>/dev/null || true' EXIT
for _ in $(seq 1200); do
    grep -q '^Ctrl-C stops' "$W/run.out" && break
    kill -0 "$pid" 2>/dev/null || fail "run.sh ended before it printed what to try"
    sleep 0.1
done
grep -q '^Ctrl-C stops' "$W/run.out" || fail "run.sh did not get to its 'Try:' lines in 120 s"
grep -q 'maria presents at pos-1 for void: GRANTED' "$W/run.out" || fail "no grant shown"
grep -q 'KSE-502 NOT_SUPERVISOR' "$W/run.out" && grep -q 'KSE-202 KEY_UNKNOWN' "$W/run.out" \
    || fail "the refusals are not shown with their KSE codes"
grep -Eq '^  (console|API|metrics|health) +http://127\.0\.0\.1:[0-9]+/' "$W/run.out" \
    || fail "the console, API, metrics and health URLs are not printed"
! grep -q $'\033' "$W/run.out" || fail "colour escapes in output that is not a terminal"
ok "run.sh runs the demo: a grant, refusals with KSE codes, the URLs, no colour in a pipe"

# The lines from "Try:" to "Ctrl-C", as printed.
awk '/^Try:/ { s = 1; sub(/^Try: */, "") } /^Ctrl-C stops/ { s = 0 } s { sub(/^ +/, ""); print }' \
    "$W/run.out" >"$W/try.sh"
[ "$(wc -l <"$W/try.sh")" -ge 4 ] || fail "fewer than 4 'Try:' lines: $(cat "$W/try.sh")"
(cd "$W" && timeout 120 bash -e -x try.sh >"$W/try.out" 2>&1) \
    || { tail -n 30 "$W/try.out"; fail "a 'Try:' line failed (the last one shown with +)"; }
ok "every 'Try:' line works as printed ($(wc -l <"$W/try.sh") lines)"

kill -TERM "$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
grep -q "stopped; the data stays in $W/demo/" "$W/run.out" || fail "no word on where the data stayed"
ok "SIGTERM stops the demo and names where its data stayed"
echo "run_sh_try: all $steps steps passed"
