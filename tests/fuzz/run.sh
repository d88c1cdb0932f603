#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders and parsers with libFuzzer.
# Usage: tests/fuzz/run.sh [SECONDS per target, default 30]
# Builds tests/fuzz/fuzz_*.c with clang in build-fuzz (ASan, UBSan,
# LeakSanitizer), runs each target on a throw-away copy of its seed corpus
# (tests/fuzz/corpus/<target>, never grown by a run), prints one line per
# target and exits non-zero if any target crashed, leaked, hung or broke
# one of its invariants. Crash inputs are kept in build-fuzz/artifacts.
set -euo pipefail
secs=${1:-30}
case $secs in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS per target]" >&2
    exit 2
    ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/deps.sh

# clang and its fuzzer runtime (only recommended by clang, so named here).
pkgs=(clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "fuzz: installing ${missing[*]}" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
fi

build=${AU_FUZZ_BUILD:-$root/build-fuzz}
targets=()
for f in tests/fuzz/fuzz_*.c; do
    targets+=("$(basename "$f" .c)")
done
# -O1 keeps the executions per second up without losing the debug info
# that makes a crash report readable; asserts stay on.
CC=clang cmake -S . -B "$build" -DAU_FUZZ=ON -DAU_SANITIZE=OFF \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS=-O1 >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" 2>&1 |
    grep -v '^\[' || true
for t in "${targets[@]}"; do
    test -x "$build/$t" || { echo "fuzz: build of $t failed" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/audora-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$build/artifacts"
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Runs one target; its verdict goes to $tmp/<target>.result, never to the
# exit status, so that one failing target does not stop the others.
run_one() {
    local t=$1 name=${1#fuzz_} log=$tmp/$1.log
    local work=$tmp/corpus-$name
    mkdir -p "$work"
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp tests/fuzz/corpus/"$name"/* "$work"/ 2>/dev/null || true
    fi
    local rc=0
    "$build/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=512 \
        -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$name-" "$work" >"$log" 2>&1 ||
        rc=$?
    local execs
    execs=$(awk '/stat::number_of_executed_units:/ { n = $2 }
                 END { print (n == "" ? "?" : n) }' "$log")
    if [ "$rc" -eq 0 ]; then
        echo "$t: $execs executions in ${secs}s, no failure" \
            >"$tmp/$t.result"
    else
        {
            echo "$t: FAILED (exit $rc) after $execs executions"
            grep -E 'ERROR:|SUMMARY:|fuzz_[a-z]+: |Test unit written' \
                "$log" | head -n 8 | sed 's/^/    /'
        } >"$tmp/$t.result"
    fi
}

jobs=${AU_FUZZ_JOBS:-$(nproc)}
for t in "${targets[@]}"; do
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n || true
    done
done
wait

rc=0
for t in "${targets[@]}"; do
    if [ -f "$tmp/$t.result" ]; then
        cat "$tmp/$t.result"
    else
        echo "$t: FAILED (no result)"
    fi
    grep -qs "no failure" "$tmp/$t.result" || rc=1
done
exit "$rc"
