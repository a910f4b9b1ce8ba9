#!/usr/bin/env bash
# README quick start (a): set up everything, then run the default study, experiments/quickstart.ini
# (resnet20 on 4 sampled chips x 3 inference times x drift compensation on/off, 1,000 images).
# Rerunning it resumes (or, when complete, just prints) results/quickstart.h5.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
bash scripts/setup.sh
BUILD=${AIMC_BUILD_DIR:-build}
"$BUILD/aimc" run experiments/quickstart.ini --set "model=$BUILD/models/resnet20.h5" \
  --set data.dir=data/cifar-10
