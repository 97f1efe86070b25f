#!/usr/bin/env bash
# Issue 17 rows 7 and 8: the controller's RTC moved the way the field moves
# it, through libfaketime on the agent process (not the skew hook).
#   row 7: RTC a year ahead. The supervisor's signed time corrects the
#          engine's clock, and from then on sync uses it: the next
#          revocation arrives and is enforced; KSE-702 is not raised.
#   row 8: a forward jump right after start (supervisor down, so only the
#          engine judges): never a grant of a key whose validity has not
#          begun, a valid key refused KSE-600 (the clock), not KSE-204.
source "$(dirname "$0")/lib.sh"

ft_lib

# ctl_run_ft NAME: the agent under libfaketime, its offset read from NAME.ft
# at every clock read (the RTC, not the monotonic tick, is moved).
# allocator_release_to_os_interval_ms=-1: with release-to-OS on, ASan's
# allocator reads clock_gettime when it maps a size class for the first time.
# If that first mapping happens inside libfaketime's own lazy dlsym (which
# mallocs), libfaketime's clock_gettime re-enters the allocator that holds its
# lock, and the agent hangs before main ("Unexpected recursive calls to
# clock_gettime()"). Whether it does depends on the binary's layout, so it
# failed for some clone paths only. Without release-to-OS the allocator never
# reads the clock.
ctl_run_ft() {
    local name=$1
    rm -f "$W/$name.sock"
    ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0:allocator_release_to_os_interval_ms=-1" \
        LD_PRELOAD="$FT_LIB" \
        FAKETIME_TIMESTAMP_FILE="$W/$name.ft" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
        "$B/keysup-controller" run --flash "$W/$name.img" --socket "$W/$name.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/$name.log" 2>&1 &
    CTL_PID[$name]=$!
    PIDS+=("${CTL_PID[$name]}")
    wait_until 10 "$name control socket" test -S "$W/$name.sock"
}
ctl_kill() { kill -TERM "${CTL_PID[$1]}"; wait "${CTL_PID[$1]}" 2>/dev/null || true; }

sup_init
sup_start
keygen bob; keygen dave; keygen tom
ctl_add c1 1
ctl_add c2 1
tomorrow=$(( $(date +%s) + 86400 ))
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/bob.json"
api key enrol --public-key "$W/dave.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/dave.json"
api key enrol --public-key "$W/tom.key" --privilege SUPERVISOR --privilege VOID --scope 1 \
    --valid-from "$tomorrow" >"$W/tom.json"

# ----- row 7: RTC a year ahead
echo "+365d" >"$W/c1.ft"
ctl_run_ft c1
rtc=$(status c1 'd["clock"]["rtc"]')
[ $((rtc - $(date +%s))) -gt $((360 * 86400)) ] || fail "faketime did not move the agent's RTC ($rtc)"
anchored() { [ "$(status c1 'd["clock"]["anchored"]')" = True ]; }
wait_until 20 "time sync from the supervisor (KSE-600 repaired)" anchored
wait_until 10 "c1 in step after the time sync" in_step c1
t0=$(now_ms)
api key revoke "$(j "$W/dave.json" 'd["key_id"]')" >/dev/null
wait_until 5 "dave's revocation reaches c1" in_step c1
present "$W/dave.key" c1 void reader-d && fail "revoked key granted with the RTC a year ahead"
grep -q KSE-203 "$W/present.err" || fail "want KSE-203, got $(cat "$W/present.err")"
ok "RTC a year ahead: time sync, then the revocation arrived in $(( $(now_ms) - t0 )) ms and is enforced"
conds=$(status c1 'd["conditions"]')
case "$conds" in *KSE-702*) fail "KSE-702 still raised after the time sync: $conds" ;; esac
present "$W/bob.key" c1 void || fail "bob refused after the time sync: $(cat "$W/present.err")"
ok "no KSE-702 after the time sync; valid key granted"
ctl_kill c1

# ----- row 8: a forward jump right after start, supervisor unreachable
# (c2: a controller whose clock never went back, so only the jump is new)
echo "+0" >"$W/c2.ft"
ctl_run_ft c2
wait_until 10 "c2 in step" in_step c2
ctl_kill c2
sup_stop
ctl_run_ft c2
echo "+1d" >"$W/c2.ft"
grants=0 kse204=0 kse600=0
for i in $(seq 1 15); do
    if present "$W/tom.key" c2 void reader-t; then grants=$((grants + 1)); fi
    if present "$W/bob.key" c2 void reader-b; then :; else
        grep -q KSE-204 "$W/present.err" && kse204=$((kse204 + 1))
        grep -q KSE-600 "$W/present.err" && kse600=$((kse600 + 1))
    fi
done
[ "$grants" = 0 ] || fail "a key valid only from tomorrow was granted $grants times after a forward jump"
[ "$kse204" = 0 ] || fail "a valid key was refused KSE-204 (validity) $kse204 times instead of KSE-600"
[ "$kse600" = 15 ] || fail "a valid key was refused KSE-600 only $kse600 of 15 times: $(cat "$W/present.err")"
ok "forward jump right after start: 0 grants of a not-yet-valid key, valid key refused KSE-600 15 of 15"
[ "$(status c2 'd["clock"]["code"]')" = KSE-600 ] || fail "ctl status does not show KSE-600"
ok "ctl status names the clock (KSE-600)"
echo "all fault_clock steps passed"
