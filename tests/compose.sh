#!/usr/bin/env bash
# docker-compose.yml started for real: deploy/containers.sh prepares podman
# and the images where no Docker engine runs, then the cluster comes up
# with --scale ingest=3 --scale analytics=2 and the 135 real charts are
# pushed from one-off containers. 97 go through first (every ingest
# container must take some); for the other 38 the enrich relay is paused
# so every ingest worker is held mid-job, one ingest container is stopped
# (it must drain: hand its job back and exit 0), the relay resumes and the
# others finish. Checked in PostgreSQL: every chart exactly once. All of
# it is torn down at the end, volumes included.
#   tests/compose.sh            (root: it drives podman)
set -euo pipefail
case ${1:-} in
-h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
?*)
    echo "compose: unknown argument $1 (usage: tests/compose.sh)" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=${AU_FIXTURES:-$root/../shared/fixtures/real}
export AUDORA_CHARTS=$fixtures/spotify_charts
log() { echo "compose: $*"; }
t0=$(date +%s)

"$root/deploy/containers.sh" setup
tmp=$(mktemp -d /tmp/audora-compose.XXXXXX)
project=auct$$
dc() { docker-compose -f "$root/docker-compose.yml" -p "$project" "$@"; }

cleanup() {
    set +e
    if [ "${keep:-0}" = 1 ]; then
        for c in $(dc ps -q 2>/dev/null); do
            podman logs "$c" >"$tmp/$c.log" 2>&1
        done
        log "container logs kept in $tmp"
    fi
    dc --profile tools down -v --remove-orphans -t 5 >/dev/null 2>&1
    "$root/deploy/containers.sh" stop "$tmp"
    [ "${keep:-0}" = 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
export "$("$root/deploy/containers.sh" start "$tmp")"
[ -n "$DOCKER_HOST" ] || unset DOCKER_HOST
fail() { log "FAIL: $*"; keep=1; exit 1; }
sql() { dc exec -T postgres psql -U audora -d audora -tAqc "$1"; }
# A one-off container, as a user would push from.
run() { dc run --rm -T audora sh -c "$1" 2>&1 | grep -v '^Starting\|^Creating' || true; }
host_of() { podman inspect -f '{{.Config.Hostname}}' "${project}_$1"; }

# ---- up, scaled ------------------------------------------------------------
dc up -d --no-build --scale ingest=3 --scale analytics=2 >"$tmp/up.log" 2>&1 ||
    { cat "$tmp/up.log"; fail "docker-compose up failed"; }
for _ in $(seq 120); do
    n=$(sql "SELECT count(*) FROM worker_heartbeats WHERE seen_at > now() -
             interval '30 seconds'" 2>/dev/null || echo 0)
    [ "$n" -ge 6 ] && break
    sleep 1
done
[ "$n" -ge 6 ] || fail "only $n of 6 workers came up"
log "up: 3 ingest, 1 enrich, 2 analytics, 2 relays ($(($(date +%s) - t0)) s since start)"

# ---- 97 charts: spread over the ingest containers --------------------------
run "find /charts -name '*.csv' ! -name '*-latest.csv' ! -path '*us_weekly_2019*' |
     xargs audora push >/dev/null &&
     find /charts -name '*-latest.csv' | xargs audora push --date 2019-12-17 >/dev/null &&
     audora wait --quiet --timeout 300" >"$tmp/push1.log"
[ "$(sql "SELECT count(*) FROM jobs WHERE state = 'done'")" -eq 97 ] ||
    { cat "$tmp/push1.log"; fail "the first 97 charts did not all finish"; }
spread=""
for i in 1 2 3; do
    h=$(host_of "ingest_$i")
    k=$(sql "SELECT count(*) FROM jobs WHERE leased_by LIKE 'ingest@$h:%'")
    spread="$spread ingest_$i=$k"
    [ "$k" -gt 0 ] || fail "ingest_$i took none of the 97 jobs:$spread"
done
log "97 charts done, jobs per ingest container:$spread"

# ---- 38 more with the enrich relay paused; one ingest container stopped ----
# docker-compose 1.29 finds no paused container to unpause through
# podman's API, so both go to podman.
podman pause "${project}_relay-enrich_1" >/dev/null
run "find /charts -path '*us_weekly_2019*' -name '*.csv' | xargs audora push >/dev/null"
victim=$(host_of ingest_2)
paused_at=$(date +%s)
held=""
for _ in $(seq 120); do
    held=$(sql "SELECT id FROM jobs WHERE state = 'running' AND sent_at IS NULL
                AND leased_by LIKE 'ingest@$victim:%'")
    # Past the relay's heartbeat timeout (3 s) the worker cannot be
    # sending: the job is held.
    [ -n "$held" ] && [ $(($(date +%s) - paused_at)) -ge 5 ] && break
    sleep 0.5
done
[ -n "$held" ] || fail "ingest_2 never held a job with the relay paused"
stop_at=$(date +%s%3N)
podman stop -t 30 "${project}_ingest_2" >/dev/null 2>"$tmp/stop.log"
took=$(($(date +%s%3N) - stop_at))
code=$(podman inspect -f '{{.State.ExitCode}}' "${project}_ingest_2")
podman logs "${project}_ingest_2" >"$tmp/ingest_2.log" 2>&1
log "ingest_2 held job $held; stopped in $took ms, exit status $code"
[ "$code" -eq 0 ] || fail "ingest_2 exited $code, not 0 after a drain"
grep -q "stopping mid-job: handed back\",\"job\":$held," "$tmp/ingest_2.log" ||
    { tail -5 "$tmp/ingest_2.log"; fail "ingest_2 did not hand job $held back"; }
podman unpause "${project}_relay-enrich_1" >/dev/null
run "audora wait --quiet --timeout 300" >"$tmp/push2.log"

# ---- what PostgreSQL holds --------------------------------------------------
left=$(sql "SELECT count(*) FROM jobs WHERE state <> 'done'")
[ "$left" -eq 0 ] || fail "$left job(s) not done"
[ "$(sql "SELECT count(*) FROM jobs")" -eq 135 ] || fail "not 135 jobs"
by=$(sql "SELECT leased_by || ' attempt ' || attempt FROM jobs WHERE id = $held")
case $by in
"ingest@$victim:"*) fail "job $held was finished by the stopped container ($by)" ;;
esac
log "job $held finished by $by"
# Each chart's rows exactly once: as many trends rows under its chart and
# date as its job wrote, and the 26,222 data rows of the 135 files.
bad=$(sql "SELECT count(*) FROM jobs j WHERE j.rows_written <> (SELECT
           count(*) FROM trends_v t WHERE t.platform = j.params->>'platform'
           AND t.chart = j.params->>'chart' AND t.region =
           j.params->>'region' AND t.chart_date = (j.params->>'date')::date)")
[ "$bad" -eq 0 ] || fail "$bad chart(s) with rows lost or doubled"
rows=$(sql "SELECT count(*) FROM trends")
[ "$rows" -eq 26222 ] || fail "$rows trend rows, not 26222"
written=$(sql "SELECT sum(rows_written) FROM jobs")
[ "$written" -eq 26222 ] || fail "$written rows written by the jobs, not 26222"
log "135 charts done, $rows trend rows (26222 expected), $(($(date +%s) - t0)) s in all"
log "ok"
