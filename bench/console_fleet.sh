#!/usr/bin/env bash
# Console benchmark (issue 12): the fleet page with 10,000 controllers in
# Debian's chromium (headless, playwright-core): time to first render and to
# apply one update, beside the bare API call that returns the same fleet
# (GET /v1/fleet with curl), all in the same run against one keysupd.
# The controllers are rows written straight into a fresh database (no
# agents: 10,000 agents would measure the machine, not the page); 1% of them
# carry an open incident, so the page shows all four states.
# usage: bench/console_fleet.sh [BUILD_DIR] [N]   (default build-bench, else build; N 10000)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-}"
[ -n "$build" ] || { [ -x "$here/build-bench/bin/keysupd" ] && build="$here/build-bench" || build="$here/build"; }
build=$(cd "$build" && pwd)
N="${2:-10000}"
B="$build/bin"
W="$build/bench-console"
"$here/scripts/web_deps.sh" >/dev/null
rm -rf "$W"
mkdir -p "$W"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
"$B/keysup" init --data "$W/sup" --no-passphrase --token-out "$W/admin.tok" >/dev/null
# A long heartbeat: the rows stay "seen" for the whole run.
echo "heartbeat_interval = 3600" >>"$W/sup/keysupd.conf"
now=$(date +%s)
sqlite3 "$W/sup/keysup.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO controllers(name, site, model, scope, min_key_format, created_at, device_pk,
  enrolled_at, firmware_version, protocol_version, last_seen, last_sync, applied_version,
  clock_offset, lockout)
SELECT printf('ctl-%05d', i), printf('site-%02d', i % 40), 'POS-200', 1, 1, $now, randomblob(32),
  $now, 'keysup-controller/0.1.0', 1, $now - (i % 50), $now - (i % 50),
  CASE WHEN i % 97 = 0 THEN 0 ELSE 1 END, i % 3, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 100 UNION ALL SELECT i + 100 FROM n WHERE i + 100 <= $N)
INSERT INTO incidents(controller_id, code, symbol, state, title, first_evidence_ms, detected_ms,
  updated_ms, repair)
SELECT i, CASE WHEN i % 200 = 0 THEN 301 ELSE 600 END,
  CASE WHEN i % 200 = 0 THEN 'STORE_CORRUPT' ELSE 'CLOCK_SKEW' END, 'open', 'bench',
  $now * 1000, $now * 1000, $now * 1000, 'none' FROM n;
SQL
"$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port" >"$W/keysupd.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat "$W/port")"
for _ in $(seq 100); do curl -sf "$U/healthz" >/dev/null && break; sleep 0.1; done

# The bare API call: the same fleet the page asks for, with a bearer token.
api_ms=()
for _ in 1 2 3 4 5; do
    t=$(curl -s -o "$W/fleet.json" -w '%{time_total}' -H "Authorization: Bearer $(cat "$W/admin.tok")" "$U/v1/fleet")
    api_ms+=("$(python3 -c "print(round($t * 1000, 1))")")
done
bytes=$(stat -c %s "$W/fleet.json")
count=$(python3 -c "import json; print(len(json.load(open('$W/fleet.json'))['items']))")
[ "$count" = "$N" ] || { echo "fleet answer has $count rows, not $N"; exit 1; }

KS_URL="$U" KS_PW="$(cat "$W/sup/console-admin.password")" KS_N="$N" KS_DB="$W/sup/keysup.db" \
KS_CHROMIUM="${KS_CHROMIUM:-$(command -v chromium)}" KS_API_MS="${api_ms[*]}" KS_BYTES="$bytes" \
    node "$here/bench/console_fleet.mjs"
