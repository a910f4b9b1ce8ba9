#!/usr/bin/env bash
# README quick start (b): set up everything, then run the whole test suite through CTest.
# CI (CI=true) has the data, so there a missing data file fails a test instead of skipping it.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
if [[ "${CI:-}" == true ]]; then
  export AIMC_REQUIRE_DATA=1 AIMC_WERROR=ON
fi
bash scripts/setup.sh
BUILD=${AIMC_BUILD_DIR:-build}
ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" --timeout 1200
