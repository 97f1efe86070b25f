#!/usr/bin/env bash
# Feature licences issued by the supervisor (issue 11): issue, list, show,
# revoke, reactivate through the CLI and API; the signed bytes verified
# independently (openssl Ed25519 over the labelled body, bound to the
# controller's device key id, signed by the supervisor key); the KSE-801
# warning incident N days before expiry and its end on reactivation;
# refusals for an unknown or not yet enrolled controller; a restart keeps all.
# Then enforcement (the rollout rule): off -> an unlicensed controller works;
# on -> KSE-800 naming the feature, and the diagnosis naming licence,
# feature and fix; a licence bound to a dongle (refused while it is absent,
# granted once presented, refused again past the window); expiry -> KSE-800
# after the KSE-801 warning; reactivation reaching the controller without a
# full download; a power cut offline keeps policy and licence; another
# controller's licence is refused.
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

# ===== enforcement, dongles, expiry (docs/licences.md "Enforcement") =====
keygen boss; keygen dongle
api key enrol --public-key "$W/boss.key" --privilege SUPERVISOR --privilege CALIBRATE \
    --privilege VOID --scope 1 >"$W/boss.json" || fail "enrol boss"
api key enrol --public-key "$W/dongle.key" --privilege OPERATOR --scope 1 \
    >"$W/dongle.json" || fail "enrol dongle: $(cat "$W/dongle.json")"
DONGLE=$(j "$W/dongle.json" 'd["key_id"]')
wait_until 15 "c1 in step" in_step c1
cal() { present "$W/boss.key" c1 cal_c01 "${1:-reader-cal}"; }
present "$W/boss.key" c1 cal_c01 || fail "unlicensed, nothing enforced: $(cat "$W/present.err")"
ok "enforcement off (the default): c1 without a licence still calibrates"

api licence enforce --controller "$C1" --feature calibration >"$W/enf.json" \
    || fail "enforce: $(cat "$W/enf.json")"
wait_until 15 "c1 enforces calibration" lic_eq enforce "['calibration']"
cal && fail "calibration granted while enforced without a licence"
grep -q "KSE-800" "$W/present.err" || fail "want KSE-800: $(cat "$W/present.err")"
grep -q "licence feature needed: calibration" "$W/present.err" \
    || fail "the terminal does not name the feature: $(cat "$W/present.err")"
[ "$(lic '["last_refusal"]["check"]')" = licence.none ] || fail "check: $(cat "$W/c1.status.json")"
[ "$(lic '["last_refusal"]["features"]')" = "['calibration']" ] || fail "feature not named"
present "$W/boss.key" c1 void reader-v || fail "void (not enforced) refused: $(cat "$W/present.err")"
diag_has() { api diagnose "$C1" >"$W/diag.json" 2>&1 && grep -q -- "$1" "$W/diag.json"; }
wait_until 15 "diagnosis names feature and fix" diag_has "keysup licence issue --controller $C1 --feature calibration"
ok "enforced: calibration refused with KSE-800 naming the feature; the diagnosis says 'ask for feature calibration' with the command; void still runs"

# ----- a licence bound to the dongle: absent -> refused, present -> granted
api licence issue --controller "$C1" --feature calibration --bound-key "$DONGLE" \
    --bound-window 3 --valid-until $((now + 90 * 86400)) --name "imaging unit" >"$W/lb.json" \
    || fail "issue bound: $(cat "$W/lb.json")"
LB=$(j "$W/lb.json" 'd["id"]')
api licence issue --controller "$C1" --feature calibration --bound-key "$(printf 'ab%.0s' $(seq 16))" \
    >"$W/bad.json" 2>&1 && fail "bound to a key nobody enrolled"
grep -q CONFLICT "$W/bad.json" || fail "unknown dongle: $(cat "$W/bad.json")"
api licence issue --controller "$C1" --feature calibration --bound-window 5 >"$W/bad.json" 2>&1 \
    && fail "a window without a key"
grep -q "needs 'bound_key'" "$W/bad.json" || fail "window alone: $(cat "$W/bad.json")"
[ "$(j "$W/lb.json" 'd["bound_key"]')" = "$DONGLE" ] || fail "binding: $(cat "$W/lb.json")"
wait_until 15 "c1 holds licence $LB" lic_eq id "$LB"
cal && fail "granted with the dongle absent"
grep -q "KSE-800" "$W/present.err" || fail "dongle absent: $(cat "$W/present.err")"
grep -q "licence.dongle" "$W/present.err" && grep -q "calibration (licence $LB)" "$W/present.err" \
    || fail "the terminal does not name check, feature and licence: $(cat "$W/present.err")"
[ "$(lic '["last_refusal"]["check"]')" = licence.dongle ] || fail "check: $(cat "$W/c1.status.json")"
wait_until 15 "diagnosis names the licence and the dongle" diag_has "seat dongle $DONGLE"
grep -q "licence $LB " "$W/diag.json" || fail "the diagnosis does not name licence $LB"
present "$W/dongle.key" c1 access reader-dongle || fail "dongle: $(cat "$W/present.err")"
cal || fail "dongle present, still refused: $(cat "$W/present.err")"
sleep 4
cal && fail "granted 4 s after the dongle (window 3 s)"
[ "$(lic '["last_refusal"]["check"]')" = licence.dongle ] || fail "past the window"
ok "licence $LB bound to dongle $DONGLE: refused (KSE-800, diagnosis: seat dongle, licence $LB) while absent, granted once presented, refused again past its 3 s window"

# ----- expiry: the KSE-801 warning first, then KSE-800
full_before=$(grep -c "sync.full_download" "$W/c1.log" || true)
exp=$(($(date +%s) + 12))
api licence reactivate "$LB" --bound-key none --valid-until "$exp" >"$W/le.json" \
    || fail "reactivate: $(cat "$W/le.json")"
LE=$(j "$W/le.json" 'd["id"]')
wait_until 15 "c1 holds licence $LE" lic_eq id "$LE"
cal || fail "unbound licence $LE refused: $(cat "$W/present.err")"
wait_until 15 "KSE-801 incident for licence $LE" open801 "$LE"
t801=$(date +%s)
wait_until 20 "licence $LE expired" sh -c "[ \$(date +%s) -ge $exp ]"
cal && fail "granted after expiry"
grep -q "KSE-800" "$W/present.err" || fail "expired: $(cat "$W/present.err")"
[ "$(lic '["last_refusal"]["check"]')" = licence.expired ] || fail "check: $(cat "$W/c1.status.json")"
[ "$t801" -lt "$exp" ] || fail "the warning came after expiry"
wait_until 15 "diagnosis names the reactivation" diag_has "keysup licence reactivate $LE --valid-until"
ok "licence $LE: KSE-801 warning before expiry, then KSE-800 (licence.expired), the diagnosis says reactivate $LE"

# ----- reactivation reaches the controller without a full download
api licence reactivate "$LE" --valid-until $((now + 365 * 86400)) >"$W/lr.json" \
    || fail "reactivate: $(cat "$W/lr.json")"
LR=$(j "$W/lr.json" 'd["id"]')
wait_until 15 "c1 holds licence $LR" lic_eq id "$LR"
cal || fail "reactivated, still refused: $(cat "$W/present.err")"
full_after=$(grep -c "sync.full_download" "$W/c1.log" || true)
[ "$full_before" = "$full_after" ] || fail "a full download happened ($full_before -> $full_after)"
ok "reactivate $LE -> $LR: granted again within seconds, no full download"

# ----- another controller's licence on c1's flash; a power cut offline
ctl_add c3 1
api licence issue --controller "${CTL_ID[c3]}" --feature calibration >"$W/l3c.json" || fail "c3"
cp "$W/c1.img.licence" "$W/c1.genuine"
sup_stop
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
python3 -c 'import json,sys,binascii; open(sys.argv[2],"wb").write(binascii.unhexlify(json.load(open(sys.argv[1]))["licence"]))' \
    "$W/l3c.json" "$W/c1.img.licence"
ctl_run c1
wait_until 10 "c1 refuses c3's licence" lic_eq check licence.controller
cal && fail "granted on another controller's licence"
grep -q "KSE-800" "$W/present.err" || fail "c3's licence: $(cat "$W/present.err")"
kill -KILL "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
rm -f "$W/c1.sock"
cp "$W/c1.genuine" "$W/c1.img.licence"
ctl_run c1
wait_until 10 "c1 reloads its licence" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"licence\"][\"state\"])')\" = valid ]"
[ "$(lic '["enforce"]')" = "['calibration']" ] || fail "the policy was lost: $(cat "$W/c1.status.json")"
cal || fail "offline after a power cut: $(cat "$W/present.err")"
sup_start
ok "another controller's licence -> KSE-800 (licence.controller); after a power cut with the supervisor down, policy and licence hold from flash"
echo "licence_e2e: $steps steps passed"
