#!/usr/bin/env bash
# Issue 13 item 4: an incident storm folds. Five controllers of one site go
# offline together (their agents killed): one site incident (KSE-120
# SITE_UNREACHABLE) holds their five KSE-100 incidents, the webhook gets one
# site page instead of five controller pages (at most site_fold - 1 = 2
# controllers are paged before the fold), a controller of another site is
# untouched; when the site comes back the site incident resolves with one page.
. "$(dirname "$0")/lib.sh"
OPS="$(dirname "$0")/../ops"
python3 "$OPS/webhook_receiver.py" "$W/hook.port" "$W/hook.jsonl" &
PIDS+=($!)
wait_until 10 "webhook receiver" test -s "$W/hook.port"
head -c 32 /dev/urandom | base64 >"$W/hook.secret"

sup_init
cat >"$W/sup/webhook.conf" <<CONF
url = http://127.0.0.1:$(cat "$W/hook.port")/keysup
secret_file = $W/hook.secret
retries = 5
backoff_max = 1
timeout = 5
CONF
printf 'site_fold = 3\n' >>"$W/sup/keysupd.conf"
sup_start

add() { # NAME SITE
    api controller add "$1" --scope 1 --site "$2" >"$W/$1.add.json" || fail "controller add $1"
    CTL_ID[$1]=$(j "$W/$1.add.json" 'd["id"]')
    "$B/keysup-controller" enroll --flash "$W/$1.img" --sectors 256 --supervisor "$KEYSUP_SERVER" \
        --token "$(j "$W/$1.add.json" 'd["provisioning_token"]')" >"$W/$1.enroll.log" 2>&1 \
        || fail "enroll $1"
}
run() {
    "$B/keysup-controller" run --flash "$W/$1.img" --sectors 256 --socket "$W/$1.sock" \
        --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/$1.log" 2>&1 &
    CTL_PID[$1]=$!
    PIDS+=("${CTL_PID[$1]}")
}
SHOP="s1 s2 s3 s4 s5"
for c in $SHOP; do add "$c" shop-north; done
add o1 shop-south
for c in $SHOP o1; do run "$c"; done
for c in $SHOP o1; do wait_until 60 "$c in step" in_step "$c"; done
ok "five controllers of shop-north and one of shop-south in step"

for c in $SHOP; do kill -KILL "${CTL_PID[$c]}"; done
sites() { curl -s -H "Authorization: Bearer $(cat "$W/admin.tok")" "$KEYSUP_SERVER/v1/site-incidents$1"; }
site_open() {
    sites '?open=1' >"$W/site.json" || return 1
    [ "$(j "$W/site.json" 'len(d["items"]) == 1 and len(d["items"][0]["controllers"]) == 5')" = True ]
}
wait_until 60 "one site incident with the five controllers" site_open
[ "$(j "$W/site.json" 'd["items"][0]["code"], d["items"][0]["site"]')" = "('KSE-120', 'shop-north')" ] \
    || fail "site incident: $(cat "$W/site.json")"
ok "shop-north offline: one site incident KSE-120 with its 5 controllers under it"

pages() { # EVENT CODE: delivered (status 200) distinct pages
    python3 - "$W/hook.jsonl" "$1" "$2" <<'PY'
import json, sys
seen = set()
for l in open(sys.argv[1]):
    r = json.loads(l)
    b = json.loads(r["body"])
    if r["status"] == 200 and b["event"] == sys.argv[2] and b["code"] == sys.argv[3]:
        seen.add(b["incident"])
print(len(seen))
PY
}
wait_until 20 "the site page delivered" sh -c "[ -s '$W/hook.jsonl' ] && grep -q site_incident.open '$W/hook.jsonl'"
sleep 2
SITEP=$(pages site_incident.open KSE-120)
CTLP=$(pages incident.open KSE-100)
[ "$SITEP" = 1 ] || fail "site pages: $SITEP"
[ "$CTLP" -le 2 ] || fail "$CTLP controller pages for one site outage (at most site_fold - 1 = 2)"
ok "pages: 1 for the site, $CTLP for controllers before the fold (not 5)"

curl -s -H "Authorization: Bearer $(cat "$W/admin.tok")" "$KEYSUP_SERVER/v1/incidents?open=1" >"$W/open.json"
[ "$(j "$W/open.json" '[i for i in d["items"] if i.get("controller_id") == '"${CTL_ID[o1]}"']')" = "[]" ] \
    || fail "shop-south's controller has an incident: $(cat "$W/open.json")"
ok "the controller of shop-south is untouched"

for c in $SHOP; do run "$c"; done
site_resolved() {
    sites '' >"$W/site2.json" || return 1
    [ "$(j "$W/site2.json" 'd["items"][0]["state"]')" = resolved ]
}
wait_until 60 "the site incident resolves" site_resolved
wait_until 20 "the site resolve page" sh -c "grep -q site_incident.resolve '$W/hook.jsonl'"
sleep 1
[ "$(pages site_incident.resolve KSE-120)" = 1 ] || fail "site resolve pages"
ok "shop-north back: the site incident resolved with one page"
sup_stop
echo "all $steps site fold steps passed"
