#!/usr/bin/env bash
# Installs the console's browser-test dependencies (npm playwright-core and
# axe-core, the versions pinned in tests/web/package-lock.json) into
# tests/web/node_modules (ignored by git). Nothing is vendored: the browser
# is Debian's chromium (scripts/deps.sh test). Does nothing when the
# installed tree matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/web"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.keysup-lock.sha256
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "keysup: npm ci in tests/web (playwright-core, axe-core)"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
fi
