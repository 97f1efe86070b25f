# A private PostgreSQL server for one test: initdb into a temporary directory
# as an unprivileged user (postgres, or nobody when run as root without it),
# a free port on loopback, stopped by pg_stop (lib.sh's exit trap calls it).
# Source after lib.sh. Sets PG_URL.

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
PG_DIR="${PG_DIR:-}"
PG_URL="${PG_URL:-}"

pg_as() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
        return
    fi
    local u=postgres
    id "$u" >/dev/null 2>&1 || u=nobody
    if [ -c /dev/null ]; then
        runuser -u "$u" -- "$@"
    else
        # Some sandboxes have a root-only regular file for /dev/null, which
        # initdb and the server cannot write (and which other processes may
        # replace at any time): give them a private /dev of their own.
        mkdir -p "$PG_DIR/hostdev"
        unshare -m bash -c '
            set -e
            o=$1; shift
            mount --make-rprivate /
            mount --bind /dev "$o"
            mount -t tmpfs -o mode=0755 keysup-dev /dev
            : >/dev/null; chmod 0666 /dev/null
            mkdir -m 1777 /dev/shm
            for d in random urandom zero; do : >/dev/$d; mount --bind "$o/$d" /dev/$d; done
            exec runuser -u "$@"' _ "$PG_DIR/hostdev" "$u" -- "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_start() {
    [ -x "$PG_BIN/initdb" ] || fail "PostgreSQL is not installed (scripts/deps.sh test installs postgresql)"
    PG_DIR=$(mktemp -d /tmp/keysup-pg.XXXXXX)
    chmod 0755 "$PG_DIR"
    if [ "$(id -u)" -eq 0 ]; then
        local u=postgres
        id "$u" >/dev/null 2>&1 || u=nobody
        chown "$u" "$PG_DIR"
    fi
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U keysup -E UTF8 --no-sync \
        >"$W/pg-initdb.log" 2>&1 || fail "initdb: $(tail -n 5 "$W/pg-initdb.log")"
    local port
    for _ in 1 2 3 4 5; do
        port=$(free_port)
        # fsync off: the tests kill keysupd, never the database server
        # (PG_FSYNC=on for the benchmark, durable like SQLite's sync=full).
        if pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
            -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=${PG_FSYNC:-off} -c max_connections=200" \
            start >/dev/null 2>&1; then
            PG_URL="postgresql://keysup@127.0.0.1:$port/postgres"
            PG_PORT=$port
            return 0
        fi
    done
    cat "$PG_DIR/server.log" 2>/dev/null | tail -n 20
    fail "PostgreSQL did not start"
}

pg_stop() {
    [ -n "$PG_DIR" ] || return 0
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    cp "$PG_DIR/server.log" "$W/pg-server.log" 2>/dev/null || true
    rm -rf "$PG_DIR"
    PG_DIR=""
}

# pg_sql SQL: one statement against the test database, unaligned output
pg_sql() { "$PG_BIN/psql" -X -q -A -t "$PG_URL" -c "$1"; }

# Several keysupd on the one PostgreSQL (after sup_init): pg_second_instance
# copies $W/sup to $W/sup2 (same config and sealed key, no lock file);
# inst_start N DIR runs keysupd N on a free port, the same one again after
# an inst_stop N (SPID/SPORT hold them).
declare -gA SPID SPORT
pg_second_instance() {
    cp -a "$W/sup" "$W/sup2"
    rm -f "$W/sup2/keysupd.lock"
}
inst_start() {
    local n=$1 dir=$2
    rm -f "$W/port$n"
    "$B/keysupd" --data "$dir" --listen 127.0.0.1:${SPORT[$n]:-0} --port-file "$W/port$n" \
        >>"$W/keysupd$n.log" 2>&1 &
    SPID[$n]=$!
    PIDS+=("${SPID[$n]}")
    wait_until 10 "keysupd $n listening" test -s "$W/port$n"
    SPORT[$n]=$(cat "$W/port$n")
}
inst_stop() { kill -TERM "${SPID[$1]}" 2>/dev/null || true; wait "${SPID[$1]}" 2>/dev/null || true; }
