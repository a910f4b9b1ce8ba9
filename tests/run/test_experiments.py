"""Every shipped experiment file parses and runs in a reduced mode (1 chip, 8 images), so no
experiment in experiments/ can rot. experiments/peak_mvm.ini is the performance model's own format
and runs through 'aimc perf --experiment'."""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from common import AIMC, DATA, MODELS, REPO, need

RUN_EXPERIMENTS = sorted(p for p in (REPO / "experiments").glob("*.ini") if p.name != "peak_mvm.ini")


def model_of(exp):
    for line in exp.read_text().splitlines():
        if line.split("#")[0].strip().startswith("model"):
            return Path(line.split("=", 1)[1].split("#")[0].strip()).name
    raise AssertionError(f"{exp}: no model key")


def test_there_are_experiments():
    names = {p.name for p in RUN_EXPERIMENTS}
    assert {"quickstart.ini", "hermes_drift_resnet32.ini", "sensitivity_adc_bits.ini",
            "sensitivity_dac_bits.ini", "sensitivity_prog_noise.ini", "sensitivity_drift_nu.ini",
            "sensitivity_read_noise_mode.ini"} <= names


@pytest.fixture(scope="module")
def reduced_results(tmp_path_factory):
    """Where the reduced runs leave their files, named as the studies' own outputs, for the
    figure script."""
    return tmp_path_factory.mktemp("results")


@pytest.mark.parametrize("exp", RUN_EXPERIMENTS, ids=lambda p: p.name)
def test_experiment_runs_reduced(exp, reduced_results):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    model = MODELS / model_of(exp)
    need(model)
    need(DATA / "cifar-10" / "test_batch.bin")
    out = reduced_results / f"{exp.stem}.h5"
    # Recalibration (adabs, affine) on few training images too, swept or not.
    recal = ("sweep.chip.drift.recalibration_images=8,16"
             if "chip.drift.recalibration_images =" in exp.read_text()
             else "chip.drift.recalibration_images=16")
    proc = subprocess.run(
        [AIMC, "run", str(exp), "--output", str(out), "--no-progress", "--threads", "1",
         "--set", "n_chips=1", "--set", "data.images=8", "--set", f"model={model}",
         "--set", f"data.dir={DATA / 'cifar-10'}", "--set", "chip.calibration.images=8",
         "--set", recal],
        capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    with h5py.File(out, "r") as f:
        assert f.attrs["complete"] == 1
        assert f["samples/done"][()].all()
        assert (f["samples/total"][()] == 8).all()


def test_peak_experiment_passes():
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    proc = subprocess.run([AIMC, "perf", "--experiment", "experiments/peak_mvm.ini"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_make_figures_on_the_reduced_runs(reduced_results, tmp_path):
    """scripts/make_figures.sh, which makes the README's study figures, runs on every study's
    file and writes each figure; it names a missing file instead of failing."""
    studies = ["hermes_drift_resnet32", "sensitivity_adc_bits", "sensitivity_dac_bits",
               "sensitivity_prog_noise", "sensitivity_drift_nu", "sensitivity_read_noise_mode"]
    present = [s for s in studies if (reduced_results / f"{s}.h5").exists()]
    if len(present) != len(studies):
        pytest.skip("the reduced runs of test_experiment_runs_reduced did not all run first")
    (reduced_results / "sensitivity_dac_bits.h5").rename(tmp_path / "moved.h5")
    figures = tmp_path / "img"
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "make_figures.sh"), str(reduced_results), str(figures)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "AIMC_PYTHON": sys.executable})
    assert proc.returncode == 0, proc.stderr
    for s in studies:
        made = (figures / f"{s}.png").exists()
        assert made == (s != "sensitivity_dac_bits"), s
    assert "sensitivity_dac_bits.h5 is missing" in proc.stderr
    assert "| model | t_inference |" in proc.stdout  # the drift table
