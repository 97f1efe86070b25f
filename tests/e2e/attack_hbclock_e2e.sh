#!/usr/bin/env bash
# Field fault on the heartbeat session (docs/protocol.md, "Delay"): keysupd's
# wall clock steps (an NTP correction, a hand-set date) while its fleet is on
# sessions. The session's expiry and its delay bound compared wall-clock
# times keysupd took itself: a step forward of more than 60 s made every
# session heartbeat "held on the way" (keysup_hbsess_stale_total) and the
# whole fleet fell back to signing and re-opened its sessions in the same
# second; a step back let a held heartbeat through that much later and kept
# sessions alive that much longer. The table now runs on the monotonic
# clock: a step changes nothing.
# keysupd runs under libfaketime (its wall clock read from sup.ft at every
# read, the monotonic clock left alone), as fault_clock_e2e runs the agent.
source "$(dirname "$0")/lib.sh"

FT_LIB=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -e "$f" ] && FT_LIB=$f && break
done
[ -n "$FT_LIB" ] || fail "libfaketime not installed (scripts/deps.sh test installs it)"

sup_init
sup_fleet_limits
echo "+0" >"$W/sup.ft"
# sup_start, under libfaketime (ASAN_OPTIONS as in fault_clock_e2e: ASan's
# allocator must not read the clock inside libfaketime's own start-up)
rm -f "$W/port"
ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1" \
    LD_PRELOAD="$FT_LIB" FAKETIME_TIMESTAMP_FILE="$W/sup.ft" FAKETIME_NO_CACHE=1 \
    FAKETIME_DONT_FAKE_MONOTONIC=1 \
    "$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
SUP_PID=$!
PIDS+=("$SUP_PID")
wait_until 10 "keysupd listening" test -s "$W/port"
export KEYSUP_SERVER="http://127.0.0.1:$(cat "$W/port")"

m() { local v; v=$(sup_metric "$1"); echo "${v:-0}"; }
at_least() { wait_until 20 "$1 >= $2" sh -c "[ \"\$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"$1\" {print \$2}')\" -ge $2 ]"; }

ctl_add door 1
ctl_run door
wait_until 20 "the agent in step" in_step door
at_least keysup_hbsess_heartbeats_total 2
[ "$(m keysup_hbsess_opened_total)" = 1 ] || fail "sessions opened: $(m keysup_hbsess_opened_total)"
ok "the agent is on its session"

# ----- keysupd's wall clock jumps 5 minutes ahead
echo "+300" >"$W/sup.ft"
s0=$(m keysup_hbsess_heartbeats_total)
at_least keysup_hbsess_heartbeats_total $((s0 + 3))
[ "$(m keysup_hbsess_stale_total)" = 0 ] \
    || fail "a wall-clock step made session heartbeats stale ($(m keysup_hbsess_stale_total)): the fleet falls back to signing at once"
[ "$(m keysup_hbsess_opened_total)" = 1 ] || fail "the step re-opened sessions: $(m keysup_hbsess_opened_total)"
ok "a 5-minute step forward of keysupd's wall clock: no stale heartbeat, the session kept"

# ----- and a day back
echo "-1d" >"$W/sup.ft"
s0=$(m keysup_hbsess_heartbeats_total)
at_least keysup_hbsess_heartbeats_total $((s0 + 3))
[ "$(m keysup_hbsess_stale_total)" = 0 ] || fail "stale after the step back: $(m keysup_hbsess_stale_total)"
[ "$(m keysup_hbsess_opened_total)" = 1 ] || fail "the step back re-opened sessions: $(m keysup_hbsess_opened_total)"
[ "$(m keysup_device_replays_total)" = 0 ] || fail "replays counted"
ok "a day's step back: the session goes on, no replay"
echo "attack_hbclock_e2e: all $steps steps passed"
