#!/usr/bin/env bash
# Attack: someone on the site network throttles the controller's snapshot
# download to two bytes a second (TLS does not stop that: it only needs to
# delay TCP segments). curl's "no byte for a deadline" rule never fires, and
# the download ran inside the heartbeat: before the fix the agent sent no
# heartbeat, learned no published version and raised nothing for as long as
# the drip lasted. Now one snapshot attempt is bounded (ten request
# deadlines); the part that came is kept and resumed, and heartbeats go on
# in between. Once the link is honest again the download completes.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"

sup_init
sup_start
python3 - "$W" <<'PY'
import os, sys
with open(f"{sys.argv[1]}/keys.csv", "w") as f:
    f.write("public_key,label,privileges,scope\n")
    for i in range(200):
        f.write(f"{os.urandom(32).hex()},k{i},OPERATOR,1\n")
PY
api key import "$W/keys.csv" >"$W/imp.json" || fail "import: $(cat "$W/imp.json")"

touch "$W/drip"
python3 "$HERE/drip_proxy.py" "$KEYSUP_SERVER" "$W/proxy.port" "$W/proxy.log" "$W/drip" &
PIDS+=($!)
wait_until 10 "proxy" test -s "$W/proxy.port"
PROXY="http://127.0.0.1:$(cat "$W/proxy.port")"

ctl_add d1 1
"$B/keysup-controller" run --flash "$W/d1.img" --socket "$W/d1.sock" --supervisor "$PROXY" \
    --heartbeat 1 >>"$W/d1.log" 2>&1 &
PIDS+=($!)
wait_until 10 "the first snapshot request" grep -q "GET /v1/device/snapshot" "$W/proxy.log"
t0=$(now_ms)
# Ten request deadlines (2 s at a 1 s heartbeat) bound the attempt: 20 s,
# then the next heartbeat. 30 s leaves room for a loaded machine.
wait_until 30 "a heartbeat while the snapshot drips" sh -c "[ \$(awk -v t=$t0 '\$1 > t && \$3 == \"/v1/device/heartbeat\"' \"$W/proxy.log\" | wc -l) -ge 1 ]"
ok "heartbeats go on while the download drips ($(( $(now_ms) - t0 )) ms to the next one)"

rm -f "$W/drip"
wait_until 60 "d1 in step once the link is honest" in_step d1
ok "the link honest again: the download completed, d1 is in step"
echo "attack_drip_e2e: all $steps steps passed"
