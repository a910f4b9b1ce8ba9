#!/usr/bin/env bash
# README quick start (a): set up everything, then run the default job on the bundled default.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
bash scripts/setup.sh
BUILD=${AIMC_BUILD_DIR:-build}
"$BUILD/aimc" eval --model "$BUILD/models/resnet20.h5" --data data/cifar-10 --ideal
