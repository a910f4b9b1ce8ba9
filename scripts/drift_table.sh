#!/usr/bin/env bash
# Accuracy of a model on the simulated chip at several inference times, with and without global
# drift compensation, for several chip instances: one `aimc eval --chip` per cell, then a
# markdown table of mean ± std over chips: the README's drift table for issue 3. Larger studies
# belong in an experiment file for `aimc run` (experiments/).
#
# Usage: scripts/drift_table.sh [MODEL.h5] [IMAGES] [CHIPS]   (defaults: resnet32, 1000, 3)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AIMC_BUILD_DIR:-$REPO/build}
model=${1:-$BUILD/models/resnet32.h5}
images=${2:-1000}
chips=${3:-3}
times=(0 3600 86400 31536000)
labels=("t = 0" "1 hour" "1 day" "1 year")
declare -A acc
for comp in none global; do
  for i in "${!times[@]}"; do
    vals=()
    for ((c = 0; c < chips; c++)); do
      out=$("$BUILD/aimc" eval --model "$model" --chip "$REPO/configs/chips/hermes64.ini" \
        --set drift.compensation=$comp --t-inference "${times[$i]}" --seed 1 --chip-index $c \
        --images "$images" --data "$REPO/data/cifar-10" --json)
      vals+=("$(sed -E 's/.*"accuracy": ([0-9.e-]+).*/\1/' <<<"$out")")
    done
    acc[$comp,$i]=$(printf '%s\n' "${vals[@]}" | awk '{s+=$1; q+=$1*$1; n++} END {m=s/n; v=(n>1)?(q-n*m*m)/(n-1):0; if (v<0) v=0; printf "%.2f ± %.2f", 100*m, 100*sqrt(v)}')
  done
done
echo "| $(basename "$model" .h5), $images test images, $chips chips | no compensation | global compensation |"
echo "|---|---|---|"
for i in "${!times[@]}"; do
  echo "| ${labels[$i]} | ${acc[none,$i]} % | ${acc[global,$i]} % |"
done
