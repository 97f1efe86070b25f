#!/usr/bin/env bash
# Issue 13 item 3: bulk import and export against a real keysupd.
#  - a file with bad rows is refused whole, every bad row named by line;
#  - a good file imports, a re-run is a no-op, export round-trips (CSV and
#    JSON lines), a changed key is refused, not half-imported.
. "$(dirname "$0")/lib.sh"

sup_init
sup_start
api holder create "Ada" >"$W/h.json" || fail "holder create"
HID=$(j "$W/h.json" 'd["id"]')

# N random public keys (the supervisor stores them; no controller here).
N=200
python3 - "$W" "$N" "$HID" <<'PY'
import os, sys
w, n, hid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keys = [os.urandom(32).hex() for _ in range(n)]
with open(f"{w}/good.csv", "w") as f:
    f.write("public_key,holder_id,label,privileges,scope,valid_from,valid_until\n")
    for i, k in enumerate(keys):
        label = f'"till {i}, shop ""{i % 7}"""' if i % 5 == 0 else f"door {i}"
        f.write(f"{k},{hid if i % 2 else ''},{label},OPERATOR|SUPERVISOR,{1 + i % 3},0,{0 if i % 4 else 4102444800}\n")
bad = [
    "public_key,holder_id,label,privileges,scope,valid_from,valid_until",   # 1
    f"{os.urandom(32).hex()},,ok,OPERATOR,1,0,0",                            # 2 good
    f"{'zz' * 32},,bad hex,OPERATOR,1,0,0",                                  # 3
    "# a comment line",                                                      # 4
    f"{os.urandom(32).hex()},,bad priv,OPERATOR|FLYING,1,0,0",               # 5
    None,                                                                     # 6 duplicate of 2
    f"{os.urandom(32).hex()},,bad window,OPERATOR,1,100,50",                 # 7
    f"{os.urandom(32).hex()},999,no such holder,OPERATOR,1,0,0",             # 8
    f"{os.urandom(32).hex()},,short row",                                    # 9
]
bad[5] = bad[1].replace(",ok,", ",dup,")
with open(f"{w}/bad.csv", "w") as f:
    f.write("\n".join(bad) + "\n")
with open(f"{w}/bad.jsonl", "w") as f:
    f.write('{"public_key": "%s", "privileges": ["OPERATOR"], "scope": 1}\n' % os.urandom(32).hex())
    f.write('{"public_key": "%s", "scope": -1}\n' % os.urandom(32).hex())
    f.write('not json\n')
PY

# 1. bad rows: refused whole, each named
if "$B/keysup" key import "$W/bad.csv" >"$W/bad.out" 2>"$W/bad.err"; then
    fail "a file with bad rows was imported"
fi
for l in 3 5 6 7 8 9; do
    [ "$(grep -c "bad.csv:$l: " "$W/bad.err")" = 1 ] || fail "line $l named more than once: $(cat "$W/bad.err")"
    grep -q "bad.csv:$l: " "$W/bad.err" || fail "line $l not named: $(cat "$W/bad.err")"
done
grep -q "bad.csv:2: " "$W/bad.err" && fail "good line 2 named as bad"
grep -q "KSE-750" "$W/bad.err" || fail "no KSE-750: $(cat "$W/bad.err")"
api key list >"$W/l0.json"
[ "$(j "$W/l0.json" 'd["total"]')" = 0 ] || fail "bad file half-imported"
ok "a file with 6 bad rows is refused, each named by line, nothing imported"

api key import "$W/bad.jsonl" >"$W/badj.out" 2>"$W/badj.err" && fail "bad JSON lines imported"
j "$W/badj.out" '[r["line"] for r in d["rows"]]' | grep -q "\[2, 3\]" || fail "jsonl rows: $(cat "$W/badj.out")"
ok "JSON lines: bad lines 2 and 3 named"

# 2. good file: imports, re-run no-op, dry run imports nothing
api key import "$W/good.csv" --dry-run >"$W/dry.json" || fail "dry run: $(cat "$W/dry.json")"
[ "$(j "$W/dry.json" 'd["imported"]')" = "$N" ] || fail "dry run count"
api key list >"$W/l1.json"
[ "$(j "$W/l1.json" 'd["total"]')" = 0 ] || fail "dry run imported"
api key import "$W/good.csv" >"$W/imp.json" || fail "import: $(cat "$W/imp.json")"
[ "$(j "$W/imp.json" 'd["imported"]')" = "$N" ] || fail "imported: $(cat "$W/imp.json")"
api key import "$W/good.csv" >"$W/imp2.json" || fail "re-import"
[ "$(j "$W/imp2.json" '(d["imported"], d["unchanged"])')" = "(0, $N)" ] || fail "re-run: $(cat "$W/imp2.json")"
api key list --scope 2 >"$W/l2.json"
[ "$(j "$W/l2.json" 'd["total"]')" = $(( (N + 1) / 3 )) ] || fail "scope 2 count"
ok "good file: $N imported, re-run imports 0 and leaves $N unchanged, dry run imports nothing"

# 3. export round-trips
"$B/keysup" key export -o "$W/out.csv" || fail "export csv"
"$B/keysup" key export --format jsonl -o "$W/out.jsonl" || fail "export jsonl"
python3 - "$W" <<'PY' || fail "export differs from the imported file"
import csv, json, sys
w = sys.argv[1]
def norm(r):
    return (r["public_key"], str(r.get("holder_id") or ""), r.get("label") or "",
            "|".join(sorted(r["privileges"].split("|"))), str(r["scope"]), str(r["valid_from"]),
            str(r["valid_until"]))
a = {norm(r) for r in csv.DictReader(open(f"{w}/good.csv"))}
b = {norm(r) for r in csv.DictReader(open(f"{w}/out.csv"))}
c = {norm({k: ("" if v is None else v) for k, v in json.loads(l).items()}) for l in open(f"{w}/out.jsonl")}
assert a == b, (len(a), len(b), sorted(a - b)[:2], sorted(b - a)[:2])
assert a == c, (sorted(a - c)[:2], sorted(c - a)[:2])
PY
api key import "$W/out.jsonl" >"$W/imp3.json" || fail "re-import of the export"
[ "$(j "$W/imp3.json" '(d["imported"], d["unchanged"])')" = "(0, $N)" ] || fail "jsonl round trip"
ok "export (CSV and JSON lines) equals the imported file and re-imports as a no-op"

# 4. a changed key is refused (KSE-751), nothing else imported with it
python3 - "$W" <<'PY'
import os, sys
w = sys.argv[1]
lines = open(f"{w}/out.csv").read().splitlines()
i = next(i for i, l in enumerate(lines) if ",door " in l)
lines[i] = lines[i].replace(",door ", ",gate ")
lines.append(f"{os.urandom(32).hex()},,new key,OPERATOR,1,0,0,active")
open(f"{w}/changed.csv", "w").write("\n".join(lines) + "\n")
open(f"{w}/changed.line", "w").write(str(i + 1))
PY
CL=$(cat "$W/changed.line")
"$B/keysup" key import "$W/changed.csv" >"$W/ch.out" 2>"$W/ch.err" && fail "changed key imported"
grep -q "changed.csv:$CL: key already enrolled with a different label" "$W/ch.err" || fail "conflict: $(cat "$W/ch.err")"
grep -q "KSE-751" "$W/ch.err" || fail "no KSE-751"
api key list >"$W/l3.json"
[ "$(j "$W/l3.json" 'd["total"]')" = "$N" ] || fail "the new row was imported with a refused file"
ok "a key enrolled with other attributes is refused (KSE-751) and the file's new key is not imported"

# 5. the import is published
wait_until 10 "scope 1 published with the imported keys" \
    sh -c "'$B/keysup' --json audit list --action key.import | grep -q imported=$N"
ok "the import is audited once"
sup_stop
echo "all $steps bulk import steps passed"
