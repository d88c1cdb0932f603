#!/usr/bin/env bash
# Ingest scaling over the network, against the replay server.
#   bench/live.sh [JOBS] [LATENCY_MS] [LIMIT] [WORKERS...]
#   (default 200 50 50 1 2 4 8)
# audora-replay answers like Last.fm with its genuine stored chart page,
# LATENCY_MS late; the fleet's limit is LIMIT requests/s. For each number
# of ingest workers: JOBS chart.getTopTracks jobs (each reads two pages:
# the stored page, then a second with nothing new), a fresh cache and
# limiter, jobs/s and rows/s from the first push to the last job done,
# beside the limit, the requests the replay server counted and the most it
# saw in any one second. Enrich and analytics run as usual behind ingest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=${1:-200}
latency=${2:-50}
limit=${3:-50}
shift $(($# < 3 ? $# : 3))
workers=("$@")
[ ${#workers[@]} -eq 0 ] && workers=(1 2 4 8)
fixtures=${AUDORA_FIXTURES:-$root/../shared/fixtures/real}

. bench/lib.sh
bench_over_replay live "$latency"
export AUDORA_LASTFM__RATE_PER_S=$limit

echo "bench: $jobs Last.fm chart jobs, replay latency $latency ms," \
    "limit $limit requests/s for the fleet"
printf '%8s %9s %8s %9s %7s %9s %13s %6s\n' workers seconds jobs/s rows/s \
    limit requests busiest_1s dead
round=0
for n in "${workers[@]}"; do
    round=$((round + 1))
    redis-cli -u "$AUDORA_REDIS__URL" flushdb >/dev/null
    curl -s -X DELETE "http://$replay_addr/_stats" >/dev/null
    since=$("$BIN/audora" status --json | /usr/bin/python3 -c \
        'import json, sys; print(json.load(sys.stdin)["max_job_id"] or 0)')
    deploy/cluster.sh start "$work/run" "$n" 1 2
    t0=$(date +%s.%N)
    # Dates no earlier round used: every page is a cache miss.
    for i in $(seq "$jobs"); do
        d=$(date -u -d "2000-01-01 + $((round * 1000 + i)) days" +%F)
        "$BIN/audora" push lastfm chart.getTopTracks --date "$d" >/dev/null
    done
    "$BIN/audora" wait --since-id "$since" --quiet || true
    t1=$(date +%s.%N)
    deploy/cluster.sh stop "$work/run" >/dev/null
    rows=$(psql -qtA "$AUDORA_DATABASE__URL" -c "SELECT coalesce(sum(
        rows_written), 0) FROM jobs WHERE id > $since AND state = 'done'")
    dead=$(psql -qtA "$AUDORA_DATABASE__URL" -c "SELECT count(*) FROM jobs
        WHERE id > $since AND state = 'dead'")
    s=$(echo "$t1 - $t0" | bc -l)
    printf '%8d %9.2f %8.1f %9.0f %7d %9d %13d %6d\n' "$n" "$s" \
        "$(echo "$jobs / $s" | bc -l)" "$(echo "$rows / $s" | bc -l)" \
        "$limit" "$(replay_stat lastfm requests)" "$(replay_stat lastfm max_per_second)" \
        "$dead"
done
echo "bench: a job needs two requests, so the limit allows at most" \
    "$(echo "$limit / 2" | bc -l | xargs printf '%.1f') jobs/s"
