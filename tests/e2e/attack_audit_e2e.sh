#!/usr/bin/env bash
# Attack: the audit records a controller uploads were stored as sent, their
# hash chain never re-checked. A controller (or whoever holds its device
# key) could drop, reorder or rewrite decisions it had recorded, or slip in
# uses that its own chain never held (clone detection reads them: a made-up
# use can get another site's key suspended fleet-wide). Now every record
# carries its raw bytes; keysupd recomputes each chain hash, requires every
# member to match the raw bytes and each record to continue the one before,
# within the upload and from what is stored, and refuses the upload
# otherwise (KSE-711), storing nothing of it.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (sup_devreq)}"

sup_init
sup_start
URL="$KEYSUP_SERVER"
rogue rogue 1
RID=$ROGUE_ID RSEED=$ROGUE_SEED

up() { "$T/sup_devreq" req "$URL" "$RSEED" "$RID" POST /v1/device/audit "$(cat "$1")" >"$1.out"; head -1 "$1.out"; }
recs() { python3 "$HERE/audit_recs.py" "$@"; }
stored() { api controller audit "$RID" >"$W/aud.json" && j "$W/aud.json" 'len(d["items"])'; }

recs "$W/chain" 1 3 >"$W/u1.json"
[ "$(up "$W/u1.json")" = 200 ] || fail "an honest upload: $(cat "$W/u1.json.out")"
[ "$(stored)" = 3 ] || fail "stored: $(cat "$W/aud.json")"
ok "an honest chain of 3 records is stored"

cp "$W/chain" "$W/chain.at3"
try() { # NAME FILE: the upload must be refused with KSE-711 and nothing stored
    local st
    st=$(up "$2")
    [ "$st" = 400 ] || [ "$st" = 409 ] || fail "$1 accepted ($st): $(cat "$2.out")"
    grep -q "KSE-711" "$2.out" || fail "$1: no KSE-711: $(cat "$2.out")"
    [ "$(stored)" = 3 ] || fail "$1: something was stored"
}
recs "$W/chain" 4 5 --drop 1 >"$W/drop.json"; cp "$W/chain.at3" "$W/chain"
try "a record dropped, the seqs renumbered" "$W/drop.json"
recs "$W/chain" 4 5 --swap 1 >"$W/swap.json"; cp "$W/chain.at3" "$W/chain"
try "two records swapped" "$W/swap.json"
recs "$W/chain" 4 5 --alter 2 >"$W/alter.json"; cp "$W/chain.at3" "$W/chain"
try "a record rewritten (raw and hash)" "$W/alter.json"
recs "$W/chain" 4 2 >"$W/u2.json"; cp "$W/chain" "$W/chain.at5"; cp "$W/chain.at3" "$W/chain"
python3 - "$W/u2.json" "$W/member.json" "$W/noraw.json" <<'PY'
import json, sys
u = json.load(open(sys.argv[1]))
m = json.loads(json.dumps(u)); m["records"][1]["detail"] = 0   # the counter, JSON only
json.dump(m, open(sys.argv[2], "w"))
n = json.loads(json.dumps(u)); del n["records"][0]["raw"]
json.dump(n, open(sys.argv[3], "w"))
PY
try "a counter changed beside its raw bytes" "$W/member.json"
try "a record without its raw bytes" "$W/noraw.json"
# Across uploads: index 4 must name record 3's hash.
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); s["hash"]="ab"*32; json.dump(s,open(sys.argv[1],"w"))' "$W/chain"
recs "$W/chain" 4 2 >"$W/fork.json"; cp "$W/chain.at3" "$W/chain"
try "an upload that does not continue the stored chain" "$W/fork.json"
ok "dropped, swapped, rewritten, member-changed, raw-less and forked uploads: refused with KSE-711, nothing stored"

api audit list --action device.audit_refused >"$W/refused.json" || fail "audit list"
[ "$(j "$W/refused.json" 'len(d["items"])')" -ge 6 ] || fail "refusals not audited: $(cat "$W/refused.json")"
ok "each refusal is in the supervisor's audit (device.audit_refused)"

[ "$(up "$W/u2.json")" = 200 ] || fail "the honest continuation: $(cat "$W/u2.json.out")"
[ "$(stored)" = 5 ] || fail "stored: $(cat "$W/aud.json")"
# The ring overwrote records 6..9 before they were uploaded: the seqs jump
# with the index (the ring's seqs are dense), a gap, accepted and said.
cp "$W/chain.at5" "$W/chain"
recs "$W/chain" 6 4 >/dev/null
recs "$W/chain" 10 2 >"$W/gap.json"
[ "$(up "$W/gap.json")" = 200 ] || fail "a gap: $(cat "$W/gap.json.out")"
api audit list --action device.audit_gap >"$W/gapa.json" || fail "audit list"
[ "$(j "$W/gapa.json" 'len(d["items"])')" = 1 ] || fail "gap not audited: $(cat "$W/gapa.json")"
ok "the honest continuation is stored; records the ring lost are a gap, accepted and audited"
echo "attack_audit_e2e: all $steps steps passed"
