#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: installs what is missing,
# builds, and runs a demonstration in ./demo/.
#
# Until the supervisor daemon is part of the build, this shows the offline
# tools on a generated demo fleet: a supervisor key, 50 enrolled keys, a
# signed snapshot, a delta after revocations, verification, and what the
# controller would refuse with which KSE code.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
ks_deps build

cmake -S . -B build -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
      -DKS_SANITIZE=ON -DKS_WERROR=ON -DKS_FUZZ=ON -DKS_BENCH=ON >build-configure.log 2>&1 \
    || { cat build-configure.log; exit 1; }
cmake --build build -j"$(nproc)" --target keysup >/dev/null

K=build/bin/keysup
D=demo
rm -rf "$D" && mkdir -p "$D"
echo "== keysup offline demo (the supervisor daemon is not built yet) in $D/"

$K key keygen --out "$D/supervisor.key" --no-passphrase >/dev/null
$K key keygen --out "$D/rogue.key" --no-passphrase >/dev/null
mkdir -p "$D/keys"
for i in $(seq -w 0 50); do
    $K --json key keygen --out "$D/keys/holder-$i.key" --no-passphrase
done | python3 -c '
import json, sys
text, dec, i = sys.stdin.read(), json.JSONDecoder(), 0
while text[i:].strip():
    obj, n = dec.raw_decode(text[i:].lstrip()); i = len(text) - len(text[i:].lstrip()[n:])
    print(obj["public_key"])' >"$D/pubkeys.txt"
python3 - "$D" <<'PY'
import json, sys
d = sys.argv[1]
pks = open(f"{d}/pubkeys.txt").read().split()
privs = [["OPERATOR"], ["OPERATOR", "VOID"], ["SUPERVISOR", "VOID", "REFUND", "Z_REPORT"]]
keys = [{"holder": f"holder-{i:02d}", "public_key": pks[i], "privileges": privs[i % 3],
         "state": "active", "form_factor": ["nfc", "usb", "physical"][i % 3]} for i in range(50)]
json.dump(keys, open(f"{d}/keys-v1.json", "w"), indent=1)
for k in keys[:5]:
    k["state"] = "revoked"
keys = keys[:45] + [{"holder": "holder-50", "public_key": pks[50],
                     "privileges": ["SUPERVISOR"], "state": "active"}]
json.dump(keys, open(f"{d}/keys-v2.json", "w"), indent=1)
PY

$K snapshot build --keys "$D/keys-v1.json" --signer "$D/supervisor.key" --version 1 --expires 30d --out "$D/v1.snap" >/dev/null
$K snapshot build --keys "$D/keys-v2.json" --signer "$D/supervisor.key" --version 2 --expires 30d --out "$D/v2.snap" >/dev/null
echo; echo "-- snapshot v1"; $K snapshot inspect "$D/v1.snap"
echo; echo "-- verify v1 against the pinned supervisor key"; $K snapshot verify "$D/v1.snap" --trust "$D/supervisor.key"
$K delta make "$D/v1.snap" "$D/v2.snap" --out "$D/v1-v2.delta" >/dev/null
echo; echo "-- delta v1 -> v2 ($(stat -c %s "$D/v1-v2.delta") bytes instead of $(stat -c %s "$D/v2.snap")), applied and checked against v2's signed root"
$K delta apply "$D/v1.snap" "$D/v1-v2.delta" --out "$D/v2-applied.snap" --trust "$D/supervisor.key"
cmp "$D/v2.snap" "$D/v2-applied.snap" && echo "v2-applied.snap is byte-identical to v2.snap"

echo; echo "-- what a controller refuses, and why"
set +e
$K snapshot verify "$D/v1.snap" --trust "$D/rogue.key"; echo "(exit $?)"
$K snapshot verify "$D/v1.snap" --trust "$D/supervisor.key" --applied-version 2; echo "(exit $?)"
echo; $K error show KSE-700
set -e
echo; echo "Files are in $D/. Try: $K --help"
