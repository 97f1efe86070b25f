#!/usr/bin/env bash
# Builds every file of src/core/ for a Cortex-M4 as it is, prints the
# text/data/bss size, and proves the core needs nothing from an OS: the only
# undefined symbols allowed are the four C string routines.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$top/build/arm-core}"
mkdir -p "$out"
rm -f "$out"/*.o "$out/libkeysup_core.a"
for src in "$top"/src/core/*.c; do
    arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -Os -std=c11 -ffreestanding \
        -Wall -Wextra -pedantic -Werror -ffunction-sections -fdata-sections \
        -I"$top/include" -c "$src" -o "$out/$(basename "$src" .c).o"
done
arm-none-eabi-ar rcs "$out/libkeysup_core.a" "$out"/*.o
echo "libkeysup core for arm-none-eabi (cortex-m4, -Os):"
arm-none-eabi-size -t "$out"/*.o | tail -n 1 | awk '{printf "  text=%s data=%s bss=%s total=%s bytes\n", $1, $2, $3, $4}'
allowed='^(memcpy|memset|memcmp|memmove)$'
undef=$(arm-none-eabi-nm -u "$out"/*.o | awk 'NF==2 {print $2}' | sort -u | grep -Ev "$allowed" | grep -v '^ks_' || true)
defined=$(arm-none-eabi-nm --defined-only "$out"/*.o | awk 'NF==3 {print $3}' | sort -u)
missing=""
for s in $(arm-none-eabi-nm -u "$out"/*.o | awk 'NF==2 {print $2}' | grep '^ks_' | sort -u); do
    # a here-string, not `echo | grep -q`: grep -q exits at the first match
    # and, under pipefail, echo's SIGPIPE would count the symbol as missing
    grep -qx "$s" <<<"$defined" || missing="$missing $s"
done
if [ -n "$undef$missing" ]; then
    echo "core depends on symbols outside itself:$undef$missing" >&2
    exit 1
fi
# No writable globals: data and bss must be empty.
db=$(arm-none-eabi-size -t "$out"/*.o | tail -n 1 | awk '{print $2 + $3}')
if [ "$db" != "0" ]; then
    echo "core has $db bytes of global state (.data/.bss); it must have none" >&2
    exit 1
fi
echo "  undefined symbols: only memcpy/memset/memcmp/memmove; no .data/.bss"
