#!/usr/bin/env bash
# /metrics as Prometheus expects it: a real keysupd with a controller and a
# published key, its exposition checked by `promtool check metrics` (names,
# base units, _total counters, histograms), plus the series operators and
# the rules file (packaging/prometheus/keysup-rules.yml) rely on. Also: a
# SIGTERM is logged by name.
source "$(dirname "$0")/../e2e/lib.sh"
command -v promtool >/dev/null || fail "promtool missing (Debian package prometheus; scripts/deps.sh test)"

sup_init
sup_start
ctl_add c1 2
ctl_run c1
keygen k1
api key enrol --public-key "$W/k1.key" --scope 2 --privilege OPERATOR >/dev/null || fail "key enrol"
wait_until 15 "c1 in step" in_step c1
ok "supervisor, one controller in step, one key published"

curl -fsS "$KEYSUP_SERVER/metrics" >"$W/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$W/metrics.txt" >"$W/promtool.log" 2>&1 \
    || { cat "$W/promtool.log"; fail "promtool check metrics"; }
ok "promtool check metrics: no problems"

has() { grep -Eq "$1" "$W/metrics.txt" || fail "/metrics lacks: $1"; }
has '^# TYPE keysup_http_request_duration_seconds histogram$'
has '^keysup_http_request_duration_seconds_bucket\{le="\+Inf"\} [1-9]'
has '^keysup_http_request_duration_seconds_count [1-9]'
has '^# TYPE keysup_publish_duration_seconds histogram$'
has '^keysup_publish_duration_seconds_count [1-9]'
has '^keysup_build_info\{version="[0-9]+\.[0-9]+\.[0-9]+"\} 1$'
has '^keysup_heartbeats_total [1-9]'
has '^# TYPE keysup_incidents_open gauge$'
has '^keysup_controllers_silent 0$'
# No unit but the base one: no _usec, _ms, _microseconds names.
if grep -Eq '^keysup_[a-z_]*(usec|_ms|micro)' "$W/metrics.txt"; then fail "a metric not in base units"; fi
ok "histograms for request and publish latency, keysup_build_info, base units only"

# Every keysup_ series the alert rules use is one keysupd exports.
for m in $(grep -Eo 'keysup_[a-z_]+' "$(dirname "$0")/../../packaging/prometheus/keysup-rules.yml" | sort -u); do
    base=${m%_bucket}
    grep -q "^# TYPE $base " "$W/metrics.txt" || fail "rules use $m, which /metrics does not export"
done
ok "every series in keysup-rules.yml is exported"

# Buckets are cumulative: every le= count is >= the previous one.
awk -F'[ ]' '/^keysup_http_request_duration_seconds_bucket/ { if ($2 + 0 < prev) bad = 1; prev = $2 + 0 }
             END { exit bad }' "$W/metrics.txt" || fail "buckets are not cumulative"
ok "histogram buckets cumulative"

sup_stop
grep -q 'event=daemon.stop signal=SIGTERM' "$W/keysupd.log" || fail "SIGTERM not logged by name"
ok "SIGTERM logged as signal=SIGTERM"
# Under systemd (JOURNAL_STREAM set) each line carries its journal priority.
rm -f "$W/port"
JOURNAL_STREAM=8:1234 "$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port" \
    >"$W/journal.log" 2>&1 &
jpid=$!
PIDS+=("$jpid")
wait_until 10 "keysupd listening again" test -s "$W/port"
kill -TERM "$jpid" && wait "$jpid" || true
grep -q '^<6>.* keysupd info event=daemon.start ' "$W/journal.log" || fail "no journal priority <6> on info lines"
grep -q '^<6>.*event=daemon.stop signal=SIGTERM' "$W/journal.log" || fail "no journal priority on the stop line"
if grep -q '^<' "$W/keysupd.log"; then fail "priority prefix without JOURNAL_STREAM"; fi
ok "journal priorities (<6> info) only under systemd's JOURNAL_STREAM"
echo "metrics_promtool: all $steps steps passed"
