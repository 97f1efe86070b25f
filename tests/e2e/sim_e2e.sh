#!/usr/bin/env bash
# keysup-sim against a real keysupd (issue 13): 200 simulated controllers,
# each a real core with its own store, enrolled with real provisioning
# tokens. Every controller converges to the published root of its scope; a
# revocation reaches every controller that may sync; each injected fault
# shows in the diagnosis with its code on exactly the faulted controllers.
source "$(dirname "$0")/lib.sh"

N=200
SCOPES=4
PER=10   # controllers per fault: 0.05 of 200

sup_init
# Every simulated controller comes from 127.0.0.1: lift the per-address
# nonce limit, as bench_supervisor does (a real fleet has many addresses).
sup_fleet_limits
# This test counts each fault's incidents per controller: the 10 offline ones
# would fold into one site incident (KSE-120), which site_fold_e2e tests.
sed -i -e 's/^site_fold = .*/site_fold = 0/' "$W/sup/keysupd.conf"
grep -q '^site_fold = 0' "$W/sup/keysupd.conf" || fail "keysupd.conf has no site_fold line"
sup_start
keygen holder
keygen gone
api key enrol --public-key "$W/holder.key" --privilege OPERATOR --scope 0 >/dev/null
api key enrol --public-key "$W/gone.key" --privilege OPERATOR --scope 0 >"$W/gone.json"
GONE=$(j "$W/gone.json" 'd["key_id"]')

"$B/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$W/admin.tok" --controllers $N \
    --scopes $SCOPES --heartbeat 4 --threads 2 --key "$W/holder.key" --keys-per-second 10 \
    --fault corrupt=0.05 --fault drift=0.05 --fault offline=0.05 --fault oldproto=0.05 \
    --fault lockout=0.05 --fault-at 12 --offline-for 24 --watch-key "$GONE" \
    --status "$W/status.json" --log "$W/agents.log" --json >"$W/summary.json" 2>"$W/sim.log" &
SIM_PID=$!
PIDS+=("$SIM_PID")

st() { [ -s "$W/status.json" ] && j "$W/status.json" "$1"; }
wait_until 60 "the fleet enrolled" sh -c "[ \"\$(python3 -c 'import json; print(json.load(open(\"$W/status.json\"))[\"enrolled\"])' 2>/dev/null)\" = $N ]"
converged() { [ "$(st 'd["in_step"]')" = $N ]; }
wait_until 20 "every controller in step" converged
# in step with what keysupd published, by version and root, per scope
for sc in $(seq 1 $SCOPES); do
    id=$(st "[s['controller_id'] for s in d['scopes'] if s['scope']==$sc][0]")
    api controller show "$id" >"$W/show.$sc.json" || fail "controller show $id: $(cat "$W/show.$sc.json")"
    want="$(j "$W/show.$sc.json" 'd["published_version"], d["published_root"]')"
    have="$(st "[(s['version'], s['root']) for s in d['scopes'] if s['scope']==$sc][0]")"
    [ "$want" = "$have" ] || fail "scope $sc: the fleet holds $have, keysupd published $want"
done
ok "$N controllers enrolled and in step with the published version and root of their scope ($SCOPES scopes)"

# ----- the faults (at 12 s), then a revocation
sleep 3
t0=$(now_ms)
api key revoke "$GONE" >/dev/null
# old-protocol controllers are told nothing to sync to (KSE-401): every other one refuses
want=$((N - PER))
refused() { [ "$(st 'd["watch"]["refused"]')" -ge $want ]; }
wait_until 45 "the revocation reaches $want controllers" refused
t1=$(st 'd["watch"]["last_ms"]')
ok "revocation refused by $(st 'd["watch"]["refused"]') controllers; the last $((t1 - t0)) ms after the commit (offline ones once back)"

# ----- the diagnosis: each fault's code on exactly its controllers
diag_ok() {
    for code in 301 600 100 401 500; do
        api incidents --code KSE-$code --limit 1000 >"$W/incidents.$code.json" || return 1
    done
    python3 - "$W" "$PER" <<'PY'
import json, sys
w, per = sys.argv[1], int(sys.argv[2])
st = json.load(open(f"{w}/status.json"))
want = {"corrupt": 301, "drift": 600, "offline": 100, "oldproto": 401, "lockout": 500}
bad = []
for kind, code in want.items():
    inc = json.load(open(f"{w}/incidents.{code}.json"))
    inc = inc.get("items", inc) if isinstance(inc, dict) else inc
    ids = set(st["fault_controllers"][kind])
    got = {i["controller_id"] for i in inc}
    if len(ids) != per or got != ids:
        bad.append(f"{kind}: KSE-{code} on {len(got)} controllers, {len(ids)} faulted, "
                   f"missing {sorted(ids - got)[:5]}, extra {sorted(got - ids)[:5]}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
PY
}
wait_until 30 "each fault's code in the diagnosis on exactly its controllers" diag_ok
ok "diagnosis: KSE-301, KSE-600, KSE-100, KSE-401, KSE-500 each on exactly the $PER controllers faulted"

# The diagnosis queue holds one report per controller and agent instance
# (sup_hbq.h), however many heartbeats wait: never more than the fleet, plus
# one for each agent restart while its old report waited.
curl -s "$KEYSUP_SERVER/metrics" >"$W/metrics.txt"
qm() { awk -v k="$1" '$1 == k {print $2}' "$W/metrics.txt"; }
PEAK=$(qm keysup_diag_queue_peak)
SUPERSEDED=$(qm keysup_diag_queue_superseded_total)
[ -n "$PEAK" ] && [ -n "$SUPERSEDED" ] && [ -n "$(qm keysup_diag_queue_depth)" ] \
    || fail "/metrics has no keysup_diag_queue_{depth,peak,superseded_total}"
[ "$PEAK" -le $((2 * N)) ] || fail "the diagnosis queue peaked at $PEAK entries for $N controllers"
ok "diagnosis queue: peak $PEAK entries for $N controllers, $SUPERSEDED reports superseded"

kill -TERM "$SIM_PID"
wait "$SIM_PID" || fail "keysup-sim exited $?: $(tail -5 "$W/sim.log")"
[ "$(j "$W/summary.json" 'd["failed"]')" = 0 ] || fail "controllers failed to enrol"
[ "$(j "$W/summary.json" 'd["granted"] > 0')" = True ] || fail "no key presentation was granted"
ok "keysup-sim summary: $(j "$W/summary.json" 'd["heartbeats"]') heartbeats, $(j "$W/summary.json" 'd["granted"]') of $(j "$W/summary.json" 'd["presented"]') presentations granted"
