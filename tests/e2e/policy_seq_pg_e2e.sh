#!/usr/bin/env bash
# The licence policy sequence with two keysupd on one PostgreSQL
# (docs/licences.md, "Never back to an older policy": "a number always names
# one policy"). A change read the highest sequence and wrote the next one
# outside a transaction, so two changes made at once through two instances
# read the same highest one and wrote the same number: two policies under one
# number, and a controller that took the first refuses the second (KSE-802,
# same number, other content). The change now runs in a write transaction,
# which takes the writers' advisory lock on PostgreSQL: the second waits for
# the first and numbers past it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/pg_lib.sh"

KS_DB=postgresql
sup_init
pg_second_instance
inst_start 1 "$W/sup"
inst_start 2 "$W/sup2"
U1="http://127.0.0.1:${SPORT[1]}" U2="http://127.0.0.1:${SPORT[2]}"
export KEYSUP_SERVER="$U1"
api controller add a --scope 1 >"$W/a.json" || fail "controller add a"
api controller add b --scope 1 >"$W/b.json" || fail "controller add b"
CA=$(j "$W/a.json" 'd["id"]') CB=$(j "$W/b.json" 'd["id"]')

# Twenty rounds: a change of a's policy through instance 1 and of b's through
# instance 2, sent at once.
same=0
for i in $(seq 1 20); do
    f=calibration; [ $((i % 2)) = 0 ] && f=firmware
    KEYSUP_SERVER="$U1" api licence enforce --controller "$CA" --feature "$f" >"$W/e1.json" 2>&1 & p1=$!
    KEYSUP_SERVER="$U2" api licence enforce --controller "$CB" --feature "$f" >"$W/e2.json" 2>&1 & p2=$!
    wait "$p1" || fail "enforce through instance 1: $(cat "$W/e1.json")"
    wait "$p2" || fail "enforce through instance 2: $(cat "$W/e2.json")"
    api licence enforcement >"$W/rows.json" || fail "enforcement"
    n=$(j "$W/rows.json" "len({i['updated_at'] for i in d['items'] if i['controller_id'] in ($CA, $CB)})")
    [ "$n" = 2 ] || same=$((same + 1))
done
[ "$same" = 0 ] || fail "$same of 20 rounds gave two policies one sequence number"
ok "20 rounds of two changes at once through two instances: every policy has its own number"
echo "policy_seq_pg_e2e: all $steps steps passed"
