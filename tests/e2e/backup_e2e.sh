#!/usr/bin/env bash
# Issue 14: `keysup backup` while keysupd runs, changes after it, `keysup
# restore` (refused while keysupd runs), then the steps restore prints are
# followed: keysupd starts, the controller (ahead of the backup) reports the
# revocation the backup lost (KSE-304) and keeps refusing that key, the
# operator re-revokes and initializes, the controller converges.
# KS_DB=postgresql: the same with pg_dump / pg_restore on a private server.
source "$(dirname "$0")/lib.sh"

sup_init
[ -n "${PG_BIN:-}" ] && export KEYSUP_PG_BIN="$PG_BIN"
sup_start
keygen alice
keygen bob
ctl_add c1 1
ctl_run c1
C1=${CTL_ID[c1]}
api key enrol --public-key "$W/alice.key" --privilege OPERATOR --scope 1 >"$W/alice.json"
A=$(j "$W/alice.json" 'd["key_id"]')
wait_until 20 "c1 in step" in_step c1
present "$W/alice.key" c1 access || fail "alice refused before the backup: $(cat "$W/present.err")"

# ----- online backup
"$B/keysup" --json backup --data "$W/sup" --out "$W/bak" >"$W/backup.json" || fail "backup: $(cat "$W/backup.json")"
[ -s "$W/bak/supervisor-1.key" ] && [ -s "$W/bak/keysupd.conf" ] || fail "backup lacks the key or the config"
[ "$(stat -c %a "$W/bak")" = 700 ] || fail "backup directory not 0700"
"$B/keysup" backup --data "$W/sup" --out "$W/bak" >/dev/null 2>&1 && fail "backup over an existing directory"
ok "online backup: $(j "$W/backup.json" 'd["database"]'), $(j "$W/backup.json" 'd["files"]') files"
# the human form (sup_cmd_emit): "key: value" lines, the values aligned
# after the longest key, integers as numbers
"$B/keysup" backup --data "$W/sup" --out "$W/bak2" >"$W/backup.txt" || fail "backup: $(cat "$W/backup.txt")"
grep -Eq '^files: +[0-9]+$' "$W/backup.txt" || fail "backup's files line: $(cat "$W/backup.txt")"
[ "$(awk -F: '/^[a-z_]+: /{ match(substr($0, length($1) + 2), /[^ ]/); print length($1) + RSTART }' \
    "$W/backup.txt" | sort -u | wc -l)" = 1 ] || fail "backup's values not aligned: $(cat "$W/backup.txt")"
rm -rf "$W/bak2"
ok "human backup output aligned"

# ----- changes after the backup
api key revoke "$A" >/dev/null
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >"$W/bob.json"
wait_until 20 "c1 in step after the revocation" in_step c1
V1=$(status c1 'd["applied_version"]')
present "$W/alice.key" c1 access reader-a0 && fail "revoked alice granted"
ok "after the backup: alice revoked, bob enrolled, c1 at version $V1"

# ----- restore: refused while keysupd runs, then done
"$B/keysup" restore --data "$W/sup" --from "$W/bak" >"$W/restore.busy" 2>&1 \
    && fail "restore while keysupd runs"
grep -q "keysupd" "$W/restore.busy" || fail "restore refusal does not say why: $(cat "$W/restore.busy")"
sup_stop
"$B/keysup" --json restore --data "$W/sup" --from "$W/bak" >"$W/restore.json" || fail "restore: $(cat "$W/restore.json")"
j "$W/restore.json" '"\n".join(d["next_steps"])' >"$W/steps.txt"
grep -q "KSE-304" "$W/steps.txt" && grep -q "initialize" "$W/steps.txt" || fail "restore steps: $(cat "$W/steps.txt")"
ok "restore refused while keysupd runs; done once stopped; it prints $(grep -c . "$W/steps.txt") steps"

# step 1: start keysupd; the supervisor must pass the controller's version
sup_start
nr=0
never_alice() {
    nr=$((nr + 1))
    present "$W/alice.key" c1 access "reader-a$nr" && fail "alice GRANTED after the restore ($1)"
    grep -q "KSE-203" "$W/present.err" || fail "alice refused for another reason ($1): $(cat "$W/present.err")"
}
published() { ctl_show c1 && j "$W/c1.show.json" 'd.get("published_version") or 0'; }
n=0
while [ "$(published)" -le "$V1" ]; do
    n=$((n + 1))
    [ $n -le 12 ] || fail "the supervisor's version never passed $V1"
    api key enrol --generate --privilege OPERATOR --scope 1 >/dev/null
    sleep 0.5
done
never_alice "restored supervisor running"
# step 2: the controller reports what the backup lost
lost_has_alice() { [ "$(status c1 "[k['key_id'] for k in d.get('restore', {}).get('lost', [])]")" = "['$A']" ]; }
wait_until 20 "c1 reports alice's lost revocation" lost_has_alice
wait_until 20 "KSE-304 incident" sh -c "\"$B/keysup\" --json incidents --controller $C1 --code KSE-304 | grep -q '$A'"
api incidents --controller "$C1" --code KSE-304 >"$W/inc.json"
j "$W/inc.json" 'd["items"][0]["steps"]' | grep -q "keysup key revoke $A" || fail "KSE-304 steps: $(j "$W/inc.json" 'd["items"][0]["steps"]')"
never_alice "KSE-304 reported"
ok "restored supervisor: c1 keeps its database, reports alice (KSE-304), alice still refused"

# steps 3 and 4: re-apply, initialize; the controller converges
api key revoke "$A" >/dev/null
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >/dev/null
lost_none() { [ "$(status c1 "d.get('restore', {}).get('lost_count')")" = 0 ]; }
wait_until 20 "c1 reports no lost revocation" lost_none
api controller command "$C1" initialize >/dev/null
wait_until 20 "c1 in step after initialize" in_step c1
# alice's refusals locked her key out (KSE-500): clear it, so the last check
# sees the record itself refuse her
no_lockouts() { [ "$(status c1 'len(d.get("lockouts") or [])')" = 0 ]; }
api controller command "$C1" unlock >/dev/null
wait_until 20 "lockouts cleared" no_lockouts
never_alice "after initialize"
present "$W/bob.key" c1 access reader-b1 || fail "bob refused after re-enrolment: $(cat "$W/present.err")"
ok "steps followed: re-revoked, bob re-enrolled, initialized: c1 converged, alice refused, bob granted"
echo "backup_e2e: all $steps steps passed"
