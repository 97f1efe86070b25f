#!/usr/bin/env bash
# Issue 13: one request per heartbeat. The signed heartbeat answer carries
# the controller's next nonce ("next_nonce", "nonce_ttl"), against a real
# keysupd:
#  1. the nonce is bound to its controller: another enrolled controller's
#     correctly signed request over it is refused, and that refusal does not
#     spend it (the owner still can);
#  2. it is single use: the same nonce again is a replay (401, counted);
#  3. a chain of heartbeats, each on the nonce of the one before, is one
#     HTTP request per heartbeat;
#  4. after a keysupd restart the carried nonce is refused (401) but not
#     counted as a replay, and a fetched nonce works;
#  5. a real agent keeps heartbeating across a keysupd restart (it falls
#     back to a fetched nonce) with no lost link and no replay counted;
#  6. keysup-sim (the agent's own sync code) heartbeats at one request per
#     heartbeat, and as an agent that ignores the field (--fetch-nonce, as
#     agents before it) still heartbeats, at two.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests}"

sup_init
sup_fleet_limits
sup_start
HB='{"protocol_version":1}'
# hb NAME SEED CID [--nonce N]: a heartbeat; status on line 1 of NAME.out, the answer after
hb() { local f=$1; shift; devreq "$2" "$3" POST /v1/device/heartbeat "$HB" "${@:4}" >"$W/$f.out"; head -1 "$W/$f.out"; }
next_of() { tail -n +2 "$W/$1.out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("next_nonce", ""))'; }

api controller add door-a --scope 1 >"$W/a.json" || fail "controller add a"
api controller add door-b --scope 1 >"$W/b.json" || fail "controller add b"
read -r SA PA < <("$T/sup_devreq" keygen)
read -r SB PB < <("$T/sup_devreq" keygen)
A=$(dev_enrol "$(j "$W/a.json" 'd["provisioning_token"]')" "$PA")
B_=$(dev_enrol "$(j "$W/b.json" 'd["provisioning_token"]')" "$PB")

# ----- 1. bound to its controller
[ "$(hb a0 x "$SA" "$A")" = 200 ] || fail "A's first heartbeat: $(cat "$W/a0.out")"
N1=$(next_of a0)
[ ${#N1} = 64 ] || fail "the heartbeat answer has no next_nonce: $(cat "$W/a0.out")"
tail -n +2 "$W/a0.out" | grep -q '"nonce_ttl":60' || fail "no nonce_ttl: $(cat "$W/a0.out")"
[ "$(hb b0 x "$SB" "$B_" --nonce "$N1")" = 401 ] || fail "B spent A's nonce: $(cat "$W/b0.out")"
[ "$(hb a1 x "$SA" "$A" --nonce "$N1")" = 200 ] || fail "A's own nonce after B tried it: $(cat "$W/a1.out")"
ok "a heartbeat answer's nonce is refused from another controller, and still A's after that"

# ----- 2. single use
r0=$(sup_metric keysup_device_replays_total)
[ "$(hb a2 x "$SA" "$A" --nonce "$N1")" = 401 ] || fail "the spent nonce was accepted again"
r1=$(sup_metric keysup_device_replays_total)
[ "$r1" -gt "$r0" ] || fail "the reused nonce was not counted as a replay ($r0 -> $r1)"
ok "the carried nonce is single use (a second use is a replay: $r0 -> $r1)"

# ----- 3. a chain: one request per heartbeat
N=$(next_of a1)
q0=$(sup_metric keysup_http_requests_total)
for i in $(seq 1 10); do
    [ "$(hb c$i x "$SA" "$A" --nonce "$N")" = 200 ] || fail "chain heartbeat $i: $(cat "$W/c$i.out")"
    N=$(next_of c$i)
done
q1=$(sup_metric keysup_http_requests_total)
# q1 - q0: the 10 heartbeats and the first metrics request
[ $((q1 - q0)) -le 11 ] || fail "10 chained heartbeats took $((q1 - q0)) requests"
ok "10 chained heartbeats, each on the last answer's nonce: $((q1 - q0 - 1)) requests besides /metrics"

# ----- 4. restart: refused, not a replay; a fetched nonce works. On
# PostgreSQL nonces carry a MAC under the cluster's shared secret and outlive
# a restart (any instance takes them): still bound to A, still single use.
sup_stop
sup_start
if [ "${KS_DB:-sqlite}" = postgresql ]; then
    [ "$(hb r0 x "$SB" "$B_" --nonce "$N")" = 401 ] || fail "PostgreSQL: B spent A's nonce after the restart"
    [ "$(hb r1 x "$SA" "$A" --nonce "$N")" = 200 ] || fail "PostgreSQL: A's nonce after the restart: $(cat "$W/r1.out")"
    [ "$(hb r2 x "$SA" "$A" --nonce "$N")" = 401 ] || fail "PostgreSQL: the nonce was accepted twice"
    ok "PostgreSQL: the carried nonce outlives the restart, bound to A and single use"
else
    [ "$(hb r1 x "$SA" "$A" --nonce "$N")" = 401 ] || fail "a nonce from before the restart was accepted"
    [ "$(sup_metric keysup_device_replays_total)" = 0 ] || fail "the restart's stale nonce counted as a replay"
    grep -q "before a keysupd restart" "$W/r1.out" || fail "the refusal does not say why: $(cat "$W/r1.out")"
    [ "$(hb r2 x "$SA" "$A")" = 200 ] || fail "a fetched nonce after the restart: $(cat "$W/r2.out")"
    ok "after a restart the carried nonce is refused (no replay counted) and a fetched one works"
fi

# ----- 5. a real agent across a restart
ctl_add door 1
ctl_run door
wait_until 20 "the agent in step" in_step door
hbs() { sup_metric keysup_heartbeats_total; }
h0=$(hbs)
wait_until 20 "5 agent heartbeats" sh -c "[ \$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"keysup_heartbeats_total\" {print \$2}') -ge $((h0 + 5)) ]"
dh=$(( $(hbs) - h0 ))
sup_stop
sup_start
h2=$(hbs)
wait_until 20 "the agent heartbeating after the restart" sh -c "[ \$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"keysup_heartbeats_total\" {print \$2}') -ge $((h2 + 3)) ]"
[ "$(status door 'd.get("comm_lost")')" != True ] || fail "the agent reports a lost link after the restart"
if [ "${KS_DB:-sqlite}" != postgresql ]; then
    [ "$(sup_metric keysup_device_replays_total)" = 0 ] || fail "the agent's stale nonce counted as a replay"
fi
ok "a real agent keeps heartbeating across a keysupd restart ($dh heartbeats before; no lost link)"
kill -TERM "${CTL_PID[door]}"; wait "${CTL_PID[door]}" 2>/dev/null || true

# ----- 6. keysup-sim: one request per heartbeat, and two with --fetch-nonce
# sim_rate [--fetch-nonce]: keysupd's HTTP requests per heartbeat over 6 s of 20 controllers
sim_rate() {
    "$B/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$W/admin.tok" --controllers 20 \
        --scopes 1 --heartbeat 1 --threads 1 --prefix "sim$#" "$@" --status "$W/sim.status" \
        --json >"$W/sim.json" 2>"$W/sim.log" &
    local pid=$! h0 q0 h1 q1
    PIDS+=("$pid")
    wait_until 30 "the sim fleet enrolled and in step" sh -c \
        "python3 -c 'import json,sys; d=json.load(open(\"$W/sim.status\")); sys.exit(not (d[\"enrolled\"] == 20 and d[\"in_step\"] == 20))'"
    sleep 1
    h0=$(hbs); q0=$(sup_metric keysup_http_requests_total)
    sleep 6
    h1=$(hbs); q1=$(sup_metric keysup_http_requests_total)
    # errors over the window: the stop aborts a heartbeat in flight, and
    # that counts as an error in the final summary
    cp "$W/sim.status" "$W/sim.pre.json"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    [ $((h1 - h0)) -ge 60 ] || fail "the sim $* sent $((h1 - h0)) heartbeats in 6 s (20 controllers, 1 s)"
    python3 -c "print(f'{($q1 - $q0 - 1) / ($h1 - $h0):.2f}')"
}
# Besides heartbeats and nonces: the odd audit upload and the test's /metrics.
one=$(sim_rate)
python3 -c "import sys; sys.exit(not $one <= 1.2)" || fail "keysup-sim: $one requests per heartbeat with carried nonces"
two=$(sim_rate --fetch-nonce)
python3 -c "import sys; sys.exit(not (1.9 <= $two <= 2.4 and $two - $one >= 0.8))" \
    || fail "keysup-sim --fetch-nonce: $two requests per heartbeat (carried: $one)"
[ "$(j "$W/sim.pre.json" 'd["heartbeat_errors"]')" = 0 ] || fail "heartbeat errors with --fetch-nonce: $(cat "$W/sim.pre.json")"
ok "keysup-sim: $one requests per heartbeat with the carried nonce, $two as an older agent (--fetch-nonce)"
