#!/usr/bin/env bash
# Issue 13 item 4: storms against a real keysupd with a download limit of 1.
#  - a snapshot download resumes with Range/If-Range (206 + Content-Range,
#    the rest of the same image; another ETag gets the whole image; 416);
#  - 30 agents restarting at once while a slow client holds the only
#    download slot: they are told 503 + Retry-After, back off with jitter,
#    and all converge;
#  - 12 overlapping downloads of a 12.8 MB image leave keysupd's peak
#    memory within 3 images (the image is shared, not copied per client).
. "$(dirname "$0")/lib.sh"
T="${KS_TESTS:?KS_TESTS must point to build/tests}"
N=${STORM_AGENTS:-30}
EPIDS=()
declare -A APIDS
MPIDS=()
KEYS=1000
BIG=50000
SECTORS=512 # 2 MiB flash per agent: the per-heartbeat store check stays cheap

sup_init
printf 'max_downloads = 1\nretry_after = 1\n' >>"$W/sup/keysupd.conf"
sup_start
# Scope 1 (the agents): KEYS keys, fits their 2 MiB flash. Scope 2 (our raw
# device): BIG keys, an image larger than the loopback socket buffers,
# so a slow reader really holds its download slot.
python3 - "$W" "$KEYS" "$BIG" <<'PY'
import os, sys
w, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"{w}/keys.csv", "w") as f:
    f.write("public_key,label,privileges,scope\n")
    for i in range(n):
        f.write(f"{os.urandom(32).hex()},k{i},OPERATOR,1\n")
    for i in range(big):
        f.write(f"{os.urandom(32).hex()},b{i},OPERATOR,2\n")
PY
api key import "$W/keys.csv" >"$W/imp.json" || fail "import: $(cat "$W/imp.json")"

# a device of our own for the raw requests
read -r DSEED DPK < <("$T/sup_devreq" keygen)
api controller add raw --scope 2 >"$W/raw.json" || fail "controller add"
PTOK=$(j "$W/raw.json" 'd["provisioning_token"]')
curl -s -X POST "$KEYSUP_SERVER/v1/device/enroll" -H 'Content-Type: application/json' \
    -d "{\"token\":\"$PTOK\",\"public_key\":\"$DPK\"}" >"$W/enrol.json"
CID=$(j "$W/enrol.json" 'd["controller_id"]')
SUPPK=$(j "$W/enrol.json" 'd["supervisor_public_key"]')
dev() { "$T/sup_devreq" req "$KEYSUP_SERVER" "$DSEED" "$CID" GET /v1/device/snapshot "$@"; }
hdr() { tr -d '\r' <"$1" | sed -n "s/^$2: //Ip" | tail -1; }

wait_until 30 "scope 2 published with the import" \
    sh -c "'$T/sup_devreq' req '$KEYSUP_SERVER' '$DSEED' '$CID' GET /v1/device/snapshot --out '$W/full' | grep -q 200 && [ \$(stat -c %s '$W/full') -gt $((BIG * 128)) ]"

# ----- 1. Range resume -----
out=$(dev --out "$W/full" --headers "$W/h1"); [ "$out" = 200 ] || fail "snapshot: $out"
SIZE=$(stat -c %s "$W/full")
ETAG=$(hdr "$W/h1" ETag)
[ -n "$ETAG" ] || fail "no ETag: $(cat "$W/h1")"
[ "$(hdr "$W/h1" Accept-Ranges)" = bytes ] || fail "no Accept-Ranges"
CUT=1000000
out=$(dev -H "Range: bytes=$CUT-" -H "If-Range: $ETAG" --out "$W/rest" --headers "$W/h2")
[ "$out" = 206 ] || fail "range: $out $(cat "$W/h2")"
[ "$(hdr "$W/h2" Content-Range)" = "bytes $CUT-$((SIZE - 1))/$SIZE" ] || fail "Content-Range: $(cat "$W/h2")"
{ head -c "$CUT" "$W/full"; cat "$W/rest"; } >"$W/joined"
cmp -s "$W/joined" "$W/full" || fail "head + resumed rest differs from the image"
"$T/sup_devreq" verify "$W/joined" "$SUPPK" | grep -q "^[0-9]" || fail "joined image does not verify"
ok "a download cut at $CUT of $SIZE bytes resumes: 206, Content-Range, the joined image verifies"

out=$(dev -H "Range: bytes=$CUT-" -H 'If-Range: "another-image"' --out "$W/other")
[ "$out" = 200 ] && [ "$(stat -c %s "$W/other")" = "$SIZE" ] || fail "If-Range mismatch: $out"
out=$(dev -H "Range: bytes=$SIZE-" --out /dev/null --headers "$W/h3")
[ "$out" = 416 ] && [ "$(hdr "$W/h3" Content-Range)" = "bytes */$SIZE" ] || fail "416: $out"
ok "If-Range with another ETag gets the whole image (200); a range past the end is 416"

# ----- 2. the storm -----
# register all, enrol all at once (each enrolment is a process of its own)
for i in $(seq 1 "$N"); do
    api controller add "a$i" --scope 1 >"$W/a$i.add.json" || fail "controller add a$i"
    CTL_ID[a$i]=$(j "$W/a$i.add.json" 'd["id"]')
done
for i in $(seq 1 "$N"); do
    "$B/keysup-controller" enroll --flash "$W/a$i.img" --sectors $SECTORS --supervisor "$KEYSUP_SERVER" \
        --token "$(j "$W/a$i.add.json" 'd["provisioning_token"]')" >"$W/a$i.enroll.log" 2>&1 &
    EPIDS+=("$!")
done
for p in "${EPIDS[@]}"; do wait "$p" || fail "an enrolment failed"; done
sleep 1
# The slow client holds the one download slot for several seconds.
dev --limit-rate $((SIZE / 8)) --out "$W/slow" >"$W/slow.status" &
SLOW=$!
PIDS+=("$SLOW")
sleep 0.5
out=$(dev --out /dev/null --headers "$W/h4")
[ "$out" = 503 ] || fail "a second download while the slot is held: $out"
RA=$(hdr "$W/h4" Retry-After)
[ -n "$RA" ] && [ "$RA" -ge 1 ] || fail "503 without Retry-After: $(cat "$W/h4")"
ok "a download beyond max_downloads = 1 is 503 with Retry-After: $RA"

T0=$(now_ms)
for i in $(seq 1 "$N"); do
    "$B/keysup-controller" run --flash "$W/a$i.img" --sectors $SECTORS --socket "$W/a$i.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/a$i.log" 2>&1 &
    APIDS[$i]=$!
    PIDS+=("$!")
done
wait "$SLOW" || true
[ "$(cat "$W/slow.status")" = 200 ] && cmp -s "$W/slow" "$W/full" || fail "the slow download"
# converged: every agent reports the published version and root (the
# supervisor's in_sync, one request for all of them)
all_in_sync() {
    api controller list --limit 1000 >"$W/list.json" || return 1
    [ "$(j "$W/list.json" 'sum(1 for c in d["items"] if c["name"].startswith("a") and c["in_sync"])')" = "$N" ]
}
wait_until 150 "all $N agents in step" all_in_sync
T1=$(now_ms)
BUSY=$(grep -l "sync.busy HTTP 503" "$W"/a*.log | wc -l)
[ "$BUSY" -ge 1 ] || fail "no agent was told to wait"
grep -h "sync.busy" "$W"/a*.log | head -3
ok "$N agents restarting at once converge in $(( (T1 - T0) / 1000 )) s; $BUSY were told 503 and backed off with jitter"

# ----- 3. memory: many downloads at once share one image -----
for i in $(seq 1 "$N"); do kill -TERM "${APIDS[$i]}" 2>/dev/null || true; done
sup_stop
printf 'max_downloads = 16\n' >>"$W/sup/keysupd.conf"
# ASan's quarantine keeps every freed block for a while: without it, RSS
# follows what keysupd really holds rather than the requests' churn.
ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0" sup_start
out=$(dev --out "$W/warm"); [ "$out" = 200 ] || fail "after restart: $out"
RSS0=$(awk '/VmHWM/ {print $2}' "/proc/$SUP_PID/status")
M=12
for k in $(seq 1 $M); do
    dev --limit-rate $((SIZE / 3)) --out "$W/par$k" >"$W/par$k.status" &
    MPIDS+=("$!")
done
for p in "${MPIDS[@]}"; do wait "$p" || fail "a parallel download"; done
for k in $(seq 1 $M); do
    [ "$(cat "$W/par$k.status")" = 200 ] && cmp -s "$W/par$k" "$W/warm" || fail "parallel download $k"
done
RSS1=$(awk '/VmHWM/ {print $2}' "/proc/$SUP_PID/status")
GROW=$(( (RSS1 - RSS0) * 1024 ))
echo "keysupd peak RSS ${RSS0} kB -> ${RSS1} kB (+$GROW bytes) for $M slow downloads of $SIZE bytes at once"
# A copy per client would add M images; the shared image adds none.
[ "$GROW" -lt $(( SIZE * 3 )) ] || fail "keysupd peak memory grew by $GROW bytes for $M downloads of $SIZE"
ok "$M overlapping downloads of a $SIZE-byte image: keysupd peak memory +$((GROW / 1024)) kB (< 3 images)"
sup_stop
echo "all $steps storm steps passed"
