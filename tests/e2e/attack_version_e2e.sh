#!/usr/bin/env bash
# Attack: one controller's device key (a unit stolen from a site, or a unit
# whose flash reports garbage) claims a snapshot version it never received.
# The supervisor's restore detection (sup_restore.c) takes a reported
# version above the published one as proof of a restored backup and raises
# its version floor to it. Unproved, that let one unit push the floor to
# 2^64-1, so the next version wrapped to 0: every honest controller refused
# it as a rollback (KSE-701) and no revocation reached any of them again.
# A claim now counts only with the snapshot header this supervisor signed
# for it (applied_header); honest restore detection is fault_restore_e2e.
source "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (sup_devreq)}"

sup_init
sup_start
URL="$KEYSUP_SERVER"
keygen alice
keygen bob
api key enrol --public-key "$W/bob.key" --privilege VOID --scope 1 >/dev/null
ctl_add door 1
ctl_run door
wait_until 10 "door in step" in_step door
V0=$(j "$W/door.show.json" 'd["published_version"]')

# The rogue unit: a registered controller of the same scope whose device
# key the attacker holds.
api controller add rogue --scope 1 >"$W/rogue.add.json" || fail "controller add rogue"
RID=$(j "$W/rogue.add.json" 'd["id"]')
RTOK=$(j "$W/rogue.add.json" 'd["provisioning_token"]')
read -r RSEED RPK < <("$T/sup_devreq" keygen)
curl -s -o "$W/rogue.enrol.json" -w '%{http_code}' -X POST "$URL/v1/device/enroll" \
    -H 'Content-Type: application/json' -d "{\"token\":\"$RTOK\",\"public_key\":\"$RPK\"}" \
    >"$W/rogue.enrol.st"
[ "$(cat "$W/rogue.enrol.st")" = 200 ] || fail "rogue enrol: $(cat "$W/rogue.enrol.json")"

hb() { "$T/sup_devreq" req "$URL" "$RSEED" "$RID" POST /v1/device/heartbeat "$1" | head -1; }
ROOT=$(j "$W/door.show.json" 'd["published_root"]')
ZERO=$(printf '0%.0s' $(seq 64))
for claim in '{"applied_version":-1}' \
             "{\"applied_version\":-1,\"applied_root\":\"$ZERO\",\"applied_history\":0}" \
             '{"applied_version":9223372036854775807}' \
             "{\"applied_version\":$V0,\"applied_root\":\"$ZERO\",\"applied_history\":0}" \
             "{\"applied_version\":-1,\"applied_history\":0,\"restore\":{\"code\":\"KSE-304\",\"lost_count\":1,\"offered_history\":0}}" \
             "{\"applied_version\":$((V0 + 1000)),\"applied_root\":\"$ROOT\",\"applied_header\":\"$(printf 'ab%.0s' $(seq 160))\"}"; do
    [ "$(hb "$claim")" = 200 ] || fail "rogue heartbeat refused outright: $claim"
done
ok "rogue unit sent six unproved version claims"

# The fleet must keep receiving revocations, at small version numbers.
api key enrol --public-key "$W/alice.key" --privilege VOID --scope 1 >"$W/alice.json"
ALICE=$(j "$W/alice.json" 'd["key_id"]')
wait_until 10 "alice's key at door" in_step door
api key revoke "$ALICE" >/dev/null
wait_until 10 "revocation at door" in_step door
present "$W/alice.key" door void && fail "revoked key granted after the rogue claims"
grep -q "KSE-203" "$W/present.err" || fail "want KSE-203, got $(cat "$W/present.err")"
V1=$(j "$W/door.show.json" 'd["published_version"]')
[ "$V1" -gt "$V0" ] && [ "$V1" -lt $((V0 + 100)) ] || fail "published version $V0 -> $V1: a claim moved it"
ok "revocation reached the honest controller (version $V0 -> $V1, no jump)"

api audit list --action supervisor.restore_detected >"$W/restores.json" || fail "audit list"
n=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); items=d["items"] if isinstance(d,dict) else d
print(sum(1 for r in items if r.get("action")=="supervisor.restore_detected"))' "$W/restores.json")
[ "$n" = 0 ] || fail "$n restore detections from unproved claims"
ok "no restore detected from unproved claims"
api audit list --action supervisor.version_claim_refused >"$W/refused.json" || fail "audit list"
n=$(python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); items=d["items"] if isinstance(d,dict) else d
print(sum(1 for r in items if r.get("code")=="KSE-711" and r.get("target")==sys.argv[2]))' "$W/refused.json" "controller:$RID")
[ "$n" = 1 ] || fail "want one KSE-711 audit row for the rogue (once a minute), got $n"
ok "the refused claims are audited once as KSE-711, naming the rogue"
echo "attack_version_e2e: all $steps steps passed"
