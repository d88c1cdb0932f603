# What the benchmarks over the replay server share (sourced, from the
# repository's root, with $fixtures set).

bench_cleanup() {
    deploy/cluster.sh stop "$work/run" 2>/dev/null || true
    [ -n "${replay_pid:-}" ] && kill "$replay_pid" 2>/dev/null
    deploy/servers.sh stop "$work/srv" 2>/dev/null || true
    rm -rf "$work"
}

# bench_over_replay NAME LATENCY_MS: what is missing installed, a Release
# build in $BIN, a work directory ($work, removed at exit with everything
# started in it), throw-away PostgreSQL and Redis, private relay ports,
# audora-replay answering LATENCY_MS late (deploy/lib.sh start_replay),
# the schema migrated.
bench_over_replay() {
    deploy/deps.sh
    export BIN=${AU_BUILD_DIR:-$PWD/build}
    cmake -S . -B "$BIN" -DCMAKE_BUILD_TYPE=Release -DAU_WERROR=OFF >/dev/null
    cmake --build "$BIN" -j"$(nproc)" >/dev/null
    work=$(mktemp -d "/tmp/audora-bench-$1.XXXXXX")
    chmod 755 "$work"
    replay_pid=""
    trap bench_cleanup EXIT
    deploy/servers.sh start "$work/srv"
    # shellcheck disable=SC1091
    . "$work/srv/env"
    . deploy/lib.sh
    export_relay_ports
    export AUDORA_LOG__LEVEL=warn
    start_replay "$fixtures" "$2" "$work/replay"
    "$BIN/audora" migrate >/dev/null
}
