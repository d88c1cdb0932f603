#!/usr/bin/env bash
# How well the cross-platform recording key (au_canon_key) matches: every
# Spotify chart file of the fixtures and the three Last.fm charts of the
# replay server through the pipeline, then, for each Last.fm track, the
# Spotify tracks it met and the near misses (a Spotify track whose title
# starts with the Last.fm title and whose artists name its artist, under
# another key), for checking by hand (docs/identity.md).
#   bench/identity.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
f=${AUDORA_FIXTURES:-$root/../shared/fixtures/real}
deploy/run.sh --replay \
    --then 'psql -X -P pager=off "$AUDORA_DATABASE__URL" -f bench/identity.sql' \
    "$f/spotify_charts" "$f/chart_history"
