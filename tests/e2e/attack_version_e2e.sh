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
rogue rogue 1
RID=$ROGUE_ID RSEED=$ROGUE_SEED

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
# ----- a real header plus a made-up lost revocation (the report's
# `restore`): any unit of the scope can download the current header. Each
# such claim drew a new history and republished every scope in full, which
# sent every controller a new image: one stolen unit, one fleet-wide full
# download per heartbeat. Holding exactly what is published, nothing can be
# lost: the claim is refused. An older header needs a real publish first.
fetch_header() {
    "$T/sup_devreq" req "$URL" "$RSEED" "$RID" GET /v1/device/snapshot --out "$W/rogue.snap" \
        | head -1 | grep -qx 200 || fail "rogue snapshot download"
}
claim_lost() {
    python3 - "$W/rogue.snap" >"$W/rogue.claim" <<'PY'
import json, struct, sys
h = open(sys.argv[1], "rb").read()[:160]
v, = struct.unpack_from("<Q", h, 8)
hist, = struct.unpack_from("<I", h, 60)
print(json.dumps({"applied_version": v, "applied_root": h[64:96].hex(), "applied_history": hist,
                  "applied_header": h.hex(),
                  "restore": {"code": "KSE-304", "lost_count": 1, "offered_history": hist,
                              "offered_version": v, "keys": []}}))
PY
    [ "$(hb "$(cat "$W/rogue.claim")")" = 200 ] || fail "rogue heartbeat refused outright"
}
restores() {
    api audit list --action supervisor.restore_detected >"$W/restores.json" || fail "audit list"
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1])); items=d["items"] if isinstance(d,dict) else d
print(len(items))' "$W/restores.json"
}
for i in 1 2 3 4; do fetch_header; claim_lost; sleep 0.3; done
n=$(restores)
[ "$n" = 0 ] || fail "$n restore detections (new histories, full republishes) from one unit in 2 s"
ok "four lost-revocation claims with the current header: no restore detected"
# A header one publish old still counts once (the controller's word): one
# new history per real publish, not per heartbeat.
fetch_header
keygen carol
api key enrol --public-key "$W/carol.key" --privilege VOID --scope 1 >/dev/null
wait_until 10 "door in step after carol" in_step door
for i in 1 2 3; do claim_lost; sleep 0.3; done
n=$(restores)
[ "$n" = 1 ] || fail "$n restore detections from one stale header, want 1"
wait_until 10 "door in step after the claims" in_step door
ok "three claims with a header one publish old: one restore detected, door in step"
echo "attack_version_e2e: all $steps steps passed"
