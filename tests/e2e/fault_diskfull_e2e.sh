#!/usr/bin/env bash
# Field fault: keysupd's disk fills up while operators make changes and the
# fleet heartbeats (docs/security.md, field5). An LD_PRELOAD shim
# (tests/shim_failwrite.c) makes keysupd's writes to its database's WAL
# fail with ENOSPC while the file $W/full exists, as a full disk does (a
# shim rather than a small filesystem: no mount privileges needed).
#  1. a change made while the disk is full answers an error, and the log
#     does not say it was done: the audit line was logged inside the
#     transaction, so `event=key.enrol ... result=ok` stood in the log for
#     a key whose COMMIT failed (now: result=not_committed);
#  2. heartbeats taken while the disk is full are stored once it has room,
#     without another heartbeat: the failed batch was dropped, so the
#     controller's last_seen stayed at its last heartbeat before the disk
#     filled (and the diagnosis, reading it, would in time call a
#     heartbeating controller lost);
#  3. once the disk has room again, changes work at once, with no restart,
#     and nothing that failed is there.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (sup_devreq, libks_failwrite.so)}"
HB='{"protocol_version":1}'

sup_init
rm -f "$W/port"
KS_FAILWRITE_TRIGGER="$W/full" KS_FAILWRITE_SUFFIX="/keysup.db-wal" LD_PRELOAD="$T/libks_failwrite.so" \
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
    "$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
SUP_PID=$!
PIDS+=("$SUP_PID")
wait_until 10 "keysupd listening" test -s "$W/port"
export KEYSUP_SERVER="http://127.0.0.1:$(cat "$W/port")"
last_seen() { api controller show "$CID" >"$W/c.json" && j "$W/c.json" 'd["last_seen"]'; }

api controller add door --scope 1 >"$W/door.json" || fail "controller add"
read -r SEED PK < <("$T/sup_devreq" keygen)
CID=$(dev_enrol "$(j "$W/door.json" 'd["provisioning_token"]')" "$PK")
[ "$(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)" = 200 ] || fail "heartbeat"
wait_until 5 "the heartbeat stored" sh -c "[ -n \"\$(\"$B/keysup\" --json controller show $CID | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"last_seen\") or \"\")')\" ]"
before=$(last_seen)
sleep 1.2

# ----- the disk fills
touch "$W/full"
mark=$(wc -l <"$W/keysupd.log")
api key enrol --generate >"$W/k.out" 2>&1 && fail "a key enrolled on a full disk: $(cat "$W/k.out")"
api controller add door2 --scope 1 >"$W/c2.out" 2>&1 && fail "a controller added on a full disk"
tail -n +"$mark" "$W/keysupd.log" >"$W/full.log"
grep -E 'event=(key.enrol|controller.add) .*result=ok' "$W/full.log" \
    && fail "the log says a change was done whose commit failed"
grep -q 'event=key.enrol .*result=not_committed' "$W/full.log" || fail "the failed change is not in the log: $(cat "$W/full.log")"
ok "changes on a full disk: an error answer, and the log says not_committed (not ok)"

for i in 1 2 3; do
    devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" >"$W/hb.out"
    [ "$(head -1 "$W/hb.out")" = 200 ] || fail "heartbeat $i on a full disk: $(cat "$W/hb.out")"
done
sent=$(sed -n 2p "$W/hb.out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["server_time"])')
sleep 0.5
grep -q 'heartbeat.flush' "$W/keysupd.log" || fail "the failed heartbeat write was not logged"

# ----- room again
rm -f "$W/full"
for _ in $(seq 1 25); do # the flusher writes every 200 ms
    now=$(last_seen)
    [ "$now" -ge "$sent" ] && break
    sleep 0.2
done
[ "$now" -ge "$sent" ] || fail "last_seen $now after the disk had room: the heartbeats of the full disk (until $sent) were lost (before: $before)"
ok "heartbeats taken while the disk was full are stored once it has room (last_seen $before -> $now)"

api key enrol --generate >"$W/k2.out" 2>&1 || fail "key enrol once the disk has room: $(cat "$W/k2.out")"
api key list >"$W/keys.json"
[ "$(j "$W/keys.json" 'd["total"]')" = 1 ] || fail "keys after the full disk: $(cat "$W/keys.json")"
api controller list >"$W/ctls.json"
j "$W/ctls.json" '[c["name"] for c in d["items"]]' | grep -q door2 && fail "the controller added on the full disk exists"
ok "with room again changes work at once, and what failed is not there"
echo "fault_diskfull_e2e: all $steps steps passed"
