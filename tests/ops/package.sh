#!/usr/bin/env bash
# Install and packaging (issue 16), on the build under test:
#  1. `cmake --install --prefix /usr` into a staging tree holds the binaries,
#     units, sysusers/tmpfiles files, man pages (which render without
#     warnings), the sample config (which keysupd accepts) and the rules file.
#  2. `cpack -G DEB` builds the Debian package; `dpkg -i` installs it into a
#     private root (dpkg --root, its own dpkg database; the maintainer script
#     creates the keysup user and directories there through DPKG_ROOT).
#  3. `systemd-analyze verify` passes on the units of the installed tree
#     (ExecStart binaries and Documentation= man pages must exist there), and
#     `systemd-analyze security` rates both units at most 2.0.
# Exit 77 (SKIP) only when the Debian package systemd is missing (no
# systemd-analyze, systemd-sysusers); scripts/deps.sh test installs it.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD="${KS_BUILD:?KS_BUILD must name the build directory}"
W="${KS_WORK:?KS_WORK must name a scratch directory}"
rm -rf "$W" && mkdir -p "$W"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}"
fail() { echo "FAIL: $*"; exit 1; }
n=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }

# ----- 1. cmake --install -----
S="$W/stage"
DESTDIR="$S" cmake --install "$BUILD" --prefix /usr >"$W/install.log" 2>&1 \
    || { cat "$W/install.log"; fail "cmake --install"; }
for f in usr/bin/keysup usr/sbin/keysupd usr/sbin/keysup-controller \
         usr/lib/systemd/system/keysupd.service usr/lib/systemd/system/keysup-controller.service \
         usr/lib/sysusers.d/keysup.conf usr/lib/tmpfiles.d/keysup.conf \
         usr/share/man/man1/keysup.1 usr/share/man/man8/keysupd.8 usr/share/man/man8/keysup-controller.8 \
         usr/share/doc/keysup/examples/keysupd.conf usr/share/doc/keysup/supervisor.md \
         usr/share/doc/keysup/controller.md usr/share/keysup/prometheus/keysup-rules.yml \
         usr/share/keysup/web/index.html usr/share/keysup/web/app.js usr/share/doc/keysup/console.md \
         etc/default/keysup-controller; do
    [ -e "$S/$f" ] || fail "cmake --install did not install /$f"
done
for b in usr/bin/keysup usr/sbin/keysupd usr/sbin/keysup-controller; do
    "$S/$b" --version >/dev/null || fail "/$b --version exits $?"
done
grep -q '^ExecStart=/usr/sbin/keysupd ' "$S/usr/lib/systemd/system/keysupd.service" \
    || fail "keysupd.service does not run the installed /usr/sbin/keysupd"
if grep -Eq '^(Wants|Requires|After)=.*network-online' "$S/usr/lib/systemd/system/keysup-controller.service"; then
    fail "keysup-controller.service waits for network-online (it must start without network)"
fi
ok "cmake --install: binaries, units, sysusers/tmpfiles, man pages, sample config, rules"

for m in "$S"/usr/share/man/man*/*; do
    warn=$(LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "$m" 2>&1) || fail "$m: groff failed"
    [ -z "$warn" ] || fail "$m: $warn"
    LC_ALL=C.UTF-8 MANPATH="$S/usr/share/man" man -w "$(basename "${m%.*}")" >/dev/null \
        || fail "man cannot find $(basename "$m") in the installed tree"
done
ok "man pages keysup(1), keysupd(8), keysup-controller(8) render without warnings"

# The sample config is one keysupd starts with.
"$S/usr/bin/keysup" init --data "$W/sup" --no-passphrase --token-out "$W/admin.tok" >/dev/null \
    || fail "keysup init"
"$S/usr/sbin/keysupd" --data "$W/sup" --config "$S/usr/share/doc/keysup/examples/keysupd.conf" \
    --listen 127.0.0.1:0 --port-file "$W/port" >"$W/keysupd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$W/port" ] && break; sleep 0.1; done
kill -TERM "$pid" 2>/dev/null || true
wait "$pid" || true
[ -s "$W/port" ] || { cat "$W/keysupd.log"; fail "keysupd refused the sample config"; }
ok "keysupd starts with the installed sample config"

# ----- 2. the Debian package -----
cpack -G DEB -B "$W/pkg" --config "$BUILD/CPackConfig.cmake" >"$W/cpack.log" 2>&1 \
    || { cat "$W/cpack.log"; fail "cpack -G DEB"; }
deb=$(ls "$W"/pkg/keysup_*.deb)
dpkg-deb --field "$deb" Package Version Depends >"$W/fields"
grep -q '^Package: keysup$' "$W/fields" || fail "package name"
grep -q '^Depends:.*libsodium' "$W/fields" || fail "Depends lacks the shared libraries: $(cat "$W/fields")"
ok "cpack builds $(basename "$deb") ($(grep Depends "$W/fields"))"

R="$W/root"
mkdir -p "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/info" "$R/etc" "$R/usr/lib"
touch "$R/var/lib/dpkg/status"
ln -s usr/lib "$R/lib" # merged /usr, as on Debian 12
force="--force-depends --force-script-chrootless"
[ "$(id -u)" -eq 0 ] || force="$force --force-not-root"
# shellcheck disable=SC2086
dpkg --root="$R" $force --log=/dev/null -i "$deb" >"$W/dpkg.log" 2>&1 \
    || { cat "$W/dpkg.log"; fail "dpkg -i"; }
dpkg --root="$R" -s keysup | grep -q '^Status: install ok installed$' || fail "dpkg does not list keysup as installed"
if ! command -v systemd-sysusers >/dev/null || ! systemd-analyze --version >/dev/null 2>&1; then
    # In a private root the postinst needs systemd-sysusers/tmpfiles --root.
    echo "SKIP: the Debian package systemd is missing (systemd-sysusers, systemd-analyze)"
    exit 77
fi
grep -q '^keysup:' "$R/etc/passwd" || fail "postinst did not create the keysup user"
[ -d "$R/var/lib/keysup" ] && [ -d "$R/var/lib/keysup-controller" ] && [ -d "$R/etc/keysup" ] \
    || fail "postinst did not create /var/lib/keysup, /var/lib/keysup-controller, /etc/keysup"
[ "$(stat -c %a "$R/var/lib/keysup")" = 700 ] || fail "/var/lib/keysup is not mode 0700"
uid=$(awk -F: '$1 == "keysup" { print $3 }' "$R/etc/passwd")
[ "$(stat -c %u "$R/var/lib/keysup")" = "$uid" ] || fail "/var/lib/keysup is not owned by keysup"
grep -qx /etc/default/keysup-controller "$R/var/lib/dpkg/info/keysup.conffiles" \
    || fail "/etc/default/keysup-controller is not a conffile"
ok "dpkg -i installs the package; postinst made the keysup user and its directories"

# ----- 3. systemd-analyze on the installed tree -----
if ! systemd-analyze --version >/dev/null 2>&1 || [ ! -d /lib/systemd/system ]; then
    echo "SKIP: systemd-analyze cannot run here (Debian package systemd missing)"
    exit 77
fi
# The units refer to targets (multi-user, network) the system provides:
# copy the system's units beside ours, never over them.
cp -an /lib/systemd/system/. "$R/usr/lib/systemd/system/"
units=("$R/usr/lib/systemd/system/keysupd.service" "$R/usr/lib/systemd/system/keysup-controller.service")
# MANPATH: Documentation=man:... is checked against the installed man pages.
MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" "${units[@]}" >"$W/verify.log" 2>&1 \
    || { cat "$W/verify.log"; fail "systemd-analyze verify"; }
[ ! -s "$W/verify.log" ] || { cat "$W/verify.log"; fail "systemd-analyze verify warns"; }
ok "systemd-analyze verify: both units clean on the installed tree"
for u in "${units[@]}"; do
    systemd-analyze security --offline=true --root="$R" --threshold=20 "$u" >"$W/security.log" 2>&1 \
        || { tail -3 "$W/security.log"; fail "systemd-analyze security: $(basename "$u") above 2.0"; }
    echo "   $(grep -o 'Overall exposure level.*' "$W/security.log")"
done
ok "systemd-analyze security: both units at most 2.0"
echo "package: all $n steps passed"
