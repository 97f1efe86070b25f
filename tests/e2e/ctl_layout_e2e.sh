#!/usr/bin/env bash
# The controller's store layouts (issue 18): a new agent formats layout 2
# (paged: a fold rewrites only the pages a change touches); an image an
# older agent formatted (layout 1, made here with KS_STORE_TEST_LAYOUT=1)
# keeps mounting, deciding and applying deltas under the new agent, and stays
# layout 1. On both, a flipped bit in an applied record is KSE-301, repaired
# by a full download, back in step by root.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
for k in k1 k2 k3 k4 k5; do keygen $k; done

layout() { status "$1" 'd["store"]["layout"]'; }
img_layout() {
    "$B/keysup" --json flash inspect "$W/$1.img" >"$W/$1.inspect.json" 2>"$W/$1.inspect.err" \
        || fail "flash inspect $1: $(cat "$W/$1.inspect.err")"
    j "$W/$1.inspect.json" 'd["layout"]["version"]'
}

# ----- an old agent's image (layout 1) beside a new one (layout 2)
KS_STORE_TEST_LAYOUT=1 ctl_add old 1
ctl_add new 1
api key enrol --public-key "$W/k1.key" --privilege OPERATOR --scope 1 >/dev/null
KS_STORE_TEST_LAYOUT=1 ctl_run old
ctl_run new
for c in old new; do wait_until 10 "$c in step" in_step $c; done
[ "$(layout old)" = 1 ] || fail "old agent's store is layout $(layout old), want 1"
[ "$(layout new)" = 2 ] || fail "new agent's store is layout $(layout new), want 2"
ok "a new agent formats layout 2; KS_STORE_TEST_LAYOUT=1 formats layout 1 (an older agent's image)"

# ----- the layout 1 image under an agent that formats layout 2
kill -TERM "${CTL_PID[old]}"
wait "${CTL_PID[old]}" 2>/dev/null || true
ctl_run old
wait_until 10 "old in step after the restart" in_step old
[ "$(layout old)" = 1 ] || fail "the layout 1 image became layout $(layout old)"
present "$W/k1.key" old access || fail "k1 at old after the restart: $(cat "$W/present.err")"
for k in k2 k3; do
    api key enrol --public-key "$W/$k.key" --privilege OPERATOR --scope 1 >/dev/null
    for c in old new; do wait_until 10 "$c applies $k" in_step $c; done
done
[ "$(layout old)" = 1 ] || fail "a delta turned the layout 1 image into layout $(layout old)"
for c in old new; do
    present "$W/k3.key" $c access || fail "k3 at $c: $(cat "$W/present.err")"
    [ "$(status $c 'd["record_count"]')" = 3 ] || fail "$c should hold k1..k3"
done
ok "a layout 1 image mounts under the new agent, decides and applies deltas, and stays layout 1"

# ----- the health report carries the paged store's wear: the pool and retired sectors
[ "$(status new 'd["store"]["wear"]["retired_sectors"]')" = 0 ] || fail "new: retired_sectors"
[ "$(status new 'd["store"]["wear"]["erase_max"] >= 1')" = True ] || fail "new: no erase counted"
ok "the health report states the layout 2 store's wear (erase counts, retired sectors)"

# ----- damage in an applied record: KSE-301, full download, back in step, on both layouts
for c in old new; do
    ctl $c fault corrupt_sector >/dev/null || fail "corrupt_sector at $c"
    wait_until 10 "$c reports KSE-301" grep -q 'KSE-301' "$W/$c.log"
    wait_until 10 "$c in step after the repair" sh -c \
        "[ \"\$(\"$B/keysup-controller\" ctl --socket \"$W/$c.sock\" --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"store\"][\"integrity\"])')\" = ok ]"
    wait_until 10 "$c in step after the repair" in_step $c
    for k in k1 k2 k3; do
        present "$W/$k.key" $c access || fail "$k at $c after the repair: $(cat "$W/present.err")"
    done
done
[ "$(layout old)" = 1 ] && [ "$(layout new)" = 2 ] || fail "a repair changed a layout"
ok "a flipped bit in an applied record: KSE-301, full download, in step, on layout 1 and layout 2"

# ----- the images say the same offline (keysup flash inspect, geometry from the SUPER)
for c in old new; do
    kill -TERM "${CTL_PID[$c]}"
    wait "${CTL_PID[$c]}" 2>/dev/null || true
done
[ "$(img_layout old)" = 1 ] || fail "old.img: layout $(img_layout old)"
[ "$(img_layout new)" = 2 ] || fail "new.img: layout $(img_layout new)"
[ "$(j "$W/new.inspect.json" 'd["layout"]["pool_used"] > 0')" = True ] || fail "new.img uses no pool sector"
ok "keysup flash inspect: old.img layout 1, new.img layout 2 with its pool"

echo "$steps passed, 0 failed"
