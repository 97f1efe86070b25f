#!/usr/bin/env bash
# End-to-end tests of the offline `keysup` CLI: every step checks the exact
# exit code and the exact error code or message, not merely "it failed".
# Env: KS_BIN (build/bin), KS_WORK (scratch directory, recreated).
set -euo pipefail

B="${KS_BIN:?KS_BIN must point to build/bin}/keysup"
W="${KS_WORK:-$(mktemp -d)}"
rm -rf "$W"
mkdir -p "$W"
cd "$W"
unset KEYSUP_PASSPHRASE

steps=0
fail() {
    echo "FAIL: $*"
    echo "--- stdout"; cat out 2>/dev/null || true
    echo "--- stderr"; cat err 2>/dev/null || true
    exit 1
}

# t WANT_EXIT DESCRIPTION cmd...   runs cmd, stdout -> out, stderr -> err
t() {
    local want=$1 desc=$2 rc
    shift 2
    steps=$((steps + 1))
    set +e
    "$@" >out 2>err
    rc=$?
    set -e
    [ "$rc" = "$want" ] || fail "$desc: exit $rc, want $want"
    echo "ok $steps - $desc"
}
# has FILE TEXT   the file contains TEXT literally
has() { grep -qF -- "$2" "$1" || fail "expected '$2' in $1"; }
# js EXPR   evaluates a Python expression on the JSON in out (as d)
js() { python3 -c 'import json,sys; d=json.load(open("out")); print(eval(sys.argv[1]))' "$1"; }
# jis EXPR WANT
jis() {
    local got
    got=$(js "$1") || fail "out is not JSON"
    [ "$got" = "$2" ] || fail "$1 = '$got', want '$2'"
}

# flip FILE OFFSET: changes one byte (XOR 0x01), so the file always differs
flip() {
    python3 -c 'import sys
f = open(sys.argv[1], "r+b"); o = int(sys.argv[2]); f.seek(o); b = f.read(1)[0]
f.seek(o); f.write(bytes([b ^ 1]))' "$1" "$2"
}

# ----- global
t 0 "--version" "$B" --version
grep -Eq '^keysup [0-9]+\.[0-9]+\.[0-9]+$' out || fail "version line"
t 0 "--version --json" "$B" --json --version
jis 'd["version"] != ""' True
t 0 "--help" "$B" --help
has out "snapshot"
t 2 "no noun" "$B"
t 2 "unknown noun" "$B" frobnicate
has err "unknown noun 'frobnicate'"
for n in key snapshot delta; do
    t 0 "$n --help" "$B" $n --help
    has out "verbs:"
    t 2 "$n without verb" "$B" $n
done
for v in "key keygen" "key show" "key rotate" "snapshot build" "snapshot inspect" \
         "snapshot verify" "delta make" "delta apply"; do
    # shellcheck disable=SC2086
    t 0 "$v --help" "$B" $v --help
    has out "usage: keysup $v"
done

# ----- keys
t 0 "keygen plain" "$B" key keygen --out sup.key --no-passphrase --json
jis 'd["encrypted"]' False
SUP_PK=$(js 'd["public_key"]')
SUP_ID=$(js 'd["key_id"]')
[ ${#SUP_PK} = 64 ] && [ ${#SUP_ID} = 32 ] || fail "key sizes"
[ "$(stat -c %a sup.key)" = 600 ] || fail "key file mode"
t 0 "key show" "$B" key show sup.key --json
jis 'd["public_key"]' "$SUP_PK"
jis 'd["key_id"]' "$SUP_ID"
t 0 "key show human" "$B" key show sup.key
grep -Eq "^key_id: +$SUP_ID\$" out || fail "aligned key_id line"
t 3 "keygen refuses to overwrite" "$B" key keygen --out sup.key --no-passphrase
has err "cannot write sup.key: File exists"
has err "--force"
t 0 "keygen --force" "$B" key keygen --out tmp.key --no-passphrase
t 0 "keygen --force replaces" "$B" key keygen --out tmp.key --no-passphrase --force
t 2 "keygen without a passphrase source" "$B" key keygen --out nopass.key
has err "a passphrase is needed"
[ ! -e nopass.key ] || fail "nopass.key written"
t 2 "keygen without --out" "$B" key keygen --no-passphrase
has err "--out FILE is required"
t 2 "keygen unknown option" "$B" key keygen --out x.key --no-passphrase --colour
has err "unknown option '--colour'"

printf 'open sesame\n' > pass.txt
printf 'open sesamE\n' > wrong.txt
t 0 "keygen encrypted" "$B" key keygen --out enc.key --passphrase-file pass.txt --kdf interactive --json
jis 'd["encrypted"]' True
ENC_PK=$(js 'd["public_key"]')
t 0 "show encrypted needs no passphrase" "$B" key show enc.key --json
jis 'd["public_key"]' "$ENC_PK"
jis 'd["kdf_memlimit_kib"]' 65536
cp sup.key broken.key
flip broken.key 100
t 1 "corrupt key file" "$B" key show broken.key --json
jis 'd["error"]["code"]' FORMAT
jis 'd["error"]["what"]' keyfile.checksum

for i in 1 2 3 4; do
    t 0 "user key $i" "$B" key keygen --out u$i.key --no-passphrase --json
    eval "U${i}=$(js 'd["public_key"]')"
done

# ----- snapshot build
cat > keys5.json <<JSON
[
  {"holder": "alice", "holder_id": 1, "public_key": "$U1", "privileges": ["SUPERVISOR", "VOID"],
   "valid_from": "2023-01-01T00:00:00Z", "state": "active", "form_factor": "usb", "scope": 0},
  {"holder": "bob", "holder_id": 2, "public_key": "$U2", "privileges": ["OPERATOR"],
   "valid_until": 1900000000, "key_format": 2, "counter_floor": 7},
  {"holder": "carol", "holder_id": 3, "public_key": "$U3", "privileges": ["REFUND", "BIT20"],
   "state": "suspended", "form_factor": "nfc"}
]
JSON
cat > keys6.json <<JSON
[
  {"holder": "alice", "holder_id": 1, "public_key": "$U1", "privileges": ["SUPERVISOR"],
   "valid_from": "2023-01-01T00:00:00Z", "state": "active", "form_factor": "usb"},
  {"holder": "carol", "holder_id": 3, "public_key": "$U3", "privileges": ["REFUND"],
   "state": "revoked", "form_factor": "nfc"},
  {"holder": "dave", "holder_id": 4, "public_key": "$U4", "privileges": ["Z_REPORT"]}
]
JSON
NOW=1700000100
t 0 "snapshot build v5" "$B" snapshot build --keys keys5.json --signer sup.key --version 5 \
    --created 1700000000 --expires 30d --out s5.snap --json
jis 'd["record_count"]' 3
jis 'd["expires_at"]' $((1700000000 + 30 * 86400))
jis 'd["signer_id"]' "$SUP_ID"
[ "$(stat -c %s s5.snap)" = $((160 + 3 * 128)) ] || fail "snapshot size"
t 3 "build refuses to overwrite" "$B" snapshot build --keys keys5.json --signer sup.key \
    --version 5 --out s5.snap
t 0 "snapshot build v6" "$B" snapshot build --keys keys6.json --signer sup.key --version 6 \
    --created 1700000050 --expires 1702592050 --out s6.snap
grep -Eq '^version: +6$' out || fail "expected version 6 in out"
# For people, times are local ISO 8601 with the offset, once (no _utc twin).
grep -Eq '^created_at: +2023-11-1[45]T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{2}:[0-9]{2}$' out \
    || fail "created_at is not local ISO time: $(grep created_at out)"
if grep -q '_utc' out; then fail "human output repeats the time in UTC"; fi

# Encrypted signer: passphrase required, wrong one named as such.
t 2 "encrypted signer without passphrase" "$B" snapshot build --keys keys5.json \
    --signer enc.key --version 1 --out e.snap
has err "key file enc.key is encrypted"
t 1 "encrypted signer, wrong passphrase" "$B" snapshot build --keys keys5.json \
    --signer enc.key --version 1 --out e.snap --passphrase-file wrong.txt --json
jis 'd["error"]["code"]' PASSPHRASE
[ ! -e e.snap ] || fail "e.snap written after a refusal"
KEYSUP_PASSPHRASE="open sesame" t 0 "encrypted signer via KEYSUP_PASSPHRASE" "$B" snapshot build \
    --keys keys5.json --signer enc.key --version 1 --out e.snap

# ----- inspect
t 0 "inspect" "$B" snapshot inspect s5.snap
grep -Eq '^version: +5$' out || fail "version line"
grep -Eq '^record_count: +3$' out || fail "record_count line"
grep -Eq '^root_matches: +yes$' out || fail "root_matches line"
grep -Eq "^signer_id: +$SUP_ID\$" out || fail "signer line"
t 0 "inspect --records --json" "$B" snapshot inspect s5.snap --records --json
jis 'len(d["records"])' 3
jis 'sorted(r["holder_id"] for r in d["records"])' "[1, 2, 3]"
jis '[r for r in d["records"] if r["holder_id"] == 3][0]["privileges"]' "['REFUND', 'BIT20']"
jis '[r for r in d["records"] if r["holder_id"] == 2][0]["counter_floor"]' 7
jis 'd["records"][0]["key_id"] < d["records"][1]["key_id"] < d["records"][2]["key_id"]' True
head -c 100 s5.snap > short.snap
t 1 "inspect truncated" "$B" snapshot inspect short.snap
has err "shorter than a snapshot header"

# ----- verify
t 0 "verify ok (key file trust)" "$B" snapshot verify s5.snap --trust sup.key --now $NOW
grep -Eq '^valid: +yes$' out || fail "valid line"
t 0 "verify ok (hex trust, json)" "$B" snapshot verify s5.snap --trust "$SUP_PK" --now $NOW --json
jis 'd["valid"]' True
jis 'd["version"]' 5
t 1 "verify wrong trust" "$B" snapshot verify s5.snap --trust u1.key --now $NOW
has err "KSE-700 SUPERVISOR_UNTRUSTED"
has err "Replace Supervisor Credential"
t 1 "verify wrong trust (json)" "$B" snapshot verify s5.snap --trust "$U1" --now $NOW --json
jis 'd["error"]["code"]' KSE-700
jis 'd["error"]["symbol"]' SUPERVISOR_UNTRUSTED
t 1 "verify rollback" "$B" snapshot verify s5.snap --trust sup.key --now $NOW --applied-version 6
has err "KSE-701 ROLLBACK"
has err "version 5 is below the applied version 6"
t 0 "verify same version as applied" "$B" snapshot verify s5.snap --trust sup.key --now $NOW \
    --applied-version 5
t 1 "verify expired" "$B" snapshot verify s5.snap --trust sup.key --now 1800000000 --json
jis 'd["error"]["code"]' KSE-702
has out "expired at 2023-12-14T22:13:20Z"
t 1 "verify expired at exactly expires_at" "$B" snapshot verify s5.snap --trust sup.key \
    --now $((1700000000 + 30 * 86400))
has err "KSE-702 SNAPSHOT_EXPIRED"
t 2 "verify without --trust" "$B" snapshot verify s5.snap
has err "--trust PUBKEY_HEX|KEYFILE is required"
t 1 "verify bad hex trust" "$B" snapshot verify s5.snap --trust "$(printf '%064d' 0)" --now $NOW
has err "is not a valid Ed25519 public key"
t 3 "verify missing file" "$B" snapshot verify nosuch.snap --trust sup.key
has err "cannot read nosuch.snap: No such file or directory"
cp s5.snap sig.snap
flip sig.snap 100  # inside the signature
t 1 "verify tampered signature" "$B" snapshot verify sig.snap --trust sup.key --now $NOW --json
jis 'd["error"]["code"]' BAD_SIGNATURE
cp s5.snap rec.snap
flip rec.snap $((160 + 128 + 20))
t 1 "verify tampered record" "$B" snapshot verify rec.snap --trust sup.key --now $NOW --json
code=$(js 'd["error"]["code"]')
case "$code" in ROOT_MISMATCH | FORMAT) ;; *) fail "tampered record gave $code" ;; esac
t 0 "inspect tampered record" "$B" snapshot inspect rec.snap --json
jis 'd["root_matches"]' False

# ----- deltas
t 0 "delta make" "$B" delta make s5.snap s6.snap --out d56 --json
jis 'd["upserts"]' 3
jis 'd["removals"]' 1
t 1 "delta make backwards" "$B" delta make s6.snap s5.snap --out d65
has err "NEW's version 5 is not above OLD's version 6"
[ ! -e d65 ] || fail "d65 written after a refusal"
t 0 "delta apply" "$B" delta apply s5.snap d56 --out s6b.snap --trust sup.key --now $NOW --json
jis 'd["method"]' incremental
jis 'd["version"]' 6
cmp s6.snap s6b.snap || fail "applied delta is not byte-identical to NEW"
echo "ok - delta round trip is byte-identical"
t 0 "result verifies" "$B" snapshot verify s6b.snap --trust sup.key --now $NOW --applied-version 5

dsize=$(stat -c %s d56)
cp d56 dbad
flip dbad $((dsize - 128 - 16 - 100))
t 1 "tampered delta refused" "$B" delta apply s5.snap dbad --out s6c.snap --trust sup.key --now $NOW --json
jis 'd["error"]["code"] in ("ROOT_MISMATCH", "FORMAT")' True
[ ! -e s6c.snap ] || fail "refused delta wrote its output"
echo "keep me" > s6d.snap
t 1 "tampered delta leaves an existing output alone" "$B" delta apply s5.snap dbad \
    --out s6d.snap --trust sup.key --now $NOW --force
[ "$(cat s6d.snap)" = "keep me" ] || fail "refused delta replaced its output"
ls ./*.tmp.* >/dev/null 2>&1 && fail "temporary files left behind"
cp d56 dhdr
flip dhdr $((56 + 100))  # target signature
t 1 "delta with tampered target header" "$B" delta apply s5.snap dhdr --out x.snap --trust sup.key --now $NOW --json
jis 'd["error"]["code"]' BAD_SIGNATURE
t 1 "delta onto the wrong base" "$B" delta apply s6.snap d56 --out x.snap --trust sup.key --now $NOW --json
jis 'd["error"]["code"]' WRONG_BASE
t 1 "delta with untrusted signer" "$B" delta apply s5.snap d56 --out x.snap --trust u1.key --now $NOW
has err "KSE-700 SUPERVISOR_UNTRUSTED"
t 1 "delta with expired target" "$B" delta apply s5.snap d56 --out x.snap --trust sup.key --now 1800000000
has err "KSE-702 SNAPSHOT_EXPIRED"
[ ! -e x.snap ] || fail "x.snap written after a refusal"

# A target with another bucket layout (40 records: more bucket bits) takes
# the rebuild path: merged records hashed in full, same exact-root rule.
for i in $(seq 1 40); do
    "$B" key keygen --out m$i.key --no-passphrase --json >out 2>err || fail "keygen m$i"
    js 'd["public_key"]'
done >many.pub
python3 -c 'import json; json.dump([{"public_key": k.strip(), "holder_id": i} for i, k in enumerate(open("many.pub"))], open("many.json", "w"))'
t 0 "snapshot of 40 keys" "$B" snapshot build --keys many.json --signer sup.key --version 9 \
    --created 1700000050 --expires never --out s9.snap --json
jis 'd["bucket_bits"] > 0' True
t 0 "delta to another bucket layout" "$B" delta make s5.snap s9.snap --out d59
t 0 "apply it (rebuild)" "$B" delta apply s5.snap d59 --out s9b.snap --trust sup.key --now $NOW --json
jis 'd["method"]' rebuild
cmp s9.snap s9b.snap || fail "rebuilt snapshot is not byte-identical"
cp d59 d59bad
flip d59bad 1000
t 1 "tampered rebuild delta" "$B" delta apply s5.snap d59bad --out s9c.snap --trust sup.key --now $NOW --json
jis 'd["error"]["code"]' ROOT_MISMATCH
[ ! -e s9c.snap ] || fail "refused delta wrote its output"

# Every single-byte change of the snapshot and of the delta is refused with
# exit 1 (never accepted, never a crash), and a refused delta writes nothing.
sweep() {  # sweep FILE CMD... (the command reads "tampered")
    local file=$1 n i rc
    shift
    n=$(stat -c %s "$file")
    for ((i = 0; i < n; i++)); do
        cp "$file" tampered
        printf '\xff' | dd of=tampered bs=1 seek=$i conv=notrunc 2>/dev/null
        cmp -s "$file" tampered && flip tampered $i
        set +e
        "$@" >out 2>err
        rc=$?
        set -e
        [ "$rc" = 1 ] || fail "$file byte $i changed: exit $rc, want 1"
        grep -q '^keysup: ' err || fail "$file byte $i changed: no error message"
        [ ! -e sweep.out ] || fail "$file byte $i changed: output written"
    done
    steps=$((steps + 1))
    echo "ok $steps - every single-byte change of $file refused ($n bytes)"
}
sweep s5.snap "$B" snapshot verify tampered --trust sup.key --now $NOW
sweep d56 "$B" delta apply s5.snap tampered --out sweep.out --trust sup.key --now $NOW

# ----- rotation chain
t 0 "keygen sup2" "$B" key keygen --out sup2.key --no-passphrase
t 0 "keygen sup3" "$B" key keygen --out sup3.key --no-passphrase
t 0 "rotate 1" "$B" key rotate --old sup.key --new sup2.key --seq 1 --out chain --created 1700000000 --json
jis 'd["chain_records"]' 1
t 0 "rotate 2 --append" "$B" key rotate --old sup2.key --new sup3.key --seq 2 --out chain --append
[ "$(stat -c %s chain)" = 432 ] || fail "chain size"
t 1 "rotate --append from a key the chain does not end with" "$B" key rotate --old sup.key \
    --new u1.key --seq 3 --out chain --append --json
jis 'd["error"]["code"]' CHAIN_BROKEN
t 1 "rotate --append with a stale sequence" "$B" key rotate --old sup3.key --new u1.key \
    --seq 2 --out chain --append
has err "--seq 2 must be above the chain's last sequence 2"
[ "$(stat -c %s chain)" = 432 ] || fail "refused rotation changed the chain"
t 0 "snapshot signed by sup3" "$B" snapshot build --keys keys6.json --signer sup3.key \
    --version 7 --created 1700000050 --expires never --out s7.snap
t 1 "new key without the chain" "$B" snapshot verify s7.snap --trust sup.key --now $NOW
has err "KSE-700 SUPERVISOR_UNTRUSTED"
t 0 "new key through the chain" "$B" snapshot verify s7.snap --trust sup.key --rotation chain --now $NOW
t 0 "chain from a middle key" "$B" snapshot verify s7.snap --trust sup2.key --rotation chain --now $NOW
t 1 "chain not starting at a trusted key" "$B" snapshot verify s7.snap --trust u1.key --rotation chain --now $NOW
has err "KSE-700 SUPERVISOR_UNTRUSTED: rotation chain chain"
cp chain chain.bad
flip chain.bad 100   # sig of record 1
t 1 "tampered chain" "$B" snapshot verify s7.snap --trust sup.key --rotation chain.bad --now $NOW --json
jis 'd["error"]["code"]' BAD_SIGNATURE
t 0 "delta across a rotation" "$B" delta make s6.snap s7.snap --out d67
t 0 "apply it through the chain" "$B" delta apply s6.snap d67 --out s7b.snap --trust sup.key \
    --rotation chain --now $NOW
t 1 "old-key base, rotated target, no chain" "$B" delta apply s6.snap d67 --out s7c.snap \
    --trust sup.key --now $NOW
has err "KSE-700"

# ----- key list errors name the entry and the field
bad() {  # bad DESCRIPTION JSON EXPECTED-MESSAGE
    printf '%s\n' "$2" > bad.json
    t 1 "keys.json: $1" "$B" snapshot build --keys bad.json --signer sup.key --version 1 --out bad.snap --json
    jis 'd["error"]["code"]' INVALID_KEYS
    has out "$3"
    [ ! -e bad.snap ] || fail "bad.snap written"
}
bad "short public key" "[{\"public_key\": \"$U1\"}, {\"public_key\": \"abcd\"}]" \
    "keys[1].public_key: expected 64 hex digits"
bad "missing public key" "[{\"holder\": \"x\"}]" "keys[0].public_key: missing"
bad "unknown privilege" "[{\"public_key\": \"$U1\", \"privileges\": [\"SUPERVISOR\", \"ROOT\"]}]" \
    "keys[0].privileges: element 1: unknown privilege \\\"ROOT\\\""
bad "validity backwards" "[{\"public_key\": \"$U1\", \"valid_from\": 2000, \"valid_until\": 1000}]" \
    "keys[0].valid_until: must be after valid_from"
bad "bad date" "[{\"public_key\": \"$U1\", \"valid_from\": \"2024-02-30\"}]" "keys[0].valid_from: expected"
bad "typo field" "[{\"public_key\": \"$U1\", \"valid_untill\": 5}]" "keys[0].valid_untill: unknown field"
bad "duplicate" "[{\"public_key\": \"$U1\"}, {\"public_key\": \"$U2\"}, {\"public_key\": \"$U1\"}]" \
    "keys[2].public_key: duplicate key: same public key as keys[0]"
bad "state" "[{\"public_key\": \"$U1\", \"state\": \"dormant\"}]" "keys[0].state: expected"
bad "scope range" "[{\"public_key\": \"$U1\", \"scope\": 4294967296}]" "keys[0].scope: expected an integer"
bad "negative counter" "[{\"public_key\": \"$U1\", \"counter_floor\": -1}]" "keys[0].counter_floor"
bad "form factor" "[{\"public_key\": \"$U1\", \"form_factor\": \"floppy\"}]" "keys[0].form_factor"
bad "not an object" "[\"$U1\"]" "keys[0]: expected an object"
bad "not a list" "{\"key\": []}" "expected an array of keys"
bad "syntax" "[{\"public_key\": }]" "bad.json: line 1"

# ----- usage errors are exit 2 with a JSON error under --json
t 2 "build missing options" "$B" snapshot build --keys keys5.json --json
jis 'd["error"]["code"]' USAGE
t 2 "bad --expires" "$B" snapshot build --keys keys5.json --signer sup.key --version 1 --out z.snap --expires 3x
has err "--expires must be a duration"
t 2 "bad --now" "$B" snapshot verify s5.snap --trust sup.key --now yesterday
t 2 "unknown verb" "$B" snapshot frob --json
jis 'd["error"]["code"]' USAGE

echo "cli_e2e: all $steps steps passed"
