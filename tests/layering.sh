#!/usr/bin/env bash
# The layering is one-way (issue 15): core -> nothing; host -> core;
# supervisor -> host, core; controller -> host, core; cli -> host, core (a
# client of keysupd's API, never of its code). Checked from the sources'
# #include lines and the keysup binary's link line and dynamic section.
#
# usage: tests/layering.sh SOURCE_DIR BUILD_DIR
# (KS_LAYERING_SELFTEST=1: also checks that a planted violation is caught.)
set -uo pipefail
SRC="${1:?source dir}"
BLD="${2:?build dir}"
bad=0
say() { echo "LAYERING: $*"; bad=1; }

# headers of a layer, by file name (includes are by bare name: "sup.h")
names_of() { (cd "$SRC/$1" && ls -- *.h 2>/dev/null); }
# includes_in DIR: "file:header" for every #include "..." / <...>
includes_in() {
    grep -HoE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"][^>"]+[>"]' "$@" 2>/dev/null |
        sed -E 's/:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"]/:\1/'
}

check_layer() { # check_layer DIR FORBIDDEN-LAYER-DIR...
    local dir=$1 other f inc
    shift
    for other in "$@"; do
        local -A hdr=()
        for f in $(names_of "$other"); do hdr[$f]=1; done
        while IFS=: read -r f inc; do
            [ -n "${hdr[${inc##*/}]:-}" ] && say "$f includes $inc from $other"
        done < <(includes_in "$SRC/$dir"/*.[ch])
        unset hdr
    done
}

# 1. The core (and its public headers) includes only itself and a few
#    freestanding C headers: it also builds for arm-none-eabi.
core_ok='^(keysup/[a-z_]+\.h|ks_[a-z_]+\.h|stddef\.h|stdint\.h|stdbool\.h|string\.h|limits\.h)$'
while IFS=: read -r f inc; do
    if ! [[ "$inc" =~ $core_ok ]]; then
        say "$f (core) includes $inc: the core includes only src/core and include/keysup"
    elif [[ "$inc" =~ ^ks_ ]] && [ ! -e "$SRC/src/core/$inc" ] && [ ! -e "$SRC/include/keysup/$inc" ]; then
        say "$f (core) includes $inc, which is not a core header"
    fi
done < <(includes_in "$SRC"/src/core/*.[ch] "$SRC"/include/keysup/*.h)

# 2. host -> core only; supervisor, controller and cli never include each other.
check_layer src/host src/supervisor src/controller src/cli
check_layer src/supervisor src/controller src/cli
check_layer src/controller src/supervisor src/cli
check_layer src/cli src/supervisor src/controller

# 3. The keysup CLI links no daemon: not keysup_sup, SQLite or libmicrohttpd.
link="$BLD/CMakeFiles/keysup.dir/link.txt"
[ -f "$link" ] || say "no link line at $link (build the keysup target first)"
if [ -f "$link" ] && grep -qE 'keysup_sup|sqlite3|microhttpd' "$link"; then
    say "keysup's link line names $(grep -oE 'libkeysup_sup[^ ]*|[^ ]*sqlite3[^ ]*|[^ ]*microhttpd[^ ]*' "$link" | sort -u | tr '\n' ' ')"
fi
if [ -x "$BLD/bin/keysup" ]; then
    if readelf -d "$BLD/bin/keysup" | grep -E 'NEEDED.*(sqlite3|microhttpd)'; then
        say "bin/keysup needs SQLite or libmicrohttpd at run time"
    fi
    # a daemon function linked in statically (the library is gone, the code might not be)
    if nm "$BLD/bin/keysup" 2>/dev/null | grep -qE ' T (sup_open|sup_init|sqlite3_open|MHD_start_daemon)'; then
        say "bin/keysup contains daemon code: $(nm "$BLD/bin/keysup" | grep -oE ' T (sup_open|sup_init|sqlite3_open|MHD_start_daemon)' | tr '\n' ' ')"
    fi
else
    say "no $BLD/bin/keysup (build the keysup target first)"
fi

# 4. The checks catch what they look for: a planted include of a supervisor
#    header in the CLI, and a core file including an OS header.
if [ "${KS_LAYERING_SELFTEST:-1}" = 1 ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/src" "$tmp/include"
    cp -r "$SRC/src/core" "$SRC/src/host" "$SRC/src/supervisor" "$SRC/src/controller" "$SRC/src/cli" "$tmp/src/"
    cp -r "$SRC/include/keysup" "$tmp/include/"
    echo '#include "sup.h"' >>"$tmp/src/cli/main.c"
    echo '#include <stdio.h>' >>"$tmp/src/core/ks_err.c"
    out=$(KS_LAYERING_SELFTEST=0 bash "$0" "$tmp" "$BLD" 2>&1)
    grep -q 'cli/main.c includes sup.h from src/supervisor' <<<"$out" || say "self-test: a CLI include of sup.h was not caught: $out"
    grep -q 'ks_err.c (core) includes stdio.h' <<<"$out" || say "self-test: a core include of stdio.h was not caught: $out"
fi

[ "$bad" = 0 ] && echo "layering: one-way (core <- host <- supervisor | controller | cli), keysup links no daemon"
exit "$bad"
