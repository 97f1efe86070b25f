#!/usr/bin/env bash
# The console's server side without a browser (issue 12): the files served
# at / with their security headers, the session cookie's attributes (Secure
# under TLS), idle and absolute expiry (KSE-741), CSRF (KSE-742), bearer
# tokens unchanged beside cookies, the operator lifecycle (unlock, passwd,
# remove) through `keysup operator`, and GET /v1/fleet's filters.
WEB="$(cd "$(dirname "$0")" && pwd)"
source "$WEB/../e2e/lib.sh"

sup_init
cat >>"$W/sup/keysupd.conf" <<'CONF'
console_idle = 2
console_session_max = 6
console_deny = 2
console_fail_interval = 2
console_unlock_time = 600
CONF
sup_start
U="$KEYSUP_SERVER"
PW=$(cat "$W/sup/console-admin.password")
[ "$(stat -c %a "$W/sup/console-admin.password")" = 600 ] || fail "admin password file is not 0600"

# signin USER PASS JAR: POST /v1/session; headers to JAR.h, body to JAR.json, status on stdout
signin() {
    curl -s -o "$W/$3.json" -D "$W/$3.h" -c "$W/$3" -w '%{http_code}' -H 'Content-Type: application/json' \
        -d "{\"name\":\"$1\",\"password\":\"$2\"}" "$U/v1/session"
}
# cookie JAR: the session cookie as a -b argument (sent even after the
# browser side would have dropped it: the server must refuse it itself)
cookie() { echo "ks_session=$(awk '$6 == "ks_session" {print $7}' "$W/$1")"; }
# code FILE: the error code of an answer
code() { j "$1" 'd["error"]["code"]'; }

# ----- the files, with their headers; nothing outside web_dir
curl -s -D "$W/index.h" -o "$W/index.html" "$U/" || fail "GET /"
grep -qi '^content-security-policy: default-src .self.; script-src .self.' "$W/index.h" \
    || fail "no CSP on /: $(cat "$W/index.h")"
grep -qi '^x-frame-options: DENY' "$W/index.h" || fail "no X-Frame-Options"
grep -q 'src="/ui/app.js"' "$W/index.html" || fail "index.html is not the console"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$U/ui/app.js")" = 200 ] || fail "GET /ui/app.js"
for bad in "/ui/..%2fkeysup.db" "/ui/.hidden.js" "/ui/app.sh" "/ui/nonexistent.js"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$U$bad")" = 404 ] || fail "$bad is served"
done
ok "/ and /ui/* serve web_dir's files with CSP and no framing; no path leaves it"

# ----- sign-in: the cookie's attributes; bearer tokens unchanged
[ "$(signin admin "$PW" a)" = 200 ] || fail "admin sign-in: $(cat "$W/a.json")"
grep -i '^set-cookie: ks_session=kss_[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Max-Age=6' "$W/a.h" \
    >/dev/null || fail "cookie attributes: $(grep -i set-cookie "$W/a.h")"
grep -qi '^set-cookie:.*Secure' "$W/a.h" && fail "Secure cookie on plain HTTP (the browser would drop it)"
CSRF=$(j "$W/a.json" 'd["csrf"]')
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/a" "$U/v1/fleet")" = 200 ] || fail "cookie GET"
st=$(curl -s -o "$W/r.json" -w '%{http_code}' -b "$W/a" -X POST -d '{"name":"x1"}' "$U/v1/controllers")
[ "$st" = 403 ] && [ "$(code "$W/r.json")" = KSE-742 ] || fail "POST without CSRF: $st $(cat "$W/r.json")"
# The right token with its last digit changed (never the same token).
WRONG="${CSRF%?}$([ "${CSRF: -1}" = 0 ] && echo 1 || echo 0)"
st=$(curl -s -o "$W/r.json" -w '%{http_code}' -b "$W/a" -H "X-Keysup-CSRF: $WRONG" -X POST \
    -d '{"name":"x1"}' "$U/v1/controllers")
[ "$st" = 403 ] && [ "$(code "$W/r.json")" = KSE-742 ] || fail "POST with a wrong CSRF: $st"
st=$(curl -s -o "$W/r.json" -w '%{http_code}' -b "$W/a" -H "X-Keysup-CSRF: $CSRF" -X POST \
    -d '{"name":"x1","site":"S1"}' "$U/v1/controllers")
[ "$st" = 201 ] || fail "POST with CSRF: $st $(cat "$W/r.json")"
# A bearer token needs no CSRF token and wins over a cookie.
st=$(curl -s -o /dev/null -w '%{http_code}' -b "ks_session=kss_$(printf '0%.0s' $(seq 64))" \
    -H "Authorization: Bearer $(cat "$W/admin.tok")" -X POST -d '{"name":"x2"}' "$U/v1/controllers")
[ "$st" = 201 ] || fail "bearer token with a bogus cookie: $st"
ok "cookie HttpOnly, SameSite=Strict, no Secure on HTTP; CSRF missing/wrong is KSE-742; bearer tokens unchanged"

# ----- /v1/fleet: the state and its filters
api controller list >/dev/null
curl -s -b "$W/a" "$U/v1/fleet?site=S1" >"$W/f.json"
[ "$(j "$W/f.json" '[c["name"] for c in d["items"]]')" = "['x1']" ] || fail "site filter: $(cat "$W/f.json")"
[ "$(j "$W/f.json" 'd["items"][0]["state"]')" = offline ] || fail "never-seen controller is not offline"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/a" "$U/v1/fleet?state=broken")" = 400 ] \
    || fail "bad state filter accepted"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/a" "$U/v1/fleet?code=KSE-999")" = 400 ] \
    || fail "bad code filter accepted"
ok "GET /v1/fleet: never-enrolled controller offline; site filter; bad state/code are 400"

# ----- idle and absolute expiry (KSE-741); sign-out
[ "$(signin admin "$PW" a)" = 200 ] || fail "sign-in a"
sleep 3
st=$(curl -s -o "$W/r.json" -D "$W/r.h" -w '%{http_code}' -b "$(cookie a)" "$U/v1/fleet")
[ "$st" = 401 ] && [ "$(code "$W/r.json")" = KSE-741 ] || fail "idle session still valid: $st"
grep -qi '^set-cookie: ks_session=;.*Max-Age=0' "$W/r.h" || fail "expired cookie not cleared"
[ "$(signin admin "$PW" b)" = 200 ] || fail "sign-in b"
B_COOKIE=$(cookie b)
for i in 1 2 3 4 5 6; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$B_COOKIE" "$U/v1/fleet")" = 200 ] \
        || [ "$i" -ge 5 ] || fail "busy session ended after $i s"
    sleep 1.1
done
st=$(curl -s -o "$W/r.json" -w '%{http_code}' -b "$B_COOKIE" "$U/v1/fleet")
[ "$st" = 401 ] && [ "$(code "$W/r.json")" = KSE-741 ] || fail "session past console_session_max: $st"
[ "$(signin admin "$PW" c)" = 200 ] || fail "sign-in c"
CSRF=$(j "$W/c.json" 'd["csrf"]')
curl -s -o /dev/null -b "$W/c" -H "X-Keysup-CSRF: $CSRF" -X DELETE "$U/v1/session"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/c" "$U/v1/fleet")" = 401 ] || fail "signed-out session valid"
[ "$(curl -s -b "$W/c" "$U/v1/session" | python3 -c 'import json,sys; print(json.load(sys.stdin)["signed_in"])')" = False ] \
    || fail "GET /v1/session after sign-out"
ok "idle (console_idle) and absolute (console_session_max) expiry and sign-out: KSE-741, cookie cleared"

# ----- operators: lock, unlock, passwd, remove, roles
printf 'first-password-1\n' >"$W/op.pw"
api operator add tech --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add"
printf 'short\n' >"$W/short.pw"
api operator add tech2 --role operator --password-file "$W/short.pw" >/dev/null 2>&1 \
    && fail "a 5-character password was accepted"
[ "$(signin tech wrong-0 d)" = 401 ] && [ "$(code "$W/d.json")" = KSE-743 ] || fail "wrong password 0"
sleep 3.2 # past console_fail_interval (whole seconds: a 2.5 s gap can read as 2): a new series
[ "$(signin tech wrong-1 d)" = 401 ] && [ "$(code "$W/d.json")" = KSE-743 ] \
    || fail "a failure outside console_fail_interval still counted: $(cat "$W/d.json")"
[ "$(signin tech wrong-2 d)" = 403 ] && [ "$(code "$W/d.json")" = KSE-740 ] || fail "2nd wrong: not locked"
grep -qi '^retry-after: [1-9]' "$W/d.h" || fail "no Retry-After on the lock"
[ "$(signin tech first-password-1 d)" = 403 ] || fail "right password accepted while locked"
[ "$(signin nobody whatever d)" = 401 ] && [ "$(code "$W/d.json")" = KSE-743 ] || fail "unknown name"
api operator unlock tech >/dev/null || fail "operator unlock"
[ "$(signin tech first-password-1 e)" = 200 ] || fail "sign-in after unlock: $(cat "$W/e.json")"
[ "$(j "$W/e.json" 'd["role"]')" = operator ] || fail "role"
printf 'second-password-2\n' >"$W/op2.pw"
api operator passwd tech --password-file "$W/op2.pw" >/dev/null || fail "operator passwd"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/e" "$U/v1/fleet")" = 401 ] || fail "session outlived passwd"
[ "$(signin tech first-password-1 f)" = 401 ] || fail "old password still works"
[ "$(signin tech second-password-2 f)" = 200 ] || fail "new password refused"
CSRF=$(j "$W/f.json" 'd["csrf"]')
st=$(curl -s -o "$W/r.json" -w '%{http_code}' -b "$W/f" -H "X-Keysup-CSRF: $CSRF" "$U/v1/operators")
[ "$st" = 403 ] && [ "$(code "$W/r.json")" = FORBIDDEN ] || fail "operator listed operators: $st"
api operator remove tech >/dev/null || fail "operator remove"
[ "$(curl -s -o /dev/null -w '%{http_code}' -b "$W/f" "$U/v1/fleet")" = 401 ] || fail "removed operator's session valid"
api operator list >"$W/ops.json" || fail "operator list"
[ "$(j "$W/ops.json" '[o["name"] for o in d["items"]]')" = "['admin']" ] || fail "list: $(cat "$W/ops.json")"
ok "operators: faillock lock (KSE-740, Retry-After) within console_fail_interval only, unlock, passwd ends sessions, roles apply, remove"

# ----- under TLS the cookie is Secure
sup_stop
"$B/keysup" init --data "$W/tls" --no-passphrase --token-out "$W/tls.tok" --san IP:127.0.0.1 \
    >/dev/null 2>&1 || fail "init --san"
rm -f "$W/port"
"$B/keysupd" --data "$W/tls" --listen 127.0.0.1:0 --port-file "$W/port" >>"$W/keysupd.log" 2>&1 &
PIDS+=("$!")
wait_until 10 "keysupd (TLS) listening" test -s "$W/port"
curl -s --cacert "$W/tls/tls-cert.pem" -D "$W/t.h" -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"name\":\"admin\",\"password\":\"$(cat "$W/tls/console-admin.password")\"}" \
    "https://127.0.0.1:$(cat "$W/port")/v1/session" || fail "TLS sign-in"
grep -qi '^set-cookie: ks_session=kss_.*HttpOnly; SameSite=Strict; Max-Age=[0-9]*; Secure' "$W/t.h" \
    || fail "TLS cookie not Secure: $(grep -i set-cookie "$W/t.h")"
ok "under TLS the session cookie is Secure"
