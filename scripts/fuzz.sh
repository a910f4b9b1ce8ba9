#!/usr/bin/env bash
# libFuzzer targets for the parsers (issue 8; tests/fuzz/README.md):
#   fuzz_config  io::read_experiment and io::read_chip_config on arbitrary INI text
#   fuzz_model   io::read_model on arbitrary bytes
# Builds build-fuzz with clang (ASan + UBSan + libFuzzer), replays the checked-in corpus
# (tests/fuzz/corpus/<target>/: the seeds and every crash found so far, as regression tests), then
# fuzzes each target for SECONDS (default 30: the CI smoke run, both targets in about a minute).
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET ...]
# New inputs go to build-fuzz/corpus/<target>, crashes to build-fuzz/crashes/ (copy a crash into
# the checked-in corpus once fixed, so the replay keeps it fixed).
# AIMC_FUZZ_SEED fixes libFuzzer's random seed. scripts/test.sh sets it for CI, so that a CI result
# can be rerun; long local runs leave it unset and explore new paths each time.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
TIME=${1:-30}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(fuzz_config fuzz_model)
JOBS=${AIMC_JOBS:-$(nproc)}

start=$SECONDS
cmake -S tests/fuzz -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=None >/dev/null
cmake --build build-fuzz -j "$JOBS"
echo "fuzz: build-fuzz built in $((SECONDS - start)) s"

# LeakSanitizer stays on: the parsers must not leak on any input, errors included.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p build-fuzz/crashes
for t in "${TARGETS[@]}"; do
  # Absolute paths: fuzz_config works in its own temporary directory.
  seeds=$REPO/tests/fuzz/corpus/${t#fuzz_}
  work=$REPO/build-fuzz/corpus/${t#fuzz_}
  mkdir -p "$work"
  # Regression: every checked-in input once (libFuzzer runs the files given and exits).
  echo "fuzz: $t: replaying $(find "$seeds" -type f | wc -l) corpus inputs"
  find "$seeds" -type f -print0 | xargs -0 "build-fuzz/$t" >"build-fuzz/$t.replay.log" 2>&1 ||
    { tail -n 40 "build-fuzz/$t.replay.log"; echo "fuzz: $t: a corpus input fails" >&2; exit 1; }
  # -timeout: an input that takes this long is a hang (a bug); -max_len keeps inputs small enough
  # that one run stays in milliseconds.
  echo "fuzz: $t: fuzzing for $TIME s"
  seed_arg=()
  [[ -n ${AIMC_FUZZ_SEED:-} ]] && seed_arg=(-seed="$AIMC_FUZZ_SEED")
  "build-fuzz/$t" "$work" "$seeds" "${seed_arg[@]}" -max_total_time="$TIME" -timeout=20 \
    -max_len=8192 -rss_limit_mb=2048 -artifact_prefix="$REPO/build-fuzz/crashes/$t-" -print_final_stats=1 \
    >"build-fuzz/$t.log" 2>&1 ||
    { tail -n 60 "build-fuzz/$t.log"; echo "fuzz: $t: crash, see build-fuzz/crashes/" >&2; exit 1; }
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "build-fuzz/$t.log" |
    sed "s/^/fuzz: $t: /"
done
echo "fuzz: done"
