#!/usr/bin/env bash
# Builds the benchmarks with optimisation (no sanitizers) in build-bench/
# and runs them. Figures go to stdout; docs/BENCHMARKS.md records them.
# usage: bench/run.sh [bench_name ...]    (default: every bench_* binary)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ks_deps build
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 \
      -DKS_SANITIZE=OFF -DKS_FUZZ=OFF -DKS_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for b in build-bench/bin/bench_*; do names+=("$(basename "$b")"); done
fi
for b in "${names[@]}"; do
    echo "### $b"
    "build-bench/bin/$b"
done
