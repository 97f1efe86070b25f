#!/usr/bin/env bash
# The declared API (src/supervisor/sup_schema.h) against its description and
# a running keysupd:
#   1. docs/openapi.json is what `keysupd openapi` prints now (else stale);
#   2. every documented route answers (no 404 "no such endpoint", no 405);
#   3. every documented required body field is enforced: the documented
#      examples of the other required fields, this one left out, give
#      400 "field 'NAME' ...";
#   4. no JSON route is left undeclared (only the console's static files).
# Needs: KS_BIN, KS_TESTS (sup_devreq), KS_SRC (the source tree), KS_WORK; curl, jq.
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=e2e/lib.sh
source "$HERE/e2e/lib.sh"
T=${KS_TESTS:?} SPEC=${KS_SRC:?}/docs/openapi.json

"$B/keysupd" openapi >"$W/openapi.json" || fail "keysupd openapi failed"
diff -u "$SPEC" "$W/openapi.json" >"$W/openapi.diff" ||
    fail "docs/openapi.json is stale (build/bin/keysupd openapi > docs/openapi.json): $(head -40 "$W/openapi.diff")"
ok "docs/openapi.json is current"

sup_init
sup_start
ADMIN=$(cat "$W/admin.tok")
URL=$KEYSUP_SERVER

# call METHOD PATH AUTH [BODY] -> ST (status), MSG (error message); AUTH is
# public, device or a role (the admin token may do everything)
call() {
    local out
    if [ "$3" = device ]; then
        out=$("$T/sup_devreq" req "$URL" "$DSEED" "$CID" "$1" "$2" ${4+"$4"} --out "$W/body") || true
        ST=$(head -1 <<<"$out")
    else
        local a=(-s -o "$W/body" -w '%{http_code}' -X "$1" "$URL$2")
        [ "$3" != public ] && a+=(-H "Authorization: Bearer $ADMIN")
        [ $# -ge 4 ] && a+=(-H 'Content-Type: application/json' --data-binary "$4")
        ST=$(curl "${a[@]}") || true
    fi
    MSG=$(jq -r '.error.message // empty' "$W/body" 2>/dev/null || true)
}

# Controller 1 is the examples' controller (provisioned again by the route
# walk); the device requests are signed as controller 2.
call POST /v1/controllers admin '{"name":"example"}'
[ "$ST" = 201 ] || fail "controller add: $ST $MSG"
call POST /v1/controllers admin '{"name":"device"}'
CID=$(jq .id "$W/body")
PTOK=$(jq -r .provisioning_token "$W/body")
read -r DSEED DPK < <("$T/sup_devreq" keygen)
call POST /v1/device/enroll public "{\"token\":\"$PTOK\",\"public_key\":\"$DPK\"}"
[ "$ST" = 200 ] && [ "$CID" = 2 ] || fail "device enrol: $ST $MSG (controller $CID)"

# Every operation: method, path template, auth.
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[]
       | [.key, $p, .value["x-keysup-auth"]] | @tsv' "$W/openapi.json" >"$W/ops.tsv"
nops=$(wc -l <"$W/ops.tsv")
[ "$nops" -ge 62 ] || fail "only $nops operations documented"
# Every JSON route is declared: the console's, operators', decisions',
# key-file and licence routes are in the description (and walked below), and
# the schema-less tables left are the console's static files and the bulk
# import/export, whose bodies are CSV/JSON-lines files, not JSON (docs/api.md).
for p in /v1/session /v1/fleet /v1/operators "/v1/operators/{operator}/password" \
    "/v1/controllers/{controller}/decisions" /v1/keyfile /v1/licences \
    "/v1/licences/{licence}/reactivate" /v1/device/licence /v1/site-incidents; do
    jq -e --arg p "$p" '.paths[$p]' "$W/openapi.json" >/dev/null || fail "$p is not documented"
done
undeclared=$(grep -l 'const sup_route sup_routes_' "$KS_SRC"/src/supervisor/*.c |
    grep -v -e '/api_console.c$' -e '/api_keys_batch.c$' || true)
[ -z "$undeclared" ] && [ "$(grep -c 'const sup_route sup_routes_' "$KS_SRC/src/supervisor/api_console.c")" = 1 ] ||
    fail "schema-less route tables besides the console's static files and the bulk import: $undeclared"

# The device routes first: the walk rotates the supervisor key at the end.
awk -F'\t' '$3 == "device"' <"$W/ops.tsv" >"$W/order.tsv"
awk -F'\t' '$3 != "device"' <"$W/ops.tsv" >>"$W/order.tsv"

answered=0 enforced=0
while IFS=$'\t' read -r m p auth; do
    M=$(tr a-z A-Z <<<"$m")
    op=".paths[\"$p\"][\"$m\"]"
    # the path with each {name} replaced by its documented example
    path=$p
    while IFS=$'\t' read -r name ex; do
        [ -n "$name" ] && path=${path//\{$name\}/$ex}
    done < <(jq -r "$op.parameters[]? | select(.in == \"path\") | [.name, (.schema.example|tostring)] | @tsv" "$W/openapi.json")
    call "$M" "$path" "$auth"
    if [ "$ST" = 405 ] || [ "$ST" = 000 ] || [[ "$MSG" == "no such endpoint"* ]]; then
        fail "$M $p ($path) does not answer: $ST $MSG"
    fi
    answered=$((answered + 1))
    body=$(jq -c "$op.requestBody.content[\"application/json\"].schema // empty" "$W/openapi.json")
    [ -n "$body" ] || continue
    for f in $(jq -r '.required[]?' <<<"$body"); do
        sent=$(jq -c --arg f "$f" '[.required[]? as $r | select($r != $f)
                                    | {($r): .properties[$r].example}] | add // {}' <<<"$body")
        call "$M" "$path" "$auth" "$sent"
        [ "$ST" = 400 ] && [[ "$MSG" == "field '$f'"* ]] ||
            fail "$M $path without '$f' ($sent): expected 400 field '$f', got $ST $MSG"
        enforced=$((enforced + 1))
    done
done <"$W/order.tsv"
[ "$answered" = "$nops" ] || fail "walked $answered of $nops operations"
ok "all $answered documented operations answer"
[ "$enforced" -ge 24 ] || fail "only $enforced required fields checked"
ok "$enforced documented required fields are enforced"

# expect METHOD PATH AUTH BODY STATUS MESSAGE WHAT: the answer is STATUS with
# exactly MESSAGE (a trailing * allows more); BODY "" sends none.
expect() {
    if [ -n "$4" ]; then call "$1" "$2" "$3" "$4"; else call "$1" "$2" "$3"; fi
    # shellcheck disable=SC2053 # $6 is a pattern on purpose (a trailing *)
    [ "$ST" = "$5" ] && [[ "$MSG" == $6 ]] || fail "$7: expected $5 '$6', got $ST $MSG"
}

# A declared bound and enum are enforced with the field named, before the handler.
expect GET "/v1/keys?limit=1001" auditor "" 400 \
    "query parameter 'limit' must be an integer in \[1, 1000\]" "limit bound"
expect POST /v1/tokens admin '{"name":"x","role":"king"}' 400 \
    "field 'role' must be auditor, operator or admin" "role enum"
expect POST /v1/keys admin '{"generate":true,"form_factor":"card"}' 400 \
    "field 'form_factor' must be software, usb, nfc, physical or pkcs11" "form enum"
expect GET /v1/keys/zz auditor "" 404 "no key 'zz' (a key id is 32 hex digits)" "key path"
ok "bounds, enums and path ids are reported with their names"

# The console's, operators', licences' and fleet routes (declared since the
# console and licence branches): length bounds, sets, enums, KSE codes, an
# optional body.
expect GET "/v1/fleet?state=asleep" auditor "" 400 \
    "query parameter 'state' must be ok, degraded, problem or offline" "fleet state enum"
expect GET "/v1/fleet?code=KSE-999" auditor "" 400 \
    "query parameter 'code': 'KSE-999' is not a KSE code*" "fleet code"
expect GET "/v1/controllers/1/decisions?limit=0" auditor "" 400 \
    "query parameter 'limit' must be an integer in \[1, 1000\]" "decisions limit"
expect POST /v1/operators admin '{"name":"x","role":"auditor","password":"short"}' 400 \
    "field 'password' must be a string of 10 to 256 bytes" "operator password length"
expect POST /v1/keyfile operator "{\"secret_seed\":\"$(printf '0%.0s' {1..64})\",\"passphrase\":\"short\"}" \
    400 "field 'passphrase' must be a string of 10 to 256 bytes" "keyfile passphrase length"
expect POST /v1/licences admin '{"controller_id":1,"features":["base","flying"]}' 400 \
    "field 'features': element 1 is neither a known name nor a bit number in \[0, 63\]" \
    "licence features"
expect POST /v1/licences/999/reactivate admin "" 404 "no licence 999" "reactivate without a body"
ok "console, operator, licence and fleet inputs are checked before their handlers"
sup_stop
echo "PASS api_schema: $steps checks"
