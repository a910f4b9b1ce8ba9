#!/usr/bin/env bash
# The README's study figures and tables from the results files of experiments/ (see
# experiments/README.md for the runs that make them). Files that are missing are reported and
# skipped, so a partial set of studies still gives its figures.
#
# Usage: scripts/make_figures.sh [RESULTS_DIR] [FIGURE_DIR]   (defaults: results, docs/img)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${1:-$REPO/results}
figures=${2:-$REPO/docs/img}
# Debian's python3 (h5py, matplotlib); a pyenv python3 earlier on PATH may lack them.
PY=${AIMC_PYTHON:-/usr/bin/python3}
mkdir -p "$figures"

have() {
  [[ -f $results/$1.h5 ]] && return 0
  echo "make_figures: $results/$1.h5 is missing; skipped (run experiments/$1.ini)" >&2
  return 1
}
sweep() {  # name, axis, label
  have "$1" || return 0
  "$PY" "$REPO/analysis/plot_sweep.py" "$results/$1.h5" --x "$2" --xlabel "$3" -o "$figures/$1"
}

if have hermes_drift_resnet32; then
  "$PY" "$REPO/analysis/summarize.py" "$results/hermes_drift_resnet32.h5"
  "$PY" "$REPO/analysis/plot_drift.py" "$results/hermes_drift_resnet32.h5" \
    -o "$figures/hermes_drift_resnet32"
fi
sweep sensitivity_adc_bits chip.converters.adc_bits "ADC bits"
sweep sensitivity_dac_bits chip.converters.dac_bits "DAC bits"
sweep sensitivity_prog_noise chip.device.prog_noise_scale "programming-noise scale"
sweep sensitivity_drift_nu chip.device.drift_nu_mean_scale+chip.device.drift_nu_std_scale \
  "drift-exponent scale (mean and std of ν), t = 1 day"
if have sensitivity_read_noise_mode; then
  "$PY" "$REPO/analysis/summarize.py" "$results/sensitivity_read_noise_mode.h5"
  "$PY" "$REPO/analysis/plot_drift.py" "$results/sensitivity_read_noise_mode.h5" \
    -o "$figures/sensitivity_read_noise_mode"
fi
