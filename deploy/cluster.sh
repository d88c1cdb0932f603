#!/usr/bin/env bash
# A local Audora cluster without Docker: relays and workers under
# audora-supervisor, which restarts one that fails (with backoff) and
# counts its restarts; logs, pids and the supervisor's status under a run
# directory.
#   cluster.sh start RUNDIR [INGEST ENRICH ANALYTICS]   (default 2 1 2)
#                                   a start that fails stops what it started
#   cluster.sh stop RUNDIR          SIGTERM, wait for the drain, then KILL
#   cluster.sh kill RUNDIR NAME     SIGKILL one process (fault tests); the
#                                   supervisor starts it again
#   cluster.sh status RUNDIR        each process: pid, restarts, last exit
# Configuration comes from the environment (AUDORA_...), as for any worker.
# With zmq.security=curve (the default) and no keys configured, start
# writes a fresh key set to RUNDIR/keys and gives it to every process.
# BIN (default build/) is where the executables are. Every process serves
# /metrics, /healthz and /readyz on its own free port, listed in
# RUNDIR/ports (name port), unless AUDORA_CLUSTER_METRICS=0.
# AUDORA_CLUSTER_RELAYS=0 starts workers only, for a host whose relays run
# elsewhere (zmq.*_in/_out name them; the keys come from the environment).
# AUDORA_CLUSTER_SUPERVISE=0 starts the processes bare (nothing restarts
# them), AUDORA_CLUSTER_GRACE_S (default queue.drain_s + 5) is how long
# stop lets them drain.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|kill|status RUNDIR ...}
run=${2:?run directory required}
bin=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build}
mkdir -p "$run/logs" "$run/pids"
run=$(cd "$run" && pwd)

. "$(dirname "$0")/lib.sh"

drain_s() {
    "$bin/audora" config check | sed -n 's/^queue.drain_s = //p'
}

# name exe args... : a line of the supervisor's spec, or a bare process.
spawn() {
    local name=$1; shift
    if [ "${AUDORA_CLUSTER_METRICS:-1}" != 0 ]; then
        local port; port=$(free_port "$run/ports")
        echo "$name $port" >>"$run/ports"
        set -- "$@" "--metrics.port=$port"
    fi
    if [ "${AUDORA_CLUSTER_SUPERVISE:-1}" != 0 ]; then
        echo "$name $*" >>"$run/spec"
    else
        "$@" >>"$run/logs/$name.log" 2>&1 &
        echo $! >"$run/pids/$name"
    fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# SIGTERM to the supervisor (which passes it on and waits for the drain)
# or to every bare process; KILL whatever is left after the grace.
stop_all() {
    local grace=${AUDORA_CLUSTER_GRACE_S:-$(( $(drain_s) + 5 ))}
    local targets=("$run"/pids/*)
    alive "$run/supervisor.pid" && targets=("$run/supervisor.pid")
    for p in "${targets[@]}"; do
        alive "$p" && kill -TERM "$(cat "$p")" 2>/dev/null || true
    done
    for _ in $(seq $(( (grace + 2) * 10 ))); do
        local up=0
        for p in "$run/supervisor.pid" "$run"/pids/*; do
            alive "$p" && up=1
        done
        [ $up -eq 0 ] && break
        sleep 0.1
    done
    for p in "$run/supervisor.pid" "$run"/pids/*; do
        alive "$p" && kill -KILL "$(cat "$p")" 2>/dev/null || true
        rm -f "$p"
    done
}

# A start that fails stops what it started: relays left running would hold
# their ports, and the next start would fail on "Address already in use".
start_failed() {
    echo "cluster: start failed; stopping what was started" >&2
    stop_all
    exit 1
}

# Each process up, and (supervised) none restarted yet: a child that
# cannot start at all would otherwise be restarted for ever, quietly.
check_started() {
    if [ "${AUDORA_CLUSTER_SUPERVISE:-1}" != 0 ]; then
        alive "$run/supervisor.pid" || {
            echo "cluster: the supervisor exited at start:" >&2
            tail -n 5 "$run/logs/supervisor.log" >&2
            return 1
        }
        local bad
        bad=$(awk '$3 != "restarts=0" { print $1 }' \
              "$run/supervisor.status" 2>/dev/null || true)
        for name in $bad; do
            echo "cluster: $name failed at start:" >&2
            tail -n 5 "$run/logs/$name.log" >&2
        done
        [ -z "$bad" ] && [ -s "$run/supervisor.status" ]
    else
        local ok=0
        for p in "$run"/pids/*; do
            alive "$p" && continue
            echo "cluster: $(basename "$p") exited at start:" >&2
            tail -n 5 "$run/logs/$(basename "$p").log" >&2
            ok=1
        done
        return $ok
    fi
}

case "$cmd" in
start)
    ni=${3:-2}; ne=${4:-1}; na=${5:-2}
    for p in "$run/supervisor.pid" "$run"/pids/*; do
        if alive "$p"; then
            echo "cluster: $run is running ($(basename "$p")):" \
                 "stop it first" >&2
            exit 1
        fi
    done
    rm -f "$run"/pids/* "$run/ports" "$run/spec" "$run/supervisor.status"
    # zmq.security=curve without keys: a fresh set for this cluster alone,
    # kept in the run directory (0700) for the processes it starts.
    conf=$("$bin/audora" config check)
    if grep -qx 'zmq.security = curve' <<<"$conf" &&
       grep -qx 'zmq.server_public_key = ' <<<"$conf"; then
        [ -f "$run/keys/cluster.env" ] ||
            "$bin/audora" keys generate --dir "$run/keys" >/dev/null
        set -a; . "$run/keys/cluster.env"; set +a
    fi
    trap start_failed ERR
    if [ "${AUDORA_CLUSTER_RELAYS:-1}" != 0 ]; then
        spawn relay-enrich "$bin/audora-relay" --stage enrich
        spawn relay-analytics "$bin/audora-relay" --stage analytics
    fi
    for i in $(seq "$na"); do spawn "analytics-$i" "$bin/audora-analytics"; done
    for i in $(seq "$ne"); do spawn "enrich-$i" "$bin/audora-enrich"; done
    for i in $(seq "$ni"); do spawn "ingest-$i" "$bin/audora-ingest"; done
    if [ "${AUDORA_CLUSTER_SUPERVISE:-1}" != 0 ]; then
        sup=("$bin/audora-supervisor" --spec "$run/spec" --dir "$run"
             --grace-s "${AUDORA_CLUSTER_GRACE_S:-$(( $(drain_s) + 5 ))}")
        if [ "${AUDORA_CLUSTER_METRICS:-1}" != 0 ]; then
            port=$(free_port "$run/ports")
            echo "supervisor $port" >>"$run/ports"
            sup+=("--metrics.port=$port")
        fi
        "${sup[@]}" >>"$run/logs/supervisor.log" 2>&1 &
        echo $! >"$run/supervisor.pid"
    fi
    sleep 0.5
    check_started || start_failed
    trap - ERR
    ;;
stop)
    stop_all
    ;;
kill)
    name=${3:?process name required}
    kill -KILL "$(cat "$run/pids/$name")" 2>/dev/null || true
    [ "${AUDORA_CLUSTER_SUPERVISE:-1}" != 0 ] || rm -f "$run/pids/$name"
    ;;
status)
    if [ -f "$run/supervisor.status" ]; then
        cat "$run/supervisor.status"
    else
        for p in "$run"/pids/*; do
            [ -f "$p" ] || continue
            state=exited; alive "$p" && state=running
            echo "$(basename "$p") pid=$(cat "$p") $state"
        done
    fi
    ;;
*) echo "cluster: unknown command $cmd" >&2; exit 2 ;;
esac
