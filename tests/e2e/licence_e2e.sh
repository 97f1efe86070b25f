#!/usr/bin/env bash
# Feature licences issued by the supervisor (issue 11): issue, list, show,
# revoke, reactivate through the CLI and API; the signed bytes verified
# independently (openssl Ed25519 over the labelled body, bound to the
# controller's device key id, signed by the supervisor key); the KSE-801
# warning incident N days before expiry and its end on reactivation;
# refusals for an unknown or not yet enrolled controller; a restart keeps all.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
ctl_add c1 1
ctl_run c1
C1=${CTL_ID[c1]}
now=$(date +%s)

# ----- issue: bound to c1, features by name, the bytes check out
api licence issue --controller "$C1" --feature calibration --feature firmware \
    --valid-until $((now + 90 * 86400)) --name "imaging unit" >"$W/l1.json" \
    || fail "issue: $(cat "$W/l1.json")"
L1=$(j "$W/l1.json" 'd["id"]')
[ "$(j "$W/l1.json" 'd["state"]')" = active ] || fail "state: $(cat "$W/l1.json")"
[ "$(j "$W/l1.json" 'sorted(d["features"])')" = "['calibration', 'firmware']" ] \
    || fail "features: $(cat "$W/l1.json")"
api supervisor show >"$W/sup.json"
status c1 'd["device_key_id"]' >"$W/dkid" 2>/dev/null || true
python3 - "$W/l1.json" "$W/sup.json" "$W" <<'PY' || fail "licence bytes"
import json, sys, binascii
l = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2])); w = sys.argv[3]
b = binascii.unhexlify(l["licence"])
assert len(b) == 160 and b[4] == 2, (len(b), b[4])  # version 2 (docs/formats.md)
feat = int.from_bytes(b[24:32], "little")
assert feat == (1 << 1) | (1 << 2), hex(feat)
assert int.from_bytes(b[40:48], "little") == l["valid_until"]
assert b[48:64].hex() == s["key_id"], (b[48:64].hex(), s["key_id"])
assert int.from_bytes(b[64:72], "little") == l["id"], "serial = the licence id"
assert b[72:96] == bytes(24), "unbound: window, reserved and key are zero"
open(w + "/lic.msg", "wb").write(b"KEYSUP-LICENCE01" + b[:96])
open(w + "/lic.sig", "wb").write(b[96:160])
open(w + "/ctrl16", "w").write(b[8:24].hex())
der = bytes.fromhex("302a300506032b6570032100") + bytes.fromhex(s["public_key"])
import base64
open(w + "/sup.pem", "w").write("-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n")
PY
openssl pkeyutl -verify -pubin -inkey "$W/sup.pem" -rawin -in "$W/lic.msg" -sigfile "$W/lic.sig" \
    >/dev/null 2>&1 || fail "the licence signature does not verify with openssl"
ctl c1 --json status >"$W/c1.st.json"
grep -q "$(cat "$W/ctrl16")" "$W/c1.st.json" || fail "licence not bound to c1's device key id"
printf '\x00' | dd of="$W/lic.msg" bs=1 seek=30 conv=notrunc 2>/dev/null
openssl pkeyutl -verify -pubin -inkey "$W/sup.pem" -rawin -in "$W/lic.msg" -sigfile "$W/lic.sig" \
    >/dev/null 2>&1 && fail "a forged licence verified"
ok "licence issued: bound to c1's device key id, features calibration+firmware, signed by the supervisor key (openssl agrees; a forged byte fails)"

# ----- the licence travels to c1 (a signed answer) and the engine takes it
lic_state() { status c1 'd["licence"]["state"]'; }
wait_until 15 "c1 holds licence $L1" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; l=json.load(sys.stdin)[\"licence\"]; print(l[\"state\"], l.get(\"features\"))')\" = 'valid 6' ]"
ok "c1 fetched licence $L1 and its engine verified it (features 6 = firmware+calibration)"

# ----- refusals
api licence issue --controller 999 --feature base >"$W/bad.json" 2>&1 && fail "unknown controller"
grep -q NOT_FOUND "$W/bad.json" || fail "unknown controller: $(cat "$W/bad.json")"
api controller add c2 --scope 1 >/dev/null
C2=$(api controller list | python3 -c 'import json,sys; print([c["id"] for c in json.load(sys.stdin)["items"] if c["name"]=="c2"][0])')
api licence issue --controller "$C2" --feature base >"$W/bad.json" 2>&1 && fail "not enrolled"
grep -q CONFLICT "$W/bad.json" || fail "not enrolled: $(cat "$W/bad.json")"
api licence issue --controller "$C1" --feature teleport >"$W/bad.json" 2>&1 && fail "bad feature"
ok "refused: unknown controller (404), controller not enrolled (409), unknown feature (400)"

# ----- the warning incident: a licence inside its window gets one KSE-801
api licence issue --controller "$C1" --feature calibration --valid-until $((now + 10 * 86400)) \
    --warn-days 30 --name "dongle licence" >"$W/l2.json" || fail "issue l2"
L2=$(j "$W/l2.json" 'd["id"]')
open801() {
    api incidents --open --controller "$C1" >"$W/inc.json" || return 1
    python3 - "$W/inc.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
items = [i for i in d["items"] if i["code"] == "KSE-801"]
assert len(items) == 1, items
assert "licence %s" % sys.argv[2] in (items[0].get("evidence") or "") + items[0]["title"], items[0]
PY
}
wait_until 15 "KSE-801 incident for licence $L2" open801 "$L2"
api incidents --open --controller "$C1" >"$W/inc.json"
grep -q "reactivate $L2" "$W/inc.json" || fail "the incident does not name the fix: $(cat "$W/inc.json")"
sleep 3
open801 "$L2" || fail "a second incident opened for the same licence"
ok "licence $L2 expiring in 10 days: one KSE-801 incident naming the licence, features and fix"

# ----- reactivate: a new licence replaces it, the incident closes
api licence reactivate "$L2" --valid-until $((now + 365 * 86400)) >"$W/l3.json" \
    || fail "reactivate: $(cat "$W/l3.json")"
L3=$(j "$W/l3.json" 'd["id"]')
[ "$(j "$W/l3.json" 'd["replaces"]')" = "$L2" ] || fail "replaces: $(cat "$W/l3.json")"
api licence show "$L2" >"$W/l2b.json"
[ "$(j "$W/l2b.json" 'd["state"]')" = replaced ] || fail "old state: $(cat "$W/l2b.json")"
api incidents --open --controller "$C1" >"$W/inc.json"
grep -q "KSE-801" "$W/inc.json" && fail "the KSE-801 incident is still open"
api licence reactivate "$L2" >"$W/bad.json" 2>&1 && fail "reactivated a replaced licence"
ok "reactivate $L2 -> licence $L3 replaces it; the warning incident is resolved"

# ----- power cut at the controller with the supervisor down: the licence is kept
wait_until 15 "c1 holds licence $L3" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"licence\"][\"expires_at\"])')\" = $((now + 365 * 86400)) ]"
sup_stop
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
ctl_run c1
wait_until 10 "c1 reloads its licence" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"licence\"][\"state\"])')\" = valid ]"
# a forged licence on flash (one byte changed) is refused with KSE-800
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
printf '\x01' | dd of="$W/c1.img.licence" bs=1 seek=26 conv=notrunc 2>/dev/null
ctl_run c1
wait_until 10 "c1 refuses the forged licence" sh -c "\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | grep -q licence.signature"
status c1 'd["refusals"]' | grep -q "KSE-800" || fail "the forged licence was not counted as KSE-800"
sup_start
wait_until 15 "c1 takes the genuine licence again" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"licence\"][\"state\"])')\" = valid ]"
ok "power cut with the supervisor down: licence kept on flash; a forged copy -> KSE-800 licence.signature; the supervisor's copy restores it"

# ----- revoke; a restart keeps every licence and state
api licence revoke "$L3" >"$W/l3r.json" || fail "revoke"
[ "$(j "$W/l3r.json" 'd["state"]')" = revoked ] || fail "revoke state"
api licence revoke "$L3" >/dev/null 2>&1 && fail "revoked twice"
sup_stop
sup_start
api licence list --controller "$C1" >"$W/list.json"
[ "$(j "$W/list.json" '[i["state"] for i in d["items"]]')" = "['active', 'replaced', 'revoked']" ] \
    || fail "after restart: $(cat "$W/list.json")"
ok "revoke; after a restart the licences keep their states (active, replaced, revoked)"
api licence revoke "$L1" >/dev/null || fail "revoke $L1"
wait_until 15 "c1 drops its licence" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"licence\"][\"state\"])')\" = none ]"
[ -e "$W/c1.img.licence" ] && fail "the revoked licence is still on flash"
ok "every licence revoked: c1 drops the licence from RAM and flash"
echo "licence_e2e: $steps steps passed"
