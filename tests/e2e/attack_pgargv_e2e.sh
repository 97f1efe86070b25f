#!/usr/bin/env bash
# Attack by a local user: `keysup backup` and `keysup restore` ran pg_dump
# and pg_restore with `-d URL`; a password in the URL (postgresql://u:PW@...
# or ?password=PW) sat in their argv, which every local user reads through
# ps or /proc/PID/cmdline, for the whole dump. The tools must get the URL
# without it and the password in PGPASSWORD (readable by the same user
# only). Stand-in tools record their argv and environment: no PostgreSQL
# server is needed to see what the real ones would have been given.
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"

mkdir -p "$W/pgbin"
for t in pg_dump pg_restore; do
    cat >"$W/pgbin/$t" <<SH
#!/usr/bin/env bash
printf '%s\n' "\$@" >"$W/$t.argv"
printf '%s\n' "\${PGPASSWORD-<unset>}" >"$W/$t.pw"
while [ \$# -gt 0 ]; do [ "\$1" = -f ] && : >"\$2"; shift; done
exit 0
SH
    chmod +x "$W/pgbin/$t"
done
export KEYSUP_PG_BIN="$W/pgbin"

"$B/keysup" init --data "$W/sup" --no-passphrase --token-out "$W/admin.tok" >"$W/init.out" 2>&1 \
    || fail "keysup init: $(cat "$W/init.out")"
check_tool() { # TOOL WANT_URL WANT_PW
    grep -q 'S3cr' "$W/$1.argv" && fail "$1 argv holds the password: $(tr '\n' ' ' <"$W/$1.argv")"
    grep -qxF "$2" "$W/$1.argv" || fail "$1 argv lacks the URL $2: $(tr '\n' ' ' <"$W/$1.argv")"
    [ "$(cat "$W/$1.pw")" = "$3" ] || fail "$1 PGPASSWORD is '$(cat "$W/$1.pw")', want '$3'"
}

n=0
for url in 'postgresql://keysup:S3cr%25t@db.example:5432/keysup?sslmode=verify-full' \
           'postgresql://keysup@db.example/keysup?password=S3cr%25t&sslmode=require'; do
    n=$((n + 1))
    case $n in
    1) want='postgresql://keysup@db.example:5432/keysup?sslmode=verify-full' ;;
    2) want='postgresql://keysup@db.example/keysup?sslmode=require' ;;
    esac
    sed -i '/^#\? *database *=/d' "$W/sup/keysupd.conf"
    echo "database = $url" >>"$W/sup/keysupd.conf"
    rm -rf "$W/bk$n"
    "$B/keysup" backup --data "$W/sup" --out "$W/bk$n" >"$W/bk$n.out" 2>&1 || fail "backup: $(cat "$W/bk$n.out")"
    check_tool pg_dump "$want" 'S3cr%t'
    grep -q 'S3cr' "$W/bk$n.out" && fail "backup printed the password"
    ok "backup ($n): pg_dump got the URL without the password, the password in PGPASSWORD"
done
# restore: against a private PostgreSQL server (trust auth: the password is
# carried, not needed), because restore first checks that no keysupd holds
# the database's publish lease; then the stand-in pg_restore records.
source "$HERE/pg_lib.sh"
pg_start
PW_URL="${PG_URL/keysup@/keysup:S3cr%25t@}?sslmode=disable"
sed -i '/^#\? *database *=/d' "$W/sup/keysupd.conf"
echo "database = $PW_URL" >>"$W/sup/keysupd.conf"
"$B/keysup" backup --data "$W/sup" --out "$W/bk3" >"$W/bk3.out" 2>&1 || fail "backup: $(cat "$W/bk3.out")"
"$B/keysup" restore --data "$W/rest" --from "$W/bk3" >"$W/rest.out" 2>&1 || fail "restore: $(cat "$W/rest.out")"
grep -q 'S3cr' "$W/rest.out" && fail "restore printed the password: $(cat "$W/rest.out")"
check_tool pg_restore "$PG_URL?sslmode=disable" 'S3cr%t'
ok "restore: pg_restore got the URL without the password, the password in PGPASSWORD"
echo "attack_pgargv_e2e: all $steps steps passed"
