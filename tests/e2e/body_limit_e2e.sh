#!/usr/bin/env bash
# Request body limits come from each route's declaration (sup_route.body /
# the schema's body kind), not from matching handlers: an ordinary route is
# bounded by max_body, the bulk import (POST /v1/keys:batch, a SUP_BODY_FILE
# body) by import_max_body. Both are set small here; a body over either is
# refused 413 with a message naming the limit, announced (Content-Length)
# or streamed (chunked); a body between the two reaches the import handler.
source "$(dirname "$0")/lib.sh"

sup_init
cat >>"$W/sup/keysupd.conf" <<CONF
max_body = 2048
import_max_body = 8192
CONF
sup_start
TOK=$(cat "$W/admin.tok")

# post PATH BYTES [chunked]: "STATUS CODE MESSAGE" of the answer
post() {
    local extra=()
    [ "${3:-}" = chunked ] && extra=(-H 'Transfer-Encoding: chunked')
    head -c "$2" /dev/zero | tr '\0' 'a' >"$W/body.bin"
    local st
    st=$(curl -s -o "$W/answer.json" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" \
        -H 'Content-Type: text/csv' "${extra[@]}" --data-binary @"$W/body.bin" "$KEYSUP_SERVER$1")
    echo "$st $(j "$W/answer.json" 'd["error"]["code"]' 2>/dev/null) $(j "$W/answer.json" 'd["error"]["message"]' 2>/dev/null)"
}

for mode in length chunked; do
    r=$(post /v1/keys 3000 "$mode")
    [[ "$r" == "413 BAD_REQUEST request body larger than 2048 bytes (max_body)" ]] \
        || fail "$mode: ordinary route over max_body: $r"
    ok "$mode: POST /v1/keys over max_body: $r"

    r=$(post /v1/keys:batch 9000 "$mode")
    [[ "$r" == "413 BAD_REQUEST request body larger than 8192 bytes (import_max_body)" ]] \
        || fail "$mode: import over import_max_body: $r"
    ok "$mode: POST /v1/keys:batch over import_max_body: $r"

    # over max_body but within import_max_body: the import reads it (and
    # refuses the rows, which are not keys)
    r=$(post /v1/keys:batch 3000 "$mode")
    [[ "$r" != 413* ]] || fail "$mode: import within import_max_body refused as too large: $r"
    ok "$mode: POST /v1/keys:batch of 3000 bytes reaches the import: ${r%% *}"
done
sup_stop
echo "$steps passed, 0 failed"
