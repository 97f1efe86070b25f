#!/usr/bin/env bash
# Sets up everything on a fresh Debian 12 machine and runs every test.
# Ends with CTest's own summary.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh
ks_deps test
scripts/web_deps.sh

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

cmake -S . -B build -DCMAKE_C_COMPILER=clang-14 -DCMAKE_BUILD_TYPE=Debug \
      -DKS_SANITIZE=ON -DKS_WERROR=ON -DKS_FUZZ=ON -DKS_BENCH=ON >build-configure.log 2>&1 \
    || { cat build-configure.log; exit 1; }
cmake --build build -j"$(nproc)"

ctest --test-dir build --output-on-failure -j"$(nproc)" --timeout 1200
