#!/usr/bin/env bash
# Runs docker-compose.yml where no Docker engine does: with Debian's podman
# (as root), its Docker API, and Debian's docker-compose 1.29.
#   deploy/containers.sh setup        install and configure podman, make the
#                                     images (idempotent; a machine with a
#                                     Docker engine needs none of it)
#   deploy/containers.sh start DIR    serve podman's Docker API on
#                                     DIR/podman.sock and run the containers'
#                                     health checks; prints DOCKER_HOST=...
#   deploy/containers.sh stop DIR     stop both
# The images, made once and kept by podman:
#   debian:bookworm-slim  debootstrap of Debian bookworm (no registry here)
#   postgres:15, redis:7  stand-ins from Debian's packages that keep what
#                         docker-compose.yml uses of the official images
#                         (deploy/containers/)
#   audora:latest         the Dockerfile, rebuilt from the work tree
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
log() { echo "containers: $*" >&2; }

usage() {
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
}

engine_is_docker() {
    [ -z "${DOCKER_HOST:-}" ] && command -v docker >/dev/null 2>&1 &&
        docker info >/dev/null 2>&1
}

configure_podman() {
    # Neither runc nor crun may raise a limit above the hard one we have
    # in this kind of sandbox, and both podman (RLIMIT_NOFILE) and its
    # Docker API (RLIMIT_NPROC too) ask for more: containers get ours. Without systemd: cgroupfs and a file for
    # events. CNI, because its dnsname plugin resolves service names.
    local conf=/etc/containers/containers.conf.d/50-audora.conf
    local want nproc
    # podman itself runs with RLIMIT_NPROC at most pid_max.
    nproc=$(ulimit -Hu)
    [ "$nproc" = unlimited ] || [ "$nproc" -gt "$(cat /proc/sys/kernel/pid_max)" ] &&
        nproc=$(cat /proc/sys/kernel/pid_max)
    want=$(printf '%s\n' \
        "# Written by Audora's deploy/containers.sh." \
        "[containers]" \
        "default_ulimits = [\"nofile=$(ulimit -Hn):$(ulimit -Hn)\", \"nproc=$nproc:$nproc\"]" \
        "[network]" \
        "network_backend = \"cni\"" \
        "[engine]" \
        "runtime = \"runc\"" \
        "cgroup_manager = \"cgroupfs\"" \
        "events_logger = \"file\"")
    if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
        mkdir -p "$(dirname "$conf")"
        printf '%s\n' "$want" >"$conf"
        log "wrote $conf"
    fi
}

has_image() { podman image exists "$1"; }

base_image() {
    has_image docker.io/library/debian:bookworm-slim && return 0
    local rootfs
    rootfs=$(mktemp -d /var/tmp/audora-rootfs.XXXXXX)
    log "debootstrap bookworm (minbase) for debian:bookworm-slim"
    debootstrap --variant=minbase bookworm "$rootfs" \
        "${AUDORA_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$rootfs.log" 2>&1 ||
        { tail -20 "$rootfs.log" >&2; rm -rf "$rootfs" "$rootfs.log"; return 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . |
        podman import --change 'CMD ["bash"]' - docker.io/library/debian:bookworm-slim >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
}

build() {
    local tag=$1 dir=$2
    log "building $tag"
    podman build -q -t "$tag" "$dir" >/dev/null
}

setup() {
    if engine_is_docker; then
        log "a Docker engine answers: nothing to prepare (docker compose builds audora:latest)"
        return 0
    fi
    [ "$(id -u)" -eq 0 ] || { log "podman is set up as root: run as root"; return 1; }
    "$root/deploy/deps.sh" podman runc debootstrap docker-compose \
        containernetworking-plugins golang-github-containernetworking-plugin-dnsname \
        iptables
    configure_podman
    base_image
    has_image docker.io/library/postgres:15 ||
        build docker.io/library/postgres:15 "$root/deploy/containers/postgres"
    has_image docker.io/library/redis:7 ||
        build docker.io/library/redis:7 "$root/deploy/containers/redis"
    # Always: podman's layer cache makes an unchanged tree a no-op.
    build localhost/audora:latest "$root"
}

# Podman runs health checks from systemd timers; without systemd nothing
# runs them and a service_healthy condition waits for ever. This loop is
# that timer: every container with a health check, every second until it
# is healthy and every five after.
health_loop() {
    local n=0
    while :; do
        podman ps --format '{{.ID}} {{.Status}}' 2>/dev/null |
            while read -r id status; do
                case $status in
                *"(healthy)"*) [ $((n % 5)) -eq 0 ] || continue ;;
                *"(starting)"* | *"(unhealthy)"*) ;;
                *) continue ;;
                esac
                podman healthcheck run "$id" >/dev/null 2>&1 || true
            done
        n=$((n + 1))
        sleep 1
    done
}

start() {
    local dir=$1
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if engine_is_docker; then
        echo "DOCKER_HOST="
        return 0
    fi
    if [ -f "$dir/podman.pid" ] && kill -0 "$(cat "$dir/podman.pid")" 2>/dev/null; then
        echo "DOCKER_HOST=unix://$dir/podman.sock"
        return 0
    fi
    podman system service --time=0 "unix://$dir/podman.sock" \
        >"$dir/podman.log" 2>&1 &
    echo $! >"$dir/podman.pid"
    health_loop >/dev/null 2>&1 &
    echo $! >"$dir/health.pid"
    for _ in $(seq 100); do
        [ -S "$dir/podman.sock" ] && break
        sleep 0.1
    done
    [ -S "$dir/podman.sock" ] || { log "podman system service did not start (see $dir/podman.log)"; return 1; }
    echo "DOCKER_HOST=unix://$dir/podman.sock"
}

stop() {
    local dir=$1 f
    for f in health podman; do
        if [ -f "$dir/$f.pid" ]; then
            kill "$(cat "$dir/$f.pid")" 2>/dev/null || true
            rm -f "$dir/$f.pid"
        fi
    done
    rm -f "$dir/podman.sock"
}

case ${1:-} in
setup) setup ;;
start) [ $# -eq 2 ] || { usage >&2; exit 2; }; start "$2" ;;
stop) [ $# -eq 2 ] || { usage >&2; exit 2; }; stop "$2" ;;
-h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac
