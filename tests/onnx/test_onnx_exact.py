"""ONNX import exactness (issue 17): six CIFAR-10 nets built in PyTorch (tests/onnx/nets.py),
five of them trained for a few hundred SGD steps here and akamaster's ResNet-20 loaded from its
state_dict, go through torch.onnx.export and `aimc import`, and aimc must compute what PyTorch
computes:

- `aimc eval --ideal` logits on the first 500 test images equal PyTorch's within
  1e-4 * max |logit|, with the same argmax on every image;
- ResNet-20 via ONNX classifies exactly 9173 of the 10,000 test images correctly (as via .npz);
- the all-ideal chip (configs/chips/ideal.ini) gives the same correct count as --ideal;
- `aimc run` of the depthwise (MobileNet-style) net gives the same bits on 1 and 2 ranks.

Everything is generated afresh under pytest's tmp dir; nothing is cached across runs. Without the
data the tests skip loudly (fail with AIMC_REQUIRE_DATA=1), as every suite under tests/ does.
"""

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "run"))  # common.py: the env paths and assert_same
import nets  # noqa: E402
from common import AIMC, DATA, MPIEXEC, REPO, assert_same, need  # noqa: E402

EVAL_IMAGES = 500
RELATIVE_TOLERANCE = 1e-4
RESNET20_CORRECT = 9173  # akamaster's ResNet-20 on the 10,000 test images, as the .npz import
ALL_NETS = [spec.name for spec in nets.TRAINED] + [nets.RESNET20.name]

# A tiny study of the imported depthwise net on the real chip: 2 chips x 2 drift times = 4
# samples in 2 work units, per-MVM read noise (hermes64.ini's default).
EXPERIMENT = """\
model = {model}
chip = {repo}/configs/chips/hermes64.ini
n_chips = 2
seed = 11
output = {output}

[data]
dir = {data}
images = 24
subset = random

[chip]
calibration.images = 16
noise.read_noise_mode = per_mvm

[sweep]
t_inference = 60, 86400
"""


def aimc(*args, timeout=600):
    """`aimc ARGS` as a subprocess, output captured as text."""
    return subprocess.run([AIMC, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def eval_json(*args):
    """`aimc eval ... --json` with 2 threads (CI has 2 cores); its JSON object."""
    proc = aimc("eval", *args, "--json", "--threads", "2", "--data", DATA / "cifar-10")
    assert proc.returncode == 0, f"aimc eval {' '.join(map(str, args))}:\n{proc.stderr}"
    return json.loads(proc.stdout)


class Net:
    """One net of the test: its ONNX file, PyTorch's logits and labels of the first test images,
    its crossbar blocks, and the imported model (or why `aimc import` failed)."""

    def __init__(self, spec, onnx_path, torch_logits, labels, blocks, seconds):
        self.spec = spec
        name = self.name = spec.name
        self.blocks = blocks
        self.onnx = onnx_path
        self.torch_logits = torch_logits
        self.labels = labels
        self.seconds = seconds
        self.h5 = onnx_path.with_suffix(".h5")
        proc = aimc("import", onnx_path, "-o", self.h5)
        self.import_error = None if proc.returncode == 0 else (
            f"{name}: aimc import {onnx_path.name} failed (exit {proc.returncode}):\n"
            f"{proc.stdout}{proc.stderr}")

    def imported(self):
        """The .h5 path; fails the calling test with the importer's message if it failed."""
        if self.import_error:
            pytest.fail(self.import_error)
        return self.h5


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every net trained (or loaded), exported and imported, by name."""
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    cifar = DATA / "cifar-10"
    train_path = need(cifar / "data_batch_1.bin")
    test_path = need(cifar / "test_batch.bin")
    npz = need(DATA / "models" / "resnet20.npz")
    torch.set_num_threads(2)
    out_dir = tmp_path_factory.mktemp("onnx")
    train_images, train_labels = nets.read_cifar(train_path)
    test_images, test_labels = nets.read_cifar(test_path, EVAL_IMAGES)
    by_name = {}
    for spec, source in [(s, None) for s in nets.TRAINED] + [(nets.RESNET20, npz)]:
        start = time.perf_counter()
        model = nets.load_akamaster(source) if source else nets.train(spec, train_images,
                                                                      train_labels)
        path = out_dir / f"{spec.name}.onnx"
        with warnings.catch_warnings():
            # The tracer's warnings about constant sizes are expected (CIFAR's fixed 32 x 32).
            warnings.simplefilter("ignore")
            nets.export(model, spec, path)
        by_name[spec.name] = Net(spec, path, nets.logits(model, test_images),
                                 test_labels.numpy(), nets.crossbar_blocks(model),
                                 time.perf_counter() - start)
    return by_name


@pytest.mark.parametrize("name", ALL_NETS)
def test_pytorch_side(built, name):
    """Before aimc: each net beats chance clearly (trained, its argmax means something), its
    logits separate the top two classes on every image far beyond float32 rounding (so an
    argmax disagreement is a bug, not a tie), and it fits the 64-core chip."""
    net = built[name]
    logits = net.torch_logits
    correct = int((logits.argmax(1) == net.labels).sum())
    top2 = np.sort(logits, axis=1)[:, -2:]
    margin = float((top2[:, 1] - top2[:, 0]).min() / np.abs(logits).max())
    print(f"\n{name}: PyTorch {correct}/{EVAL_IMAGES} correct, smallest top-2 margin "
          f"{margin:.2e} of max |logit|, {net.blocks} crossbar blocks, "
          f"{net.seconds:.1f} s to train and export")
    assert correct > 0.25 * EVAL_IMAGES, f"{name}: {correct}/{EVAL_IMAGES}, barely trained"
    # aimc's float32 sums differ from PyTorch's by well under 1e-6 of max |logit| (ResNet-20:
    # 5e-7), so only a closer tie could flip legitimately; on 500 images that is rare.
    assert margin > 1e-6, f"{name}: top-2 margin {margin:.2e}: argmax comparison meaningless"
    assert net.blocks <= nets.CHIP_CORES, f"{name}: {net.blocks} crossbar blocks > 64 cores"


@pytest.mark.parametrize("name", ALL_NETS)
def test_exported_graph_has_what_the_net_is_for(built, name):
    """Guards the test's coverage against a change in torch's exporter: each graph still holds
    the operators its net is here for, and the grouped, Gemm and batch cases are still there."""
    net = built[name]
    graph = nets.onnx_summary(net.onnx)
    print(f"\n{name}: opset {net.spec.opset}, {graph}")
    missing = set(net.spec.exercises) - set(graph["ops"])
    assert not missing, f"{name}: exported graph lacks {sorted(missing)}: {graph['ops']}"
    assert graph["batch"] == ("batch" if net.spec.dynamic_batch else 1), f"{name}: {graph}"
    if name == "mobilenet":
        assert max(graph["groups"]) > 1, f"{name}: no grouped Conv in {graph['groups']}"
    if name == "mlp_head":
        assert graph["gemms"] == 2, f"{name}: {graph['gemms']} Gemm nodes, expected 2"
    if name == "concat":
        assert graph["avgpool_count_include_pad"] == [0], f"{name}: {graph}"


@pytest.fixture(scope="module")
def ideal(built):
    """Per net: `aimc eval --ideal` on the first test images: (its JSON, its logits)."""
    results = {}

    def run(name):
        if name not in results:
            net = built[name]
            out = net.onnx.with_suffix(".logits.npy")
            j = eval_json("--model", net.imported(), "--ideal", "--images", EVAL_IMAGES,
                          "--logits", out)
            results[name] = j, np.load(out)
        return results[name]
    return run


@pytest.mark.parametrize("name", ALL_NETS)
def test_ideal_logits_match_pytorch(built, ideal, name):
    net = built[name]
    j, logits = ideal(name)
    want = net.torch_logits
    assert logits.shape == want.shape, f"{name}: aimc logits {logits.shape}, PyTorch {want.shape}"
    assert logits.dtype == np.float32
    diff = np.abs(logits.astype(np.float64) - want)
    scale = float(np.abs(want).max())
    rel = float(diff.max()) / scale
    worst_image, worst_class = np.unravel_index(int(diff.argmax()), diff.shape)
    print(f"\n{name}: max |aimc - PyTorch| / max |logit| = {rel:.3e} "
          f"(image {worst_image}, class {worst_class}: "
          f"aimc {logits[worst_image, worst_class]:.6g}, "
          f"PyTorch {want[worst_image, worst_class]:.6g}); aimc {j['correct']}/{EVAL_IMAGES} "
          f"correct")
    assert rel <= RELATIVE_TOLERANCE, (
        f"{name}: logits differ from PyTorch by {rel:.3e} of max |logit| {scale:.4g} > "
        f"{RELATIVE_TOLERANCE} (worst: image {worst_image}, class {worst_class}, aimc "
        f"{logits[worst_image, worst_class]:.6g}, PyTorch {want[worst_image, worst_class]:.6g})")
    flips = np.flatnonzero(logits.argmax(1) != want.argmax(1))
    assert flips.size == 0, (
        f"{name}: argmax differs on {flips.size} images, first {flips[:5].tolist()}: aimc "
        f"{logits.argmax(1)[flips[:5]].tolist()}, PyTorch {want.argmax(1)[flips[:5]].tolist()}")
    torch_correct = int((want.argmax(1) == net.labels).sum())
    assert j["correct"] == torch_correct, (
        f"{name}: aimc {j['correct']} correct, PyTorch {torch_correct}")


def test_resnet20_onnx_all_test_images(built):
    j = eval_json("--model", built["resnet20"].imported(), "--ideal")
    print(f"\nresnet20 via ONNX: {j['correct']}/{j['total']} correct")
    assert j["total"] == 10000
    assert j["correct"] == RESNET20_CORRECT, (
        f"resnet20 via ONNX: {j['correct']} of 10000 correct, expected {RESNET20_CORRECT}")


@pytest.mark.parametrize("name", ALL_NETS)
def test_ideal_chip_matches_ideal(built, ideal, name):
    j_ideal, _ = ideal(name)
    j_chip = eval_json("--model", built[name].imported(), "--chip",
                       REPO / "configs" / "chips" / "ideal.ini", "--images", EVAL_IMAGES)
    print(f"\n{name}: ideal chip {j_chip['correct']}/{EVAL_IMAGES} correct on "
          f"{j_chip['cores_used']} cores, --ideal {j_ideal['correct']}")
    assert j_chip["correct"] == j_ideal["correct"], (
        f"{name}: configs/chips/ideal.ini gives {j_chip['correct']} correct, --ideal "
        f"{j_ideal['correct']}")


def aimc_run(exp, out, threads, ranks=None):
    cmd = [AIMC, "run", str(exp), "--output", str(out), "--no-progress", "--threads", str(threads)]
    if ranks:
        cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", "--bind-to", "none"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_run_depthwise_net_bit_identical_on_1_and_2_ranks(built, tmp_path):
    """The grouped conv is one block-diagonal crossbar layer on the chip (spec v2), so per-MVM
    read noise, drift and the ADC see a dense layer; the study must not depend on the ranks."""
    model = built["mobilenet"].imported()
    exp = tmp_path / "mobilenet.ini"
    exp.write_text(EXPERIMENT.format(model=model, repo=REPO, data=DATA / "cifar-10",
                                     output=tmp_path / "default.h5"))
    one, two = tmp_path / "one_rank.h5", tmp_path / "two_ranks.h5"
    proc = aimc_run(exp, one, threads=2)
    assert proc.returncode == 0, f"mobilenet: aimc run on 1 rank:\n{proc.stderr}"
    proc = aimc_run(exp, two, threads=1, ranks=2)
    assert proc.returncode == 0, f"mobilenet: aimc run on 2 ranks:\n{proc.stderr}"
    with h5py.File(one, "r") as f:
        assert f.attrs["complete"] == 1 and f.attrs["n_samples"] == 4
        accuracy = f["samples/accuracy"][()]
        print(f"\nmobilenet on hermes64: sample accuracies {accuracy.tolist()}")
        assert np.isfinite(accuracy).all()
    with h5py.File(two, "r") as f:
        assert f.attrs["n_ranks"] == 2
    try:
        assert_same(one, two)
    except AssertionError as e:
        raise AssertionError(f"mobilenet: aimc run differs on 1 and 2 ranks in dataset {e}") from e
