#!/usr/bin/env bash
# Type=notify units: keysupd and keysup-controller tell the service manager
# READY=1 once serving and STOPPING=1 when asked to stop (tests/ops/sd_notify.py
# plays systemd's NOTIFY_SOCKET).
source "$(dirname "$0")/../e2e/lib.sh"
PY="$(dirname "$0")/sd_notify.py"
sup_init
python3 "$PY" "$W" "$B/keysupd" --data "$W/sup" --listen 127.0.0.1:0 || fail "keysupd sd_notify"
ok "keysupd: READY=1, STOPPING=1"
sup_start
ctl_add c 2 # enrol: creates the flash image
python3 "$PY" "$W" "$B/keysup-controller" run --flash "$W/c.img" --socket "$W/c.sock" \
    --supervisor "$KEYSUP_SERVER" \
    || fail "keysup-controller sd_notify"
grep -q 'keysup-controller: stopping on SIGTERM' "$W/notify-daemon.log" || fail "SIGTERM not logged by name"
ok "keysup-controller: READY=1, STOPPING=1, SIGTERM logged by name"
