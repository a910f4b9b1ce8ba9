#!/usr/bin/env bash
# CTest fixture: imports the pretrained CIFAR-10 ResNets and the repository's own networks
# (models/*.onnx, models/*.npz: the ResNet-9 and the hardware-aware trained ResNets) with
# `aimc import`.
# Usage: import_models.sh AIMC_BIN MODELS_IN_DIR OUT_DIR [REPO_MODELS_DIR]. Exits 77 (skipped) when the models are
# absent, unless AIMC_REQUIRE_DATA=1, where that is a failure.
set -euo pipefail
aimc=$1 in_dir=$2 out_dir=$3 repo_models=${4:-}
mkdir -p "$out_dir"
for m in resnet20 resnet32 resnet44; do
  if [[ ! -f "$in_dir/$m.npz" ]]; then
    if [[ "${AIMC_REQUIRE_DATA:-0}" == 1 ]]; then
      echo "import_models: error: $in_dir/$m.npz missing (run scripts/fetch_data.sh)" >&2
      exit 1
    fi
    echo "import_models: SKIPPED: $in_dir/$m.npz missing (run scripts/fetch_data.sh)" >&2
    exit 77
  fi
  "$aimc" import "$in_dir/$m.npz" -o "$out_dir/$m.h5"
done
if [[ -n "$repo_models" ]]; then
  for m in "$repo_models"/*.onnx "$repo_models"/*.npz; do
    [[ -e "$m" ]] || continue
    name=$(basename "$m"); name=${name%.*}
    "$aimc" import "$m" -o "$out_dir/$name.h5"
  done
fi
