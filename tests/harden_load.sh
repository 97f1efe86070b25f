#!/usr/bin/env bash
# Connection exhaustion against keysupd on loopback (issue 10): 2,000 idle
# and 2,000 slowloris connections (from 40 addresses in 127.0.1.0/24) while
# /healthz and an operator's authorised request each answer within a second;
# the absolute header deadline closes the slowloris sockets although they
# trickle a byte a second, and the body deadline a trickled body; 200 unauthenticated clients pushing 1 MB bodies do
# not grow keysupd's RSS (bodies are refused before they are read).
# Needs: KS_BIN, KS_WORK; python3 (tests/harden_load.py).
set -u
B=${KS_BIN:?} W=${KS_WORK:?}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W"
PASS=0 FAIL=0 PID=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
check() { if [ "$2" == "$3" ]; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAIL: $1: expected '$2', got '$3'"; fi; }
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; PID=; }
trap 'stop' EXIT
# le A B: A <= B for decimals
le() { python3 -c 'import sys; print(1 if float(sys.argv[1]) <= float(sys.argv[2]) else 0)' "$1" "$2"; }

"$B/keysup" init --data "$W/d" --no-passphrase --token-out "$W/admin.tok" >/dev/null || exit 1
HDR=5 BODY=4
printf 'header_timeout = %s\nbody_timeout = %s\n' "$HDR" "$BODY" >>"$W/d/keysupd.conf"
"$B/keysupd" --data "$W/d" --listen 127.0.0.1:0 --port-file "$W/port" >"$W/keysupd.log" 2>&1 &
PID=$!
for _ in $(seq 200); do [ -s "$W/port" ] && break; sleep 0.05; done
PORT=$(cat "$W/port")
check "open-file limit raised" "$(ulimit -Hn)" "$(awk '/^Max open files/ {print $4}' /proc/$PID/limits)"

python3 "$HERE/harden_load.py" conns "$PORT" "$(cat "$W/admin.tok")" --idle 2000 --slow 2000 \
    --ips 40 --hold 2 --wait $((HDR + 10)) >"$W/conns.json"
cat "$W/conns.json"
j() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$W/conns.json" "$1"; }
check "4000 connections opened" 4000 "$(j opened)"
check "all still open while measured" "2000 2000" "$(j open_idle_after_hold) $(j open_slow_after_hold)"
check "honest requests answered" 0 "$(j failed)"
check "healthz within 1 s (max $(j healthz_max) s)" 1 "$(le "$(j healthz_max)" 1.0)"
check "authorised request within 1 s (max $(j authorised_max) s)" 1 "$(le "$(j authorised_max)" 1.0)"
check "slowloris closed by the deadline" 0 "$(j slow_open_at_end)"
check "idle closed too" 0 "$(j idle_open_at_end)"
check "within header_timeout + slack" 1 "$(le "$(j close_wait_seconds)" $((HDR + 3)))"
check "deadline metric" 1 "$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '$1 == "keysup_http_deadline_closes_total" {print ($2 >= 2000)}')"

# One address gets max_connections_per_ip (128) sockets; the rest are closed.
python3 "$HERE/harden_load.py" conns "$PORT" "$(cat "$W/admin.tok")" --idle 200 --slow 0 \
    --ips 1 --hold 1 --wait 0 >"$W/perip.json"
check "per-address cap" 128 "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["open_idle_after_hold"])' "$W/perip.json")"

# A body trickled a byte a second is cut at body_timeout, not kept alive.
T=$(python3 "$HERE/harden_load.py" slowbody "$PORT" "$(cat "$W/admin.tok")" $((BODY + 10)))
check "trickled body closed at body_timeout ($T s)" 1 "$(python3 -c 'import sys; t=float(sys.argv[1]); print(1 if 0 < t <= float(sys.argv[2]) + 2.5 else 0)' "$T" "$BODY")"

python3 "$HERE/harden_load.py" push "$PORT" "$PID" --clients 200 --size 1048576 >"$W/push.json"
cat "$W/push.json"
GROWTH=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["growth_kb"])' "$W/push.json")
# Buffering the bodies would take 200 MB; refusing them first costs
# connection pools and thread stacks only.
check "RSS growth bounded (${GROWTH} kB)" 1 "$([ "$GROWTH" -lt 65536 ] && echo 1)"
check "every push refused (401/413)" 200 "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["statuses"]; print(s.get("401",0)+s.get("413",0))' "$W/push.json")"
ST=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz"); check "healthy after" 200 "$ST"
stop
echo "harden_load: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
