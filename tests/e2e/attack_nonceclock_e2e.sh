#!/usr/bin/env bash
# Field fault on the device nonces (docs/security.md, field5): keysupd's wall
# clock steps while signed requests are in flight. A nonce's life was judged
# on the wall clock alone, so a step back of a day kept a nonce fetched
# before it usable for a day: a signed request held on the way (or a nonce
# learnt from an answer) still went through long after its 60 s.
#  1. one keysupd (SQLite): its nonce table now runs on the monotonic clock;
#     a step back leaves the nonce's life as it was, a step forward no longer
#     cuts it; the step is logged and counted;
#  2. two keysupd on one PostgreSQL, instance 1 under libfaketime:
#     a. a spent nonce is not pruned by a leader whose clock jumped a day
#        ahead (the prune ran on the leader's wall clock: a replay of the
#        spent nonce then went through on the other instance);
#     b. after instance 1's clock steps back, neither its own nonce nor the
#        other instance's from before the step is taken once its life is over.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (sup_devreq)}"
HB='{"protocol_version":1}'
TTL=6

ft_lib
# nonce URL: a fresh nonce from the keysupd at URL
nonce() { curl -s "$1/v1/device/nonce" >"$W/n.json" && j "$W/n.json" 'd["nonce"]'; }
# spend URL NONCE: a signed heartbeat over NONCE; its status
spend() { "$T/sup_devreq" req "$1" "$SEED" "$CID" POST /v1/device/heartbeat "$HB" --nonce "$2" | head -1; }
enrol() {
    api controller add door --scope 1 >"$W/door.json" || fail "controller add"
    read -r SEED PK < <("$T/sup_devreq" keygen)
    CID=$(dev_enrol "$(j "$W/door.json" 'd["provisioning_token"]')" "$PK")
    [ -n "$CID" ] || fail "enrol: $(cat "$W/enrol.json")"
}

# ----- 1. one keysupd
sup_init
sed -i "s/^nonce_ttl = .*/nonce_ttl = $TTL/" "$W/sup/keysupd.conf"
sup_start_ft "+0"
enrol
U=$KEYSUP_SERVER
n=$(nonce "$U")
echo "-1d" >"$W/sup.ft"
sleep $((TTL + 1))
st=$(spend "$U" "$n")
[ "$st" = 401 ] || fail "a nonce $((TTL + 1)) s old (ttl $TTL) after a day's step back: $st, not 401"
grep -q 'clock.step.*direction=back' "$W/keysupd.log" || fail "the step back was not logged"
[ "$(sup_metric keysup_clock_steps_total)" -ge 1 ] || fail "keysup_clock_steps_total: $(sup_metric keysup_clock_steps_total)"
ok "a day's step back does not stretch a nonce's life (refused after its $TTL s; logged, counted)"
n=$(nonce "$U")
echo "+0" >"$W/sup.ft"
st=$(spend "$U" "$n")
[ "$st" = 200 ] || fail "a fresh nonce after a day's step forward: $st, not 200"
ok "a step forward does not end a fresh nonce early"
sup_stop

# ----- 2. two keysupd on one PostgreSQL, instance 1's wall clock faked
W0=$W
W="$W0/pg" && mkdir -p "$W"
KS_DB=postgresql
sup_init
sed -i "s/^nonce_ttl = .*/nonce_ttl = $TTL/" "$W/sup/keysupd.conf"
pg_second_instance
SUP_PORT=0 sup_start_ft "+0" # instance 1, started first: it takes the publish lease
U1=$KEYSUP_SERVER
inst_start 2 "$W/sup2"
U2="http://127.0.0.1:${SPORT[2]}"
export KEYSUP_SERVER="$U2"
enrol

n=$(nonce "$U2")
[ "$(spend "$U2" "$n")" = 200 ] || fail "a nonce spent on the instance that issued it"
echo "+1d" >"$W/sup.ft"
sleep 2 # instance 1 (the leader) prunes spent nonces every 10 s on its clock
st=$(spend "$U2" "$n")
[ "$st" = 401 ] || fail "a spent nonce replayed after the leader's clock jumped a day ahead: $st, not 401"
ok "a leader's clock a day ahead does not prune a spent nonce still in its life"

n1=$(nonce "$U1") n2=$(nonce "$U2")
echo "-1d" >"$W/sup.ft"
sleep $((TTL + 1))
st=$(spend "$U1" "$n1")
[ "$st" = 401 ] || fail "instance 1's own nonce after its clock stepped back 2 days: $st, not 401"
st=$(spend "$U1" "$n2")
[ "$st" = 401 ] || fail "instance 2's nonce on instance 1 after its clock stepped back 2 days: $st, not 401"
grep -q 'clock.step.*direction=back' "$W/keysupd.log" || fail "the step back was not logged"
grep -q 'cluster.nonce_clock code=KSE-600' "$W/keysupd.log" || fail "the refusal on the clocks was not logged"
ok "after a step back, neither instance's nonce outlives its $TTL s on the stepped instance"
[ "$(devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" | head -1)" = 200 ] \
    || fail "a fresh request on instance 2"
KEYSUP_SERVER=$U1 devreq "$SEED" "$CID" POST /v1/device/heartbeat "$HB" >"$W/h1.out"
[ "$(head -1 "$W/h1.out")" = 200 ] || fail "a fresh request on the stepped instance 1: $(cat "$W/h1.out")"
ok "fresh nonces still work on both"
echo "attack_nonceclock_e2e: all $steps steps passed"
