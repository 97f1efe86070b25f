#!/usr/bin/env bash
# Storm curves (issue 13 item 4): keysupd against keysup-sim at 100 / 1,000 /
# 10,000 simulated controllers (10 scopes), two storms each on a fresh keysupd:
#   powercut  the whole fleet drops off the link together (--fault offline=1),
#             a key is enrolled in scope 0 meanwhile (every scope republishes),
#             and the fleet returns at once: each controller needs a delta.
#             Convergence: from the return to every controller in step.
#   reinit    every controller's flash is corrupted at once (--fault corrupt=1):
#             each finds KSE-301 at its next heartbeat and downloads the whole
#             snapshot (Initialize Terminal). Convergence: from the fault until
#             every controller has downloaded a full snapshot and is in step.
# For each: seconds to convergence, snapshots/deltas served, requests shed
# (503 KSE-121), keysupd's RSS before the storm and its peak (VmHWM) after.
#
# usage: bench/sim_storms.sh [SIZES...]     (default: 100 1000 10000)
#   HB=2 (heartbeat s)  AT=10 (s after the fleet enrolled)  OFF=20 (offline s)
#   KEYS=300 (keys valid everywhere, imported first: every image holds them; the
#   simulated flash is 48 sectors, so a few hundred keys fit a 10,000 fleet in RAM)
#   STORMS="powercut reinit"  SIM_THREADS=2  BIN=build-bench/bin  KEEP=1 keeps the logs
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/sim_lib.sh
HB=${HB:-2}
AT=${AT:-10}
OFF=${OFF:-20}
STORMS=${STORMS:-powercut reinit}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100 1000 10000)
sim_bench_init sim-storms

echo "# ${KEYS:-300} keys in every scope's image ($(( (${KEYS:-300} + 1) * 128 / 1024 )) KiB of records); heartbeat ${HB} s"
printf "%-9s %-8s %-10s %-10s %-10s %-8s %-10s %-10s %s\n" storm controllers converge_s \
    snapshots deltas shed rss_before rss_peak load
for storm in $STORMS; do
    for n in "${SIZES[@]}"; do
        d="$W/$storm.$n"
        mkdir -p "$d"
        "$BIN/keysup" init --data "$d/sup" --no-passphrase --token-out "$d/admin.tok" >/dev/null
        # the whole fleet is one address here: lift the per-address limits
        sed -i -e 's/^nonce_rate = .*/nonce_rate = 100000/' -e 's/^nonce_burst = .*/nonce_burst = 100000/' \
            -e 's/^max_connections_per_ip = .*/max_connections_per_ip = 100000/' "$d/sup/keysupd.conf"
        "$BIN/keysupd" --data "$d/sup" --listen 127.0.0.1:0 --port-file "$d/port" >"$d/keysupd.log" 2>&1 &
        SUP=$!
        wait_for 10 test -s "$d/port"
        export KEYSUP_SERVER="http://127.0.0.1:$(cat "$d/port")" KEYSUP_TOKEN_FILE="$d/admin.tok"
        "$BIN/keysup" key keygen --out "$d/k.key" --no-passphrase >/dev/null
        "$BIN/keysup" key keygen --out "$d/k0.key" --no-passphrase >/dev/null
        # records in every store from the start (the corrupt fault flips a bit in one)
        "$BIN/keysup" --json key enrol --public-key "$d/k0.key" --privilege OPERATOR --scope 0 >/dev/null
        python3 -c 'import os, sys
print("public_key,label,privileges,scope")
for i in range(int(sys.argv[1])): print(f"{os.urandom(32).hex()},k{i},OPERATOR,0")' "${KEYS:-300}" >"$d/keys.csv"
        "$BIN/keysup" key import "$d/keys.csv" >/dev/null
        fault=offline
        [ "$storm" = reinit ] && fault=corrupt
        "$BIN/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$d/admin.tok" --controllers "$n" \
            --scopes 10 --heartbeat "$HB" --threads "${SIM_THREADS:-2}" --connections "${CONNS:-1024}" \
            --enroll-rate "${ENROLL:-300}" --fault "$fault=1" --fault-at "$AT" --offline-for "$OFF" \
            --status "$d/status.json" --json >"$d/summary.json" 2>"$d/sim.log" &
        SIM=$!
        st() { j "$d/status.json" "$1"; }
        all_in() { st 'd["enrolled"] + d["failed"] == '"$n"' and d["in_step"] == d["enrolled"] > 0' | grep -q True; }
        past() { st 'd["elapsed_s"] >= '"$1" | grep -q True; }
        wait_for $((60 + n / 50)) all_in || { echo "$storm n=$n: the fleet did not converge"; exit 1; }
        load=$(cut -d' ' -f1 /proc/loadavg)
        rss0=$(rss_kb "$SUP" VmRSS)
        snap0=$(metric keysup_snapshots_served_total); delta0=$(metric keysup_deltas_served_total)
        shed0=$(metric keysup_shed_total)
        wait_for $((AT + 60)) past $((AT + 1)) || { echo "$storm n=$n: the fault never came"; exit 1; }
        if [ "$storm" = powercut ]; then
            # a change while the fleet is away: every scope republishes
            "$BIN/keysup" --json key enrol --public-key "$d/k.key" --privilege OPERATOR --scope 0 >/dev/null
            wait_for $((OFF + 60)) past $((AT + OFF)) || { echo "powercut n=$n: no return"; exit 1; }
            t0=$(now_ms)
            wait_for $((120 + n / 20)) all_in || echo "powercut n=$n: not all in step"
        else
            t0=$(now_ms)
            full() { [ $(( $(metric keysup_snapshots_served_total) - snap0 )) -ge "$(st 'd["enrolled"]')" ]; }
            wait_for $((120 + n / 20)) full || echo "reinit n=$n: not every controller downloaded"
            wait_for 60 all_in || echo "reinit n=$n: not all in step"
        fi
        t1=$(now_ms)
        printf "%-9s %-8s %-10s %-10s %-10s %-8s %-10s %-10s %s\n" "$storm" "$n" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1000}')" \
            $(( $(metric keysup_snapshots_served_total) - snap0 )) \
            $(( $(metric keysup_deltas_served_total) - delta0 )) $(( $(metric keysup_shed_total) - shed0 )) \
            "$((rss0 / 1024))MiB" "$(( $(rss_kb "$SUP" VmHWM) / 1024 ))MiB" "$load"
        kill -TERM "$SIM"; wait "$SIM" || true; SIM=
        kill -TERM "$SUP"; wait "$SUP" || true; SUP=
    done
done
echo "# convergence is measured at the status file's 1 s resolution (plus 0.2 s polling)"
