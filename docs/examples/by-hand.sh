#!/usr/bin/env bash
# A supervisor and a controller, by hand: the README shows exactly the lines
# between the markers, and CTest (readme_by_hand) runs them one by one in an
# empty directory, so the README cannot drift from what works.
#   B=build-release/bin bash docs/examples/by-hand.sh   (in an empty directory)
set -euo pipefail
# --- by-hand: begin
B=${B:-build-release/bin}              # the binaries (./run.sh builds them; build/bin after ./test.sh)
export KEYSUP_SERVER=http://127.0.0.1:${PORT:-8750} KEYSUP_TOKEN_FILE=admin.tok
umask 077                              # passphrases, keys and tokens: for this user only
head -c 24 /dev/urandom | base64 >sup.pass            # seals the supervisor's signing key
$B/keysupd init --data sup --passphrase-file sup.pass --token-out admin.tok
$B/keysupd --data sup --passphrase-file sup.pass --listen 127.0.0.1:${PORT:-8750} 2>keysupd.log &
until curl -fs $KEYSUP_SERVER/healthz >/dev/null; do sleep 0.2; done
$B/keysup --json controller add pos-1 --scope 2 | jq -r .provisioning_token >pos-1.token
$B/keysup-controller enroll --flash pos-1.img --supervisor $KEYSUP_SERVER --token $(cat pos-1.token)
$B/keysup-controller run --flash pos-1.img --socket pos-1.sock --supervisor $KEYSUP_SERVER 2>pos-1.log &
head -c 24 /dev/urandom | base64 >maria.pass          # seals maria's key file
$B/keysup key keygen --out maria.key --passphrase-file maria.pass
$B/keysup key enrol --public-key maria.key --scope 2 --label maria --privilege SUPERVISOR --privilege VOID
until $B/keysup --json controller show 1 | jq -e .in_sync >/dev/null; do sleep 0.5; done
$B/keysup key present maria.key --passphrase-file maria.pass --controller pos-1.sock --action void  # granted: yes
$B/keysup controller show 1            # sync, clock, health
kill %2 %1                             # stops the controller, then the supervisor
# --- by-hand: end
