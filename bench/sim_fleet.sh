#!/usr/bin/env bash
# Fleet bench (issue 13): keysupd against keysup-sim at 100 / 1,000 / 10,000
# simulated controllers (10 scopes). For each fleet size: keysupd's CPU and
# RSS over a steady window, heartbeats/s with p50/p99 beside the Ed25519
# verify bound (one core's verify rate x cores, measured by keysup-sim in the
# same run), and the time from a revocation's commit to the last controller
# refusing the key (p50/p99/max).
#
# usage: bench/sim_fleet.sh [SIZES...]      (default: 100 1000 10000)
#   HB=1 (heartbeat seconds)  WINDOW=10 (steady seconds measured)
#   CONNS=1024 (the sim's kept-alive connections)  ENROLL=300 (enrolments/s)
#   BIN=build-bench/bin (a Release build: bench/run.sh makes one)  KEEP=1 keeps the logs
#   SIM_THREADS=2 (keysup-sim's worker threads: more get the load generator
#   more of a machine shared with other jobs)
#   SUP_THREADS=N (keysupd's threads; default 0: its own choice, 4 per core in 16..64)
#   SUPD=path (another keysupd binary, e.g. an older build, against the same sim)
#   SIM_ARGS="..." (more keysup-sim options, e.g. --fetch-nonce: a nonce fetched
#   before every heartbeat, as agents before the answer carried the next one)
#   PUSH=1 (the push path: every controller holds a watch between heartbeats,
#   keysup-sim --push; use a long heartbeat, e.g. HB=60, so the revocation
#   figures show the watch, not the heartbeat; each row then also prints the
#   watches keysupd held and its open descriptors; WATCH_HOLD=HB by default:
#   one watch per heartbeat interval, the least churn); with PUSH=1 the
#   revocation burst is measured on its own: keysupd's and the sim's CPU
#   from the revoke to the last refusal (beside what the steady rate would
#   have used), when keysupd answered the last woken watch, and the sim's
#   CPU per step (answer checks, delta verify and apply, the rest).
#   SIM_ARGS=--watch-fetch: the controllers fetch the delta after the
#   watch's answer instead of taking it from the answer (the path before)
# Each row is followed by the load average before and after it: on a shared
# machine the figures are only comparable with their ratio to the verify
# bound measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/sim_lib.sh
SUPD=${SUPD:-$BIN/keysupd}
HB=${HB:-1}
WINDOW=${WINDOW:-10}
PUSH=${PUSH:-0}
PUSH_ARGS=()
[ "$PUSH" = 1 ] && PUSH_ARGS=(--push)
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(100 1000 10000)
sim_bench_init sim-fleet
HZ=$(getconf CLK_TCK)

printf "%-8s %-9s %-9s %-10s %-9s %-9s %-11s %-6s %-9s %-9s %-9s %-9s\n" controllers "sup_cpu" \
    "sup_rss" "hb/s" "p50_ms" "p99_ms" "verify_bnd" ratio "rev_p50" "rev_p99" "rev_max" "sim_rss"
for n in "${SIZES[@]}"; do
    d="$W/n$n"
    mkdir -p "$d"
    "$BIN/keysup" init --data "$d/sup" --no-passphrase --token-out "$d/admin.tok" >/dev/null
    # the whole fleet is one address here: lift the per-address limits
    sed -i -e 's/^nonce_rate = .*/nonce_rate = 100000/' -e 's/^nonce_burst = .*/nonce_burst = 100000/' \
        -e 's/^max_connections_per_ip = .*/max_connections_per_ip = 100000/' \
        -e "s/^threads = .*/threads = ${SUP_THREADS:-0}/" "$d/sup/keysupd.conf"
    # the push path holds a connection per controller besides the shared ones
    [ "$PUSH" = 1 ] && sed -i -e "s/^max_connections = .*/max_connections = $((n + ${CONNS:-1024} + 1024))/" \
        -e "s/^watch_max = .*/watch_max = $((n + 1024))/" \
        -e "s/^watch_hold = .*/watch_hold = ${WATCH_HOLD:-$HB}/" "$d/sup/keysupd.conf"
    grep -q "^threads = ${SUP_THREADS:-0}\$" "$d/sup/keysupd.conf" || echo "threads = ${SUP_THREADS:-0}" >>"$d/sup/keysupd.conf"
    load0=$(cut -d' ' -f1-3 /proc/loadavg)
    "$SUPD" --data "$d/sup" --listen 127.0.0.1:0 --port-file "$d/port" >"$d/keysupd.log" 2>&1 &
    SUP=$!
    wait_for 10 test -s "$d/port"
    export KEYSUP_SERVER="http://127.0.0.1:$(cat "$d/port")" KEYSUP_TOKEN_FILE="$d/admin.tok"
    "$BIN/keysup" key keygen --out "$d/k.key" --no-passphrase >/dev/null
    "$BIN/keysup" --json key enrol --public-key "$d/k.key" --privilege OPERATOR --scope 0 >"$d/k.json"
    kid=$(j "$d/k.json" 'd["key_id"]')
    "$BIN/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$d/admin.tok" --controllers "$n" \
        --scopes 10 --heartbeat "$HB" --threads "${SIM_THREADS:-2}" --connections "${CONNS:-1024}" --enroll-rate "${ENROLL:-300}" \
        "${PUSH_ARGS[@]}" --watch-key "$kid" --status "$d/status.json" ${SIM_ARGS:-} --json >"$d/summary.json" 2>"$d/sim.log" &
    SIM=$!
    # every controller that enrolled (a few may give up after 5 refused tries: counted)
    all_in_step() { j "$d/status.json" 'd["enrolled"] + d["failed"] == '"$n"' and d["in_step"] == d["enrolled"] > 0' | grep -q True; }
    wait_for $((60 + n / 50)) all_in_step || { echo "n=$n: the fleet did not converge"; tail -3 "$d/sim.log"; exit 1; }
    sleep 2
    c0=$(ticks "$SUP"); s0=$(ticks "$SIM"); h0=$(j "$d/status.json" 'd["heartbeats"]'); t0=$(now_ms)
    x0=$(csw "$SUP"); xs0=$(csw "$SIM")
    sleep "$WINDOW"
    x1=$(csw "$SUP"); xs1=$(csw "$SIM")
    c1=$(ticks "$SUP"); s1=$(ticks "$SIM"); h1=$(j "$d/status.json" 'd["heartbeats"]'); t1=$(now_ms)
    rss=$(rss_kb "$SUP" VmRSS)
    fds=$(ls "/proc/$SUP/fd" | wc -l)
    held=$(metric keysup_watch_held)
    # revocation: timed from just before the command (its commit is inside it)
    cp "$d/status.json" "$d/before.json"
    b0=$(ticks "$SUP"); bs0=$(ticks "$SIM")
    r0=$(now_ms)
    "$BIN/keysup" key revoke "$kid" >/dev/null
    rv=$(now_ms)
    all_refused() { j "$d/status.json" 'd["watch"]["refused"] >= d["enrolled"]' | grep -q True; }
    wait_for 120 all_refused || echo "n=$n: not every controller refused the key in 120 s"
    # the burst: CPU from just before the revoke to the status file showing
    # the last refusal (that file is rewritten every second: the window runs
    # up to ~1.2 s past the last refusal, at the steady rate measured above)
    b1=$(ticks "$SUP"); bs1=$(ticks "$SIM"); rb=$(now_ms)
    cp "$d/status.json" "$d/after.json"
    lastpub=$(metric keysup_watch_last_published_timestamp_seconds | awk '{printf "%.0f", $1 * 1000}')
    carried=$(metric keysup_watch_delta_total)
    hwm=$(rss_kb "$SUP" VmHWM)
    # the diagnosis queue (sup_hbq.h; a keysupd without these metrics prints "-")
    qmet=$(curl -s "$KEYSUP_SERVER/metrics" | awk '$1 == "keysup_diag_queue_peak" {p = $2}
        $1 == "keysup_diag_queue_superseded_total" {s = $2}
        END {print (p == "" ? "-" : p) " entries at peak, " (s == "" ? "-" : s) " reports superseded"}')
    kill -TERM "$SIM"; wait "$SIM" || true; SIM=
    kill -TERM "$SUP"; wait "$SUP" || true; SUP=
    echo "#   n=$n: load average $load0 before, $(cut -d' ' -f1-3 /proc/loadavg) after"
    echo "#   n=$n: diagnosis queue $qmet"
    echo "#   n=$n: context switches per heartbeat (all threads; voluntary = a wake-up): $(awk -v a="$x0" -v b="$x1" \
        -v sa="$xs0" -v sb="$xs1" -v h="$((h1 - h0))" 'BEGIN {split(a, p); split(b, q); split(sa, r); split(sb, t)
        printf "keysupd %.2f (%.2f voluntary), keysup-sim %.2f (%.2f voluntary)", (q[1] + q[2] - p[1] - p[2]) / h,
            (q[1] - p[1]) / h, (t[1] + t[2] - r[1] - r[2]) / h, (t[1] - r[1]) / h}')"
    [ "$PUSH" = 1 ] && echo "#   n=$n: push path: $(awk '/event=watch.wake/ {for (i = 1; i <= NF; i++) {
        if ($i ~ /^woken=/) {sub("woken=", "", $i); w += $i} if ($i ~ /^ms=/) {sub("ms=", "", $i); if ($i + 0 > m) m = $i + 0}}}
        END {printf "%d watches woken by the publishes (%.1f ms at most to resume one scope'"'"'s)", w, m}' "$d/keysupd.log")"
    [ "$PUSH" = 1 ] && echo "#   n=$n: push path: ${held:--} watches held, keysupd had $fds descriptors open, $(j "$d/summary.json" 'd.get("push_wakes", "-")') syncs woken by a watch, $(j "$d/summary.json" 'd.get("push_refused", "-")') watches refused"
    [ "$PUSH" = 1 ] && python3 - "$d/before.json" "$d/after.json" "$n" "$HZ" "$r0" "$rv" "$rb" "$b0" "$b1" \
        "$bs0" "$bs1" "$c0" "$c1" "$s0" "$s1" "$t0" "$t1" "${lastpub:-0}" "${carried:-0}" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
n, hz, r0, rv, rb, b0, b1, bs0, bs1, c0, c1, s0, s1, t0, t1, lastpub, carried = map(int, sys.argv[3:])
w = b["watch"]
sec = (rb - r0) / 1000
steady = (t1 - t0) / 1000
sup_cpu, sim_cpu = (b1 - b0) / hz, (bs1 - bs0) / hz
# what the steady window's rate would have used in the same seconds
sup_bg, sim_bg = (c1 - c0) / hz / steady * sec, (s1 - s0) / hz / steady * sec
woken = b["push_wakes"] - a["push_wakes"]
carr = b.get("push_carried", 0) - a.get("push_carried", 0)
ca, cb = a.get("cpu_ns", {}), b.get("cpu_ns", {})
d = {k: cb.get(k, 0) - ca.get(k, 0) for k in ("answer_check", "answers", "delta_apply", "deltas")}
vcpu = b.get("verify_per_cpu_s") or b["verify_per_s_core"]
ver_s = d["deltas"] / vcpu  # one Ed25519 verify per delta: the publisher's header
app_s = d["delta_apply"] / 1e9
ans_s = d["answer_check"] / 1e9
rest = sim_cpu - sim_bg - app_s - ans_s
per = lambda x, k: f"{x / k * 1e6:.0f} us" if k else "-"
print(f"#   n={n}: burst (revoke to the last refusal seen, {sec:.2f} s): the revoke command returned after "
      f"{rv - r0} ms; keysupd answered the last woken watch {lastpub - r0 if lastpub else '-'} ms after it, "
      f"the last controller refused the key {w['last_ms'] - r0} ms after it")
print(f"#   n={n}: burst CPU: keysupd {sup_cpu:.2f} s ({sup_cpu / sec:.2f} cores; {sup_bg:.2f} s at the steady rate), "
      f"{per(sup_cpu - sup_bg, woken)} per woken controller; keysup-sim {sim_cpu:.2f} s ({sim_cpu / sec:.2f} cores; "
      f"{sim_bg:.2f} s at the steady rate), {per(sim_cpu - sim_bg, woken)} per woken controller")
print(f"#   n={n}: burst, the sim per step: {woken} woken, {carr} took the delta from the answer, "
      f"{woken - carr} fetched it; answer checks {d['answers']} x {per(ans_s, d['answers'])} = {ans_s:.2f} s; "
      f"deltas {d['deltas']} x {per(app_s, d['deltas'])} = {app_s:.2f} s (of which the verify, "
      f"{per(1, vcpu)} each: {ver_s:.2f} s; the store's apply {app_s - ver_s:.2f} s); "
      f"the rest (curl, the loop, the kernel, request signatures, nonces) {rest:.2f} s; "
      f"keysupd's carried-delta answers so far {carried}")
PY
    python3 - "$d/summary.json" "$n" "$c0" "$c1" "$h0" "$h1" "$t0" "$t1" "$rss" "$hwm" "$r0" "$HZ" "$s0" "$s1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
n, c0, c1, h0, h1, t0, t1, rss, hwm, r0, hz, s0, s1 = map(int, sys.argv[2:])
sec = (t1 - t0) / 1000
cpu = (c1 - c0) / hz / sec
hbs = (h1 - h0) / sec
bound = s["verify_bound_per_s"]
w = s["watch"]
print(f"{n:<8} {cpu:<9.2f} {rss // 1024:<6}MiB {hbs:<10.0f} {s['latency_ms']['p50']:<9.1f} "
      f"{s['latency_ms']['p99']:<9.1f} {bound:<11.0f} {hbs / bound:<6.3f} {w['p50_ms'] - r0:<9} "
      f"{w['p99_ms'] - r0:<9} {w['last_ms'] - r0:<9} {s['rss_kb'] // 1024}MiB")
print(f"#   n={n}: keysupd peak RSS {hwm // 1024} MiB; keysup-sim used {(s1 - s0) / hz / sec:.2f} cores; "
      f"{s['heartbeats']} heartbeats, "
      f"{s['heartbeat_errors']} failed ({s.get('heartbeats_shed', 0)} shed, "
      f"{s.get('comm_lost', 0)} controllers with KSE-100); verify {s['verify_per_s_core']:.0f}/s/core x {s['cores']} cores; "
      f"revocation refused by {w['refused']}/{n}; {s['failed']} never enrolled")
# What keysupd could take with the cores to itself: heartbeats per second of
# its CPU against verifies per second of CPU (the offered load, n / HB, caps
# hb/s above; this does not depend on it, nor on the share of the machine
# the other jobs left us, which the wall-clock verify rate does).
per_core = hbs / cpu if cpu > 0 else 0
vcpu = s.get("verify_per_cpu_s") or s["verify_per_s_core"]
print(f"#   n={n}: capacity {per_core:.0f} heartbeats per keysupd CPU-second against "
      f"{vcpu:.0f} verifies per CPU-second: {per_core / vcpu:.2f}")
PY
done
