#!/usr/bin/env bash
# The delta in the watch's answer (issue 13; docs/security.md, "The delta in
# the watch's answer"). keysupd answers a woken watch with the publisher's
# delta itself, not signed again per request. An attacker on the path
# (tests/e2e/mitm_proxy.py, mode watch_delta) flips a bit of that delta: the
# agent must refuse it exactly as it refuses a bad fetched delta, then fall
# back to fetching the delta, and still refuse the revoked key within a few
# seconds on a 60 s heartbeat (without the fallback it would wait for the
# heartbeat, so the bound fails). Then with the attacker gone the next
# revocation arrives in the answer and is applied. Last, a controller that
# reports a device protocol keysupd does not speak gets no database (KSE-401)
# through the watch either: no delta in its answer.
source "$(dirname "$0")/lib.sh"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"

HB=60
BOUND_MS=5000

sup_init
# watch_hold below the proxy's 30 s upstream timeout
sed -i -e "s/^heartbeat_interval = .*/heartbeat_interval = $HB/" -e 's/^watch_hold = .*/watch_hold = 20/' \
    "$W/sup/keysupd.conf"
sup_start
echo pass >"$W/mode"
: >"$W/mitm.log"
python3 "$SRC/tests/e2e/mitm_proxy.py" "$KEYSUP_SERVER" "$W/proxy.port" "$W/mode" "$W/mitm.log" \
    /dev/null >>"$W/proxy.log" 2>&1 &
PIDS+=($!)
wait_until 10 "proxy listening" test -s "$W/proxy.port"
PROXY="http://127.0.0.1:$(cat "$W/proxy.port")"

for k in gone1 gone2 gone3; do
    keygen $k
    api key enrol --public-key "$W/$k.key" --privilege OPERATOR --scope 1 >"$W/$k.json"
done
ctl_add door 1
"$B/keysup-controller" run --flash "$W/door.img" --socket "$W/door.sock" --supervisor "$PROXY" \
    --heartbeat $HB --watch >>"$W/door.log" 2>&1 &
PIDS+=($!)
wait_until 10 "door control socket" test -S "$W/door.sock"
wait_until 15 "door in step through the proxy" in_step door
present "$W/gone1.key" door access || fail "gone1 refused before the revocation: $(cat "$W/present.err")"
held() { [ "$(sup_metric keysup_watch_held)" = 1 ]; }
wait_until 10 "the door's watch held" held
ok "an agent on a ${HB} s heartbeat holds a watch through the proxy"

# revoke_pushed NAME: revokes NAME's key, waits for the door to refuse it; LAST_MS
refuses() { ! present "$W/$1.key" door access && grep -q 'KSE-203' "$W/present.err" "$W/present.out"; }
revoke_pushed() {
    local t0
    t0=$(now_ms)
    api key revoke "$(j "$W/$1.json" 'd["key_id"]')" >/dev/null || fail "revoke $1"
    wait_until 15 "the door refuses $1 (KSE-203)" refuses "$1"
    LAST_MS=$(($(now_ms) - t0))
    [ $LAST_MS -le $BOUND_MS ] || fail "the door refused $1 $LAST_MS ms after the revocation (bound $BOUND_MS ms, heartbeat $HB s): not pushed"
}

# ----- a tampered delta in the answer: refused like a bad fetched delta, then fetched
echo watch_delta >"$W/mode"
d0=$(sup_metric keysup_watch_delta_total)
revoke_pushed gone1
grep -q '^watch_delta GET /v1/device/watch/' "$W/mitm.log" || fail "the proxy changed no watch answer: $(cat "$W/mitm.log")"
[ "$(sup_metric keysup_watch_delta_total)" -gt "$d0" ] || fail "keysupd sent no delta in a watch answer"
grep -q 'sync.delta_refused' "$W/door.log" || fail "the tampered delta was not refused: $(tail -5 "$W/door.log")"
# the same refusal a bad fetched delta gives (ctl_sync.c delta_bytes): the
# records no longer hash to the root of the publisher's signed header
grep 'sync.delta_refused' "$W/door.log" | grep -q 'ROOT_MISMATCH' \
    || fail "refusal without its reason: $(grep 'sync.delta_refused' "$W/door.log")"
wait_until 5 "door in step after the fallback fetch" in_step door
ok "a tampered delta in the watch's answer is refused ($(grep -o 'sync.delta_refused.*' "$W/door.log" | head -1)), the delta fetched instead: gone1 refused in $LAST_MS ms"

# ----- the attacker gone: the next revocation is applied from the answer itself
echo pass >"$W/mode"
wait_until 10 "the door's watch held again" held
n0=$(grep -c 'sync.delta_refused' "$W/door.log")
d0=$(sup_metric keysup_watch_delta_total)
revoke_pushed gone2
[ "$(sup_metric keysup_watch_delta_total)" -gt "$d0" ] || fail "keysupd sent no delta in the watch answer"
[ "$(grep -c 'sync.delta_refused' "$W/door.log")" = "$n0" ] || fail "a genuine carried delta was refused: $(tail -3 "$W/door.log")"
wait_until 5 "door in step" in_step door
ok "a genuine delta in the watch's answer is applied: gone2 refused in $LAST_MS ms"

# ----- an unsupported device protocol: no database through the watch either
ctl_add old 1
"$B/keysup-controller" run --flash "$W/old.img" --socket "$W/old.sock" --supervisor "$KEYSUP_SERVER" \
    --heartbeat $HB >>"$W/old.log" 2>&1 &
OLD=$!
PIDS+=($OLD)
wait_until 10 "old control socket" test -S "$W/old.sock"
wait_until 15 "old in step" in_step old
present "$W/gone3.key" old access || fail "gone3 refused at old before the revocation: $(cat "$W/present.err")"
kill -TERM $OLD; wait $OLD || true
rm -f "$W/old.sock"
# the same unit now reports protocol 99, which keysupd does not speak (its first heartbeat, at start) and watches
"$B/keysup-controller" run --flash "$W/old.img" --socket "$W/old.sock" --supervisor "$KEYSUP_SERVER" \
    --heartbeat $HB --watch --protocol 99 >>"$W/old.log" 2>&1 &
PIDS+=($!)
wait_until 10 "old control socket" test -S "$W/old.sock"
proto0() { api controller show "${CTL_ID[old]}" >"$W/old.show.json" && [ "$(j "$W/old.show.json" 'd.get("protocol_version")')" = 99 ]; }
wait_until 10 "keysupd knows old speaks protocol 99" proto0
held2() { [ "$(sup_metric keysup_watch_held)" = 2 ]; }
wait_until 10 "both watches held" held2
d0=$(sup_metric keysup_watch_delta_total)
revoke_pushed gone3
sleep 1
[ "$(sup_metric keysup_watch_delta_total)" = $((d0 + 1)) ] \
    || fail "delta answers went from $d0 to $(sup_metric keysup_watch_delta_total): one for the door only"
present "$W/gone3.key" old access || fail "old took a database with protocol 99: $(cat "$W/present.err")"
ok "a controller on an unsupported protocol gets the signed answer, no delta (KSE-401 on its fetch): it keeps its old database; the door took gone3's revocation in $LAST_MS ms"
