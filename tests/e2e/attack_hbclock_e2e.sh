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

ft_lib

sup_init
sup_fleet_limits
sup_start_ft "+0"

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
