#!/usr/bin/env bash
# The pipeline on real data, end to end, on a fresh machine:
#   deploy/run.sh [--then "COMMAND"] [--replay] [--live "PUSH ARGS"]...
#                 [PATH...]
# PATH defaults to the real chart files in ../shared/fixtures/real/ when
# no live job is given. --live queues `audora push PUSH ARGS` (a live
# source: "lastfm geo.getTopTracks --country Greece", "spotify-playlist
# ID"), with the keys of the environment (AUDORA_LASTFM__API_KEY,
# AUDORA_SPOTIFY__CLIENT_ID, AUDORA_SPOTIFY__CLIENT_SECRET). --replay
# starts audora-replay on a free port and points the live sources at it:
# the genuine stored answers of the services, on any machine (without
# --live: three Last.fm charts and a Spotify playlist).
# Installs what is missing, builds, starts throw-away PostgreSQL and Redis
# (unless AUDORA_DATABASE__URL / AUDORA_REDIS__URL point at servers),
# migrates, starts relays and workers, pushes one job per file, shows
# progress, waits until every job is done or dead, prints a summary (exit
# status 1 when a job died or a file could not be queued), runs COMMAND
# (with the built binaries on PATH, servers still up; e.g.
# --then "audora backtest --svg docs/backtest.svg"), and stops everything
# it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fixtures=${AUDORA_FIXTURES:-$root/../shared/fixtures/real}
then_cmd=""
live=()
replay=0
while [ $# -gt 0 ]; do
    case $1 in
    --then)
        then_cmd=${2:?--then needs a command}
        shift 2
        ;;
    --live)
        live+=("${2:?--live needs the arguments of an audora push}")
        shift 2
        ;;
    --replay)
        replay=1
        shift
        ;;
    --)
        shift
        break
        ;;
    *) break ;;
    esac
done
paths=("$@")
if [ $replay -eq 1 ] && [ ${#live[@]} -eq 0 ]; then
    live=("lastfm chart.getTopTracks"
        "lastfm geo.getTopTracks --country Greece"
        "lastfm tag.getTopTracks --tag rap"
        "spotify-playlist 4vHIKV7j4QcZwgzGQcZg1x --chart demo")
fi
[ ${#paths[@]} -eq 0 ] && [ ${#live[@]} -eq 0 ] &&
    paths=("$fixtures/spotify_charts")

deploy/deps.sh
export BIN=${AU_BUILD_DIR:-$root/build}
cmake -S . -B "$BIN" -DCMAKE_BUILD_TYPE=Release -DAU_WERROR=OFF >/dev/null
cmake --build "$BIN" -j"$(nproc)" 2>&1 | grep -E 'error|warning' || true
test -x "$BIN/audora" || { echo "run: build failed" >&2; exit 1; }

run=$root/.run/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
started_servers=0
replay_pid=""
cleanup() {
    deploy/cluster.sh stop "$run" || true
    [ -n "$replay_pid" ] && kill "$replay_pid" 2>/dev/null
    [ -n "$replay_pid" ] && wait "$replay_pid" 2>/dev/null
    [ $started_servers -eq 1 ] && deploy/servers.sh stop "$run/srv"
    echo "logs: $run/logs"
}
trap cleanup EXIT
if [ -z "${AUDORA_DATABASE__URL:-}" ] || [ -z "${AUDORA_REDIS__URL:-}" ]; then
    deploy/servers.sh start "$run/srv"
    started_servers=1
    # shellcheck disable=SC1091
    . "$run/srv/env"
fi
. deploy/lib.sh
export_relay_ports
if [ $replay -eq 1 ]; then
    start_replay "$fixtures" 0 "$run/replay"
    echo "replay: the services' stored answers at http://$replay_addr"
fi

"$BIN/audora" migrate
features=$fixtures/audio_features/spotify_hit_predictor_dataset-of-10s.csv
[ -f "$features" ] && "$BIN/audora" features load "$features"
start=$(date +%s.%N)
deploy/cluster.sh start "$run" "${AUDORA_INGEST_WORKERS:-2}" \
    "${AUDORA_ENRICH_WORKERS:-1}" "${AUDORA_ANALYTICS_WORKERS:-2}"
# The highest job id before this run's push: `wait --since-id` then waits
# for exactly this run's jobs, whatever else the database holds, and its
# exit status says whether any of them died.
since=$("$BIN/audora" status --json | /usr/bin/python3 -c \
    'import json, sys; print(json.load(sys.stdin)["max_job_id"] or 0)')
# Charts whose names carry no date (the "-daily-latest" downloads) are the
# 2019-12-17 files; every other date comes from the file name.
push_rc=0
if [ ${#paths[@]} -gt 0 ]; then
    "$BIN/audora" push --date "${AUDORA_LATEST_DATE:-2019-12-17}" \
        "${paths[@]}" || push_rc=$?
fi
for l in "${live[@]}"; do
    # The arguments as a shell would split them: --country 'United States'.
    (eval "set -- $l" && "$BIN/audora" push "$@") || push_rc=1
done
wait_rc=0
"$BIN/audora" wait --since-id "$since" || wait_rc=$?
end=$(date +%s.%N)
echo
"$BIN/audora" report
if [ ${#live[@]} -gt 0 ]; then
    # One heartbeat more, so that the workers' last requests are counted.
    sleep 1.5
    echo
    "$BIN/audora" sources
fi
printf '\nelapsed: %.2f s (workers started to last job finished)\n' \
    "$(echo "$end - $start" | bc)"
if [ -n "$then_cmd" ]; then
    echo
    (cd "$root" && PATH=$BIN:$PATH bash -c "$then_cmd")
fi
# Dead jobs are in the summary above; the status tells a caller too:
# 1 when a job died or a file could not be queued, 3 when wait timed out.
[ "$wait_rc" -ne 0 ] && exit "$wait_rc"
exit "$push_rc"
