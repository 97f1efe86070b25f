#!/usr/bin/env bash
# Attack on the console's sign-in from the site LAN (docs/console.md):
#  - password guessing in parallel: the lock (console_deny failures) must
#    bound the passwords checked, not only the ones that finished before
#    the next guess started. Before the fix every guess that read the
#    account before the lock was written was checked too: with 8 worker
#    threads, 24 parallel guesses got 8 or more checks against a deny of 2;
#  - a sign-in forged by another site's page (login CSRF): a text/plain form
#    posting JSON-looking fields, or any request whose Origin is not the
#    console's, is refused before the password is looked at.
source "$(dirname "$0")/lib.sh"

console_sup "threads = 8" "console_deny = 2" "console_fail_interval = 600" \
    "console_unlock_time = 600"

# ----- 24 wrong guesses at once: at most console_deny of them checked
G=()
for i in $(seq 1 24); do signin tech "wrong-guess-$i" "g$i.json" >"$W/g$i.st" & G+=($!); done
for p in "${G[@]}"; do wait "$p" || true; done
locked=0
for i in $(seq 1 24); do
    case "$(cat "$W/g$i.st") $(j "$W/g$i.json" 'd["error"]["code"]')" in
    "401 KSE-743") ;;
    "403 KSE-740") locked=$((locked + 1)) ;;
    *) fail "guess $i: $(cat "$W/g$i.st") $(cat "$W/g$i.json")" ;;
    esac
done
# Every password checked and wrong is one failure on the account (a guess
# refused as locked is not checked and not counted).
api operator list >"$W/ops.json"
checked=$(j "$W/ops.json" '[o["failures"] for o in d["items"] if o["name"]=="tech"][0]')
[ "$checked" -le 2 ] || fail "$checked passwords checked in parallel against console_deny = 2 ($locked refused locked)"
[ "$(signin tech right-password-123 r.json)" = 403 ] || fail "the right password passed a locked account"
ok "24 parallel guesses: $checked checked, $locked answered locked; the right one refused while locked"

# ----- login CSRF: another site's page cannot sign the browser in
api operator add tech2 --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add tech2"
st=$(curl -s -o "$W/x.json" -w '%{http_code}' -H 'Content-Type: text/plain' \
    --data-binary '{"name":"tech2","password":"right-password-123","x":"="}' "$U/v1/session")
[ "$st" = 415 ] || fail "text/plain sign-in: $st $(cat "$W/x.json")"
st=$(signin tech2 right-password-123 x.json -H 'Origin: http://evil.example')
[ "$st" = 403 ] && [ "$(j "$W/x.json" 'd["error"]["code"]')" = KSE-742 ] || fail "cross-origin sign-in: $st $(cat "$W/x.json")"
st=$(signin tech2 right-password-123 x.json -H 'Sec-Fetch-Site: cross-site')
[ "$st" = 403 ] || fail "Sec-Fetch-Site cross-site sign-in: $st $(cat "$W/x.json")"
api operator list >"$W/ops.json"
[ "$(j "$W/ops.json" '[o["failures"] for o in d["items"] if o["name"]=="tech2"][0]')" = 0 ] \
    || fail "a refused cross-site sign-in counted as a failure: it would let any page lock accounts"
st=$(signin tech2 right-password-123 x.json -H "Origin: $U")
[ "$st" = 200 ] || fail "same-origin sign-in: $st $(cat "$W/x.json")"
ok "sign-in refused as text/plain (415), from another Origin or cross-site (403 KSE-742), accepted from the console's own origin"
# ----- API answers echo client text (an error names the key asked for, an
# export holds labels): none may be sniffed as HTML by a browser.
curl -s -D "$W/h.txt" -o "$W/b.json" "$U/v1/keys/%3Cscript%3Ealert(1)%3C%2Fscript%3E" \
    -H "Authorization: Bearer $(cat "$W/admin.tok")" || fail "GET key"
grep -qi '^content-type: application/json' "$W/h.txt" || fail "error answer type: $(cat "$W/h.txt")"
grep -qi '^x-content-type-options: nosniff' "$W/h.txt" || fail "no nosniff on an API answer: $(cat "$W/h.txt")"
curl -s -D "$W/h2.txt" -o /dev/null "$U/v1/keys:export" -H "Authorization: Bearer $(cat "$W/admin.tok")"
grep -qi '^x-content-type-options: nosniff' "$W/h2.txt" || fail "no nosniff on the CSV export"
ok "API answers, JSON and CSV, carry X-Content-Type-Options: nosniff"
# ----- user enumeration through the lock: a real name was locked after
# console_deny failures (403 KSE-740, Retry-After), an unknown one never was,
# so three wrong passwords told which names exist. Both now answer alike.
api operator add tech3 --role operator --password-file "$W/op.pw" >/dev/null || fail "operator add tech3"
answers() { # NAME: the status, code, message (name blanked) and Retry-After of 3 wrong sign-ins
    local i
    for i in 1 2 3; do
        printf '%s ' "$(signin "$1" "wrong-$i" e.json -D "$W/e.h")"
        j "$W/e.json" 'd["error"]["code"] + " " + d["error"]["message"]' | sed "s/$1/NAME/g; s/[0-9]\+ s /N s /"
        grep -qi '^retry-after:' "$W/e.h" && echo "retry-after" || echo "-"
    done
}
answers tech3 >"$W/known.txt"
answers nobody-here >"$W/unknown.txt"
grep -q "KSE-740" "$W/known.txt" || fail "the real name was never locked: $(cat "$W/known.txt")"
diff "$W/known.txt" "$W/unknown.txt" >"$W/enum.diff" || fail "a real and an unknown name answer differently: $(cat "$W/enum.diff")"
ok "three wrong sign-ins: a real name and an unknown one get the same answers (lock included)"
echo "attack_console_e2e: all $steps steps passed"
