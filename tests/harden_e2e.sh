#!/usr/bin/env bash
# keysupd against a hostile client on loopback (issue 10, "Hardening"):
# init permissions, one daemon per data directory, no shared port, the last
# admin token, bad request targets (%00, control characters, invalid UTF-8)
# as 400 JSON without side effects, log injection, nonce floods beside an
# honest controller, enrolment guessing, sampled anonymous refusals and
# audit retention. Attackers use 127.0.0.2 and up (all of 127/8 is loopback).
# Needs: KS_BIN, KS_TESTS (sup_devreq), KS_WORK; curl, jq, python3.
set -u
B=${KS_BIN:?} T=${KS_TESTS:?} W=${KS_WORK:?}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$W" && mkdir -p "$W"
PASS=0 FAIL=0 PID=
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

check() { # name expected actual
    if [ "$2" == "$3" ]; then PASS=$((PASS + 1)); else FAIL=$((FAIL + 1)); echo "FAIL: $1: expected '$2', got '$3'"; fi
}
start() { # [DIR]
    rm -f "$W/port"
    "$B/keysupd" --data "${1:-$W/d}" --listen 127.0.0.1:0 --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
    PID=$!
    for _ in $(seq 200); do [ -s "$W/port" ] && break; sleep 0.05; done
    PORT=$(cat "$W/port")
    URL=http://127.0.0.1:$PORT
}
stop() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID"; PID=; }
trap 'stop' EXIT
api() { # METHOD PATH TOKEN [BODY] -> ST, BODY (curl sends the path as written)
    local a=(-s --path-as-is -o "$W/body" -w '%{http_code}' -X "$1" "$URL$2")
    [ -n "$3" ] && a+=(-H "Authorization: Bearer $3")
    [ $# -ge 4 ] && a+=(-H 'Content-Type: application/json' --data-binary "$4")
    ST=$(curl "${a[@]}")
    BODY=$(cat "$W/body")
}
code() { jq -r '.error.code // empty' <<<"$BODY" 2>/dev/null; }
metric() { curl -s "$URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# ----- init permissions: an existing 0755 directory with a 0644 file -----
mkdir -p "$W/d" && chmod 0755 "$W/d" && echo notes >"$W/d/notes.txt" && chmod 0644 "$W/d/notes.txt"
(umask 022 && "$B/keysup" init --data "$W/d" --no-passphrase --token-out "$W/admin.tok" >/dev/null)
check "init ok" 0 $?
check "data dir 0700" 700 "$(stat -c %a "$W/d")"
check "every file 0600" "" "$(find "$W/d" -type f ! -perm 0600)"
check "found file tightened" 600 "$(stat -c %a "$W/d/notes.txt")"
chmod 0755 "$W/d" && chmod 0644 "$W/d/keysup.db"
"$B/keysup" init --data "$W/d" --no-passphrase >/dev/null 2>&1
check "re-init refused" 1 $?
check "re-init still tightens" "700 600" "$(stat -c %a "$W/d") $(stat -c %a "$W/d/keysup.db")"
ADMIN=$(cat "$W/admin.tok")
cat >>"$W/d/keysupd.conf" <<'EOF'
audit_sample = 3
enroll_attempts_per_minute = 5
nonce_rate = 20
nonce_burst = 40
EOF

start
api GET /healthz ""; check healthz 200 "$ST"

# ----- one daemon per data directory, no shared port -----
"$B/keysupd" --data "$W/d" --listen 127.0.0.1:0 >"$W/second.out" 2>&1
check "second daemon refused" 1 $?
check "names the other pid" 1 "$(grep -c "pid $PID" "$W/second.out")"
"$B/keysup" init --data "$W/d2" --no-passphrase --token-out "$W/admin2.tok" >/dev/null
"$B/keysupd" --data "$W/d2" --listen "127.0.0.1:$PORT" >"$W/third.out" 2>&1 &
P3=$!
sleep 1
if kill -0 "$P3" 2>/dev/null; then kill "$P3"; wait "$P3"; R3=running; else wait "$P3"; R3=$?; fi
check "port not shared (no SO_REUSEPORT)" 1 "$R3"

# ----- the last admin token -----
api DELETE /v1/tokens/1 "$ADMIN"; check "last admin kept" "409 CONFLICT" "$ST $(code)"
check "message says why" 1 "$(jq -r .error.message <<<"$BODY" | grep -c 'last admin token')"
api GET /v1/tokens "$ADMIN"; check "still admin" 200 "$ST"
for n in a b c; do api POST /v1/tokens "$ADMIN" "{\"name\":\"op-$n\",\"role\":\"operator\"}"; done
OP=$(jq -r .token <<<"$BODY")
api POST /v1/tokens "$ADMIN" '{"name":"admin-2","role":"admin"}'; ADMIN2=$(jq -r .token <<<"$BODY"); A2ID=$(jq .id <<<"$BODY")
api DELETE /v1/tokens/1 "$ADMIN2"; check "revoke first admin with a second" 200 "$ST"
api DELETE "/v1/tokens/$A2ID" "$ADMIN2"; check "then the second is the last" "409 CONFLICT" "$ST $(code)"

# ----- bad request targets: 400 JSON before routing, no side effect -----
api DELETE /v1/tokens/4%00/x "$ADMIN2"; check "%00 in path" "400 BAD_REQUEST" "$ST $(code)"
api GET /v1/tokens "$ADMIN2"; check "token 4 not revoked" 0 "$(jq '.items[] | select(.id == 4) | .revoked' <<<"$BODY")"
api PUT /v1/policies/nul%00x "$ADMIN2" '{"required_privileges":["VOID"]}'; check "%00 policy" "400 BAD_REQUEST" "$ST $(code)"
api GET /v1/policies/nul "$ADMIN2"; check "no policy created" 404 "$ST"
api POST /v1/controllers "$OP" '{"name":"door-1","scope":1}'; CID=$(jq .id <<<"$BODY"); PTOK=$(jq -r .provisioning_token <<<"$BODY")
api GET "/v1/controllers/$CID%00/commands" "$OP"; check "%00 before a suffix" "400 BAD_REQUEST" "$ST $(code)"
for t in %ff %c0%80 %ed%a0%80 x%0Ay x%7f x%c2%85 x%09y 'x?q=%00'; do
    api GET "/v1/keys/$t" "$OP"; check "target $t" "400 BAD_REQUEST" "$ST $(code)"
done
check "message names the problem" 1 "$(jq -r .error.message <<<"$BODY" | grep -c NUL)"
api GET /v1/keys/caf%C3%A9 "$OP"; check "valid UTF-8 is routed" 404 "$ST"
api GET "/v1/audit?action=http.bad_target&limit=1000" "$ADMIN2"
check "bad targets audited" 1 "$([ "$(jq '.items|length' <<<"$BODY")" -ge 3 ] && echo 1)"
check "no null target" 0 "$(jq '[.items[] | select(.target == null)] | length' <<<"$BODY")"
check "raw target kept" 1 "$(jq -r '.items[].target' <<<"$BODY" | grep -c '^/v1/tokens/4%00/x$')"

# ----- log injection: one line, escaped -----
FORGED='2030-01-01T00:00:00Z keysupd info event=token.revoke actor=token:initial-admin'
api POST /v1/controllers "$OP" "{\"name\":\"evil\\n$FORGED\\r\\u001b[2J\",\"scope\":1}"
check "controller with a newline in its name" 201 "$ST"
api GET "/v1/keys/x%0A${FORGED// /%20}" ""
check "forged path refused" 400 "$ST"
sleep 0.3
check "no forged line" 0 "$(grep -c '^2030-01-01T00:00:00Z' "$W/keysupd.log")"
check "one escaped line" 1 "$(grep -c 'evil\\n2030-01-01T00:00:00Z keysupd info event=token.revoke' "$W/keysupd.log")"
check "no control characters in the log" 0 "$(LC_ALL=C grep -c $'[\x01-\x08\x0b-\x1f\x7f]' "$W/keysupd.log")"

# ----- nonce flood from 127.0.0.2 beside an honest controller -----
read -r DSEED DPK < <("$T/sup_devreq" keygen)
api POST /v1/device/enroll "" "{\"token\":\"$PTOK\",\"public_key\":\"$DPK\"}"; check "enrol" 200 "$ST"
python3 "$HERE/harden_load.py" flood "$PORT" --secs 4 --src 127.0.0.2 >"$W/flood.json" &
FP=$!
sleep 0.3
HB_OK=0 HB_N=0
while kill -0 "$FP" 2>/dev/null; do
    out=$("$T/sup_devreq" req "$URL" "$DSEED" "$CID" POST /v1/device/heartbeat '{"applied_version":0}' | head -1)
    HB_N=$((HB_N + 1)); [ "$out" = 200 ] && HB_OK=$((HB_OK + 1))
    sleep 0.1
done
wait "$FP"
check "honest heartbeats all answered" "$HB_N" "$HB_OK"
check "some heartbeats ran" 1 "$([ "$HB_N" -ge 5 ] && echo 1)"
F200=$(jq '."200" // 0' "$W/flood.json"); F429=$(jq '."429" // 0' "$W/flood.json")
check "flood limited (429s)" 1 "$([ "$F429" -gt 0 ] && echo 1)"
check "flood got at most burst + rate x time" 1 "$([ "$F200" -le $((40 + 20 * 5)) ] && echo 1)"
U=(); for _ in $(seq 60); do U+=("$URL/v1/device/nonce"); done
curl -s -D "$W/h" -o /dev/null --interface 127.0.0.6 "${U[@]}"
check "burst then 429" 1 "$([ "$(grep -c '^HTTP/1.1 429' "$W/h")" -ge 15 ] && echo 1)"
check "429 says when to retry" 1 "$([ "$(grep -ci "^retry-after: [0-9]" "$W/h")" -ge 15 ] && echo 1)"
check "rate limit metric" 1 "$([ "$(metric 'keysup_rate_limited_total{bucket="nonce"}')" -gt 0 ] && echo 1)"

# ----- enrolment guessing from 127.0.0.4 -----
codes=""
for i in 1 2 3 4 5 6 7; do
    codes="$codes $(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.4 -H 'Content-Type: application/json' \
        --data-binary "{\"token\":\"ksp_guess$i\",\"public_key\":\"$DPK\"}" "$URL/v1/device/enroll")"
done
check "guessing throttled" " 401 401 401 401 401 429 429" "$codes"
ST=$(curl -s -o /dev/null -w '%{http_code}' --interface 127.0.0.5 -H 'Content-Type: application/json' \
    --data-binary "{\"token\":\"ksp_x\",\"public_key\":\"$DPK\"}" "$URL/v1/device/enroll")
check "another address is not throttled" 401 "$ST"
head -c 100000 /dev/zero | tr '\0' 'a' >"$W/big"
ST=$(curl -s -o "$W/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$W/big" \
    "$URL/v1/device/enroll"); BODY=$(cat "$W/body")
check "anonymous body cap is JSON 413" "413 BAD_REQUEST" "$ST $(code)"

# ----- anonymous refusals: counted, sampled, summarised -----
before=$(metric keysup_auth_anonymous_refusals_total)
for i in $(seq 40); do curl -s -o /dev/null --interface 127.0.0.3 "$URL/v1/keys"; done
after=$(metric keysup_auth_anonymous_refusals_total)
check "refusals counted" 40 "$((after - before))"
api GET "/v1/audit?action=auth.denied&limit=1000" "$ADMIN2"
check "sampled into the audit" 3 "$(jq '[.items[] | select(.detail | test("client 127.0.0.3"))] | length' <<<"$BODY")"
check "suppressed metric" 1 "$([ "$(metric keysup_audit_refusals_suppressed_total)" -ge 37 ] && echo 1)"
stop
start
api GET "/v1/audit?action=auth.denied.summary" "$ADMIN2"
check "summary row" 1 "$(jq '[.items[] | select(.target == "client:127.0.0.3") | select(.detail | test("^37 more"))] | length' <<<"$BODY")"

# ----- audit retention -----
api GET /v1/audit "$ADMIN2"; TOTAL=$(jq .total <<<"$BODY")
stop
echo "audit_retention_rows = 10" >>"$W/d/keysupd.conf"
start
for _ in $(seq 50); do
    api GET /v1/audit "$ADMIN2"; [ "$(jq .total <<<"$BODY")" -le 11 ] && break; sleep 0.1
done
check "retention applied (had $TOTAL rows)" 1 "$([ "$(jq .total <<<"$BODY")" -le 11 ] && echo 1)"
check "newest kept" 1 "$([ "$(jq '.items[0].id' <<<"$BODY")" -ge "$TOTAL" ] && echo 1)"
check "pruned metric" 1 "$([ "$(metric keysup_audit_pruned_total)" -gt 0 ] && echo 1)"
stop

echo "harden_e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
