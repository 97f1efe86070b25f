#!/usr/bin/env bash
# Attack: a compromised controller (its device key in the attacker's hands)
# uploads a made-up use of someone else's key, with the counter that key
# really used at another controller: one counter signed twice is a clone
# (KSE-214), and under clone_policy = suspend the key is suspended
# fleet-wide. Before the fix a controller of any scope could do this to any
# key. Now a use counts only for a key the controller holds (its scope or
# scope 0): a controller can only have granted those. The residual, pinned
# here too: a compromised controller of the key's own scope can still do it
# with a consistent audit chain (docs/audit.md, docs/diagnosis.md).
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests (sup_devreq)}"

sup_init
printf 'clone_policy = suspend\n' >>"$W/sup/keysupd.conf"
sup_start
URL="$KEYSUP_SERVER"
ctl_add door 1
ctl_run door
sv_key victim
KID=$SV_KID
wait_until 20 "door in step" in_step door
"$B/keysup" --json key present "$W/victim.key" --controller "$W/door.sock" --action void \
    --counter 500 >"$W/present.out" 2>"$W/present.err" || fail "victim at door: $(cat "$W/present.err")"
wait_until 15 "door uploads" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/door.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"store\"][\"audit_pending\"])')\" = 0 ]"
ok "the victim's key used at door with counter 500, uploaded"

rogue_at() { # NAME SCOPE: a registered controller whose device key the attacker holds
    rogue "$1" "$2"
    RID[$1]=$ROGUE_ID
    RSEED[$1]=$ROGUE_SEED
}
declare -A RID RSEED
forge() { # NAME: uploads a consistent chain with a use of the victim's key, counter 500
    python3 "$HERE/audit_recs.py" "$W/$1.chain" 1 1 --key "$KID" --counter 500 \
        --time "$(date +%s)" >"$W/$1.up.json"
    "$T/sup_devreq" req "$URL" "${RSEED[$1]}" "${RID[$1]}" POST /v1/device/audit \
        "$(cat "$W/$1.up.json")" >"$W/$1.up.out"
    [ "$(head -1 "$W/$1.up.out")" = 200 ] || fail "$1's upload: $(cat "$W/$1.up.out")"
}
clone_open() {
    api incidents --open --code KSE-214 >"$W/inc.json" 2>/dev/null &&
        python3 -c 'import json,sys; sys.exit(0 if any(i.get("key_id")==sys.argv[2] for i in json.load(open(sys.argv[1]))["items"]) else 1)' "$W/inc.json" "$KID"
}
state() { api key get "$KID" >"$W/key.json" && j "$W/key.json" 'd["state"]'; }

rogue_at far 2
forge far
sleep 1
clone_open && fail "a scope-2 controller's made-up use opened a clone incident on a scope-1 key"
[ "$(state)" = active ] || fail "the victim's key is $(state) after a scope-2 controller's claim"
grep -q "clone.use_out_of_scope" "$W/keysupd.log" || fail "the out-of-scope use was not logged"
ok "a controller of another scope cannot get the key suspended: its claimed use is not compared"

# The residual: a controller of the key's own scope, with a consistent chain.
rogue_at near 1
forge near
wait_until 10 "the residual: a same-scope claim suspends" clone_open
[ "$(state)" = suspended ] || fail "expected the documented residual (suspended), got $(state)"
ok "the residual, as documented: a compromised controller of the key's own scope gets it suspended (KSE-214 incident names it; keysup key resume undoes it)"
echo "attack_clone_e2e: all $steps steps passed"
