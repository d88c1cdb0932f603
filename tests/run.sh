#!/usr/bin/env bash
# The test command: installs what is missing, builds with ASan/UBSan,
# starts throw-away PostgreSQL and Redis on free loopback ports, runs every
# test, stops the servers. Extra arguments go to ctest (e.g. -R proto).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deploy/deps.sh

# Source checks first: formatting, and the calls the house style bans
# (unbounded or unchecked string and number handling).
lint_rc=0
mapfile -t sources < <(git ls-files '*.c' '*.h' 2>/dev/null ||
                       find common proto workers tests -name '*.[ch]')
if ! clang-format --dry-run -Werror "${sources[@]}" 2>/dev/null; then
    echo "lint: clang-format would change these files:" >&2
    clang-format --dry-run "${sources[@]}" 2>&1 | grep -o '^[^:]*' | sort -u >&2
    lint_rc=1
fi
if grep -nE '(^|[^a-z_])(sprintf|strcpy|strcat|strtok|sscanf|gets|atoi)[[:space:]]*\(' \
        "${sources[@]}"; then
    echo "lint: banned call (use snprintf, memcpy, strtol...)" >&2
    lint_rc=1
fi
build=${AU_TEST_BUILD:-$root/build-test}
cmake -S . -B "$build" -DAU_SANITIZE=ON -DAU_WERROR=ON \
      -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j"$(nproc)" 2>&1 | grep -v '^\[' || true
test -x "$build/audora" || { echo "build failed" >&2; exit 1; }

# The systemd units of deploy/systemd, checked by systemd's own parser
# where it is installed, with their binaries pointed at this build.
if command -v systemd-analyze >/dev/null 2>&1; then
    units=$(mktemp -d)
    for f in deploy/systemd/*.service; do
        sed "s|/usr/local/bin|$build|g" "$f" >"$units/$(basename "$f")"
    done
    cp "$units/audora-worker@.service" "$units/audora-worker@ingest.service"
    cp "$units/audora-relay@.service" "$units/audora-relay@enrich.service"
    if (cd "$units" && SYSTEMD_LOG_LEVEL=notice systemd-analyze verify \
            --man=no ./audora-worker@ingest.service \
            ./audora-relay@enrich.service ./audora-migrate.service) \
            2>&1 | grep .; then
        echo "lint: deploy/systemd units do not verify" >&2
        lint_rc=1
    fi
    rm -rf "$units"
fi

tmp=$(mktemp -d /tmp/audora-test.XXXXXX)
# The server runs as "postgres" when we are root: it must reach its dir.
chmod 755 "$tmp"
cleanup() { deploy/servers.sh stop "$tmp/srv" || true; rm -rf "$tmp"; }
trap cleanup EXIT
deploy/servers.sh start "$tmp/srv"
# shellcheck disable=SC1091
. "$tmp/srv/env"
export AUDORA_TEST_PG_URL=$AUDORA_DATABASE__URL
export AUDORA_TEST_REDIS_URL=$AUDORA_REDIS__URL
export AUDORA_TEST_SERVERS=$tmp/srv
export AUDORA_TEST_TMP=$tmp
unset AUDORA_DATABASE__URL AUDORA_REDIS__URL
# Criterion forks a process per test; leaks are checked by LSan in each.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

log=$tmp/ctest.log
set +e
(cd "$build" && ctest -V --timeout 1500 "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# The pure unit tests once more under valgrind, on a build without
# sanitizers (the two do not mix): no invalid access, no definite leak.
# AU_SKIP_VALGRIND=1 skips this pass for a quick local loop.
if [ "${AU_SKIP_VALGRIND:-0}" != 1 ] && [ "$#" -eq 0 ]; then
    vg=${AU_VG_BUILD:-$root/build-vg}
    cmake -S . -B "$vg" -DAU_SANITIZE=OFF -DCMAKE_BUILD_TYPE=Debug >/dev/null
    units=(test_date test_proto test_csv test_chartname test_score test_log
           test_config test_curve test_bt_boot test_bt_model test_svc
           test_keys test_cron)
    cmake --build "$vg" -j"$(nproc)" --target "${units[@]}" >/dev/null
    export AU_SOURCE_DIR=$root
    if printf '%s\n' "${units[@]}" | xargs -P"$(nproc)" -I{} sh -c \
        'valgrind -q --trace-children=yes --leak-check=full \
         --errors-for-leak-kinds=definite --error-exitcode=1 \
         "$0/{}" --jobs 1 >"$1/vg-{}.log" 2>&1 ||
         { echo "valgrind: {} failed"; tail -n 40 "$1/vg-{}.log"; exit 1; }' \
        "$vg" "$tmp"; then
        echo "valgrind: ${units[*]} clean"
    else
        rc=1
    fi
fi
# A short libFuzzer pass over the decoders and parsers (see
# docs/fuzzing.md). AU_SKIP_FUZZ=1 skips it; AU_FUZZ_SECONDS sets the time
# per target.
if [ "${AU_SKIP_FUZZ:-0}" != 1 ] && [ "$#" -eq 0 ]; then
    tests/fuzz/run.sh "${AU_FUZZ_SECONDS:-15}" || rc=1
fi
# A cluster across three hosts (network namespaces, so root only): the
# 135 charts with one worker host cut off mid-run and back. AU_SKIP_MULTIHOST=1
# skips it.
if [ "${AU_SKIP_MULTIHOST:-0}" != 1 ] && [ "$#" -eq 0 ]; then
    tests/multihost.sh "$build" || rc=1
fi
# docker-compose.yml started for real with podman (root; about two
# minutes, more the first time: it makes the images). AU_SKIP_COMPOSE=1
# skips it.
if [ "${AU_SKIP_COMPOSE:-0}" != 1 ] && [ "$#" -eq 0 ]; then
    tests/compose.sh || rc=1
fi
# One closing line over every Criterion binary: their "Synthesis" lines.
awk '/\[====\] Synthesis:/ {
        for (i = 1; i <= NF; i++) {
            if ($i == "Passing:") p += $(i + 1)
            if ($i == "Failing:") f += $(i + 1)
            if ($i == "Crashing:") f += $(i + 1)
        }
     }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
[ "$lint_rc" -ne 0 ] && rc=1
exit "$rc"
