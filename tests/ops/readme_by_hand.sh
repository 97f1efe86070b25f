#!/usr/bin/env bash
# The README's "by hand" section is docs/examples/by-hand.sh: (1) the README
# shows exactly the script's lines, (2) the script runs as written, line by
# line (bash -x, stops at the first failing line), in an empty directory,
# and the key is granted.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B="${KS_BIN:?KS_BIN must point to build/bin}"
W="${KS_WORK:?KS_WORK must name a scratch directory}"
rm -rf "$W" && mkdir -p "$W/run"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
unset KEYSUP_PASSPHRASE KEYSUP_TOKEN KEYSUP_TOKEN_FILE KEYSUP_SERVER
fail() { echo "FAIL: $*"; for f in "$W"/run/*.log "$W"/out; do [ -f "$f" ] && { echo "--- $f"; tail -n 40 "$f"; }; done; exit 1; }

sed -n '/^# --- by-hand: begin$/,/^# --- by-hand: end$/p' "$SRC/docs/examples/by-hand.sh" | sed '1d;$d' >"$W/script.lines"
awk '/^## A supervisor and a controller, by hand/ { s = 1; next }
     s && /^```sh$/ { c = 1; next }
     c && /^```$/ { exit }
     c { print }' "$SRC/README.md" >"$W/readme.lines"
[ -s "$W/script.lines" ] || fail "no by-hand markers in docs/examples/by-hand.sh"
diff -u "$W/readme.lines" "$W/script.lines" >"$W/diff" || { cat "$W/diff"; fail "README.md and docs/examples/by-hand.sh disagree (diff above: README first)"; }
echo "ok 1 - README shows exactly the lines of docs/examples/by-hand.sh ($(wc -l <"$W/script.lines") lines)"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cd "$W/run"
# Its own process group, so whatever the script left running is stopped
# even when a line fails.
setsid env B="$B" PORT="$PORT" timeout 60 bash -x "$SRC/docs/examples/by-hand.sh" >"$W/out" 2>&1 &
pid=$!
trap 'kill -TERM -- -"$pid" 2>/dev/null || true' EXIT
wait "$pid" || fail "docs/examples/by-hand.sh failed (exit $?) at the last line shown with +"
grep -q '^granted: *yes$' "$W/out" || fail "maria's key was not granted"
echo "ok 2 - the by-hand script runs as written, line by line, and the key is granted"
