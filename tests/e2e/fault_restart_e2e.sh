#!/usr/bin/env bash
# Issue 17 row 10: a new controller whose agent restarts 0.4 s after its
# first heartbeat must not get a false KSE-100. The supervisor's interval
# estimate starts from the interval the controller declares (its
# --heartbeat; here the default 5 s, as in the field), so one short gap is
# not the rhythm. Also row 11: a controller speaking an unsupported device
# protocol receives no database (KSE-401), and diagnosis says so.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
keygen bob
ctl_add c1 1
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >/dev/null

run5() {
    rm -f "$W/c1.sock"
    "$B/keysup-controller" run --flash "$W/c1.img" --socket "$W/c1.sock" \
        --supervisor "$KEYSUP_SERVER" "$@" >>"$W/c1.log" 2>&1 &
    CTL_PID[c1]=$!
    PIDS+=("${CTL_PID[c1]}")
    wait_until 10 "c1 control socket" test -S "$W/c1.sock"
}
contact() { [ "$(status c1 'd["last_contact"]')" != 0 ]; }

run5
wait_until 10 "first heartbeat" contact
sleep 0.4
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
run5
t0=$(now_ms)
wait_until 10 "heartbeat after the restart" contact
# Two whole heartbeat periods of the restarted agent.
while [ $(( $(now_ms) - t0 )) -lt 11000 ]; do
    api incidents --controller "${CTL_ID[c1]}" --code KSE-100 >"$W/inc.json"
    [ "$(j "$W/inc.json" 'len(d["items"])')" = 0 ] \
        || fail "false KSE-100 on a new controller after a restart: $(j "$W/inc.json" 'd["items"][0]["evidence"]')"
    sleep 0.5
done
api diagnose "${CTL_ID[c1]}" >"$W/diag.json"
[ "$(j "$W/diag.json" '"KSE-100" in d["root_causes"]')" = False ] || fail "diagnose names KSE-100"
ok "agent restarted 0.4 s after its first heartbeat: no KSE-100 over two 5 s heartbeats"

# ----- row 11: protocol 2 (unsupported): heartbeats yes, database no
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.img" "$W/c1.img.id"
ctl_add c2 1
rm -f "$W/c1.sock"
"$B/keysup-controller" run --flash "$W/c2.img" --socket "$W/c2.sock" --supervisor "$KEYSUP_SERVER" \
    --heartbeat 1 --protocol 2 >>"$W/c2.log" 2>&1 &
PIDS+=("$!")
wait_until 10 "c2 control socket" test -S "$W/c2.sock"
c2_contact() { [ "$(status c2 'd["last_contact"]')" != 0 ]; }
wait_until 10 "c2 heartbeats" c2_contact
sleep 3
[ "$(status c2 'd["applied_version"]')" = None ] || fail "a protocol-2 controller received a database"
present "$W/bob.key" c2 void && fail "a protocol-2 controller granted"
# a direct request for the snapshot is refused with KSE-401 too (signed as c2)
api controller command "${CTL_ID[c2]}" initialize >/dev/null
wait_until 10 "the snapshot refused to a protocol-2 controller" \
    grep -q "full_download_refused HTTP 409" "$W/c2.log"
[ "$(status c2 'd["applied_version"]')" = None ] || fail "initialize delivered a database to a protocol-2 controller"
wait_until 10 "KSE-401 diagnosed" sh -c "\"$B/keysup\" --json diagnose ${CTL_ID[c2]} | grep -q KSE-401"
ok "protocol-2 controller: heartbeats accepted, no snapshot or delta (409 KSE-401), diagnosis names KSE-401"
echo "all fault_restart steps passed"
