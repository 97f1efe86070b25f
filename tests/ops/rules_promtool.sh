#!/usr/bin/env bash
# The alert rules (packaging/prometheus/keysup-rules.yml) are valid
# (`promtool check rules`) and fire as documented on keysupd's series
# (`promtool test rules` with tests/ops/keysup-rules.test.yml).
set -euo pipefail
command -v promtool >/dev/null || { echo "FAIL: promtool missing (Debian package prometheus)"; exit 1; }
cd "$(dirname "$0")"
promtool check rules ../../packaging/prometheus/keysup-rules.yml
promtool test rules keysup-rules.test.yml
echo "rules_promtool: ok"
