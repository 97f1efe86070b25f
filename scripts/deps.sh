#!/usr/bin/env bash
# Installs the Debian packages keysup needs, only those missing.
# Usage: scripts/deps.sh [build|test|run]   (sourced or executed)
set -euo pipefail

ks_pkgs_build="cmake make pkg-config clang-14 libclang-rt-14-dev libsodium-dev libjansson-dev libcmocka-dev libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libgnutls28-dev libpq-dev libp11-kit-dev sqlite3 curl jq"
ks_pkgs_test="python3 postgresql gnutls-bin openssl prometheus dpkg-dev systemd man-db gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi faketime libfaketime chromium softhsm2"

ks_deps() {
    local want="$ks_pkgs_build"
    case "${1:-build}" in
        test) want="$want $ks_pkgs_test"
              # npm installs playwright-core for the console's browser tests
              # (scripts/web_deps.sh); Debian's node unless one is on PATH.
              command -v npm >/dev/null 2>&1 || want="$want nodejs npm" ;;
    esac
    local missing=""
    for p in $want; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing="$missing $p"
        fi
    done
    if [ -n "$missing" ]; then
        echo "keysup: installing Debian packages:$missing"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq --no-install-recommends $missing </dev/null
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    ks_deps "${1:-build}"
fi
