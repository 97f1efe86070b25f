#!/usr/bin/env bash
# The docs' runnable blocks, as written. Every ```sh block of README.md and
# docs/*.md with a marker line just above it runs verbatim, so the docs and
# the test cannot drift apart:
#   <!-- doc-test: alone -->            in an empty directory, by itself;
#   <!-- doc-test: after by-hand -->    after the lines of the README's
#       by-hand section (docs/examples/by-hand.sh, minus its last line that
#       stops the daemons), in the same shell: keysupd, controller pos-1 and
#       maria's key are there, as for a reader who follows on.
# Each block runs under bash -e -x (stops at the first failing line and
# shows it) in its own process group, which is killed afterwards, so the
# daemons a block started never outlive it. A line whose comment ends in
# `# exit N` must exit with N (a refusal the docs show); it is wrapped, not
# changed. A marker without an sh block under it, or fewer than three marked
# blocks, fails: the test cannot be emptied by deleting markers.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B="${KS_BIN:?KS_BIN must point to build/bin}"
W="${KS_WORK:?KS_WORK must name a scratch directory}"
rm -rf "$W" && mkdir -p "$W/blocks"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
unset KEYSUP_PASSPHRASE KEYSUP_TOKEN_FILE KEYSUP_SERVER KEYSUP_CACERT KEYSUP_PIN_SHA256
steps=0
ok() { steps=$((steps + 1)); echo "ok $steps - $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# The by-hand lines a following block starts from.
sed -n '/^# --- by-hand: begin$/,/^# --- by-hand: end$/p' "$SRC/docs/examples/by-hand.sh" |
    sed '1d;$d' | grep -v '^kill ' >"$W/by-hand.lines"
[ -s "$W/by-hand.lines" ] || fail "no by-hand markers in docs/examples/by-hand.sh"

python3 - "$SRC" "$W/blocks" <<'PY' || fail "a doc-test marker is not followed by an sh block"
import glob, os, re, sys
src, out = sys.argv[1], sys.argv[2]
files = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
mark = re.compile(r"^<!-- doc-test: (alone|after by-hand) -->$")
# A trailing comment that ends in "exit N", holding no other '#'.
expect = re.compile(r"^(.*?)\s+(#[^#]*\bexit (\d+)\s*)$")
n = 0
for f in files:
    lines = open(f, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        m = mark.match(line)
        if not m:
            continue
        if i + 1 >= len(lines) or lines[i + 1] != "```sh":
            sys.exit(f"{f}:{i + 1}: marker without a ```sh block under it")
        body, j = [], i + 2
        while j < len(lines) and lines[j] != "```":
            body.append(lines[j])
            j += 1
        if j >= len(lines):
            sys.exit(f"{f}:{i + 1}: the sh block does not end")
        script = []
        for k, cmd in enumerate(body):
            e = expect.match(cmd)
            if e:  # the docs say this line fails with that code: check it does
                where = f"{os.path.relpath(f, src)}:{i + 3 + k}"
                script.append(f"rc=0; {e.group(1)} || rc=$?; [ \"$rc\" = {e.group(3)} ] || "
                              f"{{ echo \"{where}: exit $rc, the docs say {e.group(3)}\"; exit 1; }}")
            else:
                script.append(cmd)
        n += 1
        name = f"{n:02d}-{m.group(1).replace(' ', '-')}-{os.path.basename(f)}-{i + 1}"
        with open(os.path.join(out, name + ".sh"), "w") as o:
            o.write("\n".join(script) + "\n")
PY
count=$(find "$W/blocks" -name '*.sh' | wc -l)
[ "$count" -ge 3 ] || fail "only $count marked blocks in README.md and docs/*.md (want 3 or more)"
ok "$count marked sh blocks found in README.md and docs/*.md"

pid=""
trap '[ -z "$pid" ] || kill -TERM -- -"$pid" 2>/dev/null || true' EXIT
for blk in "$W"/blocks/*.sh; do
    name=$(basename "$blk" .sh)
    dir="$W/run-$name"
    mkdir -p "$dir"
    case "$name" in
        *-after-by-hand-*) cat "$W/by-hand.lines" "$blk" >"$dir/script.sh" ;;
        *) cp "$blk" "$dir/script.sh" ;;
    esac
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cd "$dir"
    # Its own process group (timeout makes one), so whatever the block left
    # running (keysupd, controllers) is stopped with it, even after a failure.
    setsid env B="$B" PORT="$PORT" timeout 120 bash -e -o pipefail -x script.sh >out 2>&1 &
    pid=$!
    rc=0
    wait "$pid" || rc=$?
    kill -TERM -- -"$pid" 2>/dev/null || true
    cd "$W"
    if [ "$rc" != 0 ]; then
        tail -n 40 "$dir/out"
        fail "$name: exit $rc at the last line shown with + (block: $blk)"
    fi
    ok "$name runs as written"
done
echo "readme_e2e: all $steps steps passed"
