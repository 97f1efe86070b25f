#!/usr/bin/env bash
# Issue 13: the report only when it changed (docs/protocol.md), against a
# real keysupd:
#  1. a real agent on its heartbeat session sends its report whole once,
#     then only what moves (keysup_hbrep_elided_total), and keysupd's
#     health column still follows its clock;
#  2. a clock fault (a member sent every time) is diagnosed while reports
#     go short; a corrupt flash sector (the store is hashed, but for the
#     store's progress counters) and a refusal (a change of the rest) send the
#     report whole again (the unit test test_hbrep shows the diagnosis is
#     the same either way);
#  3. a keysupd restart: the short report is answered 409 KSE-123, the
#     agent sends it whole at once, goes short again, never a lost link;
#  4. keysup-sim (the agent's own heartbeat code) goes short too, and as an
#     older agent (--fetch-nonce: signed, no session) never does.
source "$(dirname "$0")/lib.sh"

sup_init
sup_fleet_limits
sup_start
m() { local v; v=$(sup_metric "$1"); echo "${v:-0}"; }
# at_least METRIC N: waits up to 20 s for METRIC >= N
at_least() { wait_until 20 "$1 >= $2" sh -c "[ \"\$(curl -s $KEYSUP_SERVER/metrics | awk '\$1 == \"$1\" {print \$2}')\" -ge $2 ]"; }
diag_has() {
    api diagnose "${CTL_ID[door]}" >"$W/diag.json" 2>/dev/null || return 1
    python3 -c 'import json,sys; sys.exit(sys.argv[2] not in json.load(open(sys.argv[1]))["root_causes"])' "$W/diag.json" "$1"
}
inc_has() {
    api incidents --controller "${CTL_ID[door]}" --code "$1" --limit 5 >"$W/inc.json" 2>/dev/null || return 1
    [ "$(j "$W/inc.json" 'len(d["items"])')" -gt 0 ]
}

# ----- 1. a real agent: whole once, then short
keygen alice   # a key published, so the store has records to corrupt
api key enrol --public-key "$W/alice.key" --privilege SUPERVISOR --privilege VOID --scope 1 >/dev/null
ctl_add door 1
ctl_run door
wait_until 20 "the agent in step" in_step door
at_least keysup_hbrep_elided_total 3
s0=$(m keysup_hbsess_heartbeats_total); e0=$(m keysup_hbrep_elided_total); f0=$(m keysup_hbrep_full_total)
at_least keysup_hbsess_heartbeats_total $((s0 + 4))
s1=$(m keysup_hbsess_heartbeats_total); e1=$(m keysup_hbrep_elided_total); f1=$(m keysup_hbrep_full_total)
[ $((e1 - e0)) -ge $((s1 - s0 - 1)) ] || fail "steady reports not short: $((s1 - s0)) MAC'd heartbeats, $((e1 - e0)) short, $((f1 - f0)) whole"
[ "$(m keysup_hbrep_held)" = 1 ] || fail "keysupd holds $(m keysup_hbrep_held) reports, not 1"
[ "$(m keysup_hbrep_needed_total)" = 0 ] || fail "short reports refused without a restart"
# the health column is the completed report: its time follows the agent's
ctl_show door
age=$(python3 -c 'import json,sys,time; d=json.load(open(sys.argv[1])); print(int(time.time()) - d["last_health"]["time"])' "$W/door.show.json")
[ "$age" -le 5 ] || fail "the stored report's time is $age s old while reports go short"
age=$(python3 -c 'import json,sys,time; d=json.load(open(sys.argv[1])); print(int(time.time()) - d["last_health"]["last_contact"])' "$W/door.show.json")
[ "$age" -le 5 ] || fail "the stored report's last_contact is $age s old while reports go short"
# ... from the short bodies' members over the whole report, which short
# heartbeats no longer rewrite (issue 13, sup_health.h): on SQLite the
# whole report's column keeps its own time, the live column a newer one
whole_kept() {
    python3 - "$W/sup/keysup.db" "${CTL_ID[door]}" <<'PY'
import json, sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=10)
w, l = c.execute("SELECT last_health, last_health_live FROM controllers WHERE id = ?",
                 (int(sys.argv[2]),)).fetchone()
sys.exit(not (w and l and json.loads(l)["time"] > json.loads(w)["time"]
              and "report_elided" not in json.loads(w)))
PY
}
[ "${KS_DB:-sqlite}" != sqlite ] || wait_until 10 "the whole report's column left alone by short heartbeats" whole_kept
ok "the agent sent its report whole once, then $((e1 - e0)) of $((s1 - s0)) short; the stored report is current"

# ----- 2. faults are diagnosed while reports go short
ctl door fault skew_clock 3600 >/dev/null
e2=$(m keysup_hbrep_elided_total)
wait_until 20 "KSE-600 diagnosed" diag_has KSE-600
[ "$(m keysup_hbrep_elided_total)" -gt "$e2" ] || fail "no short report carried the clock fault"
ctl door fault skew_clock 0 >/dev/null
ok "a clock fault on short reports is diagnosed (KSE-600)"
f3=$(m keysup_hbrep_full_total)
ctl door fault corrupt_sector >/dev/null
wait_until 20 "KSE-301 incident" inc_has KSE-301
[ "$(m keysup_hbrep_full_total)" -gt "$f3" ] || fail "the corrupt store did not send the report whole"
ok "a corrupt flash sector sends the report whole (the store is hashed) and is diagnosed (KSE-301)"
f4=$(m keysup_hbrep_full_total)
keygen stranger
present "$W/stranger.key" door void >/dev/null 2>&1 || true   # an unknown key: a refusal, a new report
stored_refusal() {
    ctl_show door
    [ "$(j "$W/door.show.json" '[r["count"] for r in d["last_health"]["refusals"] if r["code"] == "KSE-202"]')" = "[1]" ]
}
wait_until 20 "the KSE-202 refusal in the stored report" stored_refusal
[ "$(m keysup_hbrep_full_total)" -gt "$f4" ] || fail "the refusal did not send the report whole"
at_least keysup_hbrep_elided_total $(( $(m keysup_hbrep_elided_total) + 2 ))
ok "a refusal (KSE-202) sent the report whole; keysupd stores it; short again after"

# ----- 3. restart: 409 KSE-123, whole at once, short again
sup_stop
sup_start
at_least keysup_hbrep_elided_total 3
[ "$(m keysup_hbrep_needed_total)" -ge 1 ] || fail "no short report was refused after the restart"
[ "$(m keysup_hbrep_needed_total)" -le 2 ] || fail "$(m keysup_hbrep_needed_total) short reports refused after one restart"
[ "$(status door 'd.get("comm_lost")')" != True ] || fail "the agent reports a lost link after the restart"
ok "after a restart: $(m keysup_hbrep_needed_total) KSE-123, the report sent whole, short again, no lost link"

# ----- 4. keysup-sim: short on the session, whole as an older agent
sim_run() {
    "$B/keysup-sim" --supervisor "$KEYSUP_SERVER" --admin-token "$W/admin.tok" --controllers 20 \
        --scopes 1 --heartbeat 1 --threads 1 --prefix "sim$#" "$@" --status "$W/sim.status" \
        --json >"$W/sim.json" 2>"$W/sim.log" &
    local pid=$! h0 e0 h1 e1
    PIDS+=("$pid")
    rm -f "$W/sim.status"
    wait_until 30 "the sim fleet enrolled and in step" sh -c \
        "python3 -c 'import json,sys; d=json.load(open(\"$W/sim.status\")); sys.exit(not (d[\"enrolled\"] == 20 and d[\"in_step\"] == 20))'"
    sleep 2
    h0=$(m keysup_heartbeats_total); e0=$(m keysup_hbrep_elided_total)
    sleep 5
    h1=$(m keysup_heartbeats_total); e1=$(m keysup_hbrep_elided_total)
    cp "$W/sim.status" "$W/sim.pre.json"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    [ $((h1 - h0)) -ge 50 ] || fail "the sim $* sent $((h1 - h0)) heartbeats in 5 s (20 controllers, 1 s)"
    HBN=$((h1 - h0)) ELN=$((e1 - e0))
}
sim_run
hb=$HBN el=$ELN
[ "$el" -ge $((hb * 8 / 10)) ] || fail "keysup-sim: $el of $hb reports short"
[ "$(j "$W/sim.pre.json" 'd["heartbeat_errors"]')" = 0 ] || fail "sim heartbeat errors: $(cat "$W/sim.pre.json")"
sim_run --fetch-nonce
hb2=$HBN el2=$ELN
[ "$el2" -le 10 ] || fail "keysup-sim --fetch-nonce: $el2 of $hb2 reports short (only the agent's should be)"
[ "$(j "$W/sim.pre.json" 'd["heartbeat_errors"]')" = 0 ] || fail "--fetch-nonce heartbeat errors: $(cat "$W/sim.pre.json")"
ok "keysup-sim: $el of $hb reports short; as an older agent $el2 of $hb2 (the agent's)"
kill -TERM "${CTL_PID[door]}"; wait "${CTL_PID[door]}" 2>/dev/null || true
