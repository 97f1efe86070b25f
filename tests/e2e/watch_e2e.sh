#!/usr/bin/env bash
# The push path (issue 13): keysup-sim controllers with a 60 s heartbeat
# hold a watch (--push, the agent's own ctl_watch). A revocation must reach
# every one of them within a few seconds, the publisher's delta carried in
# the watch's answer (sup_watch_delta.c): without the push path the last
# would wait for its next heartbeat, up to 60 s, so the bound below fails.
# Then: a watch without a valid device signature is refused; after a
# keysupd restart the controllers hold watches again and the next
# revocation is pushed too; over watch_max keysupd answers 503 (KSE-121)
# and the refused controllers keep heartbeating, with no KSE-100.
source "$(dirname "$0")/lib.sh"

N=40
HB=60
PUSH_BOUND_MS=5000   # against a heartbeat of 60 s

sup_init
sup_fleet_limits
sed -i "s/^heartbeat_interval = .*/heartbeat_interval = $HB/" "$W/sup/keysupd.conf"
grep -q '^watch_max = 12288' "$W/sup/keysupd.conf" || fail "keysupd.conf has no watch_max line"
sup_start
keygen holder
for k in gone1 gone2; do
    keygen $k
    api key enrol --public-key "$W/$k.key" --privilege OPERATOR --scope 0 >"$W/$k.json"
done
api key enrol --public-key "$W/holder.key" --privilege OPERATOR --scope 0 >/dev/null
GONE1=$(j "$W/gone1.json" 'd["key_id"]')
GONE2=$(j "$W/gone2.json" 'd["key_id"]')

metric() { curl -s "$KEYSUP_SERVER/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
st() { [ -s "$W/$1.status.json" ] && j "$W/$1.status.json" "$2"; }

# run_sim NAME HB WATCHKEY N: a fleet in the background (SIM_PID)
run_sim() {
    "$B/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$W/admin.tok" --controllers "$4" \
        --scopes 2 --heartbeat "$2" --threads 2 --push --watch-key "$3" --prefix "$1" \
        --status "$W/$1.status.json" --log "$W/$1.agents.log" --json >"$W/$1.summary.json" \
        2>"$W/$1.sim.log" &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
}

run_sim fleet $HB "$GONE1" $N
wait_until 60 "the fleet enrolled and in step" sh -c \
    "[ \"\$(python3 -c 'import json; print(json.load(open(\"$W/fleet.status.json\"))[\"in_step\"])' 2>/dev/null)\" = $N ]"
# and one real agent, keysup-controller run --watch, with the same heartbeat
ctl_add door 1
"$B/keysup-controller" run --flash "$W/door.img" --socket "$W/door.sock" \
    --supervisor "$KEYSUP_SERVER" --heartbeat $HB --watch >>"$W/door.log" 2>&1 &
PIDS+=("$!")
wait_until 10 "door control socket" test -S "$W/door.sock"
wait_until 10 "door in step (its first database through the watch)" in_step door
present "$W/gone1.key" door access || fail "gone1 refused at door before the revocation: $(cat "$W/present.err")"
held() { [ "$(metric keysup_watch_held)" = "$((N + 1))" ]; }
wait_until 20 "$((N + 1)) watches held" held
ok "$N simulated controllers and one agent (heartbeat ${HB} s) in step, each holding a watch"

# ----- a revocation is pushed
revoke_pushed() { # KEYID STATUSKEY: revokes, then waits for every controller to refuse it
    local t0 t1
    t0=$(now_ms)
    api key revoke "$1" >/dev/null
    refused() { [ "$(st fleet 'd["watch"]["refused"]')" -ge $N ]; }
    wait_until 30 "the revocation reaches $N controllers" refused
    t1=$(st fleet 'd["watch"]["last_ms"]')
    [ $((t1 - t0)) -le $PUSH_BOUND_MS ] \
        || fail "the last controller refused the key $((t1 - t0)) ms after the revocation (bound $PUSH_BOUND_MS ms, heartbeat ${HB} s): not pushed"
    LAST_MS=$((t1 - t0))
}
revoke_pushed "$GONE1"
door_refuses() { ! present "$W/gone1.key" door access && grep -q 'KSE-203' "$W/present.err" "$W/present.out"; }
wait_until 3 "the agent refuses the revoked key (KSE-203)" door_refuses
[ "$(st fleet 'd["push_wakes"]')" -ge $N ] || fail "push_wakes $(st fleet 'd["push_wakes"]') < $N"
[ "$(st fleet 'd["comm_lost"]')" = 0 ] || fail "controllers lost the link"
# the answers carried the publisher's delta (sup_watch_delta.c): no fetch
# after the wake. Not all N: a controller holds no watch in the 2 s before
# its heartbeat (ctl_watch_until), and takes the revocation from that.
[ "$(st fleet 'd["push_carried"]')" -ge $((N * 9 / 10)) ] || fail "push_carried $(st fleet 'd["push_carried"]') < $((N * 9 / 10)): the delta was fetched, not carried"
[ "$(metric keysup_watch_delta_total)" -ge $((N * 9 / 10)) ] || fail "keysup_watch_delta_total $(metric keysup_watch_delta_total) < $((N * 9 / 10))"
ok "revocation refused by all $N simulated controllers within $LAST_MS ms and by the agent (heartbeat ${HB} s), woken by their watch"

# ----- a watch without a valid device signature is refused
code=$(curl -s -o "$W/forged.out" -w '%{http_code}' "$KEYSUP_SERVER/v1/device/watch/0/5")
[ "$code" = 401 ] || fail "an unsigned watch got $code: $(cat "$W/forged.out")"
NONCE=$(curl -s "$KEYSUP_SERVER/v1/device/nonce" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nonce"])')
ID=$(st fleet 'd["scopes"][0]["controller_id"]')
SIG=$(python3 -c 'print("ab" * 64)')
code=$(curl -s -o "$W/forged.out" -w '%{http_code}' -H "X-Keysup-Controller: $ID" \
    -H "X-Keysup-Nonce: $NONCE" -H "X-Keysup-Signature: $SIG" "$KEYSUP_SERVER/v1/device/watch/0/5")
[ "$code" = 401 ] || fail "a forged watch got $code: $(cat "$W/forged.out")"
grep -q 'signature does not verify' "$W/forged.out" || fail "forged watch: $(cat "$W/forged.out")"
wait_until 10 "the genuine watches held" held
[ "$(metric keysup_watch_peak)" = "$((N + 1))" ] || fail "a refused watch was held: peak $(metric keysup_watch_peak)"
ok "an unsigned and a forged watch are refused (401); the $N genuine ones stay held"

# ----- keysupd restart: the watches come back, the next revocation is pushed
t0=$(now_ms)
sup_stop
stop_ms=$(( $(now_ms) - t0 ))
[ $stop_ms -lt 5000 ] || fail "keysupd took $stop_ms ms to stop with $N watches held"
grep -q 'event=daemon.stop\|daemon.stop' "$W/keysupd.log" || true
sup_start
wait_until 20 "$N watches held again after the restart" held
# The sim notes the refusal time of one key (GONE1) only: for GONE2 the
# test reads the versions keysupd publishes for the two scopes, then waits
# for every simulated controller to hold them (the status file is
# rewritten every second: about a second of resolution).
pub_of() { api controller show "$(st fleet "d['scopes'][$1]['controller_id']")" >"$W/show.$1.json" && j "$W/show.$1.json" 'd["published_version"]'; }
p0=$(pub_of 0); p1=$(pub_of 1)
t0=$(now_ms)
api key revoke "$GONE2" >/dev/null
published_moved() { [ "$(pub_of 0)" != "$p0" ] && [ "$(pub_of 1)" != "$p1" ]; }
wait_until 10 "keysupd publishes the revocation in both scopes" published_moved
p0=$(pub_of 0); p1=$(pub_of 1)
fleet_has() { j "$W/fleet.status.json" "d['in_step'] == $N and d['scopes'][0]['version'] == $p0 and d['scopes'][1]['version'] == $p1" | grep -q True; }
wait_until 30 "every controller holds the new published version" fleet_has
LAST_MS=$(( $(now_ms) - t0 ))
# Without the push path the last of 40 controllers at random phases of a
# 60 s heartbeat is ~60 s away; 2 s of slack for the status file.
[ $LAST_MS -le $((PUSH_BOUND_MS + 2000)) ] || fail "the fleet took $LAST_MS ms to take the second revocation: not pushed"
[ "$(st fleet 'd["comm_lost"]')" = 0 ] || fail "a restart counted as link loss"
ok "keysupd stopped in $stop_ms ms with $N watches held; after its restart all $N came back, and the next revocation reached them in $LAST_MS ms"
kill -TERM "$SIM_PID"
wait "$SIM_PID" || fail "keysup-sim exited $?: $(tail -5 "$W/fleet.sim.log")"

# ----- over watch_max: 503 KSE-121, heartbeats go on
sup_stop
sed -i -e 's/^watch_max = .*/watch_max = 5/' -e 's/^heartbeat_interval = .*/heartbeat_interval = 5/' \
    "$W/sup/keysupd.conf"
sup_start
M=20
run_sim capped 5 "$GONE1" $M
wait_until 60 "the capped fleet enrolled" sh -c \
    "[ \"\$(python3 -c 'import json; print(json.load(open(\"$W/capped.status.json\"))[\"enrolled\"])' 2>/dev/null)\" = $M ]"
refused_some() { [ "$(metric keysup_watch_refused_total)" -gt 0 ] && [ "$(st capped 'd["push_refused"]')" -gt 0 ]; }
wait_until 20 "watches refused over watch_max" refused_some
hb0=$(st capped 'd["heartbeats"]')
sleep 11
hb1=$(st capped 'd["heartbeats"]')
[ "$(metric keysup_watch_peak)" -le 5 ] || fail "keysup_watch_peak $(metric keysup_watch_peak) > watch_max 5"
[ $((hb1 - hb0)) -ge $M ] || fail "only $((hb1 - hb0)) heartbeats in 11 s from $M controllers (heartbeat 5 s)"
[ "$(st capped 'd["comm_lost"]')" = 0 ] || fail "a refused watch counted as link loss"
ok "watch_max 5: at most 5 held, $(metric keysup_watch_refused_total) refused (503), $((hb1 - hb0)) heartbeats in 11 s from $M controllers, no KSE-100"
kill -TERM "$SIM_PID"
wait "$SIM_PID" || fail "keysup-sim exited $?: $(tail -5 "$W/capped.sim.log")"
