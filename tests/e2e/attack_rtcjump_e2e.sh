#!/usr/bin/env bash
# Field fault on the licence policy sequence (docs/licences.md, "Never back
# to an older policy"): keysupd's clock was 30 days ahead (a hand-set date,
# an RTC reset to a wrong year) when calibration was enforced, so the
# controller holds a policy sequence 30 days ahead. The clock is put right
# and keysupd is restored from a backup taken before. The controller refuses
# the backup's policy (KSE-802), as it must, and the operator sets it again,
# as `keysup restore` says. Before the fix that new policy was refused too,
# for 30 days: keysupd did not follow a controller's reported sequence more
# than 7 days ahead of its clock (the guard against a stolen controller
# naming 2^63-1). It now follows any report up to 100 years ahead, which
# leaves the guard whole: no report can push the sequence past now + 100
# years, and 2^63 is far beyond that.
source "$(dirname "$0")/lib.sh"

ft_lib

lic_backup   # $W/sup.backup: nothing enforced in it

# ----- calibration enforced while keysupd's clock is 30 days ahead
sup_start_ft "+30d"
api licence enforce --controller "$C1" --feature calibration >"$W/enf.json" \
    || fail "enforce: $(cat "$W/enf.json")"
wait_until 15 "c1 enforces calibration" lic_eq enforce "['calibration']"
seq1=$(lic '["policy_seq"]')
[ "$seq1" -gt $(( $(date +%s) + 29 * 86400 )) ] || fail "faketime did not move keysupd's clock: sequence $seq1"
ok "calibration enforced at sequence $seq1 (30 days ahead)"

# ----- the clock put right, keysupd restored from the backup
sup_restore_backup
refused() { [ "$(status c1 "d['licence']['policy_refused']['code']" 2>/dev/null)" = KSE-802 ]; }
wait_until 15 "c1 refuses the backup's policy" refused
wait_until 15 "keysupd holds c1's reported policy_seq" policy_seq_held "$seq1"
ok "restored: c1 refuses the backup's policy (KSE-802) and reports sequence $seq1"

# ----- the operator sets the policy again: c1 must take it now, not in 30 days
api licence enforce --controller "$C1" --feature calibration --feature firmware >"$W/enf2.json" \
    || fail "enforce again: $(cat "$W/enf2.json")"
api licence enforcement >"$W/rows.json" || fail "enforcement"
max=$(j "$W/rows.json" 'max(i["updated_at"] for i in d["items"])')
[ "$max" -gt "$seq1" ] || fail "the new policy's sequence $max is below c1's $seq1: refused until the clock gets there"
wait_until 15 "c1 takes the policy set again" lic_eq enforce "['firmware', 'calibration']"
ok "policy set again after the restore: sequence $max > $seq1, taken at once"
echo "attack_rtcjump_e2e: all $steps steps passed"
