"""Tests for scripts/import_model.py (PyTorch state_dict or ONNX graph -> aimc HDF5 model v2).

The golden-logit and PyTorch comparisons interpret the HDF5 graph generically
(aimc_ref.py: ops, attributes and tensors read from the file, never from the
source), so passing them shows the emitted graph computes the same network.

Real models are looked up in $AIMC_DATA, then <repo>/data, then
<repo>/../shared/data. Without them those tests skip, unless
AIMC_REQUIRE_DATA=1, in which case they fail.
"""

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aimc_ref import run_graph  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "import_model.py"
# The project's Python tools run under Debian's interpreter (numpy, h5py).
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
ERROR_PREFIX = "aimc import: error: "
CIFAR_RECORD = 1 + 3 * 32 * 32


def data_candidates():
    """Data folders in the documented search order."""
    env = os.environ.get("AIMC_DATA")
    if env:
        yield Path(env)
    yield REPO / "data"
    yield REPO.parent / "shared" / "data"


def find_data(relative):
    """Path of a data file, or skip (fail with AIMC_REQUIRE_DATA=1) loudly
    so a missing data set is never mistaken for a pass."""
    for folder in data_candidates():
        if (folder / relative).is_file():
            return folder / relative
    message = (
        f"DATA MISSING: {relative} not found in $AIMC_DATA, {REPO / 'data'} or "
        f"{REPO.parent / 'shared' / 'data'}; run scripts/fetch_data.sh"
    )
    if os.environ.get("AIMC_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run_import(*args):
    """Run the importer as the CLI does, in a subprocess."""
    return subprocess.run(
        [PYTHON, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def import_ok(src, out, *extra):
    """Import and assert success; returns the stdout line."""
    proc = run_import(src, "-o", out, *extra)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    return lines[0]


def synthetic_state(n, num_classes=10, seed=0):
    """A random CIFAR-ResNet state_dict with n blocks per stage, including the
    int64 num_batches_tracked buffers PyTorch saves (they must be ignored)."""
    rng = np.random.default_rng(seed)
    state = {}

    def conv(key, cout, cin):
        state[key] = (rng.standard_normal((cout, cin, 3, 3)) * np.sqrt(2.0 / (9 * cin))).astype(np.float32)

    def bn(prefix, c):
        state[prefix + ".weight"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        state[prefix + ".bias"] = rng.normal(0, 0.1, c).astype(np.float32)
        state[prefix + ".running_mean"] = rng.normal(0, 0.1, c).astype(np.float32)
        state[prefix + ".running_var"] = rng.uniform(0.5, 1.5, c).astype(np.float32)
        state[prefix + ".num_batches_tracked"] = np.array(100, dtype=np.int64)

    conv("conv1.weight", 16, 3)
    bn("bn1", 16)
    cin = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for block in range(n):
            prefix = f"layer{stage}.{block}"
            conv(prefix + ".conv1.weight", planes, cin)
            bn(prefix + ".bn1", planes)
            conv(prefix + ".conv2.weight", planes, planes)
            bn(prefix + ".bn2", planes)
            cin = planes
    state["linear.weight"] = rng.standard_normal((num_classes, 64)).astype(np.float32) / 8
    state["linear.bias"] = rng.standard_normal(num_classes).astype(np.float32)
    return state


def save_npz(path, state):
    """np.savez keeps the dotted state_dict names as archive member names."""
    np.savez(path, **state)
    return path


def read_cifar(path, count):
    """First ``count`` test records as (labels, uint8 images NCHW)."""
    raw = np.fromfile(path, dtype=np.uint8, count=count * CIFAR_RECORD).reshape(count, CIFAR_RECORD)
    return raw[:, 0], raw[:, 1:].reshape(count, 3, 32, 32)


# --- real models -------------------------------------------------------------


@pytest.fixture(scope="module")
def resnet20(tmp_path_factory):
    """resnet20.npz imported once for the tests that inspect the result."""
    src = find_data("models/resnet20.npz")
    out = tmp_path_factory.mktemp("resnet20") / "resnet20.h5"
    line = import_ok(src, out)
    return src, out, line


def test_resnet20_summary_and_root_attributes(resnet20):
    src, out, line = resnet20
    assert line == f"imported resnet20 (20 layers, 269722 parameters) from {src} to {out}"
    with h5py.File(out, "r") as f:
        a = f.attrs
        assert a["format"] == "aimc-model"
        assert a["format_version"] == 2 and a["format_version"].dtype == np.int64
        assert a["source_format"] == "npz"
        assert a["name"] == "resnet20"
        assert a["arch"] == "resnet_cifar"
        assert a["source"] == "resnet20.npz"
        for key in ("format", "name", "arch", "source", "source_format"):
            assert h5py.check_string_dtype(a.get_id(key).dtype) is not None
        assert a["input_shape"].dtype == np.int64 and list(a["input_shape"]) == [3, 32, 32]
        assert a["num_classes"].dtype == np.int64 and a["num_classes"] == 10
        assert a["input_scale"].dtype == np.float64 and a["input_scale"] == 1 / 255
        assert a["input_mean"].dtype == np.float64 and list(a["input_mean"]) == [0.485, 0.456, 0.406]
        assert a["input_std"].dtype == np.float64 and list(a["input_std"]) == [0.229, 0.224, 0.225]
    assert not Path(str(out) + ".tmp").exists()


def test_resnet20_node_attributes(resnet20):
    _, out, _ = resnet20
    with h5py.File(out, "r") as f:
        nodes = f["nodes"]
        keys = list(nodes)
        assert keys == [f"{i:04d}" for i in range(len(keys))]
        for index, key in enumerate(keys):
            g = nodes[key]
            assert g.attrs["inputs"].dtype == np.int64
            assert all(0 <= i < index for i in g.attrs["inputs"])
            for name in g.attrs:
                if name not in ("op", "name", "inputs", "eps"):
                    assert g.attrs[name].dtype == np.int64, (key, name)
            for name in g:
                assert g[name].dtype == np.float32
        assert nodes["0000"].attrs["op"] == "input" and len(nodes["0000"].attrs["inputs"]) == 0
        conv = nodes["0001"].attrs
        assert (conv["op"], conv["name"], conv["kernel"], conv["stride"], conv["padding"]) == (
            "conv2d", "conv1", 3, 1, 1)
        assert nodes["0002"].attrs["eps"].dtype == np.float64 and nodes["0002"].attrs["eps"] == 1e-5
        by_name = {nodes[k].attrs["name"]: (int(k), nodes[k].attrs) for k in keys}
        # First block of stage 2: stride-2 conv, option-A shortcut on the block input.
        block_in, _ = by_name["layer1.2.relu2"]
        assert by_name["layer2.0.conv1"][1]["stride"] == 2
        assert by_name["layer2.0.conv2"][1]["stride"] == 1
        sc_index, sc = by_name["layer2.0.shortcut"]
        assert (sc["op"], list(sc["inputs"]), sc["stride"], sc["pad_before"], sc["pad_after"]) == (
            "shortcut_a", [block_in], 2, 8, 8)
        assert by_name["layer3.0.shortcut"][1]["pad_before"] == 16
        add = by_name["layer2.0.add"][1]
        assert list(add["inputs"]) == [by_name["layer2.0.bn2"][0], sc_index]
        # Identity blocks add the block input directly.
        assert list(by_name["layer2.1.add"][1]["inputs"]) == [
            by_name["layer2.1.bn2"][0], by_name["layer2.0.relu2"][0]]
        last = nodes[keys[-1]]
        assert (last.attrs["op"], last.attrs["name"]) == ("linear", "linear")
        assert nodes[keys[-2]].attrs["op"] == "global_avgpool"


@pytest.mark.parametrize("depth", [20, 32, 44])
def test_depth_detection(depth, tmp_path):
    src = find_data(f"models/resnet{depth}.npz")
    out = tmp_path / "model.h5"
    line = import_ok(src, out)
    assert line.startswith(f"imported resnet{depth} ({depth} layers, ")
    n = (depth - 2) // 6
    with h5py.File(out, "r") as f:
        nodes = [dict(f["nodes"][k].attrs) for k in f["nodes"]]
        assert f.attrs["name"] == f"resnet{depth}"
    # input + stem(3) + 7 per block + 2 shortcuts + avgpool + linear
    assert len(nodes) == 21 * n + 8
    ops = [a["op"] for a in nodes]
    assert ops.count("conv2d") + ops.count("linear") == depth
    assert ops.count("shortcut_a") == 2 and ops.count("add") == 3 * n
    names = [a["name"] for a in nodes]
    assert f"layer3.{n - 1}.relu2" in names and f"layer3.{n}.conv1" not in names


def test_tensors_round_trip_bit_exactly(resnet20):
    src, out, _ = resnet20
    expected = dict(np.load(src))
    seen = set()
    with h5py.File(out, "r") as f:
        for key in f["nodes"]:
            g = f["nodes"][key]
            for leaf in g:
                name = f"{g.attrs['name']}.{leaf}"
                assert name in expected, name
                data = g[leaf][()]
                assert data.dtype == np.float32 and data.shape == expected[name].shape
                assert data.tobytes() == expected[name].astype(np.float32).tobytes(), name
                seen.add(name)
    assert seen == {k for k in expected if not k.endswith("num_batches_tracked")}


@pytest.mark.parametrize("depth", [20, 32, 44])
def test_graph_forward_matches_golden_logits(depth, tmp_path):
    src = find_data(f"models/resnet{depth}.npz")
    golden = np.load(find_data(f"models/resnet{depth}.test_logits.npy"))[:20]
    _, images = read_cifar(find_data("cifar-10/test_batch.bin"), 20)
    out = tmp_path / "model.h5"
    import_ok(src, out)
    logits = run_graph(out, images)
    assert logits.shape == golden.shape
    rel = np.abs(logits - golden).max() / np.abs(golden).max()
    assert rel < 1e-4, rel
    assert (logits.argmax(1) == golden.argmax(1)).all()


# --- synthetic models (no data needed) ----------------------------------------


def test_synthetic_resnet8_imports(tmp_path):
    src = save_npz(tmp_path / "tiny.npz", synthetic_state(1, num_classes=7))
    out = tmp_path / "tiny.h5"
    line = import_ok(src, out, "--name", "tiny", "--arch", "resnet_cifar")
    params = sum(v.size for k, v in synthetic_state(1, num_classes=7).items()
                 if k.endswith((".weight", ".bias")))
    assert line == f"imported tiny (8 layers, {params} parameters) from {src} to {out}"
    with h5py.File(out, "r") as f:
        assert f.attrs["name"] == "tiny" and f.attrs["num_classes"] == 7
        assert len(f["nodes"]) == 21 + 8
    images = np.random.default_rng(1).integers(0, 256, (2, 3, 32, 32), dtype=np.uint8)
    logits = run_graph(out, images)
    assert logits.shape == (2, 7) and np.isfinite(logits).all()


def test_synthetic_default_name_is_depth(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(2))
    line = import_ok(src, tmp_path / "m.h5")
    assert line.startswith("imported resnet14 (14 layers, ")


def test_existing_output_is_replaced(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    out = tmp_path / "m.h5"
    out.write_bytes(b"old")
    import_ok(src, out)
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "aimc-model"


# --- bad input ----------------------------------------------------------------


def assert_fails(proc, out, *fragments):
    """The one-line error contract: exit 2, one stderr line, no traceback,
    no output (or temporary) file."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(ERROR_PREFIX), lines[0]
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert proc.stdout == ""
    assert not Path(out).exists()
    assert not Path(str(out) + ".tmp").exists()


def mutated(tmp_path, change, n=1):
    """Write a synthetic model after ``change(state)`` edits it."""
    state = synthetic_state(n)
    change(state)
    return save_npz(tmp_path / "bad.npz", state)


def drop_prefix(prefix):
    """A change that removes every tensor whose name starts with prefix."""
    def change(state):
        for key in [k for k in state if k.startswith(prefix)]:
            del state[key]
    return change


def set_tensor(key, value):
    """A change that replaces (or adds) one tensor."""
    def change(state):
        state[key] = value
    return change


def poison(key, bad):
    """A change that puts one non-finite value into a tensor."""
    def change(state):
        state[key] = state[key].copy()
        state[key].flat[3] = bad
    return change


def rename_block(stage, old, new):
    """A change that moves block ``old`` of a stage to index ``new``."""
    def change(state):
        prefix = f"layer{stage}.{old}."
        for key in [k for k in state if k.startswith(prefix)]:
            state[f"layer{stage}.{new}." + key[len(prefix):]] = state.pop(key)
    return change


BAD_STATES = {
    "missing_tensor": (drop_prefix("layer1.0.bn1.running_var"), 1,
                       "missing tensor 'layer1.0.bn1.running_var' (expected shape [16])"),
    "wrong_shape": (set_tensor("layer1.0.conv1.weight", np.zeros((16, 8, 3, 3), np.float32)), 1,
                    "tensor 'layer1.0.conv1.weight' has shape [16, 8, 3, 3], expected [16, 16, 3, 3]"),
    "wrong_stage_input": (set_tensor("layer2.0.conv1.weight", np.zeros((32, 32, 3, 3), np.float32)), 1,
                          "expected [32, 16, 3, 3]"),
    "wrong_linear_in": (set_tensor("linear.weight", np.zeros((10, 32), np.float32)), 1,
                        "tensor 'linear.weight' has shape [10, 32], expected [10, 64]"),
    "unexpected_tensor": (set_tensor("foo.weight", np.zeros(3, np.float32)), 1,
                          "unexpected tensor 'foo.weight' for arch resnet_cifar"),
    "unexpected_conv_bias": (set_tensor("conv1.bias", np.zeros(16, np.float32)), 1,
                             "unexpected tensor 'conv1.bias'"),
    "no_layer1": (drop_prefix("layer"), 1, "cannot detect depth"),
    "stage_depths_differ": (drop_prefix("layer2.1."), 2, "cannot detect depth"),
    "blocks_not_contiguous": (rename_block(1, 1, 2), 2, "cannot detect depth"),
    "nan": (poison("layer2.0.conv2.weight", np.nan), 1, "tensor 'layer2.0.conv2.weight' contains NaN or inf"),
    "inf": (poison("bn1.running_mean", np.inf), 1, "tensor 'bn1.running_mean' contains NaN or inf"),
    "negative_variance": (set_tensor("bn1.running_var", -np.ones(16, np.float32)), 1,
                          "tensor 'bn1.running_var' has negative values"),
    "no_classes": (set_tensor("linear.bias", np.zeros(0, np.float32)), 1, "tensor 'linear.bias' has shape [0]"),
    "missing_linear_bias": (drop_prefix("linear.bias"), 1, "missing tensor 'linear.bias'"),
    "integer_tensor": (set_tensor("bn1.weight", np.ones(16, np.int64)), 1,
                       "tensor 'bn1.weight' has dtype int64, expected floating point"),
}


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_bad_state_dict(case, tmp_path):
    change, n, message = BAD_STATES[case]
    src = mutated(tmp_path, change, n)
    out = tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out), out, f"{ERROR_PREFIX}{src}: ", message)


def test_missing_input(tmp_path):
    src, out = tmp_path / "nope.npz", tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out), out,
                 f"{ERROR_PREFIX}{src}: cannot read: No such file or directory")


def test_input_is_a_directory(tmp_path):
    src = tmp_path / "dir.npz"
    src.mkdir()
    out = tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out), out, f"{src}: cannot read: Is a directory")


def test_not_an_npz(tmp_path):
    src, out = tmp_path / "junk.npz", tmp_path / "out.h5"
    src.write_bytes(b"this is not a zip archive\n" * 10)
    assert_fails(run_import(src, "-o", out), out, f"{src}: not a valid .npz file")


def test_truncated_npz(tmp_path):
    src = save_npz(tmp_path / "cut.npz", synthetic_state(1))
    src.write_bytes(src.read_bytes()[:5000])
    out = tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out), out, f"{src}: not a valid .npz file")


def test_single_array_npz(tmp_path):
    src, out = tmp_path / "one.npz", tmp_path / "out.h5"
    with open(src, "wb") as fh:
        np.save(fh, np.zeros(3))
    assert_fails(run_import(src, "-o", out), out, f"{src}: not a valid .npz file")


def test_unsupported_extension(tmp_path):
    src, out = tmp_path / "model.tflite", tmp_path / "out.h5"
    src.write_bytes(b"x")
    assert_fails(run_import(src, "-o", out), out, f"{src}: unsupported file type '.tflite'")


def test_unknown_arch(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    out = tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out, "--arch", "vgg"), out,
                 f"{src}: unknown --arch 'vgg', expected one of: resnet_cifar")


def test_output_directory_missing(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    out = tmp_path / "no" / "such" / "dir" / "out.h5"
    assert_fails(run_import(src, "-o", out), out, f"{ERROR_PREFIX}{out}: cannot write: No such file or directory")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_output_directory_read_only(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    out = folder / "out.h5"
    try:
        assert_fails(run_import(src, "-o", out), out, f"{out}: cannot write: Permission denied")
    finally:
        folder.chmod(0o755)


def test_output_is_a_directory(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    out = tmp_path / "taken"
    out.mkdir()
    proc = run_import(src, "-o", out)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"{ERROR_PREFIX}{out}: cannot write: Is a directory"]
    assert out.is_dir() and not Path(str(out) + ".tmp").exists()


def test_missing_output_option_is_one_line(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    proc = run_import(src)
    assert proc.returncode == 2
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith(ERROR_PREFIX)


# --- torch checkpoints ----------------------------------------------------------


@pytest.fixture
def torch():
    """torch is optional: .npz import must work without it."""
    return pytest.importorskip("torch")


@pytest.mark.parametrize("suffix,wrapped", [(".th", True), (".pt", False)])
def test_torch_checkpoint_matches_npz(torch, suffix, wrapped, tmp_path):
    state = synthetic_state(1)
    # akamaster's checkpoints come from DataParallel: keys start with "module.".
    # (The extra entry is an int: torch 1.13's weights-only loader rejects floats.)
    tensors = {"module." + k: torch.from_numpy(v) for k, v in state.items()}
    checkpoint = {"state_dict": tensors, "epoch": 200} if wrapped else tensors
    src = tmp_path / f"model{suffix}"
    torch.save(checkpoint, src)
    out_torch, out_npz = tmp_path / "a.h5", tmp_path / "b.h5"
    import_ok(src, out_torch)
    import_ok(save_npz(tmp_path / "model.npz", state), out_npz)
    with h5py.File(out_torch, "r") as a, h5py.File(out_npz, "r") as b:
        assert a.attrs["source"] == f"model{suffix}"
        assert list(a["nodes"]) == list(b["nodes"])
        for key in a["nodes"]:
            assert list(a["nodes"][key]) == list(b["nodes"][key])
            for leaf in a["nodes"][key]:
                assert a["nodes"][key][leaf][()].tobytes() == b["nodes"][key][leaf][()].tobytes()


def test_torch_garbage_file(torch, tmp_path):
    src, out = tmp_path / "junk.pth", tmp_path / "out.h5"
    src.write_bytes(b"\x00garbage" * 50)
    assert_fails(run_import(src, "-o", out), out, f"{src}: not a valid PyTorch file")


def test_torch_bad_tensor_shape(torch, tmp_path):
    state = {k: torch.from_numpy(v) for k, v in synthetic_state(1).items()}
    state["layer1.0.conv1.weight"] = torch.zeros(16, 8, 3, 3)
    src, out = tmp_path / "m.pt", tmp_path / "out.h5"
    torch.save(state, src)
    assert_fails(run_import(src, "-o", out), out,
                 "tensor 'layer1.0.conv1.weight' has shape [16, 8, 3, 3], expected [16, 16, 3, 3]")


def test_state_dict_rejects_normalisation_options(tmp_path):
    src = save_npz(tmp_path / "m.npz", synthetic_state(1))
    out = tmp_path / "out.h5"
    assert_fails(run_import(src, "-o", out, "--input-mean", "0.5,0.5,0.5"), out,
                 f"{src}: --input-mean/--input-std apply to .onnx input only")


# --- ONNX graphs exported by torch ------------------------------------------------

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


def torch_models(torch):
    """Small CNNs covering the supported ONNX ops; built here so the test needs no model code."""
    nn, F = torch.nn, torch.nn.functional

    def randomise_bn(module, seed):
        """Untrained BatchNorm is the identity; random statistics make it count."""
        gen = torch.Generator().manual_seed(seed)
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.data.copy_(torch.randn(m.num_features, generator=gen) * 0.1)

    class Vgg(nn.Module):
        """conv-bn-relu / maxpool stages, Flatten, Linear-ReLU-Dropout-Linear (two Gemms)."""

        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                nn.MaxPool2d(3, stride=2, padding=1))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(16 * 8 * 8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

        def forward(self, x):
            return self.classifier(self.features(x))

    class Mobile(nn.Module):
        """Depthwise conv + ReLU6, a Concat of two branches, LeakyRelu, AvgPool without padding
        counted, a global max (ReduceMax), BatchNorm1d and a MatMul + Add classifier."""

        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 12, 3, stride=2, padding=1)
            self.dw = nn.Conv2d(12, 12, 3, padding=1, groups=12, bias=False)
            self.dw_bn = nn.BatchNorm2d(12)
            self.pw = nn.Conv2d(12, 8, 1)
            self.grouped = nn.Conv2d(12, 8, 3, padding=1, groups=4)
            self.bn1d = nn.BatchNorm1d(16)
            self.weight = nn.Parameter(torch.randn(16, 10) / 4)
            self.bias = nn.Parameter(torch.randn(10))

        def forward(self, x):
            x = self.stem(x)
            y = F.relu6(self.dw_bn(self.dw(x)))
            x = torch.cat([self.pw(y), self.grouped(x)], dim=1)
            x = F.leaky_relu(x, 0.1)
            x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            x = x.amax(dim=(2, 3))
            return self.bn1d(x) @ self.weight + self.bias

    class Block(nn.Module):
        """akamaster's BasicBlock with the option-A shortcut (LambdaLayer)."""

        def __init__(self, cin, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.pad = planes // 4 if stride != 1 or cin != planes else None

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            p = self.pad
            shortcut = x if p is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p), "constant", 0)
            return F.relu(out + shortcut)

    class ResNet(nn.Module):
        """Input normalisation in the graph, option-A shortcuts, avg_pool2d over the whole map,
        x.view(x.size(0), -1) and a Linear."""

        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(CIFAR_STD).view(1, 3, 1, 1))
            self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = Block(8, 8, 1)
            self.layer2 = Block(8, 16, 2)
            self.linear = nn.Linear(16, 10)

        def forward(self, x):
            x = (x - self.mean) / self.std
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.layer2(self.layer1(out))
            out = F.avg_pool2d(out, 16)
            return self.linear(out.view(out.size(0), -1))

    models = {"vgg": Vgg(), "mobile": Mobile(), "resnet": ResNet()}
    for seed, model in enumerate(models.values()):
        randomise_bn(model, seed)
        model.eval()
    return models


@pytest.fixture(scope="module")
def onnx_setup():
    """torch (imported once, it is slow to load) and the models, from a fixed seed."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    return torch, torch_models(torch)


def export(torch, model, path, opset, dynamic, batch=2):
    """torch.onnx.export with a fixed batch of ``batch`` or a dynamic batch axis. In eval mode
    torch folds each BatchNorm2d that follows a Conv into the Conv's weights and bias."""
    axes = {"x": {0: "N"}, "y": {0: "N"}} if dynamic else None
    torch.onnx.export(model, torch.zeros(batch, 3, 32, 32), str(path), opset_version=opset,
                      input_names=["x"], output_names=["y"], dynamic_axes=axes)
    return path


def random_images(count, seed=5):
    return np.random.default_rng(seed).integers(0, 256, (count, 3, 32, 32), dtype=np.uint8)


def torch_logits(torch, model, images):
    """The model on ToTensor's input, pixel / 255."""
    with torch.no_grad():
        return model(torch.from_numpy(images.astype(np.float32) / 255)).double().numpy()


def assert_matches_torch(torch, model, out, count=4):
    images = random_images(count)
    expected = torch_logits(torch, model, images)
    got = run_graph(out, images)
    assert got.shape == expected.shape
    rel = np.abs(got - expected).max() / np.abs(expected).max()
    assert rel < 1e-4, rel


def graph_ops(path):
    with h5py.File(path, "r") as f:
        return [f["nodes"][k].attrs["op"] for k in f["nodes"]]


def node_attrs(path, op):
    """Attributes of every node with this op, in order."""
    with h5py.File(path, "r") as f:
        return [dict(f["nodes"][k].attrs) for k in f["nodes"] if f["nodes"][k].attrs["op"] == op]


@pytest.mark.parametrize("opset,dynamic", [(11, False), (11, True), (13, False), (13, True), (17, False), (17, True)])
def test_onnx_resnet_option_a(onnx_setup, opset, dynamic, tmp_path):
    torch, models = onnx_setup
    src = export(torch, models["resnet"], tmp_path / "res.onnx", opset, dynamic)
    out = tmp_path / "res.h5"
    line = import_ok(src, out)
    assert line.startswith("imported res (6 layers, ") and line.endswith(f" parameters) from {src} to {out}")
    with h5py.File(out, "r") as f:
        a = f.attrs
        assert (a["format_version"], a["source_format"], a["arch"], a["source"]) == (2, "onnx", "onnx", "res.onnx")
        assert list(a["input_shape"]) == [3, 32, 32] and a["num_classes"] == 10 and a["input_scale"] == 1 / 255
        # The leading Sub/Div are folded into the input normalisation (float32 constants).
        assert np.allclose(a["input_mean"], CIFAR_MEAN, rtol=1e-6)
        assert np.allclose(a["input_std"], CIFAR_STD, rtol=1e-6)
    assert graph_ops(out) == ["input", "conv2d", "relu", "conv2d", "relu", "conv2d", "add", "relu",
                              "conv2d", "relu", "conv2d", "slice", "slice", "pad", "add", "relu", "avgpool", "linear"]
    (pad,) = node_attrs(out, "pad")
    assert list(pad["pads"]) == [4, 0, 0, 4, 0, 0] and pad["value"] == 0.0
    steps = [list(s["step"]) for s in node_attrs(out, "slice")]
    assert sorted(steps) == [[1, 1, 2], [1, 2, 1]]
    (avg,) = node_attrs(out, "avgpool")
    assert (avg["kernel"], avg["stride"], avg["padding"]) == (16, 16, 0)
    assert_matches_torch(torch, models["resnet"], out)


@pytest.mark.parametrize("opset,dynamic", [(11, True), (13, False), (17, True)])
def test_onnx_vgg_maxpool_two_gemms(onnx_setup, opset, dynamic, tmp_path):
    torch, models = onnx_setup
    src = export(torch, models["vgg"], tmp_path / "vgg.onnx", opset, dynamic)
    out = tmp_path / "vgg.h5"
    import_ok(src, out, "--name", "tiny-vgg")
    with h5py.File(out, "r") as f:
        assert f.attrs["name"] == "tiny-vgg"
        assert list(f.attrs["input_mean"]) == [0, 0, 0] and list(f.attrs["input_std"]) == [1, 1, 1]
    # Dropout vanishes.
    assert graph_ops(out) == ["input", "conv2d", "relu", "maxpool", "conv2d", "relu", "maxpool", "flatten", "linear",
                              "relu", "linear"]
    pools = node_attrs(out, "maxpool")
    assert [(p["kernel"], p["stride"], p["padding"]) for p in pools] == [(2, 2, 0), (3, 2, 1)]
    assert_matches_torch(torch, models["vgg"], out)


@pytest.mark.parametrize("opset,dynamic", [(11, False), (13, True), (17, False)])
def test_onnx_depthwise_concat_matmul(onnx_setup, opset, dynamic, tmp_path):
    torch, models = onnx_setup
    src = export(torch, models["mobile"], tmp_path / "mobile.onnx", opset, dynamic)
    out = tmp_path / "mobile.h5"
    import_ok(src, out)
    # torch writes ReLU6 as Relu then Clip(0, 6), amax over H, W as ReduceMax.
    assert graph_ops(out) == ["input", "conv2d", "conv2d", "relu", "clip", "conv2d", "conv2d", "concat",
                              "leaky_relu", "avgpool", "global_maxpool", "batchnorm", "linear"]
    convs = node_attrs(out, "conv2d")
    assert [c.get("groups", 1) for c in convs] == [1, 12, 1, 4]
    (clip,) = node_attrs(out, "clip")
    assert (clip["min"], clip["max"]) == (0.0, 6.0)
    (leaky,) = node_attrs(out, "leaky_relu")
    assert abs(leaky["alpha"] - 0.1) < 1e-7
    (avg,) = node_attrs(out, "avgpool")
    assert (avg["kernel"], avg["stride"], avg["padding"], avg["count_include_pad"]) == (3, 2, 1, 0)
    with h5py.File(out, "r") as f:
        linear = f["nodes"][list(f["nodes"])[-1]]
        # MatMul's [F, O] weight is stored [O, F]; the Add after it is the bias.
        assert linear["weight"].shape == (10, 16) and linear["bias"].shape == (10,)
    assert_matches_torch(torch, models["mobile"], out)


def test_onnx_normalisation_options(onnx_setup, tmp_path):
    """A graph that expects normalised input: the options give mean and std."""
    torch, models = onnx_setup
    src = export(torch, models["vgg"], tmp_path / "vgg.onnx", 13, False)
    out = tmp_path / "vgg.h5"
    import_ok(src, out, "--input-mean", "0.5,0.25,0.125", "--input-std", "2,4,8")
    with h5py.File(out, "r") as f:
        assert list(f.attrs["input_mean"]) == [0.5, 0.25, 0.125] and list(f.attrs["input_std"]) == [2, 4, 8]
    images = random_images(2)
    x = (images / 255 - np.array([0.5, 0.25, 0.125]).reshape(1, 3, 1, 1)) / np.array([2, 4, 8]).reshape(1, 3, 1, 1)
    with torch.no_grad():
        expected = models["vgg"](torch.from_numpy(x.astype(np.float32))).double().numpy()
    got = run_graph(out, images)
    assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4


def test_onnx_normalisation_twice_is_an_error(onnx_setup, tmp_path):
    torch, models = onnx_setup
    src = export(torch, models["resnet"], tmp_path / "res.onnx", 13, False)
    out = tmp_path / "res.h5"
    assert_fails(run_import(src, "-o", out, "--input-std", "1,1,1"), out,
                 f"{src}: --input-mean/--input-std given, but the graph normalises its input itself")


# --- ONNX graphs written with onnx.helper (error paths; fast) ----------------------


def onnx_graph(path, nodes, initializers=(), input_shape=(1, 3, 32, 32), outputs=("y",), inputs=("x",), opset=13):
    """Save a small ONNX model whose first input is ``x``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(input_shape)) for name in inputs],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 10]) for name in outputs],
        [numpy_helper.from_array(np.asarray(v), name) for name, v in initializers])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
    return path


def head(helper, start):
    """GlobalAveragePool, Flatten and a Gemm to 10 classes from ``start`` (3 channels)."""
    return [helper.make_node("GlobalAveragePool", [start], ["g"]),
            helper.make_node("Flatten", ["g"], ["f"]),
            helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)]


HEAD_WEIGHTS = [("W", np.ones((10, 3), np.float32)), ("b", np.zeros(10, np.float32))]


def test_onnx_minimal_graph_and_unused_shape(tmp_path):
    """A helper-made graph: pooling and a Gemm on a 1x1 map need no flatten node."""
    pytest.importorskip("onnx")
    from onnx import helper
    src = onnx_graph(tmp_path / "m.onnx", head(helper, "x"), HEAD_WEIGHTS)
    out = tmp_path / "m.h5"
    assert import_ok(src, out) == f"imported m (1 layers, 40 parameters) from {src} to {out}"
    assert graph_ops(out) == ["input", "global_avgpool", "linear"]
    images = random_images(2)
    expected = (images / 255).mean(axis=(2, 3)).sum(axis=1, keepdims=True) * np.ones((1, 10))
    assert np.allclose(run_graph(out, images), expected)


def test_onnx_global_max_pool_and_batchnorm(tmp_path):
    """GlobalMaxPool, BatchNormalization and a Clip with attribute bounds (opset 10) from
    onnx.helper (torch folds BatchNorm into the Conv before it)."""
    pytest.importorskip("onnx")
    from onnx import helper
    rng = np.random.default_rng(0)
    bn = [(n, rng.uniform(0.5, 1.5, 3).astype(np.float32)) for n in ("scale", "beta", "mu", "var")]
    nodes = [helper.make_node("BatchNormalization", ["x", "scale", "beta", "mu", "var"], ["n"], epsilon=1e-3),
             helper.make_node("Clip", ["n"], ["c"], min=0.5, max=1.0),
             helper.make_node("GlobalMaxPool", ["c"], ["g"]),
             helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "b"], ["y"], transB=1)]
    src = onnx_graph(tmp_path / "m.onnx", nodes, bn + HEAD_WEIGHTS, opset=10)
    out = tmp_path / "m.h5"
    import_ok(src, out)
    assert graph_ops(out) == ["input", "batchnorm", "clip", "global_maxpool", "linear"]
    images = random_images(2)
    p = {n: v.astype(np.float64).reshape(1, 3, 1, 1) for n, v in bn}
    x = (images / 255 - p["mu"]) / np.sqrt(p["var"] + 1e-3) * p["scale"] + p["beta"]
    expected = np.clip(x, 0.5, 1.0).max(axis=(2, 3)).sum(axis=1, keepdims=True) * np.ones((1, 10))
    assert np.allclose(run_graph(out, images), expected, rtol=1e-6)


def test_onnx_unsupported_op(tmp_path):
    pytest.importorskip("onnx")
    from onnx import helper
    src = onnx_graph(tmp_path / "m.onnx", [helper.make_node("Sigmoid", ["x"], ["s"], name="gate")]
                     + head(helper, "s"), HEAD_WEIGHTS)
    out = tmp_path / "m.h5"
    assert_fails(run_import(src, "-o", out), out, f"{src}: node 'gate' (Sigmoid): unsupported op Sigmoid; "
                 "supported ops: Add, AveragePool, BatchNormalization,")


def test_onnx_conv_dilation(tmp_path):
    pytest.importorskip("onnx")
    from onnx import helper
    conv = helper.make_node("Conv", ["x", "w"], ["c"], dilations=[2, 2], pads=[2, 2, 2, 2])
    src = onnx_graph(tmp_path / "m.onnx", [conv] + head(helper, "c"),
                     [("w", np.ones((3, 3, 3, 3), np.float32))] + HEAD_WEIGHTS)
    out = tmp_path / "m.h5"
    assert_fails(run_import(src, "-o", out), out,
                 f"{src}: node 'Conv_0' (Conv, dilations=[2, 2], pads=[2, 2, 2, 2]): dilations [2, 2]: "
                 "only dilation 1 is supported")


def test_onnx_not_an_onnx_file(tmp_path):
    src, out = tmp_path / "m.onnx", tmp_path / "m.h5"
    src.write_bytes(b"\xff\xfe garbage " * 20)
    assert_fails(run_import(src, "-o", out), out, f"{src}: not a valid ONNX file")


def test_onnx_arch_option_is_an_error(tmp_path):
    pytest.importorskip("onnx")
    from onnx import helper
    src = onnx_graph(tmp_path / "m.onnx", head(helper, "x"), HEAD_WEIGHTS)
    out = tmp_path / "m.h5"
    assert_fails(run_import(src, "-o", out, "--arch", "resnet_cifar"), out,
                 f"{src}: --arch applies to state_dict input only")


def test_onnx_opset9_conv_bias_add_pad_slice(tmp_path):
    """Opset 9 forms (Pad's pads/value and Slice's starts/ends/axes as attributes), and a
    constant Add after a bias-free Conv fused into its bias."""
    pytest.importorskip("onnx")
    from onnx import helper
    weight = (2 * np.eye(3, dtype=np.float32)).reshape(3, 3, 1, 1)
    offset = np.array([0.1, -0.2, 0.3], np.float32).reshape(1, 3, 1, 1)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
             helper.make_node("Add", ["c", "offset"], ["a"]),
             helper.make_node("Pad", ["a"], ["p"], pads=[0, 1, 2, 0, 0, 0, 1, 3], value=0.5),
             helper.make_node("Slice", ["p"], ["s"], starts=[1, -30], ends=[4, 100], axes=[1, 3])]
    src = onnx_graph(tmp_path / "m.onnx", nodes + head(helper, "s"),
                     [("w", weight), ("offset", offset)] + HEAD_WEIGHTS, opset=9)
    out = tmp_path / "m.h5"
    import_ok(src, out)
    assert graph_ops(out) == ["input", "conv2d", "pad", "slice", "global_avgpool", "linear"]
    (pad,) = node_attrs(out, "pad")
    assert list(pad["pads"]) == [1, 2, 0, 0, 1, 3] and pad["value"] == 0.5
    (sl,) = node_attrs(out, "slice")
    assert (list(sl["begin"]), list(sl["end"]), list(sl["step"])) == ([1, 0, 5], [4, 35, 35], [1, 1, 1])
    images = random_images(2)
    x = 2 * (images / 255) + offset
    x = np.pad(x, ((0, 0), (1, 0), (2, 1), (0, 3)), constant_values=0.5)[:, 1:4, :, 5:]
    expected = x.mean(axis=(2, 3)).sum(axis=1, keepdims=True) * np.ones((1, 10))
    assert np.allclose(run_graph(out, images), expected, rtol=1e-6)


def test_onnx_batch_arithmetic_in_reshape(tmp_path):
    """Reshape to [2N, -1] with a dynamic batch: the batch size N is symbolic, so the importer
    cannot resolve it and says so."""
    pytest.importorskip("onnx")
    from onnx import helper
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Mul", ["n", "two"], ["n2"]),
             helper.make_node("Unsqueeze", ["n2", "axis"], ["n2v"]),
             helper.make_node("Concat", ["n2v", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["r"], name="view"),
             helper.make_node("Gemm", ["r", "W2", "b"], ["y"], transB=1)]
    inits = [("zero", np.array(0)), ("two", np.array(2)), ("axis", np.array([0])), ("minus_one", np.array([-1])),
             ("W2", np.ones((10, 1536), np.float32)), HEAD_WEIGHTS[1]]
    src = onnx_graph(tmp_path / "m.onnx", nodes, inits, input_shape=("N", 3, 32, 32))
    out = tmp_path / "m.h5"
    assert_fails(run_import(src, "-o", out), out,
                 f"{src}: node 'view' (Reshape): cannot resolve target shape ",
                 "expected the batch dimension N first (input [N, 3, 32, 32]); "
                 "it holds arithmetic on the symbolic batch size N")


@pytest.mark.parametrize("option,value,message", [
    ("--input-std", "0,1,1", "--input-std '0,1,1': expected 3 comma-separated positive finite numbers"),
    ("--input-mean", "0.5,0.5", "--input-mean '0.5,0.5': expected 3 comma-separated finite numbers"),
    ("--input-mean", "a,b,c", "--input-mean 'a,b,c': expected 3 comma-separated finite numbers"),
])
def test_onnx_bad_normalisation_option(option, value, message, tmp_path):
    pytest.importorskip("onnx")
    from onnx import helper
    src = onnx_graph(tmp_path / "m.onnx", head(helper, "x"), HEAD_WEIGHTS)
    out = tmp_path / "m.h5"
    assert_fails(run_import(src, "-o", out, option, value), out, f"{src}: {message}")
