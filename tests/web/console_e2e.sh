#!/usr/bin/env bash
# Browser tests of the operator console (issue 12): a real keysupd with two
# real keysup-controller agents (1 s heartbeats), Debian's chromium driven
# headless by playwright-core (tests/web/node_modules, installed by
# scripts/web_deps.sh). The scenarios are in console.test.mjs; screenshots
# of every page land in $KS_WORK/shots.
WEB="$(cd "$(dirname "$0")" && pwd)"
source "$WEB/../e2e/lib.sh"
export NODE_PATH="$WEB/node_modules"
[ -d "$WEB/node_modules/playwright-core" ] || fail "playwright-core is missing: run scripts/web_deps.sh"
CHROMIUM="${KS_CHROMIUM:-$(command -v chromium || true)}"
[ -x "$CHROMIUM" ] || fail "chromium is missing: scripts/deps.sh test installs it"

sup_init
# The supervisor's heartbeat is the agents' (1 s): the console polls at half of it.
echo "heartbeat_interval = 1" >>"$W/sup/keysupd.conf"
sup_start
[ -s "$W/sup/console-admin.password" ] || fail "keysup init left no console admin password"

for spec in "d1 1 Store-North" "d2 1 Store-South"; do
    set -- $spec
    api controller add "$1" --scope "$2" --site "$3" --model "POS-200" >"$W/$1.add.json" \
        || fail "controller add $1"
    CTL_ID[$1]=$(j "$W/$1.add.json" 'd["id"]')
    "$B/keysup-controller" enroll --flash "$W/$1.img" --supervisor "$KEYSUP_SERVER" \
        --token "$(j "$W/$1.add.json" 'd["provisioning_token"]')" >"$W/$1.enroll.log" 2>&1 \
        || fail "enroll $1: $(cat "$W/$1.enroll.log")"
    ctl_run "$1"
done
# A record on the controllers, so that a flash corruption has one to damage.
keygen bob
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >/dev/null || fail "enrol bob"
wait_until 20 "d1 in step" in_step d1
wait_until 20 "d2 in step" in_step d2

# Console operators beside the bootstrap admin: an auditor, and an account
# the lockout scenario locks.
printf 'auditor-pass-1234\n' >"$W/auditor.pw"
printf 'victim-pass-1234\n' >"$W/victim.pw"
api operator add auditor1 --role auditor --password-file "$W/auditor.pw" >/dev/null \
    || fail "operator add auditor1"
api operator add victim --role operator --password-file "$W/victim.pw" >/dev/null \
    || fail "operator add victim"
"$B/keysup" --json key keygen --out "$W/alice.key" --no-passphrase >"$W/alice.json" \
    || fail "keygen alice"
ok "supervisor, two controllers and three operators ready"

KS_URL="$KEYSUP_SERVER" KS_SHOTS="$W/shots" KS_CHROMIUM="$CHROMIUM" \
KS_ADMIN_PW="$(cat "$W/sup/console-admin.password")" KS_AUDITOR_PW="auditor-pass-1234" \
KS_VICTIM_PW="victim-pass-1234" KS_ALICE_PK="$(j "$W/alice.json" 'd["public_key"]')" \
KS_HEARTBEAT_MS=1000 KS_DENY=5 \
    node "$WEB/console.test.mjs" || fail "browser scenarios"

# What the browser did is in the supervisor's audit under the operators' names.
api audit list --action console.signin >"$W/signins.json" || fail "audit"
grep -q '"KSE-740"' "$W/signins.json" || fail "no KSE-740 sign-in refusal in the audit"
api audit list --actor operator:admin >"$W/admin_audit.json" || fail "audit"
grep -q '"key.revoke"' "$W/admin_audit.json" || fail "the console's revocation is not audited as operator:admin"
ok "sign-ins, lockout and the console's changes are audited under the operator's name"
echo "screenshots: $W/shots"
