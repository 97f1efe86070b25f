#!/usr/bin/env bash
# Issue 13 item 4: a controller's snapshot download cut by the link resumes.
# A proxy cuts the agent's first full download after half the image; the
# agent keeps the half and its ETag, asks for the rest (Range + If-Range),
# joins and verifies the image, and converges; nothing is downloaded twice.
. "$(dirname "$0")/lib.sh"
KEYS=3000

sup_init
sup_start
python3 - "$W" "$KEYS" <<'PY'
import os, sys
w, n = sys.argv[1], int(sys.argv[2])
with open(f"{w}/keys.csv", "w") as f:
    f.write("public_key,label,privileges,scope\n")
    for i in range(n):
        f.write(f"{os.urandom(32).hex()},k{i},OPERATOR,1\n")
PY
api key import "$W/keys.csv" >"$W/imp.json" || fail "import: $(cat "$W/imp.json")"

python3 "$(dirname "$0")/cut_proxy.py" "$KEYSUP_SERVER" "$W/proxy.port" "$W/proxy.log" 1 &
PIDS+=($!)
wait_until 10 "proxy" test -s "$W/proxy.port"
PROXY="http://127.0.0.1:$(cat "$W/proxy.port")"

ctl_add r1 1
"$B/keysup-controller" run --flash "$W/r1.img" --socket "$W/r1.sock" --supervisor "$PROXY" \
    --heartbeat 1 >>"$W/r1.log" 2>&1 &
PIDS+=($!)
wait_until 60 "r1 in step through the flaky link" in_step r1
grep -q "^cut " "$W/proxy.log" || fail "the proxy cut nothing: $(cat "$W/proxy.log")"
grep -q "sync.download_cut kept=" "$W/r1.log" || fail "the agent kept nothing: $(cat "$W/r1.log")"
HALF=$(sed -n 's/^cut \([0-9]*\) of.*/\1/p' "$W/proxy.log")
grep -q "^range bytes=$HALF- if-range \"[0-9a-f]*\" -> 206" "$W/proxy.log" \
    || fail "no resume from byte $HALF: $(cat "$W/proxy.log")"
grep -q "sync.download_resumed from=$HALF" "$W/r1.log" || fail "not resumed: $(cat "$W/r1.log")"
[ "$(grep -c "^cut \|^range" "$W/proxy.log")" = 2 ] || fail "more downloads than cut + resume: $(cat "$W/proxy.log")"
ok "a download cut at byte $HALF resumed with Range/If-Range (206); the joined image installed and r1 is in step"
sup_stop
echo "all $steps resume steps passed"
