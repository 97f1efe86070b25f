#!/usr/bin/env bash
# Cross-checks the C implementation against tests/ref/ks_ref.py, an
# independent Python reading of docs/formats.md: snapshots of several sizes
# (bucket bits 0 to 6) and a delta between two of them.
set -euo pipefail
B="${KS_BIN:?}/keysup"
REF="$(dirname "$0")/ks_ref.py"
W="${KS_WORK:?}"
rm -rf "$W" && mkdir -p "$W" && cd "$W"

$B key keygen --out sup.key --no-passphrase >/dev/null
for i in $(seq 1 600); do
    $B key keygen --out k$i.key --no-passphrase >/dev/null
done
# Public keys, read back through `key show --json`.
for i in $(seq 1 600); do $B --json key show k$i.key; done | python3 -c '
import json, sys
text, dec, out = sys.stdin.read(), json.JSONDecoder(), []
i = 0
while text[i:].strip():
    s = text[i:].lstrip(); obj, n = dec.raw_decode(s); i = len(text) - len(s) + n
    out.append(obj["public_key"])
json.dump(out, open("pks.json", "w"))'
python3 - <<'PY'
import json
pks = json.load(open("pks.json"))
for n in (0, 1, 16, 17, 300, 600):
    keys = [{"holder": f"h{i}", "public_key": pks[i], "privileges": ["OPERATOR"] if i % 2 else ["SUPERVISOR", "VOID"],
             "state": ["active", "suspended", "revoked"][i % 3], "valid_from": 1700000000 + i,
             "valid_until": 0 if i % 4 else 1900000000 + i, "scope": i % 5, "key_format": 1 + i % 3,
             "form_factor": ["software", "usb", "nfc", "physical", "pkcs11"][i % 5], "counter_floor": i * 7}
            for i in range(n)]
    json.dump(keys, open(f"keys{n}.json", "w"))
# a changed set for the delta: drop 100, change 50
keys = json.load(open("keys600.json"))
for k in keys[:50]:
    k["privileges"] = ["REFUND"]
json.dump(keys[:500], open("keys600b.json", "w"))
PY
for n in 0 1 16 17 300 600; do
    $B snapshot build --keys keys$n.json --signer sup.key --version 1 --created 1790000000 --out s$n.snap >/dev/null
    python3 "$REF" snapshot s$n.snap
done
$B snapshot build --keys keys600b.json --signer sup.key --version 2 --created 1790000000 --out s600b.snap >/dev/null
python3 "$REF" snapshot s600b.snap
$B delta make s600.snap s600b.snap --out d.delta >/dev/null
python3 "$REF" delta s600.snap d.delta s600b.snap
