#!/usr/bin/env bash
# Incident webhook (docs/operations.md): with DATA/webhook.conf, keysupd
# POSTs each incident opened and resolved, signed with HMAC-SHA256 over
# "timestamp.body", and retries with back-off when the receiver fails (the
# receiver here answers 503 to the first request).
source "$(dirname "$0")/../e2e/lib.sh"
python3 "$(dirname "$0")/webhook_receiver.py" "$W/hook.port" "$W/hook.jsonl" &
PIDS+=($!)
wait_until 10 "receiver" test -s "$W/hook.port"
head -c 32 /dev/urandom | base64 >"$W/hook.secret"

sup_init
cat >"$W/sup/webhook.conf" <<CONF
# incidents to the test receiver
url = http://127.0.0.1:$(cat "$W/hook.port")/keysup
secret_file = $W/hook.secret
retries = 3
backoff_max = 1
timeout = 5
CONF
sup_start
ctl_add c1 2
ctl_run c1
keygen k1
api key enrol --public-key "$W/k1.key" --scope 2 --privilege OPERATOR >/dev/null || fail "enrol"
wait_until 15 "c1 in step" in_step c1
ctl c1 fault corrupt_sector >/dev/null || fail "corrupt_sector"
ok "KSE-301 injected on c1"

got() { [ -s "$W/hook.jsonl" ] && python3 - "$W/hook.jsonl" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(r["status"] == 200 and json.loads(r["body"])["event"] == sys.argv[2] for r in rows) else 1)
PY
}
wait_until 30 "incident.open delivered" got incident.open
ok "incident.open delivered"
wait_until 40 "incident.resolve delivered" got incident.resolve
ok "incident.resolve delivered"

python3 - "$W/hook.jsonl" "$W/hook.secret" <<'PY' || fail "webhook requests"
import hashlib, hmac, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
secret = open(sys.argv[2]).readline().rstrip("\r\n").encode()
assert rows[0]["status"] == 503, "the first request should have been refused"
first = json.loads(rows[0]["body"])
# the refused event came again: a retry, not a loss
assert any(r["status"] == 200 and json.loads(r["body"]) ["incident"] == first["incident"]
           and json.loads(r["body"])["event"] == first["event"] for r in rows[1:]), "no retry"
for r in rows:
    h = {k.lower(): v for k, v in r["headers"].items()}
    ts, sig = h["x-keysup-timestamp"], h["x-keysup-signature"]
    want = "sha256=" + hmac.new(secret, (ts + "." + r["body"]).encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(sig, want), f"bad signature {sig}"
    assert h["content-type"] == "application/json" and h["x-keysup-event"] == json.loads(r["body"])["event"]
    b = json.loads(r["body"])
    for k in ("incident", "controller", "code", "symbol", "title", "at", "at_utc"):
        assert k in b, k
codes = {json.loads(r["body"])["code"] for r in rows}
assert "KSE-301" in codes, codes
# A forged body does not verify.
r = rows[-1]; h = {k.lower(): v for k, v in r["headers"].items()}
forged = "sha256=" + hmac.new(secret, (h["x-keysup-timestamp"] + "." + r["body"] + " ").encode(), hashlib.sha256).hexdigest()
assert forged != h["x-keysup-signature"]
print(f"{len(rows)} requests, all signed; codes {sorted(codes)}")
PY
ok "every request signed (HMAC-SHA256 of timestamp.body), the refused one retried"
grep -q 'event=webhook.retry .*status=503' "$W/keysupd.log" || fail "no webhook.retry logged"
grep -q 'event=webhook.sent .*attempt=2' "$W/keysupd.log" || fail "no delivery on attempt 2 logged"
ok "retry and delivery logged"

# A bad webhook.conf is reported, never fatal to the daemon.
sup_stop
echo "bogus = 1" >"$W/sup/webhook.conf"
sup_start
ctl c1 fault corrupt_sector >/dev/null || true
wait_until 20 "config error logged" grep -q 'event=webhook.config' "$W/keysupd.log"
curl -fsS "$KEYSUP_SERVER/healthz" >/dev/null || fail "keysupd down after a bad webhook.conf"
ok "a bad webhook.conf is logged and the daemon keeps running"
echo "webhook: all $steps steps passed"
