#!/bin/sh
# keysup flash inspect/check/wear on a small store image (fuzz seed): clean
# image exits 0; one damaged record byte exits 1 with KSE-301 and its place.
set -eu
bin=$1; img=$2; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
geo="--sector-size 1024 --meta-sectors 3 --counters 4"
"$bin" flash check "$img" $geo
"$bin" --json flash inspect "$img" $geo --records 2 | grep -q '"version": 1'
cp "$img" "$tmp/d.img"
printf '\000' | dd of="$tmp/d.img" bs=1 seek=8320 conv=notrunc 2>/dev/null
set +e
"$bin" --json flash check "$tmp/d.img" $geo > "$tmp/out" 2>&1; rc=$?
set -e
cat "$tmp/out"
[ "$rc" -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -q '"code": "KSE-301"' "$tmp/out"
grep -q 'sector 8 offset 128' "$tmp/out"
"$bin" flash inspect "$tmp/d.img" $geo | grep -q 'status: *DAMAGED'
"$bin" flash check "$img" --sector-size 1000 >/dev/null 2>&1 && exit 1
# flash wear: an image written before the store counted wear has no counts
# yet, so no projection (-1); a bad --endurance is a usage error
"$bin" --json flash wear "$img" $geo > "$tmp/wear"
grep -q '"life_deltas": -1' "$tmp/wear"
grep -q '"endurance": 10000' "$tmp/wear"
# the human form prints the real numbers (it once printed "?" for them)
"$bin" flash wear "$img" $geo | grep -q '^life_deltas: *-1$'
# the layout the image's SUPER names (this seed predates layout 2)
"$bin" flash inspect "$img" $geo | grep -q '^  version: *1$'
"$bin" --json flash wear "$img" $geo --endurance 5000 | grep -q '"endurance": 5000'
set +e
"$bin" flash wear "$img" $geo --endurance x >/dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "flash wear --endurance x: expected exit 2, got $rc"; exit 1; }
echo "store cli: ok"
