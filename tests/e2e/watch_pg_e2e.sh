#!/usr/bin/env bash
# The push path with two keysupd on one PostgreSQL (issue 13 + 14): the
# controllers hold their watches on the instance that does NOT publish; a
# revocation made through the publishing one reaches them within seconds
# (their heartbeat is 60 s): the follower reloads the published version
# (NOTIFY) and wakes its own waiters.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"

N=20
KS_DB=postgresql
sup_init
sup_fleet_limits
sed -i 's/^heartbeat_interval = .*/heartbeat_interval = 60/' "$W/sup/keysupd.conf"
pg_second_instance
inst_start 1 "$W/sup"
inst_start 2 "$W/sup2"
U1="http://127.0.0.1:${SPORT[1]}" U2="http://127.0.0.1:${SPORT[2]}"
grep -q "event=cluster.start publisher=this instance" "$W/keysupd1.log" || fail "instance 1 should publish"
grep -q "event=cluster.start publisher=another instance" "$W/keysupd2.log" || fail "instance 2 should follow"

export KEYSUP_SERVER="$U1"
keygen gone
api key enrol --public-key "$W/gone.key" --privilege OPERATOR --scope 0 >"$W/gone.json"
GONE=$(j "$W/gone.json" 'd["key_id"]')

# every controller talks to instance 2 only
export KEYSUP_SERVER="$U2"
ctl_add door 1
"$B/keysup-controller" run --flash "$W/door.img" --socket "$W/door.sock" \
    --supervisor "$U2" --heartbeat 60 --watch >>"$W/door.log" 2>&1 &
PIDS+=("$!")
"$B/keysup-sim" --supervisor "$U2" --admin-token "$W/admin.tok" --controllers $N --scopes 2 \
    --heartbeat 60 --threads 2 --push --watch-key "$GONE" --status "$W/status.json" \
    --log "$W/agents.log" --json >"$W/summary.json" 2>"$W/sim.log" &
PIDS+=("$!")
wait_until 10 "door control socket" test -S "$W/door.sock"
held2() { [ "$(curl -s "$U2/metrics" | awk '$1 == "keysup_watch_held" {print $2}')" = $((N + 1)) ]; }
wait_until 60 "$((N + 1)) watches held on instance 2" held2
wait_until 10 "door in step" in_step door
present "$W/gone.key" door access || fail "gone refused before the revocation: $(cat "$W/present.err")"
ok "$N simulated controllers and one agent (heartbeat 60 s) hold their watches on the following instance"

t0=$(now_ms)
KEYSUP_SERVER="$U1" api key revoke "$GONE" >/dev/null
refused() { [ "$(j "$W/status.json" 'd["watch"]["refused"]')" -ge $N ]; }
wait_until 30 "the revocation reaches the $N simulated controllers" refused
last=$(( $(j "$W/status.json" 'd["watch"]["last_ms"]') - t0 ))
door_refuses() { ! present "$W/gone.key" door access && grep -q 'KSE-203' "$W/present.err" "$W/present.out"; }
wait_until 5 "the agent refuses the revoked key (KSE-203)" door_refuses
# NOTIFY, the reload and the wake-up, against a 60 s heartbeat
[ $last -le 5000 ] || fail "the last controller refused the key $last ms after the revocation: not pushed"
grep -q "event=watch.wake" "$W/keysupd2.log" || fail "instance 2 logged no watch.wake"
ok "revoked through the publishing instance: all $N refused it within $last ms, woken by the follower's reload"
