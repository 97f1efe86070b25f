#!/usr/bin/env bash
# Issue 17 row 3: bytes written into the flash image FILE under a running
# agent (not through `ctl fault`). The medium scrub reads the file a slice
# per heartbeat; within the stated scrub time (8 heartbeats) the agent
# reports KSE-301 with the place, repairs by a full download, and a revoked
# key is never granted meanwhile. A change in space the store does not use
# is noticed but costs no download.
source "$(dirname "$0")/lib.sh"

FLAGS=(--sector-size 4096 --prog-size 16 --meta-sectors 16 --audit-sectors 64 --counters 256 --overlay-sectors 16)
sup_init
sup_start
keygen bob; keygen dave
ctl_add c1 1
ctl_run c1
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/bob.json"
api key enrol --public-key "$W/dave.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/dave.json"
wait_until 10 "c1 in step" in_step c1
api key revoke "$(j "$W/dave.json" 'd["key_id"]')" >/dev/null
wait_until 5 "dave's revocation at c1" in_step c1
present "$W/dave.key" c1 void && fail "revoked dave granted before the fault"
"$B/keysup" flash check "$W/c1.img" "${FLAGS[@]}" >"$W/check0.out" 2>&1 || fail "image not clean before the fault: $(cat "$W/check0.out")"

# Where bob's record lies in the file: the key id is in the record.
BOB=$(j "$W/bob.json" 'd["key_id"]')
off=$(python3 - "$W/c1.img" "$BOB" <<'PY'
import sys
img = open(sys.argv[1], 'rb').read()
kid = bytes.fromhex(sys.argv[2])
i = img.find(kid)
print(i)
PY
)
[ "$off" -gt 0 ] || fail "bob's record not found in the image"
# Something else writes 4 bytes into the file (the agent keeps running).
printf '\xde\xad\xbe\xef' | dd of="$W/c1.img" bs=1 seek=$((off + 20)) conv=notrunc status=none
t0=$(now_ms)
"$B/keysup" flash check "$W/c1.img" "${FLAGS[@]}" >"$W/check1.out" 2>&1 && fail "flash check passes a damaged file"
# Meanwhile: the revoked key is refused every time, until the repair.
seen=""
while [ $(( $(now_ms) - t0 )) -lt 16000 ]; do
    present "$W/dave.key" c1 void reader-d && fail "revoked key granted while the medium is damaged"
    if grep -q "KSE-301 STORE_CORRUPT at flash byte" "$W/c1.log"; then seen=$(( $(now_ms) - t0 )); break; fi
    sleep 0.2
done
[ -n "$seen" ] || fail "no KSE-301 within 16 s (the stated 8 heartbeats of 1 s, + margin for a loaded machine) of damaging the file"
at=$(grep -o "KSE-301 STORE_CORRUPT at flash byte [0-9]*" "$W/c1.log" | head -1 | grep -o "[0-9]*$")
sector=$((off / 4096))
[ $((at / 4096)) -eq "$sector" ] || fail "KSE-301 names byte $at (sector $((at / 4096))), damage was in sector $sector"
ok "file damaged under a running agent: KSE-301 at byte $at (sector $sector) after $seen ms; revoked key refused throughout"

wait_until 10 "c1 repaired and in step" in_step c1
wait_until 5 "store ok" sh -c "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"store\"][\"integrity\"])')\" = ok ]"
present "$W/bob.key" c1 void || fail "bob refused after the repair: $(cat "$W/present.err")"
present "$W/dave.key" c1 void reader-e && fail "revoked dave granted after the repair"
grep -q "sync.full_download" "$W/c1.log" || fail "no full download"
ok "repaired by a full download: bob granted, dave refused, integrity ok"

# The supervisor may have queued its own repair (initialize) when it saw the
# damage; let that land first so its download is not counted against the
# change below.
if grep -q "queued initialize" "$W/keysupd.log"; then
    wait_until 10 "the supervisor's initialize acknowledged" grep -q "event=command.ack" "$W/keysupd.log"
fi
sleep 2

# A change in erased space at the end of the medium: noticed, no download.
downloads=$(grep -c "sync.full_download" "$W/c1.log")
last=$(( $(stat -c %s "$W/c1.img") - 4096 ))
python3 - "$W/c1.img" "$last" <<'PY' || fail "last sector is not erased"
import sys
img = open(sys.argv[1], 'rb').read()
assert img[int(sys.argv[2]):] == b'\xff' * 4096
PY
printf '\x00\x00\x00\x00' | dd of="$W/c1.img" bs=1 seek=$((last + 100)) conv=notrunc status=none
wait_until 16 "change in unused space noticed" grep -q "byte $((last + 100)) is outside live data" "$W/c1.log"
sleep 2
[ "$(grep -c "sync.full_download" "$W/c1.log")" = "$downloads" ] || fail "a change in unused space caused a download"
present "$W/bob.key" c1 void || fail "bob refused after a change in unused space"
ok "change in unused space: noticed by the scrub, no download"
echo "all fault_scrub steps passed"
