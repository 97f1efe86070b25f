#!/usr/bin/env bash
# Clone detection across controllers (issue 11 item 3, KSE-214): one key's
# counters uploaded by two controllers in an order they contradict open an
# incident naming the key, both controllers and both counters; with
# clone_policy = suspend the key is suspended and refused at both. And no
# false positive: a controller that was offline uploads its use a while
# later, in counter order.
#
# clock_tolerance = 3 makes the ordering margin 6 s (twice the tolerance),
# so "earlier by more than the margin" is a 7 s sleep, not ten minutes (and a
# heartbeat a second or two late under load is no clock fault).
source "$(dirname "$0")/lib.sh"

sup_init
printf 'clock_tolerance = 3\nclone_policy = alert\n' >>"$W/sup/keysupd.conf"
sup_start
ctl_add ca 1
ctl_add cb 1
ctl_run ca
ctl_run cb
CA=${CTL_ID[ca]}
CB=${CTL_ID[cb]}

enrol() { sv_key "$1"; KID[$1]=$SV_KID; }  # enrol NAME: sv_key; sets KID[NAME]
declare -A KID
# present_at KEY CTRL COUNTER: exit 0 when granted; the decision in present.out
uploaded() {  # uploaded CTRL: its audit ring is empty of unsent records
    [ "$(status "$1" 'd["store"]["audit_pending"]')" = 0 ]
}
clone_incidents() {  # clone_incidents KID: the open KSE-214 incidents of that key, as JSON
    api incidents --open --code KSE-214 --limit 50 >"$W/inc.json" 2>/dev/null || return 1
    python3 - "$W/inc.json" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps([i for i in d["items"] if i.get("key_id") == sys.argv[2]]))
PY
}
has_clone() { [ "$(clone_incidents "$1")" != "[]" ]; }
key_state() { api key get "$1" >"$W/key.json" && j "$W/key.json" 'd["state"]'; }

enrol honest
enrol cloned
wait_until 20 "ca in step" in_step ca
wait_until 20 "cb in step" in_step cb

# ----- no false positive: cb is offline when the key is used there, uploads late
ctl cb fault drop_link true >/dev/null
present_at honest cb 1000 || fail "honest at cb: $(cat "$W/present.out" "$W/present.err")"
sleep 7
present_at honest ca 2000 || fail "honest at ca: $(cat "$W/present.out" "$W/present.err")"
wait_until 15 "ca uploads" uploaded ca
uploaded cb && fail "cb uploaded while its link was down"
ctl cb fault drop_link false >/dev/null
wait_until 15 "cb uploads late" uploaded cb
sleep 1
[ "$(clone_incidents "${KID[honest]}")" = "[]" ] || fail "false positive: $(cat "$W/inc.json")"
[ "$(key_state "${KID[honest]}")" = active ] || fail "honest key: $(cat "$W/key.json")"
ok "a use uploaded late by a controller that was offline, in counter order: no incident"

# ----- alert: counter n at ca, then below n at cb 3.2 s later
present_at cloned ca 5000 || fail "cloned at ca: $(cat "$W/present.out" "$W/present.err")"
sleep 7
present_at cloned cb 4000 || fail "cb grants (it never saw the key): $(cat "$W/present.out")"
wait_until 15 "KSE-214 for the cloned key" has_clone "${KID[cloned]}"
clone_incidents "${KID[cloned]}" >"$W/clone.json"
python3 - "$W/clone.json" "$CA" "$CB" "${KID[cloned]}" <<'PY' || fail "incident: $(cat "$W/clone.json")"
import json, sys
items = json.load(open(sys.argv[1])); ca, cb, kid = sys.argv[2:5]
assert len(items) == 1, items
i = items[0]
ev = i["evidence"]
assert i["code"] == "KSE-214" and i["symbol"] == "KEY_CLONED", i
assert str(i["controller_id"]) == cb, i           # the later use's controller
for want in (kid, "counter 5000 at controller %s 'ca'" % ca, "counter 4000 at controller %s 'cb'" % cb,
             "keysup key revoke"):
    assert want in ev, (want, ev)
PY
[ "$(key_state "${KID[cloned]}")" = active ] || fail "alert suspended the key: $(cat "$W/key.json")"
present_at cloned ca 6000 || fail "alert: still granted at ca: $(cat "$W/present.out")"
ok "counter 5000 at ca then 4000 at cb: one KSE-214 incident naming the key, ca, cb and both counters; alert leaves the key active"

# ----- suspend: the same contradiction suspends the key, refused at both
sup_stop
sed -i 's/^clone_policy = alert$/clone_policy = suspend/' "$W/sup/keysupd.conf"
sup_start
enrol clone2
wait_until 20 "ca in step" in_step ca
wait_until 20 "cb in step" in_step cb
present_at clone2 ca 9000 || fail "clone2 at ca: $(cat "$W/present.out" "$W/present.err")"
sleep 7
present_at clone2 cb 8000 || fail "clone2 at cb: $(cat "$W/present.out" "$W/present.err")"
wait_until 15 "clone2 suspended" key_is "${KID[clone2]}" suspended
[ "$(clone_incidents "${KID[clone2]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1 ] \
    || fail "suspend: $(cat "$W/inc.json")"
refused_at clone2 20000 ca cb
ok "clone_policy = suspend: the key is suspended and refused at ca and cb (KSE-203)"

# ----- the equal counter at two controllers is a clone even within the margin
present_at cloned cb 6000 || fail "cloned at cb: $(cat "$W/present.out")"
wait_until 15 "cb uploads" uploaded cb
wait_until 15 "evidence added" sh -c "\"$B/keysup\" --json incidents --open --code KSE-214 | grep -q 'the same counter signed twice'"
ok "one counter signed at two controllers adds evidence to the key's open incident"
echo "clone_e2e: $steps checks passed"
