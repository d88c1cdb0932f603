#!/usr/bin/env bash
# Lookups over the network, against the replay server: MusicBrainz artist
# searches by musicbrainz_artists jobs.
#   bench/lookup.sh [ARTISTS] [LATENCY_MS] [LIMIT] [WORKERS...]
#   (default 200 50 20 1 2 4)
# audora-replay answers like MusicBrainz with a genuine stored search,
# LATENCY_MS late; the fleet's limit is LIMIT requests/s. For each number
# of ingest workers, ARTISTS names in jobs of ten, first on a cold cache
# (every name a request), then the same jobs again on the warm cache
# (none): artists/s and requests/s, beside the limit, the requests the
# replay server counted and the most it saw in any one second.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
nartists=${1:-200}
latency=${2:-50}
limit=${3:-20}
shift $(($# < 3 ? $# : 3))
workers=("$@")
[ ${#workers[@]} -eq 0 ] && workers=(1 2 4)
fixtures=${AUDORA_FIXTURES:-$root/../shared/fixtures/real}

. bench/lib.sh
bench_over_replay lookup "$latency"
export AUDORA_MUSICBRAINZ__RATE_PER_S=$limit

# run ROUND: the jobs of ten names each, timed; prints one line.
run() {
    local round=$1 cache=$2 n=$3
    curl -s -X DELETE "http://$replay_addr/_stats" >/dev/null
    local since
    since=$("$BIN/audora" status --json | /usr/bin/python3 -c \
        'import json, sys; print(json.load(sys.stdin)["max_job_id"] or 0)')
    local t0 t1
    t0=$(date +%s.%N)
    for ((i = 0; i < nartists; i += 10)); do
        local names=()
        for ((k = i; k < i + 10 && k < nartists; k++)); do
            names+=("bench artist $round-$k")
        done
        "$BIN/audora" push musicbrainz-artists "${names[@]}" >/dev/null
    done
    "$BIN/audora" wait --since-id "$since" --quiet || true
    t1=$(date +%s.%N)
    local s dead
    s=$(echo "$t1 - $t0" | bc -l)
    dead=$(psql -qtA "$AUDORA_DATABASE__URL" -c "SELECT count(*) FROM jobs
        WHERE id > $since AND state = 'dead'")
    printf '%8d %6s %9.2f %10.1f %10.1f %7d %9d %11d %5d\n' "$n" "$cache" \
        "$s" "$(echo "$nartists / $s" | bc -l)" \
        "$(echo "$(replay_stat musicbrainz requests) / $s" | bc -l)" "$limit" \
        "$(replay_stat musicbrainz requests)" "$(replay_stat musicbrainz max_per_second)" \
        "$dead"
}

echo "bench: $nartists MusicBrainz artist searches in jobs of ten, replay" \
    "latency $latency ms, limit $limit requests/s for the fleet"
printf '%8s %6s %9s %10s %10s %7s %9s %11s %5s\n' workers cache seconds \
    artists/s requests/s limit requests busiest_1s dead
for n in "${workers[@]}"; do
    redis-cli -u "$AUDORA_REDIS__URL" flushdb >/dev/null
    deploy/cluster.sh start "$work/run" "$n" 1 1
    run "$n" cold "$n"
    run "$n" warm "$n"
    deploy/cluster.sh stop "$work/run" >/dev/null
done
