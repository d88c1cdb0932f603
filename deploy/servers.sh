#!/usr/bin/env bash
# Throw-away PostgreSQL and Redis from the installed binaries.
#   servers.sh start DIR        start both on free loopback ports under DIR,
#                               write DIR/env (AUDORA_DATABASE__URL, ...);
#                               PostgreSQL with a fresh password and TLS
#   servers.sh stop DIR         stop both and remove nothing else
#   servers.sh redis-stop DIR   stop Redis only (fault tests)
#   servers.sh redis-start DIR  start Redis again on the same port
#   servers.sh pg-restart DIR   restart PostgreSQL on the same port
#   servers.sh pg-kill9 DIR     SIGKILL the server and all its processes
#   servers.sh pg-start DIR     start it again (after pg-kill9: crash
#                               recovery)
#   servers.sh redis-pause DIR  SIGSTOP Redis (a stall: connections stay
#   servers.sh redis-resume DIR open, nothing answers); SIGCONT
# AUDORA_SERVERS_BIND=ADDR (start) listens on ADDR as well as loopback and
# writes ADDR into DIR/env, for clients on other hosts (a password over
# tcp for PostgreSQL; Redis without one: a private test network only).
set -euo pipefail
cmd=${1:?usage: servers.sh start|stop|redis-stop|redis-start|redis-pause|redis-resume|pg-restart|pg-kill9|pg-start DIR}
dir=${2:?directory required}
trap 'echo "servers: $cmd failed at line $LINENO (logs in $dir)" >&2' ERR
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

. "$(dirname "$0")/lib.sh"

# initdb refuses to run as root, so the cluster belongs to "postgres" then.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bind=${AUDORA_SERVERS_BIND:-}

redis_start() {
    local port; port=$(cat "$dir/redis.port")
    local extra=()
    [ -f "$dir/bind" ] && extra=(--protected-mode no)
    # shellcheck disable=SC2046
    redis-server --port "$port" --bind 127.0.0.1 $(cat "$dir/bind" 2>/dev/null) \
        "${extra[@]}" --save '' --appendonly no \
        --daemonize yes --pidfile "$dir/redis.pid" \
        --logfile "$dir/redis.log" --dir "$dir" >/dev/null
    for _ in $(seq 100); do
        redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "servers: redis did not start (see $dir/redis.log)" >&2
    return 1
}

redis_stop() {
    [ -f "$dir/redis.pid" ] || return 0
    local pid; pid=$(cat "$dir/redis.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    rm -f "$dir/redis.pid"
}

pg_ctl_() {
    as_pg "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w "$@" >/dev/null
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    free_port >"$dir/pg.port"
    free_port "$dir/pg.port" >"$dir/redis.port"
    pgport=$(cat "$dir/pg.port")
    mkdir -p "$dir/pg" "$dir/sock"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir" "$dir/pg" "$dir/sock"
    chmod 755 "$dir"
    # As a real server is set up: a password over tcp (SCRAM) and TLS
    # offered (libpq's default sslmode=prefer takes it; sslmode=require
    # in the URL insists). The socket stays trust for this script.
    pw=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s\n' "$pw" >"$dir/pg.pw"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg.pw"
    as_pg "$pgbin/initdb" -D "$dir/pg" -U audora --auth-local=trust \
        --auth-host=scram-sha-256 --pwfile="$dir/pg.pw" \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
    rm -f "$dir/pg.pw"
    as_pg openssl req -new -x509 -days 2 -nodes -subj /CN=127.0.0.1 \
        -newkey rsa:2048 -keyout "$dir/pg/server.key" \
        -out "$dir/pg/server.crt" >"$dir/openssl.log" 2>&1
    chmod 600 "$dir/pg/server.key"
    host=127.0.0.1
    rm -f "$dir/bind"
    if [ -n "$bind" ]; then
        echo "$bind" >"$dir/bind"
        host=$bind
        echo "host all all $bind/24 scram-sha-256" >>"$dir/pg/pg_hba.conf"
    fi
    cat >>"$dir/pg/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1${bind:+,$bind}'
port = $pgport
unix_socket_directories = '$dir/sock'
ssl = on
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
CONF
    pg_ctl_ start
    as_pg "$pgbin/createdb" -h "$dir/sock" -p "$pgport" -U audora audora
    redis_start
    cat >"$dir/env" <<ENV
export AUDORA_DATABASE__URL=postgresql://audora:$pw@$host:$pgport/audora
export AUDORA_REDIS__URL=redis://$host:$(cat "$dir/redis.port")/0
ENV
    ;;
stop)
    redis_stop
    [ -d "$dir/pg" ] && pg_ctl_ stop -m fast 2>/dev/null || true
    ;;
redis-stop) redis_stop ;;
redis-start) redis_start ;;
pg-restart) pg_ctl_ restart -m fast ;;
pg-kill9)
    pid=$(head -n1 "$dir/pg/postmaster.pid")
    # The backends first, so none outlives the postmaster and holds the
    # shared memory the next start needs.
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid"
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || pgrep -P "$pid" >/dev/null || break
        sleep 0.05
    done
    ;;
pg-start) pg_ctl_ start ;;
redis-pause) kill -STOP "$(cat "$dir/redis.pid")" ;;
redis-resume) kill -CONT "$(cat "$dir/redis.pid")" ;;
*) echo "servers: unknown command $cmd" >&2; exit 2 ;;
esac
