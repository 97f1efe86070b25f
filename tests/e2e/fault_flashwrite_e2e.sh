#!/usr/bin/env bash
# Field fault: the controller's flash cannot be written (the disk under its
# flash file full, a failing SD card: pwrite fails; an LD_PRELOAD shim,
# tests/shim_failwrite.c, makes it so) while a revocation arrives
# (docs/security.md, field5). The flash emulator printed the failed write
# and went on as if it had landed: the store committed the revocation in
# memory only, the agent reported it applied (the supervisor showed the unit
# in step), and after a restart the unit was on the older database: the
# revoked key was granted again, offline. Now:
#  1. while writes fail the unit does not claim the new version, says why
#     (last_sync_error), and refuses decisions it cannot record (the use
#     counter) with KSE-900 HARDWARE_FAULT, not a bare "IO";
#  2. once writes work again it applies the revocation with no restart;
#  3. and a restart (offline) keeps it.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (libks_failwrite.so)}"

# run_door: the agent, with the shim (only the agent: not ctl_run's other commands)
run_door() {
    rm -f "$W/door.sock"
    KS_FAILWRITE_TRIGGER="$W/fail" KS_FAILWRITE_SUFFIX="/door.img" LD_PRELOAD="$T/libks_failwrite.so" \
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
        "$B/keysup-controller" run --flash "$W/door.img" --socket "$W/door.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/door.log" 2>&1 &
    CTL_PID[door]=$!
    PIDS+=("${CTL_PID[door]}")
    wait_until 10 "door control socket" test -S "$W/door.sock"
}
stop_door() { kill -TERM "${CTL_PID[door]}" 2>/dev/null || true; wait "${CTL_PID[door]}" 2>/dev/null || true; }
reported() { ctl_show door && j "$W/door.show.json" 'd.get("applied_version")'; }

sup_init
sup_start
sv_key k
ctl_add door 1
run_door
wait_until 20 "door in step" in_step door
present_at k door 1 || fail "k refused before the fault: $(cat "$W/present.out" "$W/present.err")"
v0=$(status door 'd["applied_version"]')

# ----- 1. the flash cannot be written; k is revoked
touch "$W/fail"
api key revoke "$SV_KID" >/dev/null || fail "revoke"
published() { ctl_show door && [ "$(j "$W/door.show.json" 'd.get("published_version")')" != "$v0" ]; }
wait_until 15 "the revocation published" published
wait_until 15 "door tried to write it" grep -q "No space left on device" "$W/door.log"
sleep 3 # three heartbeats
[ "$(status door 'd["applied_version"]')" = "$v0" ] \
    || fail "the unit claims version $(status door 'd["applied_version"]') it could not write to its flash"
[ "$(reported)" = "$v0" ] || fail "the supervisor was told version $(reported): it believes the revocation is on the unit"
err=$(status door 'd.get("last_sync_error")')
[ -n "$err" ] && [ "$err" != None ] || fail "the unit does not say why it is not in step"
# a decision must record its use counter: it cannot, so it is refused, and
# says why with a code (it said a bare "IO")
present_at k door 2 && fail "granted while the use counter cannot be recorded"
grep -q 'KSE-900' "$W/present.out" || fail "the refusal does not name the fault: $(cat "$W/present.out" "$W/present.err")"
ok "flash writes failing: the unit stays on v$v0, reports it (last_sync_error: $err), refuses with KSE-900"

# ----- 2. writes work again
rm -f "$W/fail"
wait_until 20 "door in step once it can write" in_step door
present_at k door 3 && fail "k granted after the revocation landed"
grep -q KSE-203 "$W/present.out" || fail "refusal: $(cat "$W/present.out" "$W/present.err")"
ok "with writes working again the revocation lands, no restart"

# ----- 3. a restart, offline
stop_door
sup_stop
run_door
present_at k door 4 && fail "k granted after a restart: the revocation did not reach the flash"
grep -q KSE-203 "$W/present.out" || fail "refusal after restart: $(cat "$W/present.out" "$W/present.err")"
ok "after a restart, offline, the revocation holds"
echo "fault_flashwrite_e2e: all $steps steps passed"
