#!/usr/bin/env bash
# Issue 13: the heartbeat path outside the database lock, against a real keysupd.
#  1. the device cache serves the steady heartbeat (its hit counter moves);
#  2. a queued command reaches the very next heartbeat (the cached "no
#     commands" is forgotten by the command's commit);
#  3. a protocol change is seen by the next snapshot request (KSE-401);
#  4. a revoked (re-provisioned) device key is refused by the first request
#     after the revocation returns, ten times over, and a re-enrolled key is
#     accepted at once; with three clients hammering the old key during the
#     revocation, no request started after it returned is accepted;
#  5. heartbeats keysupd sheds (503 KSE-121) are not a lost link: a real agent
#     kept out longer than its KSE-100 limit reports "supervisor_busy", not
#     KSE-100, and the supervisor's diagnosis says KSE-121, not KSE-100.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests}"

sup_init
sup_start
HB='{"protocol_version":1}'

api controller add door --scope 1 >"$W/door.json" || fail "controller add"
read -r SEED PK < <("$T/sup_devreq" keygen)
CID=$(dev_enrol "$(j "$W/door.json" 'd["provisioning_token"]')" "$PK")

# ----- 1. the cache serves the steady heartbeat
h0=$(sup_metric keysup_devcache_hits_total)
for i in 1 2 3 4 5; do
    [ "$(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)" = 200 ] || fail "heartbeat $i"
done
h1=$(sup_metric keysup_devcache_hits_total)
[ -n "$h0" ] && [ "$h1" -ge $((h0 + 5)) ] || fail "device cache hits $h0 -> $h1 over 5 heartbeats"
ok "the steady heartbeat is served from the device cache ($h0 -> $h1 hits)"

# ----- 2. a command reaches the next heartbeat
api controller command "$CID" time_sync >"$W/cmd.json" || fail "command: $(cat "$W/cmd.json")"
devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" >"$W/hb.out"
[ "$(head -1 "$W/hb.out")" = 200 ] || fail "heartbeat after the command: $(cat "$W/hb.out")"
tail -n +2 "$W/hb.out" | grep -q '"time_sync"' || fail "the next heartbeat lacks the command: $(cat "$W/hb.out")"
ok "a queued command reaches the very next heartbeat"

# ----- 3. a protocol change is seen by the next request
devreq "$SEED" "$CID" POST /v1/device/heartbeat '{"protocol_version":99}' >/dev/null
out=$(devreq "$SEED" "$CID" GET /v1/device/snapshot --out "$W/snap")
[ "$(head -1 <<<"$out")" = 409 ] && grep -q "KSE-401" "$W/snap" || fail "protocol 99, snapshot: $out $(cat "$W/snap")"
devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" >/dev/null
out=$(devreq "$SEED" "$CID" GET /v1/device/snapshot --out "$W/snap")
[ "$(head -1 <<<"$out")" = 200 ] || fail "protocol 1 again, snapshot: $out"
ok "a protocol change reaches the next request (409 KSE-401, then 200)"

# ----- 4. revocation: the first request after it is refused
for round in $(seq 1 10); do
    devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1 | grep -q 200 || fail "round $round: warm"
    api controller provision "$CID" >"$W/prov.json" || fail "provision: $(cat "$W/prov.json")"
    st=$(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)
    [ "$st" = 401 ] || fail "round $round: the revoked device key got $st"
    read -r NSEED NPK < <("$T/sup_devreq" keygen)
    [ "$(dev_enrol "$(j "$W/prov.json" 'd["provisioning_token"]')" "$NPK")" = "$CID" ] || fail "re-enrol"
    st=$(devreq "$NSEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)
    [ "$st" = 200 ] || fail "round $round: the re-enrolled key got $st"
    st=$(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)
    [ "$st" = 401 ] || fail "round $round: the old key after re-enrolment got $st"
    SEED=$NSEED
done
ok "10 revocations: the old device key refused by the first request after each, the new one accepted at once"

hammer() { # N: requests with the current key until the stop file, "start_ms status" lines
    while [ ! -e "$W/stop" ]; do
        t=$(now_ms)
        echo "$t $(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)"
    done >"$W/hammer.$1"
}
rm -f "$W/stop"
for k in 1 2 3; do hammer $k & PIDS+=($!); done
sleep 1
api controller provision "$CID" >"$W/prov.json" || fail "provision"
T1=$(now_ms)
sleep 1.5
touch "$W/stop"
wait "${PIDS[@]: -3}" 2>/dev/null || true
cat "$W"/hammer.* >"$W/hammer.all"
before=$(awk -v t="$T1" '$1 < t && $2 == 200' "$W/hammer.all" | wc -l)
after=$(awk -v t="$T1" '$1 >= t' "$W/hammer.all" | wc -l)
late=$(awk -v t="$T1" '$1 >= t && $2 == 200' "$W/hammer.all" | wc -l)
[ "$before" -gt 0 ] && [ "$after" -gt 0 ] || fail "the hammer did not straddle the revocation ($before before, $after after)"
[ "$late" = 0 ] || fail "$late requests started after the revocation returned were accepted"
ok "under 3 hammering clients: $before accepted before the revocation, 0 of $after after it"

# ----- 5. shed heartbeats are not a lost link
sup_stop
printf 'max_inflight = 1\nretry_after = 1\n' >>"$W/sup/keysupd.conf"
sup_start
ctl_add c1 1
ctl_run c1
wait_until 20 "c1 in step" in_step c1
C1=${CTL_ID[c1]}
# Hold the one in-flight slot: a signed request (live nonce, c1's id) whose
# 200-byte body arrives at 20 bytes/s. Its signature is wrong: refused at the end.
N=$(curl -s "$KEYSUP_SERVER/v1/device/nonce" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nonce"])')
python3 -c 'print("{\"records\":[" + ",".join(["{\"seq\":1}"] * 17) + "]}")' >"$W/slow.body"
SIG=$(printf '0%.0s' $(seq 1 128))
curl -s -o /dev/null --limit-rate 20 -X POST -H "X-Keysup-Controller: $C1" -H "X-Keysup-Nonce: $N" \
    -H "X-Keysup-Signature: $SIG" -H 'Content-Type: application/json' --data-binary @"$W/slow.body" \
    "$KEYSUP_SERVER/v1/device/audit" &
HOLD=$!
PIDS+=("$HOLD")
wait_until 5 "the slot held" sh -c "[ \"\$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"keysup_device_requests_inflight\" {print \$2}')\" = 1 ]"
# The agent's KSE-100 limit is 3 heartbeats + its 2 s request deadline: 5 s.
sleep 7
kill -0 "$HOLD" 2>/dev/null || fail "the slow request ended early: the slot was not held long enough"
status c1 'd' >/dev/null || fail "c1 status"
busy=$(j "$W/c1.status.json" 'd["supervisor_busy"]')
conds=$(j "$W/c1.status.json" 'd["conditions"]')
[ "$busy" -gt 0 ] || fail "c1 counted no shed heartbeat (supervisor_busy $busy); shed $(sup_metric keysup_shed_total)"
case "$conds" in *KSE-100*) fail "c1 raised KSE-100 for shed heartbeats: $conds" ;; esac
grep -q "KSE-100 COMM_LOST" "$W/c1.log" && fail "c1 logged KSE-100 for shed heartbeats"
api diagnose "$C1" >"$W/diag.json" || fail "diagnose: $(cat "$W/diag.json")"
grep -q "KSE-121" "$W/diag.json" || fail "the diagnosis does not name KSE-121: $(cat "$W/diag.json")"
grep -q "KSE-100" "$W/diag.json" && fail "the diagnosis calls the link lost: $(cat "$W/diag.json")"
ok "c1 kept out 7 s by shedding: $busy shed heartbeats, no KSE-100 (conditions $conds); the diagnosis says KSE-121"
wait "$HOLD" 2>/dev/null || true
wait_until 20 "c1 in step after the shedding" in_step c1
ok "c1 back in step once the slot is free"
