#!/usr/bin/env bash
# A controller whose flash sectors start to fail (issue 18, KSE-311). Pool
# sectors worn out on purpose (fault wear_pool: their erases and programs
# fail) are met by the next full download, which retires them and writes its
# pages elsewhere: the controller keeps deciding right, its health report
# counts the retired sectors and the spare left, the supervisor's diagnosis
# warns KSE-311 with the projected life, `keysup controller show` carries the
# wear, and `keysup flash wear` states the same counts offline from the image,
# with a projection at a given rate.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
for k in k1 k2; do keygen $k; done
ctl_add c1 1
api key enrol --public-key "$W/k1.key" --privilege OPERATOR --scope 1 >/dev/null
ctl_run c1
wait_until 10 "c1 in step" in_step c1

wear() { status c1 "d[\"store\"][\"wear\"][\"$1\"]"; }
[ "$(wear retired_sectors)" = 0 ] || fail "a new store has retired sectors"
[ "$(wear retired_max)" = 32 ] || fail "retired_max: $(wear retired_max), want 32"
api diagnose "${CTL_ID[c1]}" >"$W/diag0.json" || fail "diagnose"
grep -q 'KSE-311' "$W/diag0.json" && fail "KSE-311 before any sector failed: $(cat "$W/diag0.json")"
ok "a healthy store: no retired sector, a spare of 32, no KSE-311"

# ----- two pool sectors wear out; a full download meets them
ctl c1 fault wear_pool 2 >/dev/null || fail "fault wear_pool"
api controller command "${CTL_ID[c1]}" initialize >/dev/null
retired_is() { [ "$(wear retired_sectors)" = "$1" ]; }
wait_until 15 "c1 retires the two worn sectors" retired_is 2
wait_until 10 "c1 in step after the full download" in_step c1
present "$W/k1.key" c1 access || fail "k1 after the retirement: $(cat "$W/present.err")"
present "$W/k2.key" c1 access && fail "k2 (never enrolled) granted"
[ "$(status c1 'd["store"]["integrity"]')" = ok ] || fail "integrity after retiring"
ok "the full download retired the 2 worn sectors, wrote elsewhere, and decides right"

# ----- the diagnosis warns KSE-311 with the spare left and the projection
diag311() {
    api diagnose "${CTL_ID[c1]}" >"$W/diag.json" || return 1
    python3 - "$W/diag.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for a in d["areas"]:
    for f in a["findings"]:
        if f["code"] == "KSE-311":
            ev = f.get("evidence", "")
            assert "2 flash sector(s)" in ev and "retire 30 more" in ev, ev
            assert "replacement" in " ".join(f.get("steps", [])), f
            sys.exit(0)
sys.exit(1)
PY
}
wait_until 15 "keysup diagnose shows KSE-311" diag311
ok "keysup diagnose: KSE-311 with 2 retired, 30 left, and the replacement step"

# ----- keysup controller show carries the wear of the last health report
ctl_show c1 || fail "controller show"
python3 - "$W/c1.show.json" <<'PY' || fail "controller show has no store wear: $(cat "$W/c1.show.json")"
import json, sys
d = json.load(open(sys.argv[1]))
def find(o):
    if isinstance(o, dict):
        if "wear" in o and isinstance(o["wear"], dict):
            return o["wear"]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    return None
w = find(d)
assert w is not None and w["retired_sectors"] == 2 and w["erase_max"] >= 1, w
assert "life_days" in w and "write_amplification" in w and "erase_min" in w, w
PY
ok "keysup controller show: erase counts, retired sectors, write amplification, life"

# ----- the image, offline: the same counts and a projection at --rate
kill -TERM "${CTL_PID[c1]}"
wait "${CTL_PID[c1]}" 2>/dev/null || true
api flash wear "$W/c1.img" --rate 100 >"$W/wear.json" 2>"$W/wear.err" \
    || fail "flash wear: $(cat "$W/wear.err")"
[ "$(j "$W/wear.json" 'd["retired_sectors"]')" = 2 ] || fail "image: $(cat "$W/wear.json")"
[ "$(j "$W/wear.json" 'd["rate_per_day"] == 100 and "life_days_at_rate" in d')" = True ] \
    || fail "flash wear --rate: $(cat "$W/wear.json")"
[ "$(j "$W/wear.json" 'd["erase_max"] >= d["erase_min"] and d["commits"] >= 2')" = True ] \
    || fail "flash wear counts: $(cat "$W/wear.json")"
"$B/keysup" flash wear "$W/c1.img" --rate 0x >/dev/null 2>&1 && fail "--rate 0x accepted"
ok "keysup flash wear IMAGE --rate 100: 2 retired, the life at 100 deltas a day"

echo "$steps passed, 0 failed"
