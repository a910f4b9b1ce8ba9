#!/usr/bin/env bash
# Runs the run and durability tests (tests/run/test_run.py) with aimc slowed down: pytest, and
# every aimc and mpiexec it starts, pinned to one core beside a busy loop on that same core. A
# test that acts after a delay instead of at an event of the run fails here (as on a machine much
# faster than its author's); the suite must pass as it does at full speed. Not part of CTest.
#
#   scripts/test_slow.sh [PYTEST ARGS...]     e.g. scripts/test_slow.sh -k "sigkill or signal"
#
# Environment: AIMC_BUILD_DIR (default build), AIMC_TEST_MODELS (default $BUILD/test-models, as
# CTest), AIMC_TEST_DATA (default data), AIMC_SLOW_CORE (default 0), AIMC_SLOW=0 (run at full
# speed, for a comparison with the same command).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
BUILD=${AIMC_BUILD_DIR:-build}
export AIMC_BIN=${AIMC_BIN:-$REPO/$BUILD/aimc}
export AIMC_TEST_MODELS=${AIMC_TEST_MODELS:-$REPO/$BUILD/test-models}
export AIMC_TEST_DATA=${AIMC_TEST_DATA:-$REPO/data}
export AIMC_MPIEXEC=${AIMC_MPIEXEC:-mpiexec}
# What CTest sets for the MPI tests (tests/CMakeLists.txt).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
[[ -x "$AIMC_BIN" ]] || { echo "test_slow: no aimc at $AIMC_BIN (build it first)" >&2; exit 2; }

pytest=(/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/run/test_run.py "$@")
if [[ "${AIMC_SLOW:-1}" == 0 ]]; then
  exec "${pytest[@]}"
fi
core=${AIMC_SLOW_CORE:-0}
taskset -c "$core" sh -c 'while :; do :; done' &
busy=$!
trap 'kill "$busy"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
echo "test_slow: pytest pinned to core $core beside a busy loop (pid $busy)" >&2
taskset -c "$core" "${pytest[@]}"
