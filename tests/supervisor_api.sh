#!/usr/bin/env bash
# API tests of keysupd against a real daemon on loopback, started and
# stopped here: every endpoint, every role, bad JSON, oversize bodies,
# wrong tokens, replayed device requests, concurrent writers, kill -9.
# Needs: KS_BIN (keysup, keysupd), KS_TESTS (sup_devreq), KS_WORK; curl, jq.
set -u
B=${KS_BIN:?} T=${KS_TESTS:?} W=${KS_WORK:?}
rm -rf "$W" && mkdir -p "$W"
PASS=0 FAIL=0 PID=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

ok() { PASS=$((PASS + 1)); }
check() { # name expected actual
    if [ "$2" == "$3" ]; then ok; else FAIL=$((FAIL + 1)); echo "FAIL: $1: expected '$2', got '$3'"; fi
}
start() {
    rm -f "$W/port"
    "$B/keysupd" --data "$W/d" --listen 127.0.0.1:0 --port-file "$W/port" --passphrase-file "$W/pass" \
        >>"$W/keysupd.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.05; done
    URL=http://127.0.0.1:$(cat "$W/port")
}
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; PID=; }
trap 'stop' EXIT
# KS_DB=postgresql: the same suite on a private PostgreSQL server (pg_lib.sh).
DBOPT=()
if [ "${KS_DB:-sqlite}" = postgresql ]; then
    fail() { echo "FAIL: $*"; exit 1; }
    source "$(dirname "$0")/e2e/pg_lib.sh"
    trap 'stop; pg_stop' EXIT
    pg_start
    DBOPT=(--db "$PG_URL")
fi
api() { # METHOD PATH TOKEN [BODY] -> ST, BODY
    local a=(-s -o "$W/body" -w '%{http_code}' -X "$1" "$URL$2")
    [ -n "$3" ] && a+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && a+=(-H 'Content-Type: application/json' --data-binary "$4")
    ST=$(curl "${a[@]}")
    BODY=$(cat "$W/body")
}
code() { jq -r '.error.code // empty' <<<"$BODY"; }
dev() { "$T/sup_devreq" req "$URL" "$@"; }

# ----- init -----
echo "correct horse battery staple" >"$W/pass"
"$B/keysup" init --data "$W/d" "${DBOPT[@]}" --passphrase-file "$W/pass" --kdf interactive \
    --token-out "$W/admin.tok" --json >"$W/init.json"
check "init exit" 0 $?
check "init again refused" 1 "$("$B/keysup" init --data "$W/d" --no-passphrase >/dev/null 2>&1; echo $?)"
if [ -n "${PG_URL:-}" ]; then
    check "db has token hash only" 0 "$("$PG_BIN/pg_dump" "$PG_URL" | grep -c "$(cat "$W/admin.tok")")"
    check "no keysup.db beside PostgreSQL" no "$([ -e "$W/d/keysup.db" ] && echo yes || echo no)"
    check "second init on the same database refused" 1 "$("$B/keysup" init --data "$W/d2" \
        --db "$PG_URL" --no-passphrase >/dev/null 2>&1; echo $?)"
else
    check "db has token hash only" 0 "$(grep -c "$(cat "$W/admin.tok")" "$W/d/keysup.db")"
fi
check "key file sealed" "1" "$(od -An -tu1 -j6 -N1 "$W/d/supervisor-1.key" | tr -d ' ')"
SUPPK=$(jq -r .supervisor_public_key "$W/init.json")
ADMIN=$(cat "$W/admin.tok")

# wrong passphrase: the daemon refuses to start
echo wrong >"$W/badpass"
"$B/keysupd" --data "$W/d" --listen 127.0.0.1:0 --passphrase-file "$W/badpass" >/dev/null 2>&1
check "wrong passphrase refused" 1 $?

start
api GET /healthz ""; check healthz "200" "$ST"
api GET /v1/ping ""; check ping "200" "$ST"
api GET /metrics ""; check metrics "200" "$ST"
check "metrics text" 1 "$(grep -c '^keysup_http_requests_total ' <<<"$BODY")"

# ----- tokens and roles -----
api POST /v1/tokens "$ADMIN" '{"name":"op","role":"operator"}'; check "token create" 201 "$ST"
OP=$(jq -r .token <<<"$BODY")
api POST /v1/tokens "$ADMIN" '{"name":"aud","role":"auditor"}'; AUD=$(jq -r .token <<<"$BODY")
api POST /v1/tokens "$ADMIN" '{"name":"x","role":"king"}'; check "token bad role" "400 BAD_REQUEST" "$ST $(code)"
api POST /v1/tokens "$OP" '{"name":"x","role":"admin"}'; check "operator cannot mint" "403 FORBIDDEN" "$ST $(code)"
api GET /v1/tokens "$ADMIN"; check "token list" "3" "$(jq '.items|length' <<<"$BODY")"
api GET /v1/keys ""; check "no token" "401 UNAUTHORIZED" "$ST $(code)"
api GET /v1/keys "kst_nope"; check "wrong token" "401 UNAUTHORIZED" "$ST $(code)"
api GET /v1/keys "$AUD"; check "auditor reads" 200 "$ST"
api POST /v1/keys "$AUD" '{"generate":true}'; check "auditor cannot write" "403 FORBIDDEN" "$ST $(code)"
api POST /v1/tokens "$ADMIN" '{"name":"tmp","role":"operator"}'; TMP=$(jq -r .token <<<"$BODY"); TMPID=$(jq .id <<<"$BODY")
api DELETE "/v1/tokens/$TMPID" "$ADMIN"; check "token revoke" 200 "$ST"
api GET /v1/keys "$TMP"; check "revoked token" 401 "$ST"
api GET /v1/nope "$ADMIN"; check "unknown endpoint" "404 NOT_FOUND" "$ST $(code)"
api DELETE /v1/keys "$ADMIN"; check "wrong method" 405 "$ST"

# ----- bad input -----
api POST /v1/keys "$OP" '{"generate":tru'; check "bad json" "400 BAD_REQUEST" "$ST $(code)"
api POST /v1/keys "$OP" '[1]'; check "json not object" "400" "$ST"
api POST /v1/keys "$OP" '{"public_key":"abc"}'; check "bad public key" "400" "$ST"
check "message names the field" 1 "$(jq -r .error.message <<<"$BODY" | grep -c public_key)"
api POST /v1/keys "$OP" '{"generate":true,"privileges":["FLY"]}'; check "unknown privilege" 400 "$ST"
check "privilege field named" 1 "$(jq -r .error.message <<<"$BODY" | grep -c privileges)"
api POST /v1/keys "$OP" '{"generate":true,"valid_from":100,"valid_until":50}'; check "bad validity" 400 "$ST"
api POST /v1/keys "$OP" '{"generate":true,"holder_id":999}'; check "unknown holder" 400 "$ST"
head -c 1100000 /dev/zero | tr '\0' 'a' >"$W/big"
ST=$(curl -s -o "$W/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $OP" \
    -H 'Content-Type: application/json' --data-binary @"$W/big" "$URL/v1/keys")
check "oversize body" 413 "$ST"
ST=$(head -c 1100000 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $OP" -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/v1/keys")
check "oversize chunked body" 413 "$ST"
api GET /v1/keys "$ADMIN"; check "nothing half-applied" 0 "$(jq .total <<<"$BODY")"

# ----- holders, keys -----
api POST /v1/holders "$OP" '{"name":"Alice","email":"a@example.com"}'; check "holder create" 201 "$ST"
HID=$(jq .id <<<"$BODY")
api POST /v1/holders "$OP" '{}'; check "holder needs name" 400 "$ST"
read -r KSEED KPK < <("$T/sup_devreq" keygen)
api POST /v1/keys "$OP" "{\"public_key\":\"$KPK\",\"holder_id\":$HID,\"privileges\":[\"SUPERVISOR\",\"VOID\"],\"form_factor\":\"nfc\",\"label\":\"alice card\"}"
check "enrol public key" 201 "$ST"
KID=$(jq -r .key_id <<<"$BODY")
check "enrol answer" "active nfc SUPERVISOR,VOID" "$(jq -r '[.state,.form_factor,(.privileges|join(","))]|join(" ")' <<<"$BODY")"
api POST /v1/keys "$OP" "{\"public_key\":\"$KPK\"}"; check "enrol twice" "409 CONFLICT" "$ST $(code)"
api POST /v1/keys "$OP" '{"generate":true,"scope":2,"privileges":["OPERATOR"]}'; check "enrol generated" 201 "$ST"
check "secret returned once" 64 "$(jq -r .secret_seed <<<"$BODY" | tr -d '\n' | wc -c)"
GID=$(jq -r .key_id <<<"$BODY")
api GET "/v1/keys/$GID" "$AUD"; check "secret not kept" "null" "$(jq -r .secret_seed <<<"$BODY")"
api GET "/v1/keys/$KID" "$AUD"; check "key show" "$KID" "$(jq -r .key_id <<<"$BODY")"
api GET /v1/keys/00000000000000000000000000000000 "$AUD"; check "key missing" 404 "$ST"
api GET /v1/keys/zz "$AUD"; check "key bad id" 404 "$ST"
api POST "/v1/keys/$KID/grant" "$OP" '{"privileges":["REFUND","Z_REPORT"]}'; check grant 200 "$ST"
check "granted" "SUPERVISOR,REFUND,VOID,Z_REPORT" "$(jq -r '.privileges|join(",")' <<<"$BODY")"
api POST "/v1/keys/$KID/revoke-privilege" "$OP" '{"privileges":["VOID"]}'; check "revoke privilege" "SUPERVISOR,REFUND,Z_REPORT" "$(jq -r '.privileges|join(",")' <<<"$BODY")"
api POST "/v1/keys/$KID/grant" "$OP" '{}'; check "grant needs privileges" 400 "$ST"
api POST "/v1/keys/$KID/validity" "$OP" '{"valid_from":1000,"valid_until":2000}'; check validity "1000 2000" "$(jq -r '"\(.valid_from) \(.valid_until)"' <<<"$BODY")"
api POST "/v1/keys/$KID/validity" "$OP" '{"valid_from":1000,"valid_until":900}'; check "validity order" 400 "$ST"
api POST "/v1/keys/$KID/validity" "$OP" '{"valid_from":0,"valid_until":0}'
# One shape (docs/api.md, "Conventions"): "no end" is null, never 0, and
# every time in unix seconds has its ISO 8601 UTC twin.
check "no end is null" "null null" "$(jq -r '"\(.valid_until) \(.valid_until_utc)"' <<<"$BODY")"
check "created_at_utc beside created_at" true \
    "$(jq -r '(.created_at | type) == "number" and (.created_at_utc | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' <<<"$BODY")"
api POST "/v1/keys/$KID/suspend" "$OP" '{}'; check suspend suspended "$(jq -r .state <<<"$BODY")"
api POST "/v1/keys/$KID/resume" "$OP" '{}'; check resume active "$(jq -r .state <<<"$BODY")"
api POST "/v1/keys/$GID/revoke" "$OP" '{}'; check revoke revoked "$(jq -r .state <<<"$BODY")"
api POST "/v1/keys/$GID/resume" "$OP" '{}'; check "revocation final" "409 CONFLICT" "$ST $(code)"
api GET "/v1/keys?state=revoked" "$AUD"; check "filter state" 1 "$(jq .total <<<"$BODY")"
api GET "/v1/keys?privilege=SUPERVISOR" "$AUD"; check "filter privilege" 1 "$(jq .total <<<"$BODY")"
api GET "/v1/keys?holder_id=$HID" "$AUD"; check "filter holder" 1 "$(jq .total <<<"$BODY")"
api GET "/v1/keys?limit=1&offset=1" "$AUD"; check "paging" "1 2" "$(jq -r '"\(.items|length) \(.total)"' <<<"$BODY")"
api GET "/v1/keys?limit=0" "$AUD"; check "bad limit" 400 "$ST"
api GET "/v1/keys?state=weird" "$AUD"; check "bad state filter" 400 "$ST"
api GET /v1/holders "$AUD"; check "holder list" 1 "$(jq '.items[0].keys' <<<"$BODY")"
api GET "/v1/holders/$HID" "$AUD"; check "holder show" 1 "$(jq '.keys|length' <<<"$BODY")"
api GET /v1/holders/999 "$AUD"; check "holder missing" 404 "$ST"

# ----- policies -----
api GET /v1/policies "$AUD"; check "policy catalogue" 15 "$(jq '.items|length' <<<"$BODY")"
api GET /v1/policies/calibrate_c03 "$AUD"; check "policy show" "true" "$(jq .seal_blocked <<<"$BODY")"
api PUT /v1/policies/void "$OP" '{"required_privileges":["VOID"]}'; check "operator cannot set policy" 403 "$ST"
api PUT /v1/policies/void "$ADMIN" '{"required_privileges":["SUPERVISOR","VOID"],"two_supervisors":true,"session_timeout":120}'
check "policy set" "200 true 120" "$ST $(jq -r '"\(.two_supervisors) \(.session_timeout)"' <<<"$BODY")"
api PUT /v1/policies/new_action "$ADMIN" '{"required_privileges":["OVERRIDE"]}'; check "policy create" 201 "$ST"
api PUT /v1/policies/void "$ADMIN" '{"required_privileges":"VOID"}'; check "policy bad privileges" 400 "$ST"
api GET /v1/policies/none "$AUD"; check "policy missing" 404 "$ST"

# ----- controllers and device enrolment -----
api POST /v1/controllers "$OP" '{"name":"door-1","site":"HQ","scope":1}'; check "controller add" 201 "$ST"
CID=$(jq .id <<<"$BODY"); PTOK=$(jq -r .provisioning_token <<<"$BODY")
api POST /v1/controllers "$OP" '{"name":"door-1"}'; check "controller dup" "409 CONFLICT" "$ST $(code)"
api POST /v1/controllers "$OP" '{"name":"pos-2","scope":2}'; CID2=$(jq .id <<<"$BODY"); PTOK2=$(jq -r .provisioning_token <<<"$BODY")
read -r DSEED DPK < <("$T/sup_devreq" keygen)
api POST /v1/device/enroll "" "{\"token\":\"ksp_bad\",\"public_key\":\"$DPK\"}"; check "enrol bad token" "401 UNAUTHORIZED" "$ST $(code)"
api POST /v1/device/enroll "" "{\"token\":\"$PTOK\",\"public_key\":\"$DPK\",\"firmware_version\":\"1.2\",\"protocol_version\":1}"
check "device enrol" 200 "$ST"
check "pins supervisor key" "$SUPPK $CID 1" "$(jq -r '"\(.supervisor_public_key) \(.controller_id) \(.scope)"' <<<"$BODY")"
api POST /v1/device/enroll "" "{\"token\":\"$PTOK\",\"public_key\":\"$DPK\"}"; check "token single use" 401 "$ST"
read -r DSEED2 DPK2 < <("$T/sup_devreq" keygen)
api POST /v1/device/enroll "" "{\"token\":\"$PTOK2\",\"public_key\":\"$DPK\"}"; check "device key reuse" 409 "$ST"
api POST /v1/device/enroll "" "{\"token\":\"$PTOK2\",\"public_key\":\"$DPK2\"}"; check "enrol second" 200 "$ST"

# ----- device requests: auth, replay -----
out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --out "$W/snap1"); check "snapshot" 200 "$out"
read -r V1 N1 R1 < <("$T/sup_devreq" verify "$W/snap1" "$SUPPK")
check "snapshot verifies (scope 1: scope-0 keys only)" "1" "$N1"
out=$(dev "$DSEED2" "$CID2" GET /v1/device/snapshot --out "$W/snap2"); read -r _ N2 _ < <("$T/sup_devreq" verify "$W/snap2" "$SUPPK")
check "scope 2 holds its key too" 2 "$N2"
out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --replay --out /dev/null); check "replay refused" "200 401" "$out"
out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --bad-sig | head -1); check "bad signature" 401 "$out"
out=$(dev "$DSEED2" "$CID" GET /v1/device/snapshot | head -1); check "other device's key" 401 "$out"
ST=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/device/snapshot"); check "unsigned device request" 401 "$ST"
api GET "/v1/audit?action=device.replay" "$AUD"; check "replay audited" 1 "$(jq .total <<<"$BODY")"
api GET "/v1/audit?action=auth.denied" "$AUD"; check "401s audited" 1 "$([ "$(jq .total <<<"$BODY")" -ge 3 ] && echo 1)"
api GET "/v1/audit?action=auth.forbidden" "$AUD"; check "403s audited" 1 "$([ "$(jq .total <<<"$BODY")" -ge 2 ] && echo 1)"
if [ -n "${PG_URL:-}" ]; then
    # A second keysupd on the same database (a copy of the data directory):
    # a nonce from one is good at the other, once.
    rm -rf "$W/d2" && cp -a "$W/d" "$W/d2"
    "$B/keysupd" --data "$W/d2" --listen 127.0.0.1:0 --port-file "$W/port2" \
        --passphrase-file "$W/pass" >>"$W/keysupd2.log" 2>&1 &
    PID2=$!
    for _ in $(seq 100); do [ -s "$W/port2" ] && break; sleep 0.05; done
    URL2=http://127.0.0.1:$(cat "$W/port2")
    out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --nonce-from "$URL2" --replay-to "$URL2" \
          --out "$W/snapx"); check "nonce from instance 2 at 1, replayed at 2" "200 401" "$out"
    out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --nonce-from "$URL2" --replay --out "$W/snapx")
    check "nonce from instance 2 at 1, replayed at 1" "200 401" "$out"
    check "instance 2 follows" 1 "$(grep -c 'cluster.start publisher=another instance' "$W/keysupd2.log")"
    kill "$PID2"; wait "$PID2"
    check "instance 2 clean" 0 "$(grep -c 'ERROR: AddressSanitizer\|runtime error' "$W/keysupd2.log")"
    # a database that cannot be reached: refused at start with its KSE code, URL not echoed
    sed -i "s|^database = .*|database = postgresql://keysup:secretpw@127.0.0.1:1/postgres|" "$W/d2/keysupd.conf"
    "$B/keysupd" --data "$W/d2" --listen 127.0.0.1:0 --passphrase-file "$W/pass" >"$W/unreach.out" 2>&1
    check "unreachable database refused" "1 1 0" "$? $(grep -c KSE-760 "$W/unreach.out") $(grep -c secretpw "$W/unreach.out")"
fi

# ----- heartbeat, publish within 2 s, delta -----
HB="{\"time\":$(date +%s),\"applied_version\":$V1,\"applied_root\":\"$R1\",\"firmware_version\":\"1.3\",\"lockout\":false}"
out=$(dev "$DSEED" "$CID" POST /v1/device/heartbeat "$HB"); check "heartbeat" 200 "$(head -1 <<<"$out")"
check "heartbeat version" "$V1" "$(tail -1 <<<"$out" | jq .version)"
api GET "/v1/controllers/$CID" "$AUD"
check "controller show" "true 1.3 $V1 false" "$(jq -r '"\(.in_sync) \(.firmware_version) \(.applied_version) \(.lockout)"' <<<"$BODY")"
check "health stored" "$V1" "$(jq .last_health.applied_version <<<"$BODY")"
t0=$(date +%s%N)
api POST /v1/keys "$OP" '{"generate":true,"privileges":["SUPERVISOR"]}'; NEWK=$(jq -r .key_id <<<"$BODY")
for _ in $(seq 40); do
    out=$(dev "$DSEED" "$CID" POST /v1/device/heartbeat "$HB"); V2=$(tail -1 <<<"$out" | jq .version)
    [ "$V2" -gt "$V1" ] && break; sleep 0.05
done
ms=$((($(date +%s%N) - t0) / 1000000))
check "new version seen within 2 s" 1 "$([ "$V2" -gt "$V1" ] && [ $ms -lt 2000 ] && echo 1)"
out=$(dev "$DSEED" "$CID" GET "/v1/device/delta/$V1" --out "$W/delta"); check "delta" 200 "$out"
read -r V2b N2b _ < <("$T/sup_devreq" apply "$W/snap1" "$W/delta" "$SUPPK" "$W/snap1b")
check "delta lands on the new root" "$V2 2" "$V2b $N2b"
out=$(dev "$DSEED" "$CID" GET "/v1/device/delta/$V2"); check "delta when current" 204 "$(head -1 <<<"$out")"
out=$(dev "$DSEED" "$CID" GET "/v1/device/delta/99999"); check "delta from the future" 409 "$(head -1 <<<"$out")"
out=$(dev "$DSEED" "$CID" GET "/v1/device/delta/abc"); check "delta bad version" 400 "$(head -1 <<<"$out")"
out=$(dev "$DSEED" "$CID" POST /v1/device/heartbeat '{bad'); check "heartbeat bad json" 400 "$(head -1 <<<"$out")"

# ----- remediation commands -----
for c in initialize time_sync unlock clear_pending replace_credential; do
    api POST "/v1/controllers/$CID/commands" "$OP" "{\"command\":\"$c\"}"; check "command $c" 202 "$ST"
done
check "replace gives a one-time code" 8 "$(jq -r .one_time_code <<<"$BODY" | tr -d '\n' | wc -c)"
check "and the new key's fingerprint beside it" 39 "$(jq -r .new_key_fingerprint <<<"$BODY" | tr -d '\n' | wc -c)"
api POST "/v1/controllers/$CID/commands" "$OP" '{"command":"reboot"}'; check "unknown command" 400 "$ST"
api POST "/v1/controllers/999/commands" "$OP" '{"command":"unlock"}'; check "command unknown controller" 404 "$ST"
api POST "/v1/controllers/$CID/commands" "$AUD" '{"command":"unlock"}'; check "auditor cannot command" 403 "$ST"
out=$(dev "$DSEED" "$CID" POST /v1/device/heartbeat "$HB"); check "commands delivered" 5 "$(tail -1 <<<"$out" | jq '.commands|length')"
CMD1=$(tail -1 <<<"$out" | jq '.commands[0].id')
check "replace carries new key" "$SUPPK" "$(tail -1 <<<"$out" | jq -r '.commands[4].args.supervisor_public_key')"
out=$(dev "$DSEED" "$CID" POST "/v1/device/commands/$CMD1/ack" '{"result":"ok"}'); check "ack" 200 "$(head -1 <<<"$out")"
out=$(dev "$DSEED" "$CID" POST "/v1/device/commands/$CMD1/ack" '{"result":"ok"}'); check "ack again harmless" 200 "$(head -1 <<<"$out")"
out=$(dev "$DSEED2" "$CID2" POST "/v1/device/commands/$CMD1/ack" '{"result":"ok"}'); check "ack other's command" 404 "$(head -1 <<<"$out")"
out=$(dev "$DSEED" "$CID" POST /v1/device/heartbeat "$HB"); check "acked command gone" 4 "$(tail -1 <<<"$out" | jq '.commands|length')"
api GET "/v1/controllers/$CID/commands" "$AUD"; check "command list" "done" "$(jq -r '.items[0].state' <<<"$BODY")"
check "auditors never see the code tag" "0 1" "$(grep -c code_tag <<<"$BODY") $(grep -c supervisor_public_key <<<"$BODY")"
api GET "/v1/controllers/$CID" "$AUD"; check "nor in controller show" 0 "$(grep -c code_tag <<<"$BODY")"

# ----- audit upload, idempotent -----
# Records as the controller sends them: with their raw bytes and chain hash,
# which keysupd re-checks (tests/e2e/audit_recs.py, attack_audit_e2e).
python3 "$(dirname "$0")/e2e/audit_recs.py" "$W/chain.json" 1 3 >"$W/recs.json"
R=$(jq -c '{records: .records[0:2]}' "$W/recs.json")
out=$(dev "$DSEED" "$CID" POST /v1/device/audit "$R"); check "audit upload" "2 0" "$(tail -1 <<<"$out" | jq -r '"\(.accepted) \(.duplicates)"')"
R=$(jq -c '{records: .records[1:3]}' "$W/recs.json")
out=$(dev "$DSEED" "$CID" POST /v1/device/audit "$R"); check "audit duplicates" "1 1 3" "$(tail -1 <<<"$out" | jq -r '"\(.accepted) \(.duplicates) \(.acked_through)"')"
out=$(dev "$DSEED" "$CID" POST /v1/device/audit '{"records":[{"time":1}]}'); check "audit needs seq" 400 "$(head -1 <<<"$out")"
api GET "/v1/controllers/$CID/audit" "$AUD"; check "audit stored once" 3 "$(jq '.items|length' <<<"$BODY")"

# ----- controllers list, provision, rotation -----
api GET /v1/controllers "$AUD"; check "controller list" 2 "$(jq .total <<<"$BODY")"
api GET /v1/controllers/abc "$AUD"; check "controller bad id" 404 "$ST"
api POST "/v1/supervisor/rotate" "$OP" '{}'; check "operator cannot rotate" 403 "$ST"
api POST "/v1/supervisor/rotate" "$ADMIN" '{}'; check "rotate" "200 2" "$ST $(jq .seq <<<"$BODY")"
NEWPK=$(jq -r .public_key <<<"$BODY")
check "rotation record served" 432 "$(jq -r .rotation_chain <<<"$BODY" | tr -d '\n' | wc -c)"
out=$(dev "$DSEED" "$CID" GET /v1/device/rotation --out "$W/chain"); check "device rotation chain" "200 216" "$out $(stat -c %s "$W/chain")"
for _ in $(seq 40); do
    dev "$DSEED" "$CID" GET /v1/device/snapshot --out "$W/snap3" >/dev/null
    r=$("$T/sup_devreq" verify "$W/snap3" "$NEWPK"); case "$r" in REFUSED*) sleep 0.05 ;; *) break ;; esac
done
check "new snapshots signed by the new key" "" "$(grep REFUSED <<<"$r")"
check "old key no longer signs" "REFUSED" "$("$T/sup_devreq" verify "$W/snap3" "$SUPPK" | cut -d' ' -f1)"
api POST "/v1/controllers/$CID2/provision" "$OP" '{}'; check "re-provision" 200 "$ST"
out=$(dev "$DSEED2" "$CID2" GET /v1/device/snapshot | head -1); check "re-provisioned key dropped" 401 "$out"

# ----- CLI through the API -----
export KEYSUP_SERVER=$URL KEYSUP_TOKEN_FILE=$W/admin.tok
"$B/keysup" key list >"$W/cli.txt"; check "cli key list" 0 $?
check "cli table" 1 "$(grep -c "^$KID" "$W/cli.txt")"
check "cli json" 3 "$("$B/keysup" key list --json | jq .total)"
check "cli key get" "$KID" "$("$B/keysup" key get "$KID" --json | jq -r .key_id)"
check "cli grant" 1 "$("$B/keysup" key grant "$KID" --privilege CALIBRATE --json | jq '[.privileges[]|select(.=="CALIBRATE")]|length')"
check "cli suspend" suspended "$("$B/keysup" key suspend "$KID" --json | jq -r .state)"
check "cli resume" active "$("$B/keysup" key resume "$KID" --json | jq -r .state)"
check "cli enrol" 64 "$("$B/keysup" key enrol --generate --privilege OPERATOR --json | jq -r .secret_seed | tr -d '\n' | wc -c)"
check "cli controller add" 1 "$("$B/keysup" controller add till-3 --scope 3 --json | jq -r .provisioning_token | grep -c ^ksp_)"
"$B/keysup" controller list >/dev/null; check "cli controller list" 0 $?
check "cli controller show" "door-1" "$("$B/keysup" controller show "$CID" --json | jq -r .name)"
check "cli command" pending "$("$B/keysup" controller command "$CID" time_sync --json | jq -r .state)"
check "cli audit" 1 "$("$B/keysup" audit list --action key.enrol --json | jq '[.total>0]|map(select(.))|length')"
check "cli holder" Bob "$("$B/keysup" holder create Bob --json | jq -r .name)"
check "cli policy" 16 "$("$B/keysup" policy list --json | jq '.items|length')"
"$B/keysup" key get 00000000000000000000000000000000 >/dev/null 2>&1; check "cli 404 exit" 1 $?
KEYSUP_TOKEN_FILE=$W/pass "$B/keysup" key list >/dev/null 2>&1; check "cli wrong token exit" 1 $?
KEYSUP_SERVER=http://127.0.0.1:1 "$B/keysup" key list >/dev/null 2>&1; check "cli no server exit" 3 $?

# ----- concurrent writers: several processes enrolling at once -----
api GET /v1/keys "$AUD"; BEFORE=$(jq .total <<<"$BODY")
CPIDS=
for p in 1 2 3 4 5 6; do
    ( for i in $(seq 20); do
        curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "Authorization: Bearer $OP" \
            -d '{"generate":true,"privileges":["OPERATOR"]}' "$URL/v1/keys"
      done >"$W/conc.$p" ) &
    CPIDS="$CPIDS $!"
done
# shellcheck disable=SC2086
wait $CPIDS
check "concurrent all 201" 120 "$(cat "$W"/conc.* | grep -c '^201$')"
api GET /v1/keys "$AUD"; check "concurrent count exact" $((BEFORE + 120)) "$(jq .total <<<"$BODY")"

# ----- kill -9 mid-write: nothing acknowledged is lost -----
( for i in $(seq 400); do
    r=$(curl -s -X POST -H "Authorization: Bearer $OP" -d '{"generate":true}' "$URL/v1/keys" 2>/dev/null)
    k=$(jq -r '.key_id // empty' <<<"$r" 2>/dev/null); [ -n "$k" ] && echo "$k"
  done >"$W/acked" ) &
WR=$!
sleep 1.0
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
wait "$WR"
ACKED=$(wc -l <"$W/acked")
start
missing=0
api GET "/v1/keys?limit=1000" "$AUD"; echo "$BODY" | jq -r '.items[].key_id' | sort >"$W/have"
api GET "/v1/keys?limit=1000&offset=1000" "$AUD"; echo "$BODY" | jq -r '.items[].key_id' | sort >>"$W/have"
sort -o "$W/have" "$W/have"
missing=$(sort "$W/acked" | comm -23 - "$W/have" | wc -l)
check "acknowledged writes survive kill -9 ($ACKED acked)" 0 "$missing"
check "some writes were acknowledged before the kill" 1 "$([ "$ACKED" -gt 0 ] && echo 1)"
api GET /healthz ""; check "healthz after restart" 200 "$ST"
out=$(dev "$DSEED" "$CID" GET /v1/device/snapshot --out "$W/snap4"); check "snapshot after restart" 200 "$out"
check "snapshot after restart verifies" "" "$("$T/sup_devreq" verify "$W/snap4" "$NEWPK" | grep REFUSED)"
api GET /metrics ""; check "metrics count heartbeats after restart" 1 "$(grep -c '^keysup_heartbeats_total 0' <<<"$BODY")"
stop
check "clean shutdown" 0 "$(grep -c 'ERROR: AddressSanitizer\|runtime error' "$W/keysupd.log")"

echo "supervisor_api: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
