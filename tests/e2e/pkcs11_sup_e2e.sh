#!/usr/bin/env bash
# keysupd's signing key in a PKCS#11 token (issue 11), with SoftHSM2 tokens
# made by the test: `signing_key = pkcs11:...` in keysupd.conf moves the key
# from its file to the token; `keysup supervisor rotate` moves it back to a
# file, `rotate --to URI` to a token again; a restart keeps the active key.
# At every step the controller follows the rotation chain, applies what the
# supervisor published (signed on the token) and grants a key.
source "$(dirname "$0")/lib.sh"
# SoftHSM2's own OpenSSL leaks are not keysup's (tests/lsan-softhsm.supp).
export LSAN_OPTIONS="suppressions=$(cd "$(dirname "$0")/.." && pwd)/lsan-softhsm.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

command -v softhsm2-util >/dev/null || fail "softhsm2-util missing (scripts/deps.sh test)"
MOD=/usr/lib/softhsm/libsofthsm2.so
[ -r "$MOD" ] || MOD=/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so
mkdir -p "$W/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$W/tokens" \
    >"$W/softhsm2.conf"
export SOFTHSM2_CONF="$W/softhsm2.conf"
softhsm2-util --init-token --free --label hsm --pin 2468 --so-pin 1357 >/dev/null \
    || fail "softhsm2-util --init-token"
echo 2468 >"$W/pin"
URI1="pkcs11:token=hsm;object=signing-1?module-path=$MOD"
URI2="pkcs11:token=hsm;object=signing-2?module-path=$MOD"
n=0
for u in "$URI1" "$URI2"; do
    n=$((n + 1))
    "$B/keysup" --json key keygen --pkcs11 "$u" --pin-file "$W/pin" >"$W/keygen$n.json" \
        || fail "keygen $u: $(cat "$W/keygen$n.json")"
done
PK1=$(j "$W/keygen1.json" 'd["public_key"]')
PK2=$(j "$W/keygen2.json" 'd["public_key"]')

sup_init
sup_start
keygen bob
ctl_add c1 1
ctl_run c1
api key enrol --public-key "$W/bob.key" --privilege SUPERVISOR --privilege VOID --scope 1 >/dev/null
wait_until 10 "c1 in step" in_step c1
present "$W/bob.key" c1 void || fail "file key era: $(cat "$W/present.err")"

# sup_key: the supervisor's public key; follows NAME: c1 trusts it and is in step
sup_key() { api supervisor show >"$W/sup.json" && j "$W/sup.json" 'd["public_key"]'; }
trusts() {
    local kid fp
    api supervisor show >"$W/sup.json" || return 1
    kid=$(j "$W/sup.json" 'd["key_id"]')
    fp=$(echo "$kid" | sed 's/\(....\)/\1-/g; s/-$//')
    ctl c1 --json status >"$W/c1.trust.json" 2>/dev/null || return 1
    grep -q "$fp" "$W/c1.trust.json" && in_step c1
}
# step N WHAT: c1 follows, a new enrolment reaches it, bob is granted
step() {
    api key enrol --public-key "$(keygen "k$1"; echo "$W/k$1.key")" --privilege OPERATOR --scope 1 \
        >/dev/null || fail "enrol k$1"
    wait_until 15 "c1 follows ($2)" trusts
    present "$W/bob.key" c1 void "reader-$1" || fail "$2: bob refused: $(cat "$W/present.err")"
}

# ----- file -> token: the config names the token's key; keysupd adopts it at start
sup_stop
printf 'signing_key = %s\nsigning_key_pin_file = %s\n' "$URI1" "$W/pin" >>"$W/sup/keysupd.conf"
sup_start
[ "$(sup_key)" = "$PK1" ] || fail "after adoption the supervisor key is $(sup_key), want $PK1"
[ "$(j "$W/sup.json" 'd["seq"]')" = 2 ] || fail "adoption is not rotation 2: $(cat "$W/sup.json")"
grep -q "signing_key.adopted" "$W/keysupd.log" || fail "no adoption logged"
step 1 "file -> token"
ok "signing_key = pkcs11:... adopted at start (rotation 2 signed by file and token); c1 follows, grants"

# ----- token -> file
api supervisor rotate >"$W/rot.json" || fail "rotate to a file: $(cat "$W/rot.json")"
[ "$(j "$W/rot.json" 'd["public_key"]')" != "$PK1" ] || fail "rotate kept the token key"
ls "$W/sup/supervisor-3.key" >/dev/null || fail "no new key file"
step 2 "token -> file"
ok "rotated token -> file (rotation 3 signed on the token); c1 follows, grants"

# ----- file -> token again, by the API
api supervisor rotate --to "$URI2" >"$W/rot.json" || fail "rotate --to: $(cat "$W/rot.json")"
[ "$(j "$W/rot.json" 'd["public_key"]')" = "$PK2" ] || fail "rotate --to: $(cat "$W/rot.json")"
step 3 "file -> token"
api supervisor rotate --to "$URI2" >"$W/rot.json" 2>&1 && fail "rotated to the active key"
ok "rotated file -> token with --to; rotating to the active key is refused"

# ----- restart: the token key stays active; the old signing_key line is not re-adopted
sup_stop
sup_start
[ "$(sup_key)" = "$PK2" ] || fail "after restart: $(sup_key), want $PK2"
grep -q "signing_key.not_adopted" "$W/keysupd.log" || fail "stale signing_key line not reported"
step 4 "restart"
ok "restart keeps the token key (signed answers and snapshots from the token); stale line warned"

# ----- the token's PIN wrong: keysupd refuses to start, naming KSE-208
sup_stop
echo 0000 >"$W/pin"
"$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 --port-file "$W/port2" >"$W/bad.log" 2>&1 &
BADPID=$!
PIDS+=("$BADPID")
wait_until 10 "keysupd exits on a wrong PIN" sh -c "! kill -0 $BADPID"
grep -q "KSE-208" "$W/bad.log" || fail "wrong PIN at start: $(cat "$W/bad.log")"
ok "wrong token PIN: keysupd does not start and says KSE-208"
echo "pkcs11_sup_e2e: $steps steps passed"
