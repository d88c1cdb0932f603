#!/usr/bin/env bash
# Pipeline throughput against a plain COPY, measured in the same run.
#   bench/run.sh [RECORDS] [PER_FILE]      (default 1000000 2000)
# Generates RECORDS synthetic chart rows (`audora gen`), runs them through
# relays and ingest -> enrich -> analytics into PostgreSQL, then loads the
# very rows the pipeline stored with `psql \copy` into the same table
# (its primary key and index) of a fresh database, and prints both rates,
# their ratio and each worker's peak RSS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
records=${1:-1000000}
per_file=${2:-2000}
ningest=${AUDORA_INGEST_WORKERS:-2}
nenrich=${AUDORA_ENRICH_WORKERS:-1}
nanalytics=${AUDORA_ANALYTICS_WORKERS:-2}

deploy/deps.sh
export BIN=${AU_BUILD_DIR:-$root/build}
cmake -S . -B "$BIN" -DCMAKE_BUILD_TYPE=Release -DAU_WERROR=OFF >/dev/null
cmake --build "$BIN" -j"$(nproc)" >/dev/null

work=$(mktemp -d /tmp/audora-bench.XXXXXX)
chmod 755 "$work"
cleanup() {
    deploy/cluster.sh stop "$work/run" 2>/dev/null || true
    deploy/servers.sh stop "$work/srv" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
deploy/servers.sh start "$work/srv"
. "$work/srv/env"
base=${AUDORA_DATABASE__URL%/*}
. deploy/lib.sh
export_relay_ports
export AUDORA_ANALYTICS__CHART_SIZE=$per_file
export AUDORA_LOG__LEVEL=warn

"$BIN/audora" gen --records "$records" --per-file "$per_file" \
    --out "$work/charts" >/dev/null
nfiles=$(ls "$work/charts" | wc -l)
echo "bench: $records records in $nfiles chart files of $per_file rows"

# 1. The pipeline.
"$BIN/audora" migrate >/dev/null
deploy/cluster.sh start "$work/run" "$ningest" "$nenrich" "$nanalytics"
t0=$(date +%s.%N)
"$BIN/audora" push "$work/charts" >/dev/null
# A dead job is counted below ("jobs not done"), not a reason to stop.
"$BIN/audora" wait --quiet || echo "bench: wait exited $?" >&2
t1=$(date +%s.%N)
rss=""
for p in "$work"/run/pids/*; do
    name=$(basename "$p")
    kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$(cat "$p")/status")
    rss+="$(printf '  %-18s %6.1f MB\n' "$name" "$(echo "$kb/1024" | bc -l)")"$'\n'
done
deploy/cluster.sh stop "$work/run"
rows=$(psql -qtA "$AUDORA_DATABASE__URL" -c "SELECT count(*) FROM trends")
dead=$(psql -qtA "$AUDORA_DATABASE__URL" \
    -c "SELECT count(*) FROM jobs WHERE state <> 'done'")

# 2. A plain COPY of the rows the pipeline stored, derived columns and
# all, into the same table of a fresh database.
psql -qtA "$AUDORA_DATABASE__URL" -c "\\copy trends TO '$work/rows.tsv'"
psql -qtA "$base/audora" -c "CREATE DATABASE copybench" >/dev/null
AUDORA_DATABASE__URL=$base/copybench "$BIN/audora" migrate >/dev/null
t2=$(date +%s.%N)
psql -qtA "$base/copybench" -c "\\copy trends FROM '$work/rows.tsv'" \
    >/dev/null
t3=$(date +%s.%N)
crows=$(psql -qtA "$base/copybench" -c "SELECT count(*) FROM trends")

awk -v n="$records" -v rows="$rows" -v crows="$crows" -v dead="$dead" \
    -v p="$(echo "$t1 - $t0" | bc)" -v c="$(echo "$t3 - $t2" | bc)" \
    -v w="${ningest}x ingest, ${nenrich}x enrich, ${nanalytics}x analytics" \
    'BEGIN {
        printf "pipeline (%s): %d rows in %.2f s = %.0f rows/s (%d jobs not done)\n",
               w, rows, p, rows / p, dead
        printf "psql \\copy, same rows, same table: %d rows in %.2f s = %.0f rows/s\n",
               crows, c, crows / c
        printf "ratio pipeline / copy: %.3f\n", (rows / p) / (crows / c)
     }'
echo "peak RSS per process (VmHWM):"
printf '%s' "$rss"
[ "$rows" -eq "$records" ] && [ "$crows" -eq "$records" ] || {
    echo "bench: row counts differ from $records" >&2; exit 1; }
