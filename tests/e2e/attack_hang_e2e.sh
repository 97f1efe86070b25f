#!/usr/bin/env bash
# Field fault: the supervisor hangs (SIGSTOP: the port still accepts TCP
# connections, nothing answers) while a cloned key is in use at two
# controllers, the uses that prove the clone still on the controllers.
# What must hold: both controllers keep deciding while it hangs (the
# slowest decision is printed, not judged: a loaded machine is slow too);
# once it runs again
# the uploads arrive, the key is suspended (clone_policy = suspend) and
# refused at both, with nobody restarting anything.
source "$(dirname "$0")/lib.sh"

sup_init
printf 'clock_tolerance = 3\nclone_policy = suspend\n' >>"$W/sup/keysupd.conf"
sup_start
ctl_add ca 1
ctl_add cb 1
ctl_run ca
ctl_run cb
sv_key cloned
KID=$SV_KID
wait_until 20 "ca in step" in_step ca
wait_until 20 "cb in step" in_step cb

kill -STOP "$SUP_PID"
trap 'kill -CONT "$SUP_PID" 2>/dev/null; e2e_cleanup' EXIT
# The clone in use on both sides while the supervisor hangs, one counter
# signed at both (the proof of the clone): each decision is local and fast,
# and granted is right (nobody knows yet).
worst=0
for n in 1 2 3 4 5 6; do
    for c in ca cb; do
        t0=$(now_ms)
        present_at cloned "$c" $((100 + 2 * n)) \
            || fail "a decision at $c while the supervisor hangs: $(cat "$W/present.out" "$W/present.err")"
        dt=$(( $(now_ms) - t0 ))
        [ "$dt" -gt "$worst" ] && worst=$dt
    done
    sleep 1
done
ok "the supervisor hung for 6 s: ca and cb kept deciding (slowest decision ${worst} ms)"

kill -CONT "$SUP_PID"
wait_until 30 "the clone suspended after the supervisor runs again" key_is "$KID" suspended
refused_at cloned 90000 ca cb
ok "after the hang: the uploads arrived, the key was suspended and both controllers refuse it (KSE-203)"
echo "attack_hang_e2e: all $steps steps passed"
