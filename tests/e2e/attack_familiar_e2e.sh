#!/usr/bin/env bash
# Attack from the site LAN after a keysupd restart, through another keysupd,
# and behind a reverse proxy (docs/console.md "Lockout", docs/security.md,
# field5). The addresses an operator signed in from are spared the global
# lock (console_deny_global); they were kept in each keysupd's memory, so
#  1. right after a restart an attacker spread over a few addresses locked
#     the operator out of the desk it always signs in from;
#  2. with two keysupd on one PostgreSQL, the instance that had not taken
#     the operator's sign-in did the same;
#  3. behind a reverse proxy every sign-in came from the proxy's address:
#     two wrong guesses by anyone locked the name for everybody. With
#     console_trusted_proxy naming the proxy, X-Forwarded-For's last hop is
#     the address; from any other peer the header is not believed.
# The sources are loopback addresses (curl --interface 127.0.0.N).
source "$(dirname "$0")/lib.sh"

limits() {
    cat >>"$W/sup/keysupd.conf" <<'CONF'
console_deny = 2
console_deny_global = 4
console_fail_interval = 600
console_unlock_time = 600
CONF
}
# from URL N NAME PASS [XFF]: "status code" of a sign-in from 127.0.0.N
from() {
    local st h=()
    [ -n "${5:-}" ] && h=(-H "X-Forwarded-For: $5")
    st=$(curl -s -o "$W/s.json" -w '%{http_code}' --interface "127.0.0.$2" "${h[@]}" \
        -H 'Content-Type: application/json' -d "{\"name\":\"$3\",\"password\":\"$4\"}" "$1/v1/session")
    echo "$st $(j "$W/s.json" 'd.get("error", {}).get("code", "-")')"
}
# spread URL: four wrong guesses from four new sources: the global lock
spread() {
    local n
    for n in 67 68 69; do [ "$(from "$1" "$n" tech "guess-$n")" = "401 KSE-743" ] || fail "guess from .$n: $(cat "$W/s.json")"; done
    [ "$(from "$1" 70 tech guess-70)" = "403 KSE-740" ] || fail "4 failures from 4 sources did not lock tech: $(cat "$W/s.json")"
    [ "$(from "$1" 71 tech right-password-123)" = "403 KSE-740" ] || fail "the global lock let a new source in"
}
printf 'right-password-123\n' >"$W/op.pw"

# ----- 1. one keysupd, restarted
sup_init
limits
sup_start
api operator add tech --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add"
[ "$(from "$KEYSUP_SERVER" 1 tech right-password-123)" = "200 -" ] || fail "sign-in from .1: $(cat "$W/s.json")"
sup_stop
sup_start
spread "$KEYSUP_SERVER"
[ "$(from "$KEYSUP_SERVER" 1 tech right-password-123)" = "200 -" ] \
    || fail "after a restart, the global lock kept the operator out at its usual desk: $(cat "$W/s.json")"
ok "after a restart the operator's usual desk (.1) is still familiar; a new source stays locked"
api operator unlock tech >/dev/null || fail "unlock"

# ----- 3. behind a reverse proxy at .5 (before the PostgreSQL part: same keysupd)
sup_stop
echo "console_trusted_proxy = 127.0.0.5" >>"$W/sup/keysupd.conf"
sup_start
[ "$(from "$KEYSUP_SERVER" 5 tech guess-a 10.9.0.1)" = "401 KSE-743" ] || fail "via the proxy: $(cat "$W/s.json")"
[ "$(from "$KEYSUP_SERVER" 5 tech guess-b "10.9.0.9, 10.9.0.1")" = "403 KSE-740" ] \
    || fail "two guesses from 10.9.0.1 through the proxy did not lock it: $(cat "$W/s.json")"
[ "$(from "$KEYSUP_SERVER" 5 tech right-password-123 10.9.0.2)" = "200 -" ] \
    || fail "behind the proxy, two guesses from one client locked everybody: $(cat "$W/s.json")"
api audit list --action console.signin >"$W/audit.json" 2>/dev/null || true
grep -q "10.9.0.2" "$W/audit.json" || fail "the audit does not name the client behind the proxy: $(head -c 600 "$W/audit.json")"
ok "behind the trusted proxy, X-Forwarded-For's last hop is the source (locked 10.9.0.1 only; audited)"
[ "$(from "$KEYSUP_SERVER" 6 tech guess-c 10.9.0.3)" = "401 KSE-743" ] || fail "from .6: $(cat "$W/s.json")"
[ "$(from "$KEYSUP_SERVER" 6 tech guess-d 10.9.0.4)" = "403 KSE-740" ] \
    || fail "a peer that is not the proxy chose its address by X-Forwarded-For: $(cat "$W/s.json")"
[ "$(from "$KEYSUP_SERVER" 6 tech right-password-123 10.9.0.2)" = "403 KSE-740" ] \
    || fail "a peer that is not the proxy passed as a familiar client: $(cat "$W/s.json")"
ok "from any other peer X-Forwarded-For is not believed"
sup_stop

# ----- 2. two keysupd on one PostgreSQL
W="$W/pg" && mkdir -p "$W"
printf 'right-password-123\n' >"$W/op.pw"
KS_DB=postgresql
sup_init
limits
pg_second_instance
inst_start 1 "$W/sup"
inst_start 2 "$W/sup2"
U1="http://127.0.0.1:${SPORT[1]}" U2="http://127.0.0.1:${SPORT[2]}"
export KEYSUP_SERVER="$U1"
api operator add tech --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add"
[ "$(from "$U1" 1 tech right-password-123)" = "200 -" ] || fail "sign-in on instance 1: $(cat "$W/s.json")"
spread "$U2"
[ "$(from "$U2" 1 tech right-password-123)" = "200 -" ] \
    || fail "the other instance did not know the operator's desk: $(cat "$W/s.json")"
ok "on PostgreSQL the other keysupd knows the operator's desk (.1)"
echo "attack_familiar_e2e: all $steps steps passed"
