#!/usr/bin/env bash
# Attack: someone on the site LAN records the controller's signed
# licence-policy answer while enforcement is off, and later, once the
# operator has turned enforcement on, hands the controller the nonce of that
# old request (GET /v1/device/nonce is unsigned) and answers its signed
# policy request with the recorded answer. The answer is bound to the
# controller, the path and the nonce, and the nonce was the one the
# controller used, so before the fix the controller took it: enforcement
# off again, unlicensed calibration granted. Now every signed request
# carries a fresh challenge of the controller's own (X-Keysup-Challenge)
# that the answer's signature covers, so an answer recorded for another
# request never verifies (KSE answer not authentic) and the policy in force
# stays.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"

sup_init
sup_start
python3 "$HERE/replay_proxy.py" "$KEYSUP_SERVER" "$W/proxy.port" "$W/proxy.log" "$W/rec.json" \
    "$W/replay" &
PIDS+=($!)
wait_until 10 "proxy" test -s "$W/proxy.port"
PROXY="http://127.0.0.1:$(cat "$W/proxy.port")"

ctl_add c1 1
C1=${CTL_ID[c1]}
"$B/keysup-controller" run --flash "$W/c1.img" --socket "$W/c1.sock" --supervisor "$PROXY" \
    --heartbeat 1 >>"$W/c1.log" 2>&1 &
PIDS+=($!)
wait_until 10 "c1 control socket" test -S "$W/c1.sock"
wait_until 20 "the proxy recorded a policy answer" test -s "$W/rec.json"
grep -q '"enforce": *0\|"enforce":0' "$W/rec.json" || fail "recorded: $(cat "$W/rec.json")"
ok "the attacker holds a signed policy answer with enforcement off"

api licence enforce --controller "$C1" --feature calibration >"$W/enf.json" \
    || fail "enforce: $(cat "$W/enf.json")"
wait_until 20 "c1 enforces calibration" lic_eq enforce "['calibration']"
ok "the operator turned enforcement on; c1 enforces calibration"

refusals() { grep -c "answer to GET /v1/device/licence-policy" "$W/c1.log" || true; }
r0=$(refusals)
touch "$W/replay"
wait_until 30 "the proxy replayed the old answer" grep -q "replay policy" "$W/proxy.log"
# The controller acts on what it got within a fetch period (5 s): its
# refusal is logged, and then it must not have taken the answer.
refused_again() { [ "$(refusals)" -gt "$r0" ]; }
wait_until 10 "the replayed answer's refusal logged" refused_again
grep -q "licence.policy enforce=0" "$W/c1.log" && fail "c1 took the replayed answer: $(tail -5 "$W/c1.log")"
lic_eq enforce "['calibration']" || fail "enforcement lost: $(cat "$W/c1.status.json")"
ok "the replayed answer is refused; enforcement stays on"
rm -f "$W/replay"
echo "attack_replay_e2e: all $steps steps passed"
