"""Hardware-aware training smoke test (issue 18): training/hwa_train.py fine-tunes the pretrained
ResNet-20 for 24 steps on the first 128 training images (6 epochs of 4 batches), with the chip's
noise and converters in the forward pass.

- The training loss decreases: the last epoch's mean is below 3/4 of the first's.
- The seed makes it reproducible: a second run gives the same losses and the same weights, bit
  for bit.
- The export is an ordinary aimc model: it has the input's tensors, the trainer's `aimc import`
  of it (--aimc) wrote the .h5, and `aimc eval --ideal` classifies exactly as many of the first 200 test images correctly as the
  trainer's own PyTorch evaluation of the fine-tuned network.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from aimc_test_env import AIMC, DATA, REPO, need  # noqa: E402

PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
TEST_IMAGES = 200


def train(out, source):
    cmd = [PYTHON, str(REPO / "training" / "hwa_train.py"), "--model", str(source),
           "--out", str(out), "--limit-train", "128", "--limit-test", str(TEST_IMAGES),
           "--batch", "32", "--epochs", "6", "--lr", "0.02", "--threads", "1", "--seed", "3",
           "--no-progress", "--aimc", AIMC]
    env = dict(os.environ, AIMC_DATA=str(DATA))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "resnet20_hwa.json") as f:
        info = json.load(f)
    with np.load(out / "resnet20_hwa.npz") as npz:
        weights = {k: npz[k] for k in npz.files}
    return info, weights


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    source = need(DATA / "models" / "resnet20.npz")
    need(DATA / "cifar-10" / "data_batch_1.bin")
    base = tmp_path_factory.mktemp("hwa")
    return source, base, [train(base / f"run{i}", source) for i in (1, 2)]


def test_loss_decreases(runs):
    _, _, [(info, _), _] = runs
    losses = info["losses"]
    assert len(losses) == 24
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    print(f"mean loss: first epoch {first:.4f}, last epoch {last:.4f}")
    assert last < 0.75 * first


def test_same_seed_same_bits(runs):
    _, _, [(a, wa), (b, wb)] = runs
    assert a["losses"] == b["losses"]
    assert sorted(wa) == sorted(wb)
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k


def test_export_imports_and_evaluates_as_in_pytorch(runs):
    source, base, [(info, weights), _] = runs
    with np.load(source) as npz:
        assert sorted(npz.files) == sorted(weights)
        for k in npz.files:
            assert npz[k].shape == weights[k].shape, k
    # The trainer imported its export itself (--aimc).
    h5 = base / "run1" / "resnet20_hwa.h5"
    assert info["aimc_model"] == h5.name and h5.exists()
    proc = subprocess.run([AIMC, "eval", "--model", str(h5), "--ideal", "--images",
                           str(TEST_IMAGES), "--data", str(DATA / "cifar-10"), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["total"] == TEST_IMAGES == info["test_images"]
    assert result["correct"] == info["software_correct"]
