# sim_lib.sh - what bench/sim_fleet.sh and bench/sim_storms.sh share: the
# Release binaries checked, a work directory removed at exit (KEEP=1 keeps
# it) with keysupd ($SUP) and keysup-sim ($SIM) stopped, and small readers.
# Sourced after `cd` to the repository root; sim_bench_init NAME first.
BIN=${BIN:-build-bench/bin}
SUP=
SIM=
sim_bench_init() {
    local b
    for b in keysupd keysup keysup-sim; do
        [ -x "$BIN/$b" ] || { echo "no $BIN/$b: build a Release tree first (bench/run.sh)"; exit 1; }
    done
    W=$(mktemp -d "/tmp/ks-$1.XXXXXX")
    trap sim_bench_cleanup EXIT
}
sim_bench_cleanup() {
    [ -n "$SIM" ] && kill -TERM "$SIM" 2>/dev/null || true
    [ -n "$SUP" ] && kill -TERM "$SUP" 2>/dev/null || true
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
now_ms() { date +%s%3N; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # CPU ticks of PID (user + system)
rss_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }  # PID VmRSS|VmHWM
# context switches of PID over all its threads: "voluntary nonvoluntary"
csw() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '$1 == "voluntary_ctxt_switches:" {v += $2}
    $1 == "nonvoluntary_ctxt_switches:" {n += $2} END {print v + 0, n + 0}'; }
metric() { curl -s "$KEYSUP_SERVER/metrics" | awk -v k="$1" '$1 == k {print $2}'; }
wait_for() { # SECONDS CMD...: polls CMD every 0.2 s until it succeeds
    local limit=$1 t0; shift; t0=$(now_ms)
    until "$@" 2>/dev/null; do
        [ $(( $(now_ms) - t0 )) -lt $((limit * 1000)) ] || return 1
        sleep 0.2
    done
}
