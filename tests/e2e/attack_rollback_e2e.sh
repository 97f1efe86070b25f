#!/usr/bin/env bash
# Rollback from outside (docs/security.md "Rollback"), with real processes:
#  1. the supervisor restored from a backup taken before calibration was
#     enforced: the controller refuses the older policy (KSE-802), keeps
#     enforcing, and says so; the operator sets the policy again and the
#     controller takes it (the sequence moved past what it reported);
#  2. a revoked licence file copied back onto an offline controller's flash:
#     refused at start (KSE-803), not granted; the next licence the
#     supervisor serves is taken.
# Both held before this test existed: the controller took the restored
# policy (enforcement off) and the revoked file (state valid).
source "$(dirname "$0")/lib.sh"

# ----- 1. the supervisor restored from an older backup
lic_backup   # $W/sup.backup: nothing enforced in it
sup_start
api licence enforce --controller "$C1" --feature calibration >"$W/enf.json" \
    || fail "enforce: $(cat "$W/enf.json")"
wait_until 15 "c1 enforces calibration" lic_eq enforce "['calibration']"
seq1=$(lic '["policy_seq"]')
[ "$seq1" -gt 0 ] || fail "no policy sequence: $(cat "$W/c1.status.json")"
ok "calibration enforced at sequence $seq1"

sup_restore_backup
refused() { [ "$(status c1 "[d['licence']['policy_refused'][k] for k in ('code', 'served', 'held')]" 2>/dev/null)" = "['KSE-802', 0, $seq1]" ]; }
wait_until 15 "c1 refuses the older policy" refused
sleep 2 # several fetches: it must not give in
[ "$(lic '["enforce"]')" = "['calibration']" ] || fail "policy rolled back: $(cat "$W/c1.status.json")"
status c1 'd["refusals"]' | grep -q "KSE-802" || fail "KSE-802 not reported: $(cat "$W/c1.status.json")"
grep -q "KSE-802 LICENCE_POLICY_OLD" "$W/c1.log" || fail "no KSE-802 in the log"
diag_has() { api diagnose "$C1" >"$W/diag.json" 2>&1 && grep -q -- "$1" "$W/diag.json"; }
wait_until 20 "the diagnosis names KSE-802" diag_has "KSE-802"
ok "supervisor restored from a backup: c1 refuses policy 0 < $seq1 (KSE-802), keeps enforcing; keysup diagnose names it"

# The operator sets the policy again: the supervisor's sequence moves past
# what c1 reports in its health, so c1 takes it.
wait_until 15 "keysupd holds c1's reported policy_seq" policy_seq_held "$seq1"
api licence enforce --controller "$C1" --feature calibration --feature firmware >"$W/enf2.json" \
    || fail "enforce again: $(cat "$W/enf2.json")"
wait_until 15 "c1 takes the policy set again" lic_eq enforce "['firmware', 'calibration']"
seq2=$(lic '["policy_seq"]')
[ "$seq2" -gt "$seq1" ] || fail "sequence $seq2 not past $seq1"
lic_eq policy_refused None || fail "still refused: $(cat "$W/c1.status.json")"
ok "policy set again after the restore: taken at sequence $seq2 > $seq1"

# ----- 2. a revoked licence file put back on an offline controller
api licence issue --controller "$C1" --feature calibration >"$W/l1.json" || fail "issue"
L1=$(j "$W/l1.json" 'd["id"]')
wait_until 15 "c1 holds licence $L1" lic_eq id "$L1"
cp "$W/c1.img.licence" "$W/c1.revoked"
api licence revoke "$L1" >/dev/null || fail "revoke"
wait_until 15 "c1 drops its licence" lic_eq state none
sup_stop
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
cp "$W/c1.revoked" "$W/c1.img.licence"   # someone with the flash puts it back
ctl_run c1
wait_until 10 "c1 refuses the revoked file" lic_eq code KSE-803
[ "$(lic '["state"]')" = refused ] || fail "state: $(cat "$W/c1.status.json")"
[ "$(lic '["check"]')" = licence.taken_away ] || fail "check: $(cat "$W/c1.status.json")"
status c1 'd["refusals"]' | grep -q "KSE-803" || fail "KSE-803 not reported"
ok "offline, a revoked licence file put back: refused at start (KSE-803, licence.taken_away)"

sup_start
wait_until 20 "the diagnosis names KSE-803" diag_has "KSE-803"
api licence issue --controller "$C1" --feature calibration >"$W/l2.json" || fail "issue 2"
L2=$(j "$W/l2.json" 'd["id"]')
wait_until 15 "c1 takes licence $L2" lic_eq id "$L2"
lic_eq state valid || fail "state: $(cat "$W/c1.status.json")"
# and the file it holds now is the one it accepts after a power cut
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
sup_stop
ctl_run c1
wait_until 10 "c1 reloads licence $L2 offline" lic_eq state valid
cp "$W/c1.revoked" "$W/c1.img.licence"
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
ctl_run c1
wait_until 10 "c1 refuses the older file" lic_eq check licence.not_held
ok "licence $L2 taken from the supervisor, kept across a power cut; the older file put back over it is refused (licence.not_held)"

# ----- 3. a controller's report cannot exhaust the sequence: one whose
# device key was stolen claims policy_seq 2^63-1 in its health
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
sup_stop
sqlite3 "$W/sup/keysup.db" "UPDATE controllers SET last_health = '{\"licence\": {\"policy_seq\": 9223372036854775807}}' WHERE id = $C1" \
    || fail "sqlite3"
sup_start
api licence enforce --feature firmware >/dev/null || fail "enforce fleet"
api licence enforcement >"$W/rows.json" || fail "enforcement"
max=$(j "$W/rows.json" 'max(i["updated_at"] for i in d["items"])')
[ "$max" -lt $(( $(date +%s) + 86400 )) ] || fail "the sequence followed the claim: $max"
grep -q "licence.policy_seq_claim_refused" "$W/keysupd.log" || fail "the refused claim is not logged"
ok "a health report claiming policy_seq 2^63-1 is not followed (sequence $max; logged)"
echo "attack_rollback_e2e: $steps steps passed"
