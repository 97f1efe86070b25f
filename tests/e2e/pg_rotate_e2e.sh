#!/usr/bin/env bash
# Two keysupd on one PostgreSQL database: a signing-key rotation made
# through one of them is taken by the other (sup_keyfollow.c), which then
# answers, and publishes, with the new key; the controller follows the
# rotation and keeps syncing. A restart loads the key the instance sealed
# into its own data directory, and an instance that was down during a
# rotation takes the key from the database at start.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"

KS_DB=postgresql
sup_init                           # starts the private PostgreSQL server
pg_second_instance                 # $W/sup2: same config and sealed key
# key_of N: "SEQ PUBLIC_KEY" instance N signs with
key_of() {
    KEYSUP_SERVER="http://127.0.0.1:${SPORT[$1]}" api supervisor show >"$W/show$1.json" 2>/dev/null || return 1
    echo "$(j "$W/show$1.json" 'd["seq"]') $(j "$W/show$1.json" 'd["public_key"]')"
}
signs_with() { [ "$(key_of "$1" | cut -d' ' -f1)" = "$2" ]; }

inst_start 1 "$W/sup"
inst_start 2 "$W/sup2"
U1="http://127.0.0.1:${SPORT[1]}" U2="http://127.0.0.1:${SPORT[2]}"
export KEYSUP_SERVER="$U1,$U2"
grep -q "event=cluster.start publisher=this instance" "$W/keysupd1.log" || fail "instance 1 should publish"

keygen alice
keygen bob
ctl_add c1 1
"$B/keysup-controller" run --flash "$W/c1.img" --socket "$W/c1.sock" \
    --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/c1.log" 2>&1 &
PIDS+=("$!")
wait_until 10 "c1 control socket" test -S "$W/c1.sock"
api key enrol --public-key "$W/alice.key" --privilege OPERATOR --scope 1 >"$W/alice.json" || fail "enrol alice"
wait_until 20 "c1 in step" in_step c1
ok "two keysupd on one database, controller in step, both sign with key 1"

# ----- rotate through instance 2 (not the publisher)
KEYSUP_SERVER="$U2" api supervisor rotate >"$W/rot.json" || fail "rotate: $(cat "$W/rot.json")"
[ "$(j "$W/rot.json" 'd["seq"]')" = 2 ] || fail "rotation should make key 2: $(cat "$W/rot.json")"
wait_until 10 "instance 1 takes key 2" signs_with 1 2
[ "$(key_of 1)" = "$(key_of 2)" ] || fail "instances sign with different keys: $(key_of 1) / $(key_of 2)"
[ -s "$W/sup/supervisor-2.key" ] || fail "instance 1 did not seal key 2 into its data directory"
[ "$(stat -c %a "$W/sup/supervisor-2.key")" = 600 ] || fail "key 2 file not 0600"
grep -q "event=signing_key.followed seq=2" "$W/keysupd1.log" || fail "instance 1 logged no follow"
ok "rotation on instance 2 taken by instance 1: $(key_of 1 | cut -c1-12)..."

# the publisher signs with the new key: the controller follows and syncs
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >/dev/null || fail "enrol bob"
wait_until 20 "c1 in step after the rotation" in_step c1
present "$W/bob.key" c1 access || fail "bob refused after the rotation: $(cat "$W/present.err")"
ok "controller in step on versions signed with key 2"

# ----- a restart loads the key sealed here
inst_stop 1
inst_start 1 "$W/sup"
signs_with 1 2 || fail "instance 1 after restart: $(key_of 1)"
ok "instance 1 restarts on key 2 from its own data directory"

# ----- an instance down during a rotation takes the key at start
inst_stop 2
KEYSUP_SERVER="$U1" api supervisor rotate >"$W/rot3.json" || fail "rotate: $(cat "$W/rot3.json")"
[ ! -e "$W/sup2/supervisor-3.key" ] || fail "key 3 should not be in instance 2's directory yet"
inst_start 2 "$W/sup2"
signs_with 2 3 || fail "instance 2 started on $(key_of 2), not key 3"
[ -s "$W/sup2/supervisor-3.key" ] || fail "instance 2 did not seal key 3"
api key revoke "$(j "$W/alice.json" 'd["key_id"]')" >/dev/null || fail "revoke after the second rotation"
wait_until 20 "c1 in step after the second rotation" in_step c1
ok "instance 2, down during the rotation, starts on key 3; controller in step"
echo "$steps passed, 0 failed"
