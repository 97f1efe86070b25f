#!/usr/bin/env bash
# Store faults made the way the field makes them (issue 17, rows 1, 4, 11):
# bytes written into the controller's flash image file by something else
# while the agent is stopped, then the agent started again -- no fault hooks.
#
#  1. A damaged overlay with the supervisor unreachable: the agent falls
#     back to the older database and must refuse (KSE-303) the key revoked
#     since and the privilege removed since; an unchanged key still works.
#  4. One byte in a superseded metadata slot: at most one full download,
#     then steady state (no download loop).
# 11. `keysup flash check|inspect FILE` work with no geometry flags.
source "$(dirname "$0")/lib.sh"

img_geom=(--sector-size 4096 --prog-size 16 --meta-sectors 16 --audit-sectors 64
          --counters 256 --overlay-sectors 16)

sup_init
sup_start
for k in alice bob carol; do keygen $k; done
ctl_add c1 1
ctl_run c1
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >"$W/bob.json"
api key enrol --public-key "$W/carol.key" --privilege OPERATOR --scope 1 >/dev/null
api key enrol --public-key "$W/alice.key" --privilege OPERATOR --scope 1 >"$W/alice.json"
BOB=$(j "$W/bob.json" 'd["key_id"]')
ALICE=$(j "$W/alice.json" 'd["key_id"]')
wait_until 10 "c1 in step" in_step c1
# A full download puts this version in the other area: the state the agent
# falls back to when the newer one (in the overlay) is damaged.
api controller command "${CTL_ID[c1]}" initialize >/dev/null
wait_until 10 "c1 re-initialised" grep -q "sync.full_download (initialize)" "$W/c1.log"
wait_until 10 "c1 in step" in_step c1
base=$(status c1 'd["applied_version"]')
present "$W/bob.key" c1 void reader-1 || fail "bob void before: $(cat "$W/present.err")"
present "$W/alice.key" c1 access reader-1 || fail "alice before: $(cat "$W/present.err")"

# N-1 removes bob's VOID privilege, N revokes alice: both land in the overlay.
api key revoke-privilege "$BOB" --privilege VOID >/dev/null
wait_until 10 "privilege removal at c1" in_step c1
api key revoke "$ALICE" >/dev/null
wait_until 10 "revocation at c1" in_step c1
newest=$(status c1 'd["applied_version"]')
[ "$newest" -ge $((base + 2)) ] || fail "want two deltas above $base, have $newest"
present "$W/alice.key" c1 access reader-2 && fail "revoked alice granted while in step"
ok "v$base in the other area; v$((base + 1)) drops bob's VOID, v$newest revokes alice (overlay)"
[ "$(status c1 'd["store"]["wear"]["commits"] >= 3 and d["store"]["wear"]["endurance"] == 10000 and d["store"]["wear"]["erase_max"] >= 1')" = True ] \
    || fail "wear in the health report: $(status c1 'd["store"]["wear"]')"

# ----- row 11: the image names its own geometry
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
"$B/keysup" flash check "$W/c1.img" >"$W/check0.out" 2>&1 || fail "flash check without flags: $(cat "$W/check0.out")"
"$B/keysup" --json flash inspect "$W/c1.img" >"$W/inspect0.json" 2>&1 || fail "flash inspect without flags: $(cat "$W/inspect0.json")"
[ "$(j "$W/inspect0.json" 'd["layout"]["meta_sectors"], d["layout"]["meta_blocks"]')" = "(16, 3)" ] || fail "inspect read the wrong geometry"
[ "$(j "$W/inspect0.json" 'd["layout"]["geometry_from"]')" = image ] || fail "geometry not from the image"
"$B/keysup" flash check "$W/c1.img" "${img_geom[@]}" >/dev/null 2>&1 || fail "flash check with flags"
"$B/keysup" flash check "$W/c1.img" --meta-sectors 2 >"$W/check1.out" 2>&1 && fail "a wrong --meta-sectors passed"
ok "keysup flash check/inspect FILE read the image's own geometry (flags still override)"
# issue 18: the image states its wear (counts as of the last WEAR/END record)
"$B/keysup" --json flash wear "$W/c1.img" >"$W/wear.json" 2>&1 || fail "flash wear: $(cat "$W/wear.json")"
[ "$(j "$W/wear.json" 'd["commits"] >= 2 and d["erase_max"] >= 1 and d["write_amplification"] > 0 and d["life_deltas"] > 0')" = True ] \
    || fail "flash wear: $(cat "$W/wear.json")"
ok "wear: the health report and keysup flash wear IMAGE give erase counts and projected life"

# ----- row 1: 4 bytes of the applied overlay overwritten, supervisor down
sup_stop
ovl=$(j "$W/inspect0.json" 'd["applied"]["overlay_offset"]')
python3 - "$W/c1.img" "$ovl" <<'PY' || fail "damaging the image"
import sys
# The applied overlay half's first sector, where the image puts it
# (keysup flash inspect: in layout 4 a pool sector the commit's root
# names). Overwrite 4 bytes of its first entry, as a stray write would.
off = int(sys.argv[2]) + 40
with open(sys.argv[1], "r+b") as f:
    f.seek(off)
    b = f.read(4)
    f.seek(off)
    f.write(bytes(x ^ 0xFF for x in b))
PY
"$B/keysup" flash check "$W/c1.img" >"$W/check2.out" 2>&1 && fail "flash check missed the damage"
grep -q "KSE-301" "$W/check2.out" || fail "flash check: want KSE-301, got $(cat "$W/check2.out")"
ctl_run c1
wait_until 5 "c1 reports the fallback" sh -c "\"$B/keysup-controller\" ctl --socket \"$W/c1.sock\" --json status | grep -q '\"fell_back\": true'"
[ "$(status c1 'd["applied_version"]')" -lt "$newest" ] || fail "not on an older version"
[ "$(status c1 'd["store"]["stale_policy"]')" = deny_changed ] || fail "policy: $(status c1 'd["store"]')"
present "$W/alice.key" c1 access reader-3 && fail "REVOKED alice granted from the fallback state"
grep -q "KSE-303" "$W/present.err" || fail "alice: want KSE-303, got $(cat "$W/present.err")"
present "$W/bob.key" c1 void reader-4 && fail "bob granted VOID removed since the fallback version"
grep -q "KSE-303" "$W/present.err" || fail "bob void: want KSE-303, got $(cat "$W/present.err")"
present "$W/carol.key" c1 access reader-5 || fail "carol (unchanged) refused: $(cat "$W/present.err")"
ok "fallback to v$(status c1 'd["applied_version"]'): revoked alice and bob's removed VOID refused (KSE-303), carol granted"

# supervisor back: one full download repairs; alice is decided on her record
sup_start
wait_until 15 "c1 repaired and in step" in_step c1
[ "$(status c1 'd["store"]["fell_back"]')" = False ] || fail "still fallen back"
present "$W/alice.key" c1 access reader-6 && fail "alice granted after the repair"
grep -q "KSE-203" "$W/present.err" || fail "alice after repair: want KSE-203, got $(cat "$W/present.err")"
present "$W/bob.key" c1 void reader-7 && fail "bob granted VOID after the repair"
grep -q "KSE-502" "$W/present.err" || fail "bob void after repair: want KSE-502, got $(cat "$W/present.err")"
present "$W/carol.key" c1 access reader-8 || fail "carol after repair: $(cat "$W/present.err")"
api incidents --controller "${CTL_ID[c1]}" --code KSE-303 >"$W/inc303.json" || fail "incidents"
python3 - "$W/inc303.json" <<'PY' || fail "no KSE-303 incident for the fallback: $(cat "$W/inc303.json")"
import json, sys
d = json.load(open(sys.argv[1]))
items = d["items"] if isinstance(d, dict) and "items" in d else d
assert items, "no incident"
print("KSE-303 incident:", items[0].get("evidence") or items[0])
PY
ok "link back: full download; alice refused as revoked (KSE-203), bob's VOID as removed (KSE-502); the supervisor recorded the fallback (KSE-303 incident)"

# ----- row 4: one byte in a superseded metadata slot
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
"$B/keysup" flash check "$W/c1.img" >/dev/null 2>&1 || fail "image not clean before row 4"
python3 - "$W/c1.img" <<'PY' || fail "damaging a superseded slot"
import struct, sys, zlib
# Metadata slots are 256 bytes (240 record + 16 commit unit) in 4096-byte
# sectors; block b starts at sector 16*b (a ring of three blocks of 16).
# Find the active block (the one holding the newest record: the highest
# sequence number, bytes 8..16) and a COMMIT slot superseded by a later
# COMMIT of the same area; flip one byte of its payload.
data = bytearray(open(sys.argv[1], "rb").read())
def slots(b):
    for s in range(16 * 16):
        off = (16 * b + s // 16) * 4096 + (s % 16) * 256
        if data[off:off + 2] == b"KM":
            yield off, data[off + 2], data[off + 24], struct.unpack_from("<Q", data, off + 8)[0]
blocks = [list(slots(b)) for b in range(3)]
act = max(blocks, key=lambda b: max((q for *_, q in b), default=0))
commits = [(o, area) for o, t, area, _ in act if t == 3]
victim = None
for i, (o, area) in enumerate(commits):
    if any(a == area for _, a in commits[i + 1:]):
        victim = o
        break
assert victim is not None, "no superseded COMMIT slot"
data[victim + 24 + 100] ^= 0x01
open(sys.argv[1], "wb").write(data)
PY
: >"$W/c1.log"
ctl_run c1
wait_until 15 "c1 in step after the metadata damage" in_step c1
sleep 6  # six more heartbeats: a loop would download again
n=$(grep -c "sync.full_download" "$W/c1.log" || true)
[ "$n" -le 1 ] || fail "$n full downloads for one dead metadata slot (a loop)"
[ "$(status c1 'd["store"]["integrity"]')" = ok ] || fail "store still damaged: $(status c1 'd["store"]')"
kill -TERM "${CTL_PID[c1]}"; wait "${CTL_PID[c1]}" 2>/dev/null || true
"$B/keysup" flash check "$W/c1.img" >"$W/check3.out" 2>&1 || fail "damage left on flash: $(cat "$W/check3.out")"
ok "superseded metadata slot damaged: $n full download(s), then steady state; flash check clean"

echo "store faults e2e: all $steps steps passed"
