#!/usr/bin/env bash
# A cluster across three hosts, each a network namespace on one bridge:
# "db" holds PostgreSQL, Redis and two relays per stage boundary, "w1" and
# "w2" hold workers (2 ingest, 1 enrich, 1 analytics each) connected to
# both relays of each boundary, all over tcp with CURVE. The 135 real
# charts go through; mid-run w1's cable is pulled (ip link set down) while
# it holds jobs. Then one relay of each boundary is killed for good and
# more charts go through the other. Checked in PostgreSQL: every chart
# exactly once (the rows of each file, no more), the jobs w1 held finished
# by w2, and w1 taking jobs again once its cable is back.
#   tests/multihost.sh [BUILD_DIR]      (root: namespaces need it)
set -euo pipefail
case ${1:-} in
-h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
-*)
    echo "multihost: unknown option $1 (usage: tests/multihost.sh [BUILD_DIR])" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "${1:-$root/build}" && pwd)
fixtures=${AU_FIXTURES:-$root/../shared/fixtures/real}
if [ "$(id -u)" -ne 0 ]; then
    echo "multihost: needs root for network namespaces" >&2
    exit 1
fi
lease=10
tag=au$$
net=10.77.$(( $$ % 200 + 20 ))
tmp=$(mktemp -d /tmp/audora-mh.XXXXXX)
chmod 755 "$tmp"
log() { echo "multihost: $*"; }
in_ns() { local ns=$1; shift; ip netns exec "$tag-$ns" "$@"; }

cleanup() {
    set +e
    for h in w1 w2; do
        [ -d "$tmp/$h" ] && in_ns "$h" env BIN="$bin" \
            AUDORA_CLUSTER_GRACE_S=3 "$root/deploy/cluster.sh" stop \
            "$tmp/$h" >/dev/null 2>&1
    done
    for r in "$tmp"/relay-*.pid; do
        [ -f "$r" ] && kill "$(cat "$r")" 2>/dev/null
    done
    [ -d "$tmp/srv" ] && in_ns db "$root/deploy/servers.sh" stop \
        "$tmp/srv" >/dev/null 2>&1
    for ns in db w1 w2 sw; do ip netns del "$tag-$ns" 2>/dev/null; done
    if [ "${keep:-0}" = 1 ]; then
        log "logs kept in $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# ---- the network: a switch namespace with a bridge, three hosts ----------
ip netns add "$tag-sw"
ip -n "$tag-sw" link add br0 type bridge
ip -n "$tag-sw" link set br0 up
n=1
for h in db w1 w2; do
    ip netns add "$tag-$h"
    ip link add "$tag$h" type veth peer name "${tag}e$h"
    ip link set "$tag$h" netns "$tag-sw"
    ip link set "${tag}e$h" netns "$tag-$h"
    ip -n "$tag-sw" link set "$tag$h" master br0 up
    ip -n "$tag-$h" link set "${tag}e$h" name eth0
    ip -n "$tag-$h" addr add "$net.$n/24" dev eth0
    ip -n "$tag-$h" link set eth0 up
    ip -n "$tag-$h" link set lo up
    n=$((n + 1))
done
db=$net.1

# ---- host db: servers, schema, keys, relays -------------------------------
in_ns db env AUDORA_SERVERS_BIND="$db" "$root/deploy/servers.sh" start \
    "$tmp/srv" >/dev/null
# shellcheck disable=SC1091
. "$tmp/srv/env"
export AUDORA_QUEUE__LEASE_S=$lease
# Two relays per boundary; the workers connect to both.
export AUDORA_ZMQ__ENRICH_IN=tcp://$db:5551,tcp://$db:5561
export AUDORA_ZMQ__ENRICH_OUT=tcp://$db:5552,tcp://$db:5562
export AUDORA_ZMQ__ANALYTICS_IN=tcp://$db:5553,tcp://$db:5563
export AUDORA_ZMQ__ANALYTICS_OUT=tcp://$db:5554,tcp://$db:5564
"$bin/audora" keys generate --dir "$tmp/keys" >/dev/null
set -a
# shellcheck disable=SC1091
. "$tmp/keys/cluster.env"
set +a
in_ns db "$bin/audora" migrate >/dev/null
relay() { # stage n in out
    in_ns db "$bin/audora-relay" --stage "$1" --in "tcp://$db:$3" \
        --out "tcp://$db:$4" >"$tmp/relay-$1-$2.log" 2>&1 &
    echo $! >"$tmp/relay-$1-$2.pid"
    disown
}
relay enrich 1 5551 5552
relay enrich 2 5561 5562
relay analytics 1 5553 5554
relay analytics 2 5563 5564

# ---- hosts w1 and w2: workers only, reaching db over the bridge ------------
for h in w1 w2; do
    in_ns "$h" env BIN="$bin" AUDORA_CLUSTER_RELAYS=0 \
        "$root/deploy/cluster.sh" start "$tmp/$h" 2 1 1 >/dev/null
done
log "3 hosts on $net.0/24; workers on w1 and w2, servers and relays on db"

sql() { in_ns db psql -qtAX "$AUDORA_DATABASE__URL" -c "$1"; }
# The worker ids of a host's processes, as a SQL list: 'ingest@h:123', ...
ids_of() {
    local h=$1 out="" name pid
    for p in "$tmp/$h"/pids/*; do
        name=$(basename "$p")
        pid=$(cat "$p")
        out="$out,'${name%-*}@$(hostname):$pid'"
    done
    echo "${out#,}"
}

# ---- the 135 charts, and the cut while w1 holds jobs ----------------------
charts=$fixtures/spotify_charts
in_ns w2 sh -c "find '$charts' -name '*.csv' ! -name '*-latest.csv' |
    xargs '$bin/audora' push >/dev/null"
in_ns w2 sh -c "find '$charts' -name '*-latest.csv' |
    xargs '$bin/audora' push --date 2019-12-17 >/dev/null"
w1=$(ids_of w1)
held=0
for _ in $(seq 600); do
    held=$(sql "SELECT count(*) FROM jobs WHERE state = 'running' AND
                leased_by IN ($w1)")
    done_=$(sql "SELECT count(*) FROM jobs WHERE state = 'done'")
    [ "$held" -gt 0 ] && [ "$done_" -ge 10 ] && break
    sleep 0.1
done
ip -n "$tag-sw" link set "${tag}w1" down
cut_at=$(date +%s%3N)
held_ids=$(sql "SELECT string_agg(id::text, ',') FROM jobs WHERE
                state = 'running' AND leased_by IN ($w1)")
log "w1 cut off holding ${held} job(s) (${held_ids:-none}), $done_ done"
[ -n "$held_ids" ] || { log "FAIL: w1 held no job at the cut"; exit 1; }

# Its jobs finish on w2.
for _ in $(seq 1200); do
    left=$(sql "SELECT count(*) FROM jobs WHERE id IN ($held_ids) AND
                state <> 'done'")
    [ "$left" -eq 0 ] && break
    sleep 0.1
done
took=$(( $(date +%s%3N) - cut_at ))
log "the jobs w1 held were done $took ms after the cut (lease $lease s)"
if [ "$left" -ne 0 ]; then
    log "FAIL: $left of them not done"
    exit 1
fi

# ---- the cable back: w1 rejoins ------------------------------------------
ip -n "$tag-sw" link set "${tag}w1" up
in_ns w2 "$bin/audora" wait --quiet --timeout 300
healed_at=$(sql "SELECT now()")
in_ns w2 sh -c "find '$fixtures/chart_history/us_weekly_2017-12-29_2018-12-28_spotifycharts_legacy' \
    -name '*.csv' | xargs '$bin/audora' push >/dev/null"
in_ns w2 "$bin/audora" wait --quiet --timeout 300

# ---- one relay of each boundary gone for good: the other carries all ------
for r in enrich-1 analytics-1; do
    kill -KILL "$(cat "$tmp/relay-$r.pid")"
    rm -f "$tmp/relay-$r.pid"
done
before=$(sql "SELECT count(*) FROM jobs")
in_ns w2 sh -c "find '$fixtures/chart_history/global_weekly_2017-12-22_2019-02-08_spotifycharts_legacy' \
    -name '*.csv' | xargs '$bin/audora' push >/dev/null"
in_ns w2 "$bin/audora" wait --quiet --timeout 300
after=$(sql "SELECT count(*) FROM jobs")
log "one relay per boundary killed: $((after - before)) more charts done through the other"
w1=$(ids_of w1)
rejoined=$(sql "SELECT count(*) FROM jobs WHERE leased_by IN ($w1) AND
                updated_at > '$healed_at'")
log "after the cut healed, w1's workers ran $rejoined job(s)"

# ---- what PostgreSQL holds ------------------------------------------------
fail=0
dead=$(sql "SELECT count(*) FROM jobs WHERE state <> 'done'")
[ "$dead" -eq 0 ] || { log "FAIL: $dead job(s) not done"; fail=1; }
# Each chart file's rows exactly: as many trends rows under its chart as
# data rows in the file (from SOURCES.md and MANIFEST.tsv, via rows_written
# of the job, which counts the rows committed once each).
bad=$(sql "SELECT count(*) FROM jobs j WHERE j.rows_written <> (SELECT
           count(*) FROM trends_v t WHERE t.platform = j.params->>'platform'
           AND t.chart = j.params->>'chart' AND t.region =
           j.params->>'region' AND t.chart_date = (j.params->>'date')::date)")
[ "$bad" -eq 0 ] || { log "FAIL: $bad chart(s) with rows lost or doubled"; fail=1; }
total=$(sql "SELECT count(*) FROM trends")
first=$(sql "SELECT sum(rows_written) FROM jobs WHERE params->>'path' LIKE
             '%spotify_charts%'")
[ "$first" -eq 26222 ] || { log "FAIL: $first rows from the 135 charts, not 26222"; fail=1; }
[ "$rejoined" -gt 0 ] || { log "FAIL: w1 took no job after the cut healed"; fail=1; }
log "$total rows in all; 135 charts gave $first (26222 expected)"
# A sanitizer build's reports, from any process on any host.
if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" \
    "$tmp"/w?/logs/*.log "$tmp"/relay-*.log 2>/dev/null; then
    log "FAIL: sanitizer reports in the logs above"
    fail=1
fi
if [ "$fail" -ne 0 ]; then
    keep=1
    exit 1
fi
log "ok"
