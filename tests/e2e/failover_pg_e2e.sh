#!/usr/bin/env bash
# Issue 14: two keysupd on one PostgreSQL database and a controller that
# knows both. The publishing instance is killed with -9 (twice, once each
# way) during a burst of enrolments and revocations made through the CLI
# with both URLs. Checks: no acknowledged change is lost, the other instance
# publishes within the lease time (a few seconds), the controller converges
# to what the survivor published, and every decision at the controller is
# right throughout (a valid key granted; a revoked key refused: KSE-203, or
# KSE-500 once its repeated attempts locked it out).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"

KS_DB=postgresql
sup_init                           # starts the private PostgreSQL server
pg_second_instance                 # $W/sup2: same config and sealed key
inst_start 1 "$W/sup"
inst_start 2 "$W/sup2"
U1="http://127.0.0.1:${SPORT[1]}" U2="http://127.0.0.1:${SPORT[2]}"
export KEYSUP_SERVER="$U1,$U2"
grep -q "event=cluster.start publisher=this instance" "$W/keysupd1.log" || fail "instance 1 should publish"
grep -q "event=cluster.start publisher=another instance" "$W/keysupd2.log" || fail "instance 2 should follow"
ok "two keysupd on one database: instance 1 publishes, instance 2 follows"

keygen alice
keygen bob
ctl_add c1 1
# the agent knows both supervisors
"$B/keysup-controller" run --flash "$W/c1.img" --socket "$W/c1.sock" \
    --supervisor "$KEYSUP_SERVER" --heartbeat 1 >>"$W/c1.log" 2>&1 &
PIDS+=("$!")
wait_until 10 "c1 control socket" test -S "$W/c1.sock"
api key enrol --public-key "$W/alice.key" --privilege OPERATOR --scope 1 >/dev/null || fail "enrol alice"
api key enrol --public-key "$W/bob.key" --privilege OPERATOR --scope 1 >"$W/bob.json" || fail "enrol bob"
api key revoke "$(j "$W/bob.json" 'd["key_id"]')" >/dev/null || fail "revoke bob"
wait_until 10 "c1 in step" in_step c1
# Either instance answers the device API; a nonce from one is spent once anywhere.
present "$W/alice.key" c1 access || fail "alice refused: $(cat "$W/present.err")"
ok "controller in step through either instance"

# burst: enrol scope-1 keys, revoke every other one; acknowledged ids logged
burst() {
    local i out id
    for i in $(seq 1 "$1"); do
        out=$("$B/keysup" --json key enrol --generate --scope 1 --privilege OPERATOR 2>/dev/null) || continue
        id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])' <<<"$out") || continue
        echo "$id" >>"$W/enrolled"
        if [ $((i % 2)) -eq 0 ] && "$B/keysup" key revoke "$id" >/dev/null 2>&1; then
            echo "$id" >>"$W/revoked"
        fi
    done
}
# decisions at the controller, all through the burst
decide() {
    local bad=0
    while [ ! -e "$W/stop-decide" ]; do
        "$B/keysup" key present "$W/alice.key" --controller "$W/c1.sock" --action access \
            >/dev/null 2>"$W/d.alice.err" || { echo "alice refused: $(cat "$W/d.alice.err")"; bad=1; }
        if "$B/keysup" key present "$W/bob.key" --controller "$W/c1.sock" --action access \
            >/dev/null 2>"$W/d.bob.err"; then echo "revoked bob granted"; bad=1
        elif ! grep -q -e KSE-203 -e KSE-500 "$W/d.bob.err"; then echo "bob: $(cat "$W/d.bob.err")"; bad=1; fi
        sleep 0.1
    done
    return $bad
}
: >"$W/enrolled"; : >"$W/revoked"
decide >"$W/decide.out" 2>&1 &
DEC=$!

# published_version of c1's scope as instance N sees it
pubv() { "$B/keysup" --json --server "$1" controller show "${CTL_ID[c1]}" 2>/dev/null |
         python3 -c 'import json,sys; print(json.load(sys.stdin).get("published_version") or 0)'; }

failover() { # KILLED SURVIVOR
    local k=$1 s=$2 us v0 t0 t1
    us="http://127.0.0.1:${SPORT[$s]}"
    burst 30 &
    local bp=$!
    sleep 1.5
    v0=$(pubv "$us")
    # takeovers the survivor logged so far (its log is appended across restarts)
    n0=$(grep -c "event=cluster.lease publisher=this instance" "$W/keysupd$s.log" || true)
    t0=$(now_ms)
    kill -9 "${SPID[$k]}"
    wait "${SPID[$k]}" 2>/dev/null || true
    # The survivor takes the lease and publishes the changes made after the
    # kill. Both are waited for: the version alone can grow from the killed
    # instance's last publish, made between v0 and the kill.
    wait_until 10 "instance $s takes the lease and publishes" bash -c "[ \$(grep -c 'event=cluster.lease publisher=this instance' '$W/keysupd$s.log') -gt $n0 ] && [ \$(\"$B/keysup\" --json --server $us controller show ${CTL_ID[c1]} | python3 -c 'import json,sys; print(json.load(sys.stdin).get(\"published_version\") or 0)') -gt $v0 ]"
    t1=$(now_ms)
    wait "$bp"
    ok "kill -9 of instance $k mid-burst: instance $s published $((t1 - t0)) ms later"
    [ $((t1 - t0)) -le 5000 ] || fail "takeover took $((t1 - t0)) ms (lease: a few seconds)"
}
failover 1 2
inst_start 1 "$W/sup"              # back, as a follower
grep -q "publisher=another instance" "$W/keysupd1.log" || fail "restarted instance 1 should follow"
failover 2 1
inst_start 2 "$W/sup2"

# nothing acknowledged is lost
"$B/keysup" --json key list --limit 1000 >"$W/keys.json" || fail "key list"
python3 - "$W/keys.json" "$W/enrolled" "$W/revoked" <<'PY' || fail "acknowledged changes lost"
import json, sys
d = json.load(open(sys.argv[1]))
items = d.get("items", d if isinstance(d, list) else [])
state = {k["key_id"]: k.get("state") for k in items}
enrolled = [l.strip() for l in open(sys.argv[2]) if l.strip()]
revoked = set(l.strip() for l in open(sys.argv[3]) if l.strip())
missing = [k for k in enrolled if k not in state]
wrong = [k for k in revoked if state.get(k) != "revoked"]
if missing or wrong:
    print("missing", missing, "not revoked", wrong, "states", set(state.values()))
    sys.exit(1)
print(len(enrolled), "enrolled and", len(revoked), "revoked, all present")
PY
ok "no acknowledged change lost ($(wc -l <"$W/enrolled") enrolments, $(wc -l <"$W/revoked") revocations acknowledged)"

wait_until 15 "c1 converges" in_step c1
grep -q "supervisor unreachable, trying the next" "$W/c1.log" || fail "c1 never moved to the other URL"
ok "controller moved to the surviving URL and converged to its root"
touch "$W/stop-decide"
wait "$DEC" || fail "wrong decision during failover: $(sort -u "$W/decide.out" | head -5)"
ok "every decision right throughout ($(grep -c . "$W/decide.out" || true) wrong)"
n1=$(grep -c "event=snapshot.publish" "$W/keysupd1.log" || true)
n2=$(grep -c "event=snapshot.publish" "$W/keysupd2.log" || true)
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "both instances should have published once leader ($n1/$n2)"
pg_sql "SELECT scope, version, COUNT(*) FROM snapshot_versions GROUP BY scope, version HAVING COUNT(*) > 1" >"$W/dups"
[ ! -s "$W/dups" ] || fail "two databases under one version: $(cat "$W/dups")"
ok "one stored image per (scope, version)"
echo "failover_pg_e2e: all $steps steps passed"
