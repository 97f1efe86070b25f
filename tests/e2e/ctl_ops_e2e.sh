#!/usr/bin/env bash
# The controller's control socket as an operations table (issue 15): the
# fault hooks answer only in an agent started with --enable-fault-hooks,
# `ctl help` lists what the socket takes, enrolment-only operations are
# refused before enrolment, and what `ctl` sends is JSON built by jansson
# (a code with a quote or a backslash arrives as typed). No keysupd needed:
# the agent runs unenrolled.
source "$(dirname "$0")/lib.sh"

C="$B/keysup-controller"
agent() { # agent NAME [FLAGS...]: starts an unenrolled agent on NAME.sock
    local name=$1
    shift
    # an erased 4 MiB flash (the default geometry): the agent formats it
    head -c $((1024 * 4096)) /dev/zero | tr '\0' '\377' >"$W/$name.img"
    "$C" run --flash "$W/$name.img" --socket "$W/$name.sock" "$@" >>"$W/$name.log" 2>&1 &
    PIDS+=("$!")
    wait_until 10 "$name control socket" test -S "$W/$name.sock"
}
sock() { local name=$1; shift; "$C" ctl --socket "$W/$name.sock" "$@"; }

agent prod
sock prod --json help >"$W/help.json" || fail "ctl help"
[ "$(j "$W/help.json" '[o["op"] for o in d["ops"]]')" = \
  "['status', 'help', 'seal', 'enter_code', 'challenge', 'respond', 'session_action', 'session_close', 'txn_done']" ] \
    || fail "help lists: $(cat "$W/help.json")"
[ "$(j "$W/help.json" 'd["fault_hooks"]')" = False ] || fail "fault_hooks not False: $(cat "$W/help.json")"
ok "ctl help: the operations table, no fault hooks"

sock prod fault skew_clock 5 >"$W/out" 2>"$W/err" && fail "fault accepted without --enable-fault-hooks"
grep -q "'fault' is a test hook.*--enable-fault-hooks" "$W/err" || fail "fault refusal: $(cat "$W/err")"
ok "fault hooks refused in an agent started without --enable-fault-hooks"

sock prod send '{"op":"challenge","action":"open"}' >"$W/out" && fail "challenge before enrolment"
grep -q NOT_ENROLLED "$W/out" || fail "challenge: $(cat "$W/out")"
sock prod send '{"op":"nope"}' >"$W/out" && fail "unknown op accepted"
grep -q "op: unknown 'nope'" "$W/out" || fail "unknown op: $(cat "$W/out")"
ok "enrolment-only ops refused (NOT_ENROLLED), unknown ops named"

# nothing offered yet: the code is refused, not kept (it was kept and then
# checked against the next key offered before the unit showed its
# fingerprint: field5); the quote and backslash reached the agent intact
sock prod --json code '12"34\5' >"$W/out" 2>&1 && fail "a code typed with nothing offered was taken: $(cat "$W/out")"
grep -q 'NOT_OFFERED' "$W/out" || fail "code with nothing offered: $(cat "$W/out")"
grep -q 'wait until `ctl status` shows the new key' "$W/out" || fail "the refusal does not say what to do: $(cat "$W/out")"
[ "$(sock prod --json status | python3 -c 'import json,sys; print(json.load(sys.stdin).get("replace_credential"))')" = None ] \
    || fail "a refused code left something pending"
sock prod seal on >/dev/null || fail "seal on"
[ "$(sock prod --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["seal_on"])')" = True ] \
    || fail "seal on not shown"
ok "ctl builds its requests with jansson (a quote and a backslash pass); a code before the offer refused (NOT_OFFERED); seal"

agent test --enable-fault-hooks
sock test --json help >"$W/help2.json" || fail "ctl help (hooks)"
[ "$(j "$W/help2.json" '"fault" in [o["op"] for o in d["ops"]] and d["fault_hooks"]')" = True ] \
    || fail "help with hooks: $(cat "$W/help2.json")"
[ "$(j "$W/help2.json" 'len(d["fault_kinds"])')" = 8 ] || fail "fault kinds: $(cat "$W/help2.json")"
sock test fault skew_clock 5 >/dev/null || fail "fault skew_clock with hooks"
sock test fault bogus >"$W/out" 2>"$W/err" && fail "unknown fault accepted"
grep -q "unknown fault 'bogus'" "$W/err" || fail "unknown fault: $(cat "$W/err")"
ok "with --enable-fault-hooks: fault listed and applied, unknown kinds named"

echo "all ctl_ops steps passed"
