#!/usr/bin/env bash
# Issue 13: the heartbeat session (docs/protocol.md, "Heartbeat session"),
# against a real keysupd:
#  1. a real agent opens a session with one signed heartbeat and then MACs
#     its steady heartbeats (keysup_hbsess_* counters), no replay counted;
#  2. session headers that keysupd does not know are 401 KSE-122, not a
#     replay; on any route but the heartbeat they are refused;
#  3. a keysupd restart: the agent's MAC'd heartbeat is answered KSE-122, it
#     sends it signed, re-opens, and never reports a lost link;
#  4. a fault injected while on the session is diagnosed (the report is
#     still sent whole; the diagnosis sees what it saw before);
#  5. keysup-sim (the agent's own sync code) uses the session for its steady
#     heartbeats, and as an older agent (--fetch-nonce) signs every one;
#  6. a re-provisioned controller's session dies with its device key.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests}"

sup_init
sup_fleet_limits
sup_start
m() { local v; v=$(sup_metric "$1"); echo "${v:-0}"; }
# at_least METRIC N: waits up to 20 s for METRIC >= N
at_least() { wait_until 20 "$1 >= $2" sh -c "[ \"\$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"$1\" {print \$2}')\" -ge $2 ]"; }

# ----- 1. a real agent on its session
ctl_add door 1
ctl_run door
wait_until 20 "the agent in step" in_step door
at_least keysup_hbsess_heartbeats_total 3
[ "$(m keysup_hbsess_opened_total)" -ge 1 ] || fail "no session opened"
h0=$(m keysup_heartbeats_total); s0=$(m keysup_hbsess_heartbeats_total)
at_least keysup_heartbeats_total $((h0 + 4))
h1=$(m keysup_heartbeats_total); s1=$(m keysup_hbsess_heartbeats_total)
[ $((s1 - s0)) -ge $((h1 - h0 - 1)) ] || fail "steady heartbeats not on the session: $((h1 - h0)) heartbeats, $((s1 - s0)) MAC'd"
[ "$(m keysup_device_replays_total)" = 0 ] || fail "replays counted"
[ "$(m keysup_hbsess_opened_total)" = 1 ] || fail "more than one session opened: $(m keysup_hbsess_opened_total)"
ok "the agent opened one session and MAC'd its steady heartbeats ($((s1 - s0)) of $((h1 - h0)))"

# ----- 2. unknown session, and a session on another route
rnd() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
sess_req() {
    curl -s -o "$W/sess.out" -w '%{http_code}' -X "$1" "$KEYSUP_SERVER$2" \
        -H "X-Keysup-Controller: ${CTL_ID[door]}" -H "X-Keysup-Session: $(rnd 16)" \
        -H "X-Keysup-Counter: 1" -H "X-Keysup-Elapsed: 1000" -H "X-Keysup-Mac: $(rnd 32)" -H "X-Keysup-Challenge: $(rnd 32)" \
        -H 'Content-Type: application/json' ${3:+--data "$3"}
}
[ "$(sess_req POST /v1/device/heartbeat '{"protocol_version":1}')" = 401 ] || fail "a made-up session: $(cat "$W/sess.out")"
grep -q KSE-122 "$W/sess.out" || fail "the refusal is not KSE-122: $(cat "$W/sess.out")"
[ "$(sess_req GET /v1/device/rotation)" = 401 ] || fail "a session on the rotation route: $(cat "$W/sess.out")"
grep -q "heartbeats only" "$W/sess.out" || fail "the rotation refusal does not say why: $(cat "$W/sess.out")"
[ "$(m keysup_device_replays_total)" = 0 ] || fail "a made-up session counted as a replay"
ok "an unknown session is 401 KSE-122 (no replay); a session authenticates heartbeats only"

# ----- 3. restart: KSE-122, signed again, re-opened, no lost link
sup_stop
sup_start
at_least keysup_hbsess_heartbeats_total 3
[ "$(m keysup_hbsess_unknown_total)" -ge 1 ] || fail "the agent's old session was not refused after the restart"
[ "$(m keysup_hbsess_opened_total)" -ge 1 ] || fail "no session re-opened"
[ "$(m keysup_device_replays_total)" = 0 ] || fail "the restart counted replays"
[ "$(status door 'd.get("comm_lost")')" != True ] || fail "the agent reports a lost link after the restart"
ok "after a restart the agent re-opened its session: $(m keysup_hbsess_unknown_total) KSE-122, no lost link"

# ----- 4. a fault while on the session is diagnosed
ctl door fault skew_clock 3600 >/dev/null
diag_has() {
    api diagnose "${CTL_ID[door]}" >"$W/diag.json" 2>/dev/null || return 1
    python3 -c 'import json,sys; sys.exit("KSE-600" not in json.load(open(sys.argv[1]))["root_causes"])' "$W/diag.json"
}
s2=$(m keysup_hbsess_heartbeats_total)
wait_until 20 "KSE-600 diagnosed" diag_has
[ "$(m keysup_hbsess_heartbeats_total)" -gt "$s2" ] || fail "no MAC'd heartbeat carried the fault"
ok "a clock fault reported on MAC'd heartbeats is diagnosed (KSE-600)"
ctl door fault skew_clock 0 >/dev/null || true

# ----- 5. keysup-sim: on the session, and signed as an older agent
sim_run() {
    "$B/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$W/admin.tok" --controllers 20 \
        --scopes 1 --heartbeat 1 --threads 1 --prefix "sim$#" "$@" --status "$W/sim.status" \
        --json >"$W/sim.json" 2>"$W/sim.log" &
    local pid=$! h0 s0 h1 s1
    PIDS+=("$pid")
    rm -f "$W/sim.status"
    wait_until 30 "the sim fleet enrolled and in step" sh -c \
        "python3 -c 'import json,sys; d=json.load(open(\"$W/sim.status\")); sys.exit(not (d[\"enrolled\"] == 20 and d[\"in_step\"] == 20))'"
    sleep 2
    h0=$(m keysup_heartbeats_total); s0=$(m keysup_hbsess_heartbeats_total)
    sleep 5
    h1=$(m keysup_heartbeats_total); s1=$(m keysup_hbsess_heartbeats_total)
    # errors over the window, not the stop's (SIGTERM may cut a request)
    cp "$W/sim.status" "$W/sim.pre.json"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    [ $((h1 - h0)) -ge 50 ] || fail "the sim $* sent $((h1 - h0)) heartbeats in 5 s (20 controllers, 1 s)"
    HBN=$((h1 - h0)) MACN=$((s1 - s0))
}
sim_run
hb=$HBN mac=$MACN
# the agent "door" heartbeats too (about 5 of them, all MAC'd)
[ "$mac" -ge $((hb * 9 / 10)) ] || fail "keysup-sim: $mac of $hb heartbeats on the session"
[ "$(j "$W/sim.pre.json" 'd["heartbeat_errors"]')" = 0 ] || fail "sim heartbeat errors: $(cat "$W/sim.pre.json")"
sim_run --fetch-nonce
hb2=$HBN mac2=$MACN
[ "$mac2" -le 10 ] || fail "keysup-sim --fetch-nonce: $mac2 of $hb2 heartbeats MAC'd (only the agent's should be)"
[ "$(j "$W/sim.pre.json" 'd["heartbeat_errors"]')" = 0 ] || fail "--fetch-nonce heartbeat errors: $(cat "$W/sim.pre.json")"
ok "keysup-sim: $mac of $hb heartbeats MAC'd; as an older agent $mac2 of $hb2 (the agent's)"

# ----- 6. re-provisioned: the session dies with the device key
api controller provision "${CTL_ID[door]}" >/dev/null || fail "provision"
sleep 2
s3=$(m keysup_hbsess_heartbeats_total)
sleep 3
[ "$(m keysup_hbsess_heartbeats_total)" = "$s3" ] || fail "MAC'd heartbeats still taken after the key was re-provisioned"
ok "a re-provisioned controller's session is refused at once"
kill -TERM "${CTL_PID[door]}"; wait "${CTL_PID[door]}" 2>/dev/null || true
