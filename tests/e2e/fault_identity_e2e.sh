#!/usr/bin/env bash
# Issue 17 rows 5 and 2: the flash image broken or replaced the way the
# field does it (dd, truncate, cp), not through `ctl fault`.
#   row 5: metadata sector 0 zeroed, the image truncated, the image all
#          0xFF: the agent keeps its identity (identity file), refuses
#          decisions until the full download, says KSE-301 with the place,
#          and is back in step by itself. With the identity file gone too,
#          it names re-provisioning as the step.
#   row 2: another controller's image copied over this one's: refused, this
#          unit keeps its id and scope, the donor's key is never granted.
#          Two agents under one id (image AND identity file copied): the
#          supervisor opens KSE-730 IDENTITY_CLONED.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
keygen bob; keygen carol; keygen dave
ctl_add c1 1
ctl_add c2 2
ctl_run c1
ctl_run c2
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/bob.json"
api key enrol --public-key "$W/dave.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/dave.json"
api key enrol --public-key "$W/carol.key" --privilege SUPERVISOR --privilege VOID --scope 2 >/dev/null
wait_until 10 "c1 in step" in_step c1
wait_until 10 "c2 in step" in_step c2
api key revoke "$(j "$W/dave.json" 'd["key_id"]')" >/dev/null
wait_until 5 "c1 in step after dave's revocation" in_step c1
[ "$(stat -c %a "$W/c1.img.id")" = 600 ] || fail "identity file missing or not 0600"
C1_ID=$(status c1 'd["controller_id"]')
C1_KEY=$(status c1 'd["device_key_id"]')

ctl_kill() { kill -TERM "${CTL_PID[$1]}"; wait "${CTL_PID[$1]}" 2>/dev/null || true; rm -f "$W/$1.sock"; }

# restart_check WHAT: c1 was damaged while stopped; it must come back as
# itself, never grant, say KSE-301, and be in step again by itself.
restart_check() {
    local what=$1
    : >"$W/c1.log"
    ctl_run c1
    kill -0 "${CTL_PID[c1]}" 2>/dev/null || fail "$what: the agent exited: $(cat "$W/c1.log")"
    [ "$(status c1 'd["controller_id"]')" = "$C1_ID" ] || fail "$what: controller id changed"
    [ "$(status c1 'd["device_key_id"]')" = "$C1_KEY" ] || fail "$what: device key changed"
    present "$W/dave.key" c1 void reader-d && fail "$what: revoked key granted"
    grep -q "KSE-301" "$W/c1.log" || fail "$what: no KSE-301 named: $(cat "$W/c1.log")"
    wait_until 15 "$what: c1 in step again" in_step c1
    present "$W/bob.key" c1 void || fail "$what: bob refused after the repair: $(cat "$W/present.err")"
    present "$W/dave.key" c1 void reader-e && fail "$what: revoked key granted after the repair"
    :
}

# ----- row 5a: metadata sector 0 zeroed (SUPER and END)
ctl_kill c1
dd if=/dev/zero of="$W/c1.img" bs=4096 count=1 conv=notrunc status=none
restart_check "sector 0 zeroed"
grep -q "identity of controller $C1_ID kept" "$W/c1.log" || fail "sector 0: identity not restored from the file"
ok "metadata sector 0 zeroed: same identity, KSE-301 named, no grant, back in step by a full download"

# ----- row 5b: the image truncated to half
ctl_kill c1
truncate -s 2M "$W/c1.img"
restart_check "image truncated"
grep -q "truncated" "$W/c1.log" || fail "truncation not named"
[ -s "$W/c1.img.damaged" ] || fail "the truncated image was not kept aside"
ok "image truncated: set aside, same identity, KSE-301, back in step"

# ----- row 5c: an image of 0xFF (erased)
ctl_kill c1
python3 -c "import sys; open(sys.argv[1],'wb').write(b'\xff' * 4096 * 1024)" "$W/c1.img"
restart_check "image all 0xFF"
ok "image all 0xFF: starts enrolled as itself (not unenrolled), back in step"

# ----- the supervisor saw the store fault, not only a lost link
api incidents --controller "${CTL_ID[c1]}" --code KSE-301 >"$W/inc301.json"
[ "$(j "$W/inc301.json" 'len(d["items"])')" -ge 1 ] || fail "no KSE-301 incident at the supervisor"
ok "supervisor holds KSE-301 incidents for the damaged store"

# ----- row 2: c2's image copied over c1's
ctl_kill c1
ctl_kill c2
cp "$W/c2.img" "$W/c1.img"
: >"$W/c1.log"
ctl_run c1
[ "$(status c1 'd["controller_id"]')" = "$C1_ID" ] || fail "copied image: c1 took the donor's id"
[ "$(status c1 'd["scope"]')" = 1 ] || fail "copied image: c1 took the donor's scope"
present "$W/carol.key" c1 void reader-c && fail "copied image: the donor's key (scope 2) granted at c1"
grep -q "refused (an image copied from another unit?)" "$W/c1.log" || fail "copied image not named: $(cat "$W/c1.log")"
wait_until 15 "c1 in step with its own scope" in_step c1
present "$W/carol.key" c1 void reader-c && fail "donor's key granted after the repair"
present "$W/bob.key" c1 void || fail "bob refused after the copied image was replaced"
ok "copied image refused: c1 kept its id and scope, the donor's key never granted"

# ----- row 2: a clone (image and identity file copied to a second unit)
ctl_run c2
cp "$W/c1.img" "$W/c9.img"; cp "$W/c1.img.id" "$W/c9.img.id"
since=$(now_ms)
ctl_run c9
wait_until 20 "KSE-730 incident for c1" sh -c "\"$B/keysup\" --json incidents --controller ${CTL_ID[c1]} --code KSE-730 | grep -q '\"id\"'"
ok "two agents under one id: KSE-730 IDENTITY_CLONED in $(( $(now_ms) - since )) ms"
api diagnose "${CTL_ID[c1]}" >"$W/diag.json" || fail "keysup diagnose"
grep -q "KSE-730" "$W/diag.json" || fail "diagnose does not name KSE-730: $(head -c 400 "$W/diag.json")"
ctl_kill c9

# ----- row 5d: identity gone as well: the step is re-provisioning
ctl_kill c1
rm -f "$W/c1.img.id"
dd if=/dev/zero of="$W/c1.img" bs=4096 count=1 conv=notrunc status=none
: >"$W/c1.log"
ctl_run c1
grep -q "re-provision this controller" "$W/c1.log" || fail "identity gone: re-provisioning not named: $(cat "$W/c1.log")"
[ "$(status c1 'd["enrolled"]')" = False ] || fail "identity gone but the agent claims to be enrolled"
[ "$(status c1 'd["identity"]["state"]')" = lost ] || fail "status does not say the identity is lost"
present "$W/bob.key" c1 void && fail "a unit without identity granted"
ok "identity gone too: no grant, the step named is re-provisioning"
echo "all fault_identity steps passed"
