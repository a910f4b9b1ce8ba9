"""Tests for scripts/import_model.py (PyTorch state_dict -> aimc HDF5 model v1).

The golden-logit test interprets the HDF5 graph generically (ops, attributes
and tensors read from the file, never from the .npz), so passing it shows the
emitted graph computes the same network as the reference implementation.

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


# --- a generic interpreter of the HDF5 graph -------------------------------


def conv2d(x, weight, stride, padding):
    """Cross-correlation on NCHW via strided windows."""
    k = weight.shape[-1]
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def run_graph(path, images):
    """Logits for uint8 images (N, C, H, W), interpreting every node of the
    file in float64 from its own attributes and tensors."""
    with h5py.File(path, "r") as f:
        mean = np.asarray(f.attrs["input_mean"]).reshape(1, -1, 1, 1)
        std = np.asarray(f.attrs["input_std"]).reshape(1, -1, 1, 1)
        x = (images.astype(np.float64) * f.attrs["input_scale"] - mean) / std
        values = []
        for key in f["nodes"]:
            g = f["nodes"][key]
            op, attrs = g.attrs["op"], g.attrs
            inputs = [values[i] for i in attrs["inputs"]]
            t = {name: np.asarray(g[name], dtype=np.float64) for name in g}
            if op == "input":
                y = x
            elif op == "conv2d":
                assert attrs["kernel"] == t["weight"].shape[-1]
                y = conv2d(inputs[0], t["weight"], int(attrs["stride"]), int(attrs["padding"]))
                if "bias" in t:
                    y = y + t["bias"].reshape(1, -1, 1, 1)
            elif op == "batchnorm":
                scale = t["weight"] / np.sqrt(t["running_var"] + attrs["eps"])
                y = (inputs[0] - t["running_mean"].reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1)
                y = y + t["bias"].reshape(1, -1, 1, 1)
            elif op == "relu":
                y = np.maximum(inputs[0], 0)
            elif op == "add":
                assert inputs[0].shape == inputs[1].shape
                y = inputs[0] + inputs[1]
            elif op == "shortcut_a":
                s = int(attrs["stride"])
                pad = ((0, 0), (int(attrs["pad_before"]), int(attrs["pad_after"])), (0, 0), (0, 0))
                y = np.pad(inputs[0][:, :, ::s, ::s], pad)
            elif op == "global_avgpool":
                y = inputs[0].mean(axis=(2, 3), keepdims=True)
            elif op == "linear":
                y = inputs[0].reshape(len(inputs[0]), -1) @ t["weight"].T
                if "bias" in t:
                    y = y + t["bias"]
            else:
                raise AssertionError(f"node {key}: op {op!r} not handled by the test interpreter")
            values.append(y)
        return values[-1]


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
        assert a["format_version"] == 1 and a["format_version"].dtype == np.int64
        assert a["name"] == "resnet20"
        assert a["arch"] == "resnet_cifar"
        assert a["source"] == "resnet20.npz"
        for key in ("format", "name", "arch", "source"):
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
    src, out = tmp_path / "model.onnx", tmp_path / "out.h5"
    src.write_bytes(b"x")
    assert_fails(run_import(src, "-o", out), out, f"{src}: unsupported file type '.onnx'")


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
