#!/usr/bin/env bash
# The declared API (src/supervisor/sup_schema.h) against its description and
# a running keysupd:
#   1. docs/openapi.json is what `keysupd openapi` prints now (else stale);
#   2. every documented route answers (no 404 "no such endpoint", no 405);
#   3. every documented required body field is enforced: the documented
#      examples of the other required fields, this one left out, give
#      400 "field 'NAME' ...".
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
[ "$nops" -ge 39 ] || fail "only $nops operations documented"

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
[ "$enforced" -ge 15 ] || fail "only $enforced required fields checked"
ok "$enforced documented required fields are enforced"

# A declared bound and enum are enforced with the field named, before the handler.
call GET "/v1/keys?limit=1001" auditor
[ "$ST" = 400 ] && [[ "$MSG" == "query parameter 'limit' must be an integer in [1, 1000]" ]] ||
    fail "limit bound: $ST $MSG"
call POST /v1/tokens admin '{"name":"x","role":"king"}'
[ "$ST" = 400 ] && [[ "$MSG" == "field 'role' must be auditor, operator or admin" ]] ||
    fail "role enum: $ST $MSG"
call POST /v1/keys admin '{"generate":true,"form_factor":"card"}'
[ "$ST" = 400 ] && [[ "$MSG" == "field 'form_factor' must be software, usb, nfc, physical or pkcs11" ]] ||
    fail "form enum: $ST $MSG"
call GET /v1/keys/zz auditor
[ "$ST" = 404 ] && [[ "$MSG" == "no key 'zz' (a key id is 32 hex digits)" ]] || fail "key path: $ST $MSG"
ok "bounds, enums and path ids are reported with their names"
sup_stop
echo "PASS api_schema: $steps checks"
