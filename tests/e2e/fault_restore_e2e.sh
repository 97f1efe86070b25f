#!/usr/bin/env bash
# Issue 17 row 9: a supervisor restored from an older backup must not
# silently undo later revocations. The data directory is copied while
# keysupd is stopped (a backup), a key is revoked and another enrolled, the
# copy is put back, and keys are enrolled until the supervisor's version
# passes the controller's. The revoked key is never granted, the controller
# keeps its database (KSE-304) and reports the revocation the supervisor
# lost, diagnosis names it, and after the operator re-revokes and
# initializes the controller converges.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
keygen alice
keygen bob
ctl_add c1 1
ctl_run c1
C1=${CTL_ID[c1]}
api key enrol --public-key "$W/alice.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/alice.json"
A=$(j "$W/alice.json" 'd["key_id"]')
wait_until 20 "c1 in step" in_step c1
present "$W/alice.key" c1 void || fail "alice refused before the backup: $(cat "$W/present.err")"
ok "alice enrolled and granted"

# ----- the backup: a copy of the data directory while keysupd is stopped
sup_stop
cp -a "$W/sup" "$W/sup.bak"
sup_start
api key revoke "$A" >/dev/null
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/bob.json"
wait_until 20 "c1 in step after the revocation" in_step c1
V1=$(status c1 'd["applied_version"]')
R1=$(status c1 'd["applied_root"]')
present "$W/alice.key" c1 void reader-a0 && fail "revoked alice granted"
present "$W/bob.key" c1 void || fail "bob refused: $(cat "$W/present.err")"
ok "alice revoked, bob enrolled, c1 at version $V1"

# ----- the restore
sup_stop
rm -rf "$W/sup"
cp -a "$W/sup.bak" "$W/sup"
sup_start
# Each check on a reader of its own; the refusal must be KEY_REVOKED itself
# (three refusals lock the key, and a lockout would hide a revived record).
nr=0
never_alice() {
    nr=$((nr + 1))
    present "$W/alice.key" c1 void "reader-a$nr" && fail "alice GRANTED after the restore ($1)"
    grep -q "KSE-203" "$W/present.err" || fail "alice refused for another reason ($1): $(cat "$W/present.err")"
}
no_lockouts() { [ "$(status c1 'len(d.get("lockouts") or [])')" = 0 ]; }
unlock() {
    api controller command "$C1" unlock >/dev/null
    wait_until 20 "lockouts cleared" no_lockouts
}
published() { ctl_show c1 && j "$W/c1.show.json" 'd.get("published_version") or 0'; }
n=0
while [ "$(published)" -le "$V1" ]; do
    n=$((n + 1))
    [ $n -le 12 ] || fail "the supervisor's version never passed $V1"
    keygen "k$n"
    api key enrol --public-key "$W/k$n.key" --privilege OPERATOR --scope 1 >/dev/null
    sleep 0.5
done
sleep 2.5 # two heartbeats: the controller has seen the new version
never_alice "the supervisor's version passed the controller's"
PV=$(published)
ok "supervisor restored: $n enrolment(s), published version $PV > $V1 (no version reused)"
grep -q "supervisor.restore_detected" "$W/keysupd.log" || fail "keysupd did not log the restore"

# the controller keeps its database and says why
lost_has_alice() { [ "$(status c1 "[k['key_id'] for k in d.get('restore', {}).get('lost', [])]")" = "['$A']" ]; }
wait_until 20 "c1 reports alice's lost revocation" lost_has_alice
never_alice "with KSE-304 reported"
unlock
[ "$(status c1 'd["applied_version"]')" = "$V1" ] || fail "c1 replaced its database"
[ "$(status c1 'd["applied_root"]')" = "$R1" ] || fail "c1 replaced its database at the same version"
grep -q "KSE-304 SUPERVISOR_RESTORED" "$W/c1.log" || fail "c1 did not log KSE-304"
downloads=$(grep -c "sync.full_download" "$W/c1.log" || true)
sleep 3
[ "$(grep -c "sync.full_download" "$W/c1.log" || true)" -le $((downloads + 1)) ] \
    || fail "c1 downloads the refused database again and again"
ok "c1 keeps version $V1, refuses the restored database (KSE-304), reports alice, no download loop"

# diagnosis names the key to re-revoke; no KSE-300 and no automatic initialize
wait_until 20 "KSE-304 diagnosed" sh -c "\"$B/keysup\" --json diagnose $C1 | grep -q KSE-304"
api diagnose "$C1" >"$W/diag.json"
grep -q "$A" "$W/diag.json" || fail "keysup diagnose does not name alice: $(cat "$W/diag.json")"
[ "$(j "$W/diag.json" '"KSE-300" in d["root_causes"]')" = False ] || fail "diagnose names KSE-300"
api incidents --controller "$C1" --code KSE-304 >"$W/inc.json"
[ "$(j "$W/inc.json" 'len(d["items"])')" -ge 1 ] || fail "no KSE-304 incident"
j "$W/inc.json" 'd["items"][0]["evidence"]' | grep -q "$A" || fail "KSE-304 evidence does not name alice: $(j "$W/inc.json" 'd["items"][0]["evidence"]')"
[ "$(j "$W/inc.json" 'd["items"][0]["state"]')" != resolved ] || fail "KSE-304 resolved while the gap remains"
j "$W/inc.json" 'd["items"][0]["steps"]' | grep -q "keysup key revoke $A" || fail "KSE-304 steps do not say what to re-apply: $(j "$W/inc.json" 'd["items"][0]["steps"]')"
j "$W/inc.json" 'd["items"][0]["steps"]' | grep -q "keysup controller command $C1 initialize" || fail "KSE-304 steps do not say initialize"
api incidents --controller "$C1" --code KSE-300 >"$W/inc300.json"
[ "$(j "$W/inc300.json" 'len(d["items"])')" = 0 ] || fail "KSE-300 opened: $(j "$W/inc300.json" 'd["items"][0]["evidence"]')"
ok "diagnose/incidents: KSE-304 open, evidence names $A, steps say re-revoke then initialize"

# the detection survives a restart of keysupd
sup_stop
sup_start
[ "$(published)" -ge "$PV" ] || fail "published version went back after a restart"
never_alice "after a keysupd restart"
ok "restart of keysupd: version stays at $(published)"

# ----- the operator re-applies the revocation, then initializes
api key revoke "$A" >/dev/null
lost_none() { [ "$(status c1 "d.get('restore', {}).get('lost_count')")" = 0 ]; }
wait_until 20 "c1 reports no lost revocation" lost_none
no_alice_in_evidence() { api incidents --controller "$C1" --code KSE-304 >"$W/inc.json" && ! j "$W/inc.json" 'd["items"][0]["evidence"]' | grep -q "$A"; }
wait_until 20 "KSE-304 evidence no longer names alice" no_alice_in_evidence
never_alice "after the re-revocation"
api incidents --controller "$C1" --code KSE-304 >"$W/inc.json"
[ "$(j "$W/inc.json" 'd["items"][0]["state"]')" != resolved ] || fail "KSE-304 resolved before initialize"
api controller command "$C1" initialize >/dev/null
wait_until 20 "c1 in step after initialize" in_step c1
never_alice "after initialize"
present "$W/bob.key" c1 void reader-b1 && fail "bob (lost with the backup) granted"
grep -q "KSE-202" "$W/present.err" || fail "bob not refused as unknown: $(cat "$W/present.err")"
resolved() { api incidents --controller "$C1" --code KSE-304 >"$W/inc.json" && [ "$(j "$W/inc.json" 'd["items"][0]["state"]')" = resolved ]; }
wait_until 20 "KSE-304 resolved" resolved
ok "re-revoked and initialized: c1 converged, alice refused, bob unknown, KSE-304 resolved"

api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >/dev/null
wait_until 20 "c1 in step after bob's re-enrolment" in_step c1
present "$W/bob.key" c1 void reader-b2 || fail "re-enrolled bob refused: $(cat "$W/present.err")"
ok "bob re-enrolled and granted"
# ----- restored again, and this time the supervisor publishes past the
# controller's version before the controller can tell it (the agent is off):
# same history, higher version. A revoked key active again is proof enough
# (revocation is final), and the controller's report makes keysupd detect it.
BOB=$(j "$W/bob.json" 'd["key_id"]')
sup_stop
cp -a "$W/sup" "$W/sup.bak2"
sup_start
api key revoke "$BOB" >/dev/null
wait_until 20 "c1 in step after bob's revocation" in_step c1
V2=$(status c1 'd["applied_version"]')
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
sup_stop
rm -rf "$W/sup"
cp -a "$W/sup.bak2" "$W/sup"
sup_start
n=0
while [ "$(published)" -le "$V2" ]; do
    n=$((n + 1))
    [ $n -le 12 ] || fail "the supervisor's version never passed $V2"
    keygen "m$n"
    api key enrol --public-key "$W/m$n.key" --privilege OPERATOR --scope 1 >/dev/null
done
rm -f "$W/c1.sock"
ctl_run c1
lost_has_bob() { [ "$(status c1 "[k['key_id'] for k in d.get('restore', {}).get('lost', [])]")" = "['$BOB']" ]; }
wait_until 20 "c1 reports bob's lost revocation" lost_has_bob
present "$W/bob.key" c1 void reader-b3 && fail "bob GRANTED from a restored supervisor's higher version"
grep -q "KSE-203" "$W/present.err" || fail "bob refused for another reason: $(cat "$W/present.err")"
[ "$(status c1 'd["applied_version"]')" = "$V2" ] || fail "c1 replaced its database"
detected() { [ "$(grep -c "warn event=supervisor.restore_detected" "$W/keysupd.log")" -ge 2 ]; }
wait_until 20 "keysupd learns of the second restore from c1's report" detected
ok "restored supervisor ahead before any heartbeat: c1 keeps version $V2, bob refused, keysupd detects it from c1's report"
echo "all fault_restore steps passed"
