"""Statistical smoke checks of the physics through the whole engine, 5 chips x 500 images per
point; each comparison is of paired chips (the same programmed chip read both ways) and must clear
3 standard errors of the mean paired difference, so a real regression fails it and chip-to-chip
noise does not.
- Issue 7: with the model and chip fixed, accuracy with global drift compensation at 1 year is
  above accuracy without it, and accuracy at 60 s is above accuracy at 1 year.
- Issue 18: at 1 day, adabs recalibration is above global compensation, and global above none."""

import subprocess

import h5py
import numpy as np
import pytest

from common import AIMC, DATA, MODELS, REPO, need

EXPERIMENT = """\
model = {model}
chip = {repo}/configs/chips/hermes64.ini
n_chips = 5
seed = 99
output = {output}
[data]
dir = {data}
images = 500
subset = random
[sweep]
t_inference = 60, 31536000
chip.drift.compensation = none, global
"""


def paired(acc, a, b):
    """Mean and standard error of acc[a] - acc[b] over chips."""
    d = acc[a] - acc[b]
    return d.mean(), d.std(ddof=1) / np.sqrt(len(d))


def run_experiment(tmp_path, text):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    model = MODELS / "resnet20.h5"
    need(model)
    need(DATA / "cifar-10" / "test_batch.bin")
    exp = tmp_path / "stat.ini"
    out = tmp_path / "stat.h5"
    exp.write_text(text.format(model=model, repo=REPO, data=DATA / "cifar-10", output=out))
    proc = subprocess.run([AIMC, "run", str(exp), "--no-progress"], capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return out


def test_drift_and_compensation_order(tmp_path):
    out = run_experiment(tmp_path, EXPERIMENT)
    with h5py.File(out, "r") as f:
        t = f["samples/t_inference"][()]
        comp = f["samples/chip.drift.compensation"].asstr()[()]
        acc = f["samples/accuracy"][()]
        chip = f["samples/chip"][()]
    acc_at = {}
    for tt in (60, 31536000):
        for c in ("none", "global"):
            sel = (t == tt) & (comp == c)
            assert list(chip[sel]) == [0, 1, 2, 3, 4]
            acc_at[(tt, c)] = acc[sel]
    diff, se = paired(acc_at, (31536000, "global"), (31536000, "none"))
    print(f"1 year: global - none = {diff:.4f} +- {se:.4f} (SE)")
    assert diff - 3 * se > 0
    for c in ("none", "global"):
        diff, se = paired(acc_at, (60, c), (31536000, c))
        print(f"{c}: 60 s - 1 year = {diff:.4f} +- {se:.4f} (SE)")
        assert diff - 3 * se > 0


RECALIBRATION = EXPERIMENT.replace(
    "t_inference = 60, 31536000\nchip.drift.compensation = none, global",
    "t_inference = 86400\nchip.drift.compensation = none, global, adabs")


def test_recalibration_order(tmp_path):
    out = run_experiment(tmp_path, RECALIBRATION)
    with h5py.File(out, "r") as f:
        comp = f["samples/chip.drift.compensation"].asstr()[()]
        acc = f["samples/accuracy"][()]
        chip = f["samples/chip"][()]
    acc_of = {}
    for c in ("none", "global", "adabs"):
        sel = comp == c
        assert list(chip[sel]) == [0, 1, 2, 3, 4]
        acc_of[c] = acc[sel]
    for better, worse in (("adabs", "global"), ("global", "none")):
        diff, se = paired(acc_of, better, worse)
        print(f"1 day: {better} - {worse} = {diff:.4f} +- {se:.4f} (SE)")
        assert diff - 3 * se > 0
