#!/usr/bin/env bash
# Attack from the site LAN: keep an operator locked out of the console
# (docs/console.md "Lockout", docs/security.md). Before the fix the lock was
# per name: console_deny wrong passwords from any address locked the name
# for everybody, the operator at their own desk included, and a script
# could renew it forever. Now:
#  - console_deny failures lock the name only for the source they came from;
#  - console_deny_global failures from all sources lock it for everybody
#    but the addresses the operator signed in from (the familiar ones);
#  - `keysup operator unlock` ends both.
# The sources are loopback addresses (curl --interface 127.0.0.N).
source "$(dirname "$0")/lib.sh"

console_sup "console_deny = 2" "console_deny_global = 4" "console_fail_interval = 600" \
    "console_unlock_time = 600"

# from N NAME PASS: "status code" of a sign-in from 127.0.0.N
from() {
    local st
    st=$(signin "$2" "$3" s.json --interface "127.0.0.$1")
    echo "$st $(j "$W/s.json" 'd.get("error", {}).get("code", "-")')"
}

# ----- the attacker at .66 locks tech for itself only
[ "$(from 66 tech guess-1)" = "401 KSE-743" ] || fail "first wrong guess: $(cat "$W/s.json")"
[ "$(from 66 tech guess-2)" = "403 KSE-740" ] || fail "second wrong guess did not lock .66: $(cat "$W/s.json")"
[ "$(from 66 tech right-password-123)" = "403 KSE-740" ] || fail "the right password passed from the locked source"
[ "$(from 1 tech right-password-123)" = "200 -" ] \
    || fail "a LAN attacker's two wrong guesses kept the operator out at another address: $(cat "$W/s.json")"
ok "two wrong guesses from .66 lock tech at .66 only; the operator signs in from .1"

# ----- guesses spread over sources: the global lock, which spares .1
[ "$(from 67 tech guess-3)" = "401 KSE-743" ] || fail "guess from .67: $(cat "$W/s.json")"
[ "$(from 68 tech guess-4)" = "401 KSE-743" ] || fail "guess from .68: $(cat "$W/s.json")"
[ "$(from 69 tech guess-5)" = "401 KSE-743" ] || fail "guess from .69: $(cat "$W/s.json")"
[ "$(from 70 tech guess-6)" = "403 KSE-740" ] || fail "4 failures from 4 sources did not lock tech: $(cat "$W/s.json")"
[ "$(from 71 tech right-password-123)" = "403 KSE-740" ] \
    || fail "the right password passed the global lock from a new source: $(cat "$W/s.json")"
api operator list >"$W/ops.json"
[ "$(j "$W/ops.json" '[o["failures"] for o in d["items"] if o["name"]=="tech"][0]')" = 4 ] \
    || fail "global count: $(cat "$W/ops.json")"
[ "$(from 1 tech right-password-123)" = "200 -" ] \
    || fail "the global lock kept the operator out at the address it signs in from: $(cat "$W/s.json")"
ok "4 guesses from 4 sources lock tech everywhere but .1, where it signed in before"

# ----- an unknown name answers the same way as a real one with the same history
api operator add tech3 --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add tech3"
for n in 66 66 66 1 67 68 69 70; do from "$n" tech3 "wrong-$n" >>"$W/known.txt"; done
for n in 66 66 66 1 67 68 69 70; do from "$n" no-such-op "wrong-$n" >>"$W/unknown.txt"; done
diff "$W/known.txt" "$W/unknown.txt" >"$W/enum.diff" || fail "a real and an unknown name answer differently: $(cat "$W/enum.diff")"
ok "a real and an unknown name get the same answers per source and globally"

# ----- keysup operator unlock ends the per-source and the global lock
id=$(j "$W/ops.json" '[o["id"] for o in d["items"] if o["name"]=="tech"][0]')
api operator unlock tech >/dev/null || fail "operator unlock"
[ "$(from 66 tech right-password-123)" = "200 -" ] || fail "after unlock, from .66: $(cat "$W/s.json")"
ok "operator unlock (id $id) lifts the per-source lock too"
echo "attack_lockout_e2e: all $steps steps passed"
