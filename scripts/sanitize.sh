#!/usr/bin/env bash
# Sanitizer builds (issue 8, docs/reliability.md). Two extra builds of the library and tests:
#   build-asan: ASan + UBSan. Runs the unit tests (the slow full-data ones filtered out), the
#               TBB paths on reduced data, one MPI test on 2 ranks, and the bad-input battery
#               against the instrumented aimc binary.
#   build-tsan: TSan. Runs the TBB-parallel paths (chip programming, calibration, batch inference
#               with progress reports, tile execution, the activity counters) on reduced data with
#               1 and 2 threads, and the unit tests that run the network on several threads. It
#               links a TSan-built libtbb (scripts/tbb_tsan.sh, into build-tsan/tbb-install):
#               Debian's libtbb is not instrumented, so TSan would report every one of TBB's own
#               task hand-offs as a race.
# Any report stops the program (halt_on_error, -fno-sanitize-recover) and fails this script.
#
# -O1: sanitized code at -O0 is several times slower, and at -O2+ the build takes longer for no
# extra checking; asserts stay on (no NDEBUG).
#
# Environment: AIMC_SANITIZE_ONLY=asan|tsan runs one half; AIMC_JOBS (default nproc).
# The TSan half needs deb-src entries in apt's sources, or root to add them (scripts/tbb_tsan.sh).
# Needs the data (scripts/fetch_data.sh) and imported test models (ctest -R import_models in the
# main build, or it imports them here).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
JOBS=${AIMC_JOBS:-$(nproc)}
ONLY=${AIMC_SANITIZE_ONLY:-}
SUPP=$REPO/tests/sanitize

export AIMC_TEST_DATA=$REPO/data GTEST_COLOR=no
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none

configure() {  # DIR SANITIZERS [CMAKE_ARGS...]
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O1 -g1" \
    "-DCMAKE_C_FLAGS_RELEASE=-O1 -g1" -DAIMC_SANITIZE="$2" -DAIMC_WERROR=OFF "${@:3}" >/dev/null
}

# The imported models: the main build's (ctest's import_models made them), else import here.
models_for() {  # BUILD_DIR
  local main=${AIMC_BUILD_DIR:-build}/test-models
  if [[ -f $main/resnet20.h5 ]]; then
    (cd "$main" && pwd)
  else
    bash tests/scripts/import_models.sh "$1/aimc" data/models "$1/test-models" >&2
    (cd "$1/test-models" && pwd)
  fi
}

step() { echo "sanitize: $*"; }

if [[ -z $ONLY || $ONLY == asan ]]; then
  start=$SECONDS
  configure build-asan address,undefined
  cmake --build build-asan -j "$JOBS" --target aimc test_rng test_physics test_layers \
    test_cifar10 test_mapping test_perf_model test_chip test_mpi_eval test_parallel_paths
  step "build-asan built in $((SECONDS - start)) s"
  export AIMC_TEST_MODELS
  AIMC_TEST_MODELS=$(models_for build-asan)
  # Open MPI 4.1 and its PMIx/hwloc/libevent keep allocations until exit that LeakSanitizer
  # reports as leaks; lsan.supp suppresses leaks allocated inside those libraries only, so a leak
  # from aimc's own code still fails. To match them, LeakSanitizer needs the whole allocation
  # stack: Open MPI must not unload its components before the leak check (disable_dlclose), and
  # the stack must be unwound without frame pointers (fast_unwind_on_malloc=0: slower, so only
  # for the processes that start MPI).
  export OMPI_MCA_mca_base_component_disable_dlclose=1
  export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1
  MPI_ASAN_OPTIONS=$ASAN_OPTIONS:fast_unwind_on_malloc=0
  export LSAN_OPTIONS=suppressions=$SUPP/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  start=$SECONDS
  for t in test_rng test_physics test_layers test_cifar10 test_mapping test_perf_model \
    test_parallel_paths; do
    step "asan: $t"
    "build-asan/tests/$t" --gtest_brief=1
  done
  # test_chip's synthetic-tile tests and one small network test; its full-data tests (96 to 2,000
  # images, minutes each under ASan) run the same chip code as test_parallel_paths above.
  step "asan: test_chip (reduced)"
  build-asan/tests/test_chip --gtest_brief=1 \
    --gtest_filter='ReadNoise.*:Tile.*:Chip.DigitalLastLayerLeavesTheLinearOffTheCores'
  # The noisy-chip half of test_mpi_eval (100 images over 2 ranks): MPI, the chip and the
  # evaluation split; the 300-image ideal half adds minutes under ASan and no other code.
  step "asan: test_mpi_eval on 2 ranks"
  ASAN_OPTIONS=$MPI_ASAN_OPTIONS mpiexec -n 2 --oversubscribe --bind-to none \
    build-asan/tests/test_mpi_eval --gtest_brief=1 --gtest_filter='MpiEval.NoisyChip*'
  # The battery's aimc processes (one per case) without the leak check: with the slow unwinder that the Open
  # MPI suppressions need, LeakSanitizer's own tracer crashed in 1 of 64 short-lived processes
  # here, and HDF5 1.10 leaks its buffers when a file cannot be created (disk full). Memory errors
  # and undefined behaviour still stop every process; the unit and MPI tests above check leaks.
  step "asan: bad-input battery against build-asan/aimc"
  ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 AIMC_BIN=$REPO/build-asan/aimc \
    /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/bad_inputs
  step "asan: tests passed in $((SECONDS - start)) s"
fi

if [[ -z $ONLY || $ONLY == tsan ]]; then
  start=$SECONDS
  TBB_TSAN=$REPO/build-tsan/tbb-install
  AIMC_JOBS=$JOBS bash scripts/tbb_tsan.sh "$TBB_TSAN"
  # TBB_DIR: headers and library from the TSan build. -Wno-tsan: gcc 12 warns at every
  # atomic_thread_fence in TBB's headers that TSan does not model fences.
  configure build-tsan thread -DTBB_DIR="$TBB_TSAN/lib/cmake/TBB" -DCMAKE_CXX_FLAGS=-Wno-tsan
  cmake --build build-tsan -j "$JOBS" --target aimc test_parallel_paths test_layers test_rng \
    test_chip
  step "build-tsan built in $((SECONDS - start)) s"
  # A program that loaded Debian's libtbb instead would stop at the first of TBB's own hand-offs.
  for p in aimc tests/test_parallel_paths tests/test_layers tests/test_rng tests/test_chip; do
    ldd "build-tsan/$p" | grep "libtbb.so.12 => $TBB_TSAN/lib/" >/dev/null || {
      echo "sanitize: build-tsan/$p does not load $TBB_TSAN/lib/libtbb.so.12" >&2
      exit 1
    }
  done
  export AIMC_TEST_MODELS
  AIMC_TEST_MODELS=$(models_for build-tsan)
  # tsan.supp says what is suppressed and why.
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$SUPP/tsan.supp"
  start=$SECONDS
  step "tsan: test_parallel_paths"
  build-tsan/tests/test_parallel_paths --gtest_brief=1
  # test_layers: inference on 1 to 3 threads (and the serial layers, under a second); test_rng:
  # the random streams every task draws from; test_chip: per-MVM read noise on 63 batches in flight
  # (many more task steals than above) and per-evaluation noise over 4,000 short runs, on a
  # one-layer network. test_chip's full-data tests run the chip code of test_parallel_paths.
  step "tsan: test_layers, test_rng, test_chip (ReadNoise)"
  build-tsan/tests/test_layers --gtest_brief=1
  build-tsan/tests/test_rng --gtest_brief=1
  build-tsan/tests/test_chip --gtest_brief=1 --gtest_filter='ReadNoise.*'
  # aimc run on 2 threads: between batches the tasks call the run's hook, where the main thread
  # answers the coordinator while the other thread checks for a stop. 64 images: 2 batches.
  step "tsan: aimc run, 1 sample of 64 images on 2 threads"
  rm -rf build-tsan/run-smoke
  mkdir -p build-tsan/run-smoke
  cat >build-tsan/run-smoke/smoke.ini <<EOF
model = $AIMC_TEST_MODELS/resnet20.h5
chip = $REPO/configs/chips/hermes64.ini
n_chips = 1
seed = 1

[data]
dir = $AIMC_TEST_DATA/cifar-10
images = 64

[chip]
calibration.images = 8
EOF
  build-tsan/aimc run build-tsan/run-smoke/smoke.ini --output build-tsan/run-smoke/smoke.h5 \
    --threads 2 --no-progress >/dev/null
  # SIGTERM mid-run: the handler sets the stop flag that the TBB tasks read between batches (the
  # race issue 8 fixed), and the run must stop cleanly (exit 143) without a TSan report (exit 66).
  # The signal comes from outside while the tasks run, so that TSan sees the handler's write
  # unordered with their reads (a signal the run raised itself between samples would be ordered
  # before them). It is sent once the first of 2 samples is in the file: the second, 256 images
  # under TSan, takes minutes, so the signal lands mid-sample without a guess at the speed.
  step "tsan: SIGTERM to a 2-thread aimc run"
  sed -e 's/^n_chips = 1$/n_chips = 2/' -e 's/^images = 64$/images = 256/' \
    build-tsan/run-smoke/smoke.ini >build-tsan/run-smoke/term.ini
  build-tsan/aimc run build-tsan/run-smoke/term.ini --output build-tsan/run-smoke/term.h5 \
    --threads 2 --no-progress >/dev/null 2>build-tsan/run-smoke/term.err &
  pid=$!
  term_start=$SECONDS
  until (($(/usr/bin/python3 tests/slurm/h5check.py done build-tsan/run-smoke/term.h5) >= 1)); do
    ((SECONDS - term_start < 1200)) && kill -0 "$pid" 2>/dev/null || break  # a hang guard
    sleep 0.1
  done
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  if [[ $rc != 143 ]] || ! grep -q "stopped by signal 15" build-tsan/run-smoke/term.err; then
    echo "sanitize: SIGTERM to aimc run under TSan: exit $rc, expected 143 and a clean stop" >&2
    cat build-tsan/run-smoke/term.err >&2
    exit 1
  fi
  step "tsan: passed in $((SECONDS - start)) s"
fi
step "done"
