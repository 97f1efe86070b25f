#!/usr/bin/env bash
# The push path over TLS (issue 13): keysupd serving HTTPS (keysup init
# --san), an agent pinned from its provisioning token, on a 60 s heartbeat,
# holding a watch. A revocation must reach it within a few seconds: without
# the watch it would wait up to a heartbeat, so the bound fails. The answer
# carries the publisher's delta (keysup_watch_delta_total moves). A held
# TLS watch must also not block keysupd's stop.
source "$(dirname "$0")/lib.sh"

HB=60
BOUND_MS=5000

"$B/keysup" --json init --data "$W/sup" --no-passphrase --token-out "$W/admin.tok" \
    --san DNS:localhost --san IP:127.0.0.1 >"$W/init.json" || fail "init --san"
export KEYSUP_TOKEN_FILE="$W/admin.tok" KEYSUP_CACERT="$W/sup/tls-cert.pem"
sed -i -e "s/^heartbeat_interval = .*/heartbeat_interval = $HB/" "$W/sup/keysupd.conf"
rm -f "$W/port"
"$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
SUP_PID=$!
PIDS+=("$SUP_PID")
wait_until 10 "keysupd listening" test -s "$W/port"
export KEYSUP_SERVER="https://localhost:$(cat "$W/port")"
metric() { curl -s --cacert "$KEYSUP_CACERT" "$KEYSUP_SERVER/metrics" | awk -v k="$1" '$1 == k {print $2}'; }

keygen gone
api key enrol --public-key "$W/gone.key" --privilege OPERATOR --scope 1 >"$W/gone.json"
ctl_add door 1
"$B/keysup-controller" run --flash "$W/door.img" --socket "$W/door.sock" \
    --supervisor "$KEYSUP_SERVER" --heartbeat $HB --watch >>"$W/door.log" 2>&1 &
PIDS+=($!)
wait_until 10 "door control socket" test -S "$W/door.sock"
wait_until 15 "door in step over TLS" in_step door
[ "$(status door 'd["tls"]["pin"]')" = "$(j "$W/init.json" 'd["tls_pin"]')" ] || fail "door pin: $(status door 'd["tls"]')"
present "$W/gone.key" door access || fail "gone refused before the revocation: $(cat "$W/present.err")"
held() { [ "$(metric keysup_watch_held)" = 1 ]; }
wait_until 10 "the door's watch held over TLS" held
ok "an agent pinned over TLS on a ${HB} s heartbeat holds a watch"

d0=$(metric keysup_watch_delta_total)
t0=$(now_ms)
api key revoke "$(j "$W/gone.json" 'd["key_id"]')" >/dev/null || fail "revoke"
refuses() { ! present "$W/gone.key" door access && grep -q 'KSE-203' "$W/present.err" "$W/present.out"; }
wait_until 15 "the door refuses the revoked key (KSE-203)" refuses
LAST_MS=$(($(now_ms) - t0))
[ $LAST_MS -le $BOUND_MS ] || fail "the door refused the key $LAST_MS ms after the revocation (bound $BOUND_MS ms, heartbeat $HB s): not pushed"
[ "$(metric keysup_watch_delta_total)" -gt "$d0" ] || fail "the watch's answer carried no delta over TLS"
! grep -q 'sync.delta_refused' "$W/door.log" || fail "delta refused: $(grep 'sync.delta_refused' "$W/door.log")"
ok "over TLS the revocation reached the agent in $LAST_MS ms (heartbeat ${HB} s), the delta in the watch's answer"

wait_until 10 "the door's watch held again" held
t0=$(now_ms)
kill -TERM "$SUP_PID"
wait "$SUP_PID" || true
stop_ms=$(($(now_ms) - t0))
[ $stop_ms -lt 5000 ] || fail "keysupd took $stop_ms ms to stop with a TLS watch held"
ok "keysupd stopped in $stop_ms ms with a TLS watch held"
