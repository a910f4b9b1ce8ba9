#!/usr/bin/env bash
# One-step set-up on Debian 12 (as root, or with sudo): installs the missing apt packages, fetches
# and checks the data, imports the pretrained models and builds aimc into build/.
#
# Environment: AIMC_BUILD_DIR (default build), AIMC_MARCH (default native: the build runs on this
# machine; set e.g. x86-64-v3 for a cluster with mixed nodes), AIMC_WERROR (ON in CI).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

PACKAGES=(build-essential dpkg-dev cmake git pkg-config ca-certificates curl
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools libtbb-dev libeigen3-dev
  libboost-program-options-dev librandom123-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-numpy python3-h5py python3-pandas python3-matplotlib python3-pytest
  python3-torch python3-onnx
  slurmctld slurmd slurm-client munge
  clang libclang-rt-14-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) == 0 ]] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

bash scripts/fetch_data.sh

BUILD=${AIMC_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAIMC_MARCH="${AIMC_MARCH:-native}" \
  -DAIMC_WERROR="${AIMC_WERROR:-OFF}" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"

# The pretrained models in aimc's own format, for the quick start and the examples.
mkdir -p "$BUILD/models"
# data/models/*.npz are the pretrained ResNet-CIFARs; models/*.onnx and models/*.npz are networks
# trained for this repository (models/README.md says how).
for m in data/models/*.npz models/*.onnx models/*.npz; do
  [[ -e "$m" ]] || continue
  name=$(basename "$m")
  out="$BUILD/models/${name%.*}.h5"
  [[ "$out" -nt "$m" && "$out" -nt scripts/import_model.py && "$out" -nt scripts/onnx_import.py ]] ||
    "$BUILD/aimc" import "$m" -o "$out"
done
echo "setup: done (binary: $BUILD/aimc)"
