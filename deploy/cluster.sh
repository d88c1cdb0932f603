#!/usr/bin/env bash
# A local Audora cluster without Docker: relays and workers as background
# processes, their logs and pids under a run directory.
#   cluster.sh start RUNDIR [INGEST ENRICH ANALYTICS]   (default 2 1 2)
#                                   a start that fails stops what it started
#   cluster.sh stop RUNDIR          SIGTERM, wait for the drain, then KILL
#   cluster.sh kill RUNDIR NAME     SIGKILL one process (fault tests)
# Configuration comes from the environment (AUDORA_...), as for any worker.
# BIN (default build/) is where the executables are. Every process serves
# /metrics, /healthz and /readyz on its own free port, listed in
# RUNDIR/ports (name port), unless AUDORA_CLUSTER_METRICS=0.
set -euo pipefail
cmd=${1:?usage: cluster.sh start|stop|kill RUNDIR ...}
run=${2:?run directory required}
bin=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build}
mkdir -p "$run/logs" "$run/pids"

. "$(dirname "$0")/lib.sh"

spawn() { # name exe args...
    local name=$1; shift
    if [ "${AUDORA_CLUSTER_METRICS:-1}" != 0 ]; then
        local port; port=$(free_port)
        echo "$name $port" >>"$run/ports"
        set -- "$@" "--metrics.port=$port"
    fi
    "$@" >>"$run/logs/$name.log" 2>&1 &
    echo $! >"$run/pids/$name"
}

# SIGTERM to every process of the run, a drain of up to 10 s, then KILL.
stop_all() {
    for p in "$run"/pids/*; do
        [ -f "$p" ] && kill -TERM "$(cat "$p")" 2>/dev/null || true
    done
    for _ in $(seq 100); do
        alive=0
        for p in "$run"/pids/*; do
            [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null && alive=1
        done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "$run"/pids/*; do
        [ -f "$p" ] && kill -KILL "$(cat "$p")" 2>/dev/null || true
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

case "$cmd" in
start)
    ni=${3:-2}; ne=${4:-1}; na=${5:-2}
    for p in "$run"/pids/*; do
        if [ -f "$p" ] && kill -0 "$(cat "$p")" 2>/dev/null; then
            echo "cluster: $run is running ($(basename "$p")):" \
                 "stop it first" >&2
            exit 1
        fi
    done
    rm -f "$run"/pids/* "$run/ports"
    trap start_failed ERR
    spawn relay-enrich "$bin/audora-relay" --stage enrich
    spawn relay-analytics "$bin/audora-relay" --stage analytics
    for i in $(seq "$na"); do spawn "analytics-$i" "$bin/audora-analytics"; done
    for i in $(seq "$ne"); do spawn "enrich-$i" "$bin/audora-enrich"; done
    for i in $(seq "$ni"); do spawn "ingest-$i" "$bin/audora-ingest"; done
    sleep 0.5
    for p in "$run"/pids/*; do
        if ! kill -0 "$(cat "$p")" 2>/dev/null; then
            echo "cluster: $(basename "$p") exited at start:" >&2
            tail -n 5 "$run/logs/$(basename "$p").log" >&2
            start_failed
        fi
    done
    trap - ERR
    ;;
stop)
    stop_all
    ;;
kill)
    name=${3:?process name required}
    kill -KILL "$(cat "$run/pids/$name")" 2>/dev/null || true
    rm -f "$run/pids/$name"
    ;;
*) echo "cluster: unknown command $cmd" >&2; exit 2 ;;
esac
