#!/usr/bin/env bash
# Installs the console's browser-test dependency (npm playwright-core, the
# version pinned in tests/web/package-lock.json) into tests/web/node_modules
# (ignored by git). Nothing is vendored: the browser is Debian's chromium
# (scripts/deps.sh test). Does nothing when the pinned version is there.
set -euo pipefail
cd "$(dirname "$0")/../tests/web"
want=$(node -e 'console.log(require("./package-lock.json").packages["node_modules/playwright-core"].version)')
have=$(node -e 'try { console.log(require("./node_modules/playwright-core/package.json").version) } catch (e) { console.log("") }')
if [ "$want" != "$have" ]; then
    echo "keysup: npm ci (playwright-core $want) in tests/web"
    npm ci --no-audit --no-fund --loglevel=error
fi
