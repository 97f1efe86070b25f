#!/usr/bin/env bash
# A proxy on the site network between one real keysup-controller and a real
# keysupd (issue 10). It rewrites a command's argument and a command's name,
# the published version and root, the rotation chain and a time token; it
# replays an old answer and hands each answer to the next request; it serves
# a snapshot signed by another supervisor and an old genuine one. For each
# the controller refuses with its KSE code (KSE-710, or 700/701 for the
# snapshots), changes nothing (database version and root, pinned supervisor
# key, the attacker's key still refused), and the supervisor shows the
# incident. Then the link is clean again and everything proceeds.
source "$(dirname "$0")/lib.sh"
SRC="${KS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
export KEYSUP_DIAG_QUIET=600   # keep refusal incidents open for the checks

sup_init
sup_start
keygen bob
keygen mallory
"$B/keysup" key keygen --out "$W/other-supervisor.key" --no-passphrase >/dev/null
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >/dev/null

# ----- the proxy, and the controller behind it (enrolled honestly first)
echo pass >"$W/mode"
: >"$W/mitm.log"
export MITM_SIGNER="${KS_TESTS:?KS_TESTS must point to build/tests}/answer_sign"
export MITM_KEY="$W/other-supervisor.key" MITM_DEVKID="$W/devkid"
python3 "$SRC/tests/e2e/mitm_proxy.py" "$KEYSUP_SERVER" "$W/proxy.port" "$W/mode" "$W/mitm.log" \
    "$W/foreign.snap" >>"$W/proxy.log" 2>&1 &
PIDS+=($!)
wait_until 10 "proxy listening" test -s "$W/proxy.port"
PROXY="http://127.0.0.1:$(cat "$W/proxy.port")"
ctl_add c1 1
"$B/keysup-controller" run --flash "$W/c1.img" --socket "$W/c1.sock" --supervisor "$PROXY" \
    --heartbeat 1 >>"$W/c1.log" 2>&1 &
PIDS+=($!)
wait_until 10 "c1 control socket" test -S "$W/c1.sock"
wait_until 15 "c1 in step through the proxy" in_step c1
CID=${CTL_ID[c1]}
ok "controller in step through the (honest) proxy"

# The mallory key signs nothing genuine: a snapshot from another supervisor grants it VOID.
MPK=$("$B/keysup" --json key show "$W/mallory.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
cat >"$W/foreign.json" <<JSON
[{"holder": "mallory", "holder_id": 66, "public_key": "$MPK", "privileges": ["SUPERVISOR", "VOID"]}]
JSON
"$B/keysup" snapshot build --keys "$W/foreign.json" --signer "$W/other-supervisor.key" \
    --version 1000000 --scope 1 --out "$W/foreign.snap" >/dev/null || fail "foreign snapshot"

# ----- helpers
# state: what must not move under an attack (database version and root, pinned keys)
state() { ctl c1 --json status >"$W/st.json" && j "$W/st.json" '(d["applied_version"], d.get("applied_root"), d["supervisor_keys"])'; }
# refused CODE: how many answers c1 refused with KSE-CODE so far
refused() { ctl c1 --json status >"$W/rf.json" && j "$W/rf.json" 'sum(r["count"] for r in d["refusals"] if r["code"] == "KSE-'"$1"'")'; }
# tampered MODE: how many answers the proxy bent in MODE
tampered() { grep -c "^$1 " "$W/mitm.log" || true; }
more_than() { [ "$("${@:2}")" -gt "$1" ]; }
# is_state ID STATE / not_state ID STATE
is_state() { [ "$(cmd_state "$1")" = "$2" ]; }
not_state() { [ "$(cmd_state "$1")" != "$2" ]; }
# cmd_state ID: the supervisor's state of command ID
cmd_state() { api controller show "$CID" >"$W/cs.json" && j "$W/cs.json" '[c["state"] for c in d["commands"] if c["id"] == '"$1"'][0]'; }
# arm MODE CODE: the proxy starts bending answers in MODE; hit [N] waits until
# it bent N (1) of them and c1 refused as many with KSE-CODE; clean makes the
# link honest again
arm() {
    A_MODE=$1 A_CODE=$2
    A_R0=$(refused "$2")
    A_T0=$(tampered "$1")
    echo "$1" >"$W/mode"
}
hit() {
    local n=${1:-1}
    wait_until 20 "proxy bends answers ($A_MODE)" more_than $((A_T0 + n - 1)) tampered "$A_MODE"
    wait_until 20 "c1 refuses ($A_MODE) with KSE-$A_CODE" more_than $((A_R0 + n - 1)) refused "$A_CODE"
}
clean() { echo pass >"$W/mode"; }
unchanged() { [ "$(state)" = "$BEFORE" ] || fail "$1: state moved from $BEFORE to $(state)"; }

BEFORE=$(state)
SUPFP=$(j "$W/st.json" 'd["supervisor_keys"][0]')

# ----- 1. Replace Supervisor Credential with the key rewritten (the hijack of the issue)
api controller command "$CID" replace_credential >"$W/rc.json"
RC=$(j "$W/rc.json" 'd["id"]')
CODE=$(j "$W/rc.json" 'd["one_time_code"]')
[ "$(j "$W/rc.json" 'd["new_key_fingerprint"]')" = "$SUPFP" ] || fail "supervisor shows fingerprint $(cat "$W/rc.json"), controller pins $SUPFP"
wait_until 10 "c1 shows the offered key" sh -c "\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" status | grep -q 'new key $SUPFP'"
echo cmd_arg >"$W/mode"
wait_until 20 "proxy rewrites supervisor_public_key" more_than 0 tampered cmd_arg
ctl c1 code "$CODE" >"$W/code.json"
grep -q "$SUPFP" "$W/code.json" || fail "ctl code does not name the key it authorises: $(cat "$W/code.json")"
r0=$(refused 710)
wait_until 20 "c1 refuses the rewritten command" more_than $((r0 + 1)) refused 710
[ "$(cmd_state "$RC")" = pending ] || fail "rewritten replace_credential was acted on: $(cmd_state "$RC")"
unchanged "rewritten supervisor_public_key"
echo pass >"$W/mode"
wait_until 15 "the genuine command completes" is_state $RC done
unchanged "genuine replace_credential (same key)"
ok "replace_credential with supervisor_public_key rewritten: KSE-710, key not pinned; the genuine one completes"

# ----- 1b. the attacker signs its own answers (Python envelope from docs/formats.md, its own
# key) and offers that key through the operator's genuine replace_credential; the
# technician even types the genuine code
state >/dev/null
j "$W/st.json" 'd["device_key_id"]' >"$W/devkid"
ATTFP=$("$B/keysup" --json key show "$W/other-supervisor.key" | python3 -c '
import hashlib, json, sys
kid = hashlib.blake2b(bytes.fromhex(json.load(sys.stdin)["public_key"]), digest_size=32).hexdigest()[:32]
print("-".join(kid[i:i + 4] for i in range(0, 32, 4)))')
arm resign 700
api controller command "$CID" replace_credential >"$W/rc2.json"
RC2=$(j "$W/rc2.json" 'd["id"]')
hit 1
offered() { ctl c1 --json status >"$W/of.json" && [ "$(j "$W/of.json" '(d["replace_credential"] or {}).get("new_key_fingerprint")')" = "$1" ]; }
wait_until 10 "c1 shows the attacker's key as offered" offered "$ATTFP"
[ "$ATTFP" != "$(j "$W/rc2.json" 'd["new_key_fingerprint"]')" ] || fail "fingerprints should differ"
ctl c1 code "$(j "$W/rc2.json" 'd["one_time_code"]')" >/dev/null
wait_until 15 "the code is checked against the attacker's key" grep -q "does not authorise key $ATTFP" "$W/c1.log"
unchanged "attacker-signed answers offering the attacker's key"
clean
wait_until 10 "the supervisor sees the failed replacement" not_state $RC2 pending
[ "$(cmd_state "$RC2")" = failed ] || fail "replace_credential $RC2: $(cmd_state "$RC2")"
unchanged "after the attacker-signed answers"
ok "answers re-signed by the attacker's key: KSE-700, its key offered with its own fingerprint, the genuine code does not pin it"

# ----- 2. a command's name rewritten (unlock -> initialize)
arm cmd_name 710   # before the command is queued: the proxy sees every answer carrying it
api controller command "$CID" unlock >"$W/un.json"
UN=$(j "$W/un.json" 'd["id"]')
hit 1
[ "$(cmd_state "$UN")" = pending ] || fail "rewritten unlock acted on: $(cmd_state "$UN")"
unchanged "rewritten command name"
clean
grep -q "sync.full_download (initialize)" "$W/c1.log" && fail "a rewritten command ran a full download"
wait_until 10 "the genuine unlock completes" is_state $UN done
ok "command name rewritten: KSE-710, not run; the genuine one runs once the link is clean"

# ----- 3. published version and root rewritten
arm version 710
hit 1
unchanged "rewritten version/root"
clean
ok "published version/root rewritten: KSE-710, no download, database unchanged"

# ----- 4. an old answer replayed; 5. each answer handed to the next request
arm replay 710
hit 1
unchanged "replayed heartbeat answer"
clean
ok "heartbeat answer replayed: KSE-710 (bound to another nonce)"
arm reorder 710
hit 1
unchanged "reordered answers"
clean
ok "answers reordered (each to the next request): KSE-710"

# ----- 6. the time token rewritten
arm time 710
api controller command "$CID" time_sync >"$W/ts.json"
TS=$(j "$W/ts.json" 'd["id"]')
hit 1   # one time_sync command: one token to bend
wait_until 10 "time_sync acknowledged" not_state $TS pending
clean
[ "$(cmd_state "$TS")" = failed ] || fail "a rewritten time token was applied: $(cmd_state "$TS")"
unchanged "rewritten time token"
ok "time token rewritten: KSE-710, clock untouched, command failed"

# ----- 7. a snapshot signed by another supervisor (with mallory's key as VOID)
echo foreign_snapshot >"$W/mode"
api controller command "$CID" initialize >"$W/in.json"
IN=$(j "$W/in.json" 'd["id"]')
wait_until 15 "initialize acknowledged" not_state $IN pending
echo pass >"$W/mode"
[ "$(cmd_state "$IN")" = failed ] || fail "foreign snapshot installed: $(cmd_state "$IN")"
[ "$(tampered foreign_snapshot)" -gt 0 ] || fail "the proxy served no foreign snapshot"
grep -q "SUPERVISOR_UNTRUSTED" "$W/c1.log" || fail "no KSE-700 in the controller log"
unchanged "foreign snapshot"
present "$W/mallory.key" c1 void && fail "mallory's key GRANTED void"
grep -q "KSE-202" "$W/present.err" || fail "mallory: want KSE-202, got $(cat "$W/present.err")"
ok "snapshot signed by another supervisor: KSE-700, not installed, mallory's key refused"
wait_until 15 "c1 clean again" sh -c "! \"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" status | grep -q 'conditions:.*KSE-700'"

# ----- 8. an old genuine snapshot (rollback)
api key enrol --public-key "$W/mallory.key" --privilege OPERATOR --scope 1 >"$W/m.json"
MALLORY=$(j "$W/m.json" 'd["key_id"]')
api key revoke "$MALLORY" >/dev/null
wait_until 10 "c1 in step (mallory enrolled and revoked)" in_step c1
BEFORE=$(state)
echo old_snapshot >"$W/mode"
api controller command "$CID" initialize >"$W/in2.json"
IN2=$(j "$W/in2.json" 'd["id"]')
wait_until 15 "initialize acknowledged" not_state $IN2 pending
echo pass >"$W/mode"
[ "$(cmd_state "$IN2")" = failed ] || fail "old snapshot installed: $(cmd_state "$IN2")"
grep -q "ROLLBACK" "$W/c1.log" || fail "no KSE-701 in the controller log"
unchanged "old snapshot"
present "$W/mallory.key" c1 access && fail "revoked mallory granted after an old snapshot"
grep -q "KSE-203" "$W/present.err" || fail "mallory: want KSE-203, got $(cat "$W/present.err")"
ok "old genuine snapshot served again: KSE-701, not installed, the revocation holds"

# ----- 9. the rotation chain rewritten while the supervisor key rotates
wait_until 10 "c1 in step" in_step c1
BEFORE=$(state)
echo rotation >"$W/mode"
r0=$(refused 710)
api supervisor rotate >/dev/null
wait_until 20 "proxy rewrites the rotation chain" more_than 0 tampered rotation
wait_until 20 "c1 refuses the chain" more_than "$r0" refused 710
unchanged "rewritten rotation chain"
echo pass >"$W/mode"
wait_until 20 "c1 follows the genuine rotation" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"supervisor_keys\"][0])')\" != \"$SUPFP\" ]"
wait_until 15 "c1 in step after the rotation" in_step c1
ok "rotation chain rewritten: KSE-710, old key kept; the genuine chain is followed"

# ----- the supervisor shows the incidents, with steps
api incidents --controller "$CID" --limit 50 >"$W/inc.json"
for code in 710 700 701; do
    j "$W/inc.json" '[i for i in d["items"] if i["code"] == "KSE-'$code'"] != []' | grep -q True \
        || fail "no KSE-$code incident: $(cat "$W/inc.json")"
done
api diagnose "$CID" >"$W/diag.json"
python3 - "$W/diag.json" <<'PY' || fail "diagnose: $(cat "$W/diag.json")"
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for a in d["areas"] for f in a["findings"] if f["code"] == "KSE-710"]
assert f, "no KSE-710 finding"
assert f[0]["steps"] and f[0]["refusals"] > 0 and f[0]["incident"], f[0]
print("diagnose:", f[0]["evidence"])
PY
ok "the supervisor shows incidents KSE-710, KSE-700, KSE-701; diagnose gives KSE-710 with steps"
echo "tampered answers: $(wc -l <"$W/mitm.log"); refusals: KSE-710 x$(refused 710)"
echo "$steps passed, 0 failed"
