#!/usr/bin/env bash
# The controller's store layouts (issue 18): a new agent formats layout 4
# (paged: a fold rewrites only the pages a change touches; per-sector erase
# counts in the maps; the overlay and maps taken from the pool too); images
# older agents formatted (layouts 1, 2 and 3, made here with
# KS_STORE_TEST_LAYOUT=1, =2 and =3) keep mounting, deciding and
# applying deltas under the new agent, and keep their layout. On both, a flipped bit in an applied record is KSE-301, repaired
# by a full download, back in step by root. The metadata (issue 18): a new
# agent formats a ring of 3 blocks of 16 sectors; a layout 4 image with the
# pair of 24-sector blocks (the agent before the ring, made here with
# KS_STORE_TEST_META=2x24) mounts, decides and takes deltas as it is, and the
# health report and `keysup flash wear` state each one's metadata.
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

# ----- older agents' images (layouts 1, 2, 3) beside a new one (layout 4)
KS_STORE_TEST_LAYOUT=1 ctl_add old 1
KS_STORE_TEST_LAYOUT=2 ctl_add mid 1
KS_STORE_TEST_LAYOUT=3 ctl_add prev 1
KS_STORE_TEST_META=2x24 ctl_add pair 1
ctl_add new 1
api key enrol --public-key "$W/k1.key" --privilege OPERATOR --scope 1 >/dev/null
KS_STORE_TEST_LAYOUT=1 ctl_run old
KS_STORE_TEST_LAYOUT=2 ctl_run mid
KS_STORE_TEST_LAYOUT=3 ctl_run prev
ctl_run pair
ctl_run new
for c in old mid prev pair new; do wait_until 10 "$c in step" in_step $c; done
[ "$(layout old)" = 1 ] || fail "old agent's store is layout $(layout old), want 1"
[ "$(layout mid)" = 2 ] || fail "mid agent's store is layout $(layout mid), want 2"
[ "$(layout prev)" = 3 ] || fail "prev agent's store is layout $(layout prev), want 3"
[ "$(layout new)" = 4 ] || fail "new agent's store is layout $(layout new), want 4"
[ "$(layout pair)" = 4 ] || fail "pair agent's store is layout $(layout pair), want 4"
ok "a new agent formats layout 4; KS_STORE_TEST_LAYOUT=1, =2 and =3 format layouts 1-3 (older agents' images)"

meta() { status "$1" "d[\"store\"][\"wear\"][\"metadata\"][\"$2\"]"; }
[ "$(meta new blocks)" = 3 ] && [ "$(meta new sectors)" = 48 ] \
    || fail "new: metadata $(meta new blocks) blocks, $(meta new sectors) sectors; want a ring of 3, 48"
for c in old pair; do
    [ "$(meta $c blocks)" = 2 ] && [ "$(meta $c sectors)" = 48 ] \
        || fail "$c: metadata $(meta $c blocks) blocks, $(meta $c sectors) sectors; want the pair, 48"
done
ok "a new agent formats a metadata ring of 3 x 16 sectors; the older images keep the pair of 2 x 24"

# ----- the layout 1-3 images and the pair under an agent that formats layout 4 with a ring
for c in old mid prev pair; do
    kill -TERM "${CTL_PID[$c]}"
    wait "${CTL_PID[$c]}" 2>/dev/null || true
    ctl_run $c
    wait_until 10 "$c in step after the restart" in_step $c
    present "$W/k1.key" $c access || fail "k1 at $c after the restart: $(cat "$W/present.err")"
done
[ "$(layout old)" = 1 ] || fail "the layout 1 image became layout $(layout old)"
[ "$(layout mid)" = 2 ] || fail "the layout 2 image became layout $(layout mid)"
[ "$(layout prev)" = 3 ] || fail "the layout 3 image became layout $(layout prev)"
for k in k2 k3; do
    api key enrol --public-key "$W/$k.key" --privilege OPERATOR --scope 1 >/dev/null
    for c in old mid prev pair new; do wait_until 10 "$c applies $k" in_step $c; done
done
[ "$(layout old)" = 1 ] || fail "a delta turned the layout 1 image into layout $(layout old)"
[ "$(layout mid)" = 2 ] || fail "a delta turned the layout 2 image into layout $(layout mid)"
[ "$(layout prev)" = 3 ] || fail "a delta turned the layout 3 image into layout $(layout prev)"
for c in old mid prev pair new; do
    present "$W/k3.key" $c access || fail "k3 at $c: $(cat "$W/present.err")"
    [ "$(status $c 'd["record_count"]')" = 3 ] || fail "$c should hold k1..k3"
done
[ "$(layout pair)" = 4 ] && [ "$(meta pair blocks)" = 2 ] || fail "the pair image changed its metadata"
grep -q 'the image has 2 metadata blocks of 24 sectors' "$W/pair.log" \
    || fail "pair: the agent did not say it kept the image's metadata"
ok "layout 1, 2 and 3 images and the pair mount under the new agent, decide and apply deltas, and keep their layout"

# ----- the health report carries the paged store's wear: the pool and retired sectors
[ "$(status new 'd["store"]["wear"]["retired_sectors"]')" = 0 ] || fail "new: retired_sectors"
[ "$(status new 'd["store"]["wear"]["erase_max"] >= 1')" = True ] || fail "new: no erase counted"
for c in new pair; do
    [ "$(status $c 'd["store"]["wear"]["erase_max"] >= d["store"]["wear"]["metadata"]["erase_max"] >= d["store"]["wear"]["metadata"]["erase_min"] >= d["store"]["wear"]["erase_min"]')" = True ] \
        || fail "$c: the metadata's counts outside the device's: $(cat "$W/$c.status.json")"
    [ "$(status $c 'd["store"]["wear"]["hottest"] in ("metadata", "audit", "pool")')" = True ] \
        || fail "$c: hottest region $(status $c 'd["store"]["wear"]["hottest"]')"
done
ok "the health report states the layout 4 store's wear (erase counts, retired sectors, the metadata ring or pair)"

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
[ "$(layout old)" = 1 ] && [ "$(layout new)" = 4 ] || fail "a repair changed a layout"
ok "a flipped bit in an applied record: KSE-301, full download, in step, on layout 1 and layout 4"

# ----- the images say the same offline (keysup flash inspect, geometry from the SUPER)
for c in old mid prev pair new; do
    kill -TERM "${CTL_PID[$c]}"
    wait "${CTL_PID[$c]}" 2>/dev/null || true
done
[ "$(img_layout old)" = 1 ] || fail "old.img: layout $(img_layout old)"
[ "$(img_layout mid)" = 2 ] || fail "mid.img: layout $(img_layout mid)"
[ "$(img_layout prev)" = 3 ] || fail "prev.img: layout $(img_layout prev)"
[ "$(img_layout new)" = 4 ] || fail "new.img: layout $(img_layout new)"
[ "$(img_layout pair)" = 4 ] || fail "pair.img: layout $(img_layout pair)"
[ "$(j "$W/new.inspect.json" 'd["layout"]["pool_used"] > 0')" = True ] || fail "new.img uses no pool sector"
ok "keysup flash inspect: old.img layout 1, mid.img layout 2, prev.img layout 3, new.img layout 4 with its pool"

# ----- keysup flash wear states the ring (and the pair) from the image alone
for c in new pair; do
    "$B/keysup" --json flash wear "$W/$c.img" >"$W/$c.wear.json" 2>"$W/$c.wear.err" \
        || fail "flash wear $c: $(cat "$W/$c.wear.err")"
done
[ "$(j "$W/new.inspect.json" 'd["layout"]["meta_blocks"], d["layout"]["meta_sectors"]')" = "(3, 16)" ] \
    || fail "new.img inspect: $(cat "$W/new.inspect.json")"
[ "$(j "$W/pair.inspect.json" 'd["layout"]["meta_blocks"], d["layout"]["meta_sectors"]')" = "(2, 24)" ] \
    || fail "pair.img inspect: $(cat "$W/pair.inspect.json")"
[ "$(j "$W/new.wear.json" 'd["metadata"]["blocks"], d["metadata"]["sectors"]')" = "(3, 48)" ] \
    || fail "new.img wear: $(cat "$W/new.wear.json")"
[ "$(j "$W/pair.wear.json" 'd["metadata"]["blocks"], d["metadata"]["sectors"]')" = "(2, 48)" ] \
    || fail "pair.img wear: $(cat "$W/pair.wear.json")"
for c in new pair; do
    [ "$(j "$W/$c.wear.json" 'd["erase_max"] >= d["metadata"]["erase_max"] >= 1 and d["life_days_10_per_day"] != 0')" = True ] \
        || fail "$c.img wear counts: $(cat "$W/$c.wear.json")"
done
ok "keysup flash wear: new.img a metadata ring of 3 blocks (48 sectors), pair.img the pair, both in the device's counts"

echo "$steps passed, 0 failed"
