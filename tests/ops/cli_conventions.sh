#!/usr/bin/env bash
# The CLI does what docs/cli.md says (issue 16): exit codes, the JSON shape
# (NAME_utc beside unix seconds, lists with items/total/limit/offset),
# local ISO times for people, checked option values in keysup and
# keysup-controller, clear refusals instead of JSON nobody asked for.
source "$(dirname "$0")/../e2e/lib.sh"

# rc WANT DESC CMD...: runs CMD (stdout out, stderr err) and checks its exit code
rc() {
    local want=$1 desc=$2 got=0
    shift 2
    "$@" >"$W/out" 2>"$W/err" || got=$?
    [ "$got" = "$want" ] || { cat "$W/out" "$W/err"; fail "$desc: exit $got, want $want"; }
    ok "$desc (exit $want)"
}

sup_init
sup_start
ctl_add c1 2
ctl_run c1
wait_until 10 "c1 heartbeat" sh -c "\"$B/keysup\" --json controller show 1 | grep -q '\"last_seen\": [1-9]'"

rc 0 "controller list --json" "$B/keysup" --json controller list
python3 - "$W/out" <<'PY' || fail "controller list JSON shape"
import json, sys, re
d = json.load(open(sys.argv[1]))
for k in ("items", "total", "limit", "offset"):
    assert k in d, k
r = d["items"][0]
assert isinstance(r["last_seen"], int) and r["last_seen"] > 0
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["last_seen_utc"]), r["last_seen_utc"]
PY
ok "JSON: last_seen in unix seconds with last_seen_utc, items/total/limit/offset"
rc 0 "controller list for people" "$B/keysup" controller list
grep -Eq ' [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2} ' "$W/out" \
    || { cat "$W/out"; fail "last_seen is not a local ISO time"; }
ok "people: last_seen as local ISO time"

# Every list verb: the same shape.
for verb in "controller list" "key list" "holder list" "policy list" "token list" "audit list" \
            "incidents" "incident list" "incident stats" "error list" "controller audit 1" \
            "licence list"; do
    # shellcheck disable=SC2086
    "$B/keysup" --json $verb >"$W/list.json" 2>"$W/err" || fail "keysup $verb: $(cat "$W/err")"
    python3 - "$W/list.json" "$verb" <<'PY' || fail "keysup --json $verb is not the list shape"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d, dict), f"{sys.argv[2]}: not an object"
assert isinstance(d.get("items"), list), f"{sys.argv[2]}: no items"
for k in ("total", "limit", "offset"):
    assert isinstance(d.get(k), int), f"{sys.argv[2]}: no {k}"
def walk(x):
    if isinstance(x, dict):
        if "symbol" in x and "code" in x:
            assert isinstance(x["code"], str) and x["code"].startswith("KSE-"), x
        for v in x.values(): walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
walk(d)
PY
done
ok "every list verb: items, total, limit, offset; KSE codes as strings"

# The API itself: every list endpoint answers items/total/limit/offset.
for ep in /v1/audit /v1/controllers /v1/holders /v1/incidents /v1/incidents/stats /v1/keys \
          /v1/policies /v1/tokens /v1/controllers/1/audit; do
    curl -fsS -H "Authorization: Bearer $(cat "$KEYSUP_TOKEN_FILE")" "$KEYSUP_SERVER$ep" >"$W/ep.json" \
        || fail "GET $ep"
    [ "$(j "$W/ep.json" 'all(isinstance(d.get(k), int) for k in ("total", "limit", "offset")) and isinstance(d["items"], list)')" = True ] \
        || fail "GET $ep is not the list shape: $(head -c 300 "$W/ep.json")"
done
ok "API: every list endpoint answers items, total, limit, offset"

rc 2 "--limit abc refused before it is sent" "$B/keysup" controller list --limit abc
grep -q -- "--limit must be a number" "$W/err" || fail "no reason for --limit abc"
rc 3 "no token is exit 3" env -u KEYSUP_TOKEN_FILE "$B/keysup" controller list
rc 3 "an unreadable token file is exit 3" "$B/keysup" controller list --token-file "$W/nope"
grep -q "cannot read the token file" "$W/err" || fail "token file message: $(cat "$W/err")"
rc 0 "--server before the noun" env -u KEYSUP_SERVER "$B/keysup" --server "$KEYSUP_SERVER" controller list
rc 2 "controller add without --scope" "$B/keysup" controller add c9
rc 2 "an unknown option shows the verb's synopsis" "$B/keysup" controller list --bogus
grep -q "unknown option '--bogus'" "$W/err" && grep -q '^usage: keysup controller list' "$W/err" \
    || fail "unknown option without the synopsis: $(cat "$W/err")"
keygen k1
rc 0 "key enrol --public-key FILE" "$B/keysup" --json key enrol --public-key "$W/k1.key" --scope 2
[ "$(j "$W/out" 'd["form_factor"]')" = software ] || fail "a key file enrols as $(j "$W/out" 'd["form_factor"]')"
ok "a key file is enrolled as form_factor software"

rc 0 "holder create" "$B/keysup" --json holder create maria
hid=$(j "$W/out" 'd["id"]')
keygen k2
rc 0 "key enrol with holder and label" "$B/keysup" key enrol --public-key "$W/k2.key" --scope 2 \
    --holder "$hid" --label "maria-card"
rc 0 "key list for people" "$B/keysup" key list
grep -E '^[0-9a-f]{32} +maria-card +maria ' "$W/out" >/dev/null \
    || { cat "$W/out"; fail "key list does not show the label and holder beside the key id"; }
ok "key list: label and holder name beside the key id"

# A supervisor key with VOID but not REFUND: the refusal names REFUND.
keygen k3
api key enrol --public-key "$W/k3.key" --scope 2 --privilege SUPERVISOR --privilege VOID \
    --label night-sup >"$W/k3.json" || fail "enrol k3"
K3=$(j "$W/k3.json" 'd["key_id"]')
wait_until 15 "c1 in step" in_step c1
rc 1 "refund without REFUND" "$B/keysup" key present "$W/k3.key" --controller "$W/c1.sock" --action refund
grep -q 'KSE-502' "$W/err" && grep -q 'missing privilege: REFUND$' "$W/err" \
    || fail "the refusal does not name REFUND: $(cat "$W/err")"
ok "a refusal for a missing privilege names it (REFUND)"
# Where diagnosis names that key, it names it as people know it.
sleep 1.5
rc 0 "diagnose 1" "$B/keysup" diagnose 1
if grep -q "Key: $K3" "$W/out"; then
    grep -q "Key: $K3 (night-sup)" "$W/out" || fail "diagnose shows the key without its label: $(grep Key: "$W/out")"
    ok "diagnose shows the key's label beside its id"
fi

printf 'secret\n' >"$W/p.pass"
"$B/keysup" key keygen --out "$W/enc.key" --passphrase-file "$W/p.pass" --kdf interactive >/dev/null
rc 2 "key present of an encrypted key without its passphrase" \
    "$B/keysup" --json key present "$W/enc.key" --challenge "$(printf '%064d' 0)"
[ "$(j "$W/out" 'd["error"]["code"]')" = PASSPHRASE ] || fail "missing passphrase code: $(cat "$W/out")"
ok "a missing passphrase is PASSPHRASE"

rc 0 "controller audit for people" "$B/keysup" controller audit 1
grep -Eq '^seq +ts +action +result +key_id +reader$' "$W/out" && ! grep -q '{' "$W/out" \
    || fail "controller audit is not a table of the records' fields: $(head -3 "$W/out")"
rc 0 "controller decisions for people" "$B/keysup" controller decisions 1 --limit 5
grep -Eq '^seq +ts +action +result +holder +label +key_id$' "$W/out" \
    || fail "controller decisions: $(head -3 "$W/out")"
# audit and decisions check what they are given the same way, before
# anything is sent (one helper, ctrl_records): the ID, --limit, --since-seq.
for verb in audit decisions; do
    rc 2 "controller $verb --limit abc" "$B/keysup" controller "$verb" 1 --limit abc
    grep -q -- "keysup controller $verb: --limit must be a number, got 'abc'" "$W/err" \
        || fail "controller $verb --limit abc: $(cat "$W/err")"
    rc 2 "controller $verb of ID 0" "$B/keysup" controller "$verb" 0
    grep -q -- "keysup controller $verb: ID must be a positive number, got '0'" "$W/err" \
        || fail "controller $verb 0: $(cat "$W/err")"
done
rc 2 "controller audit --since-seq x" "$B/keysup" controller audit 1 --since-seq x
grep -q -- "keysup controller audit: --since-seq must be a number, got 'x'" "$W/err" \
    || fail "controller audit --since-seq x: $(cat "$W/err")"
rc 2 "controller decisions has no --since-seq" "$B/keysup" controller decisions 1 --since-seq 1
grep -q "unknown option '--since-seq'" "$W/err" || fail "decisions --since-seq: $(cat "$W/err")"
ok "controller audit and decisions: the same checks before anything is sent"
rc 1 "snapshot verify of a key file" "$B/keysup" snapshot verify "$W/k1.key" --trust "$W/k1.key"
grep -q "is not a snapshot: it is a key file" "$W/err" || fail "a key file as a snapshot: $(cat "$W/err")"
rc 0 "error list --json" "$B/keysup" --json error list
[ "$(j "$W/out" 'd["total"] == len(d["items"]) and d["items"][0]["code"].startswith("KSE-")')" = True ] \
    || fail "error list shape"
rc 0 "error docs --json" "$B/keysup" error docs --json
[ "$(j "$W/out" '"steps" in d["items"][0]')" = True ] || fail "error docs --json is not the catalogue"
# Every command a catalogue step tells the technician to type exists:
# `keysup NOUN [VERB]` is a noun and one of its verbs, and a
# `keysup-controller ctl` line names its --socket (steps once said
# `keysup audit --action ...` and `ctl code NNNNNNNN`).
"$B/keysup" error docs >"$W/errors.md"
grep -o '`keysup [^`]*`' "$W/errors.md" | tr -d '`' | sort -u >"$W/steps"
[ -s "$W/steps" ] || fail "no keysup commands in the catalogue's steps"
while read -r _ noun verb _; do
    "$B/keysup" "$noun" --help >"$W/noun" 2>&1 || fail "a catalogue step names 'keysup $noun'"
    if grep -q '^verbs:' "$W/noun"; then
        awk '/^verbs:/ { s = 1; next } s && /^  [a-z]/ { print $1 }' "$W/noun" | grep -qx -- "$verb" \
            || fail "a catalogue step names 'keysup $noun $verb', which is no verb"
    fi
done <"$W/steps"
if grep -o '`keysup-controller ctl [^`]*`' "$W/errors.md" | grep -v -- '--socket'; then
    fail "a catalogue step runs keysup-controller ctl without --socket"
fi
ok "every keysup command the catalogue's steps name exists ($(wc -l <"$W/steps") commands)"
rc 0 "keysup --help" "$B/keysup" --help
for v in enrol revoke-privilege set-validity provision resolve; do
    grep -q "$v" "$W/out" || fail "keysup --help does not list $v"
done
ok "keysup --help lists every verb"
# Every verb a noun's help lists is named in keysup --help too (the top
# summary is written by hand and went stale once: import, wear, tls pin).
"$B/keysup" --help >"$W/top"
for noun in $(awk '/^nouns:/ { s = 1; next } s && /^  [a-z]/ { print $1 }' "$W/top"); do
    "$B/keysup" "$noun" --help >"$W/noun" || fail "keysup $noun --help"
    for v in $(awk '/^verbs:/ { s = 1; next } s && /^  [a-z]/ { print $1 }' "$W/noun"); do
        grep -Eq "(^|[ (,])$v([,) ]|$)" "$W/top" || fail "keysup --help does not name '$noun $v'"
    done
done
ok "keysup --help names every verb each noun's help lists"
rc 0 "keysup help (the word)" "$B/keysup" help
grep -q '^nouns:' "$W/out" || fail "keysup help is not the usage"
rc 0 "keysup help key enrol" "$B/keysup" help key enrol
grep -q '^usage: keysup key enrol' "$W/out" || fail "keysup help key enrol: $(head -3 "$W/out")"
rc 0 "keysup error KSE-301 (show without the verb)" "$B/keysup" error KSE-301
grep -q '^What to do:' "$W/out" || fail "keysup error KSE-301 does not explain the code"
rc 2 "keysup error KSE-999" "$B/keysup" error KSE-999
grep -q "'KSE-999' is not a Key Supervisor Error code" "$W/err" || fail "error KSE-999: $(cat "$W/err")"
rc 0 "--server with the API's /v1 suffix" "$B/keysup" --server "$KEYSUP_SERVER/v1/" controller list
echo nonsense >"$W/bad.tok"
rc 1 "a token keysupd does not know" "$B/keysup" controller list --token-file "$W/bad.tok"
grep -q 'next step:.*token' "$W/err" || fail "401 without a next step: $(cat "$W/err")"
rc 3 "https:// to a plain HTTP keysupd" "$B/keysup" --server "${KEYSUP_SERVER/http:/https:}" controller list
grep -q 'use http://' "$W/err" || fail "https to plain HTTP: $(cat "$W/err")"
rc 0 "snapshot fetch of a published scope" "$B/keysup" snapshot fetch --scope 2 --out "$W/s2.snap"
rc 0 "the fetched snapshot verifies" "$B/keysup" snapshot verify "$W/s2.snap" \
    --trust "$("$B/keysup" --json supervisor show | python3 -c 'import json,sys; print(json.load(sys.stdin)["public_key"])')"
rc 1 "snapshot fetch of a scope with nothing published" "$B/keysup" snapshot fetch --scope 9 --out "$W/s9.snap"
grep -q 'nothing published for scope 9' "$W/err" && [ ! -e "$W/s9.snap" ] || fail "scope 9: $(cat "$W/err")"
rc 3 "snapshot fetch never overwrites without --force" "$B/keysup" snapshot fetch --scope 2 --out "$W/s2.snap"

rc 0 "flash check without geometry options" "$B/keysup" --json flash check "$W/c1.img"
[ "$(j "$W/out" 'd["status"]')" = ok ] || fail "flash check"

# keysup-controller: checked values, --version, clear refusals
C="$B/keysup-controller"
rc 0 "keysup-controller --version" "$C" --version
grep -q '^keysup-controller [0-9]' "$W/out" || fail "--version output"
rc 2 "--heartbeat abc" "$C" run --flash "$W/x.img" --socket "$W/x.sock" --heartbeat abc
rc 2 "--heartbeat 0" "$C" run --flash "$W/x.img" --socket "$W/x.sock" --heartbeat 0
rc 2 "--supervisor ''" "$C" run --flash "$W/x.img" --socket "$W/x.sock" --supervisor ""
rc 2 "run --bogus" "$C" run --bogus
grep -q "unknown option --bogus" "$W/err" || fail "--bogus: $(cat "$W/err")"
rc 1 "ctl fault bogus" "$C" ctl --socket "$W/c1.sock" fault bogus
[ ! -s "$W/out" ] || fail "ctl fault bogus printed on stdout: $(cat "$W/out")"
grep -q "unknown fault 'bogus'" "$W/err" || fail "ctl fault bogus: $(cat "$W/err")"
rc 1 "ctl --json fault bogus" "$C" ctl --socket "$W/c1.sock" --json fault bogus
[ "$(j "$W/out" 'd["error"]["code"]')" = BAD_REQUEST ] || fail "--json refusal"
rc 0 "ctl fault skew_clock -5 (a negative value is a value)" "$C" ctl --socket "$W/c1.sock" fault skew_clock -5
rc 0 "ctl fault skew_clock 0" "$C" ctl --socket "$W/c1.sock" fault skew_clock 0
rc 0 "ctl help for people" "$C" ctl --socket "$W/c1.sock" help
grep -q '^  status ' "$W/out" && ! grep -q '^{' "$W/out" || fail "ctl help: $(head -5 "$W/out")"
rc 2 "ctl bogus" "$C" ctl --socket "$W/c1.sock" bogus
grep -q "unknown verb.*'bogus'" "$W/err" || fail "ctl bogus: $(head -2 "$W/err")"
rc 2 "ctl without --socket" "$C" ctl status
grep -q -- "--socket PATH is required" "$W/err" || fail "ctl without --socket: $(head -2 "$W/err")"
rc 1 "enroll with keysupd not there" "$C" enroll --flash "$W/x2.img" --supervisor http://127.0.0.1:1 --token ksp_x
grep -q "cannot reach the supervisor at http://127.0.0.1:1" "$W/err" || fail "enroll, no keysupd: $(cat "$W/err")"
rc 1 "enroll with the API's /v1 URL reaches keysupd" "$C" enroll --flash "$W/x3.img" --supervisor "$KEYSUP_SERVER/v1" --token ksp_x
grep -q "HTTP 401" "$W/err" || fail "enroll at .../v1: $(cat "$W/err")"
rc 2 "run without --socket" "$C" run --flash "$W/x.img"
grep -q -- "run needs --flash FILE and --socket PATH" "$W/err" || fail "run: $(head -2 "$W/err")"
echo "cli_conventions: all $steps steps passed"
