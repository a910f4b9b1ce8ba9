"""Bad input to the aimc CLI: every case must end in exactly one clear error line on stderr
(naming the file and the tensor, attribute or option), a non-zero exit, and no traceback."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, DATA, MODELS, need  # noqa: E402


@pytest.fixture
def good_model(tmp_path):
    """A writable copy of the imported resnet20."""
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    src = MODELS / "resnet20.h5"
    need(src)
    dst = tmp_path / "model.h5"
    shutil.copy(src, dst)
    return dst


def run_eval(model, *extra, data=None):
    args = [AIMC, "eval", "--model", str(model), "--ideal", "--images", "8",
            "--data", str(data or DATA / "cifar-10"), *extra]
    return subprocess.run(args, capture_output=True, text=True, timeout=120)


def assert_one_error(proc, *fragments):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert re.match(r"aimc( \w+)?: error: ", lines[0]), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert "Traceback" not in proc.stderr and "terminate called" not in proc.stderr


def node_named(f, name):
    for key in f["nodes"]:
        if f["nodes"][key].attrs["name"] == name:
            return f["nodes"][key]
    raise KeyError(name)


def test_good_model_runs(good_model):
    need(DATA / "cifar-10" / "test_batch.bin")
    proc = run_eval(good_model, "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"total": 8' in proc.stdout


def test_not_hdf5(tmp_path):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    bad = tmp_path / "bad.h5"
    bad.write_text("this is not HDF5\n")
    assert_one_error(run_eval(bad), str(bad), "not an HDF5 file")


def test_missing_model_file(tmp_path):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    assert_one_error(run_eval(tmp_path / "nope.h5"), "nope.h5", "cannot open")


def test_wrong_format_version(good_model):
    with h5py.File(good_model, "r+") as f:
        f.attrs["format_version"] = np.int64(3)
    assert_one_error(run_eval(good_model), str(good_model), "format_version is 3, expected 1 to 2")


def test_not_an_aimc_model(good_model):
    with h5py.File(good_model, "r+") as f:
        f.attrs["format"] = "something-else"
    assert_one_error(run_eval(good_model), "attribute 'format' is not 'aimc-model'")


def test_unknown_op(good_model):
    with h5py.File(good_model, "r+") as f:
        node_named(f, "layer1.0.conv1").attrs["op"] = "conv3d"
    assert_one_error(run_eval(good_model), "'layer1.0.conv1'", "unknown op 'conv3d'")


def test_missing_tensor(good_model):
    with h5py.File(good_model, "r+") as f:
        del node_named(f, "layer1.0.bn1")["running_var"]
    assert_one_error(run_eval(good_model), "'layer1.0.bn1'",
                     "missing tensor 'running_var' (expected shape [16])")


def test_missing_conv_weight(good_model):
    with h5py.File(good_model, "r+") as f:
        del node_named(f, "layer2.0.conv1")["weight"]
    assert_one_error(run_eval(good_model), "'layer2.0.conv1'",
                     "missing tensor 'weight' (expected shape [O, 16, 3, 3])")


def test_wrong_shape(good_model):
    with h5py.File(good_model, "r+") as f:
        g = node_named(f, "layer1.0.conv1")
        del g["weight"]
        g["weight"] = np.zeros((16, 8, 3, 3), np.float32)
    assert_one_error(run_eval(good_model), "'layer1.0.conv1'",
                     "tensor 'weight' has shape [16, 8, 3, 3], expected [16, 16, 3, 3]")


def test_wrong_linear_shape(good_model):
    with h5py.File(good_model, "r+") as f:
        g = node_named(f, "linear")
        del g["bias"]
        g["bias"] = np.zeros((11,), np.float32)
    assert_one_error(run_eval(good_model), "'linear'",
                     "tensor 'bias' has shape [11], expected [10]")


def test_nan_weight(good_model):
    with h5py.File(good_model, "r+") as f:
        g = node_named(f, "layer3.1.conv2")
        w = g["weight"][...]
        w[3, 2, 1, 0] = np.nan
        g["weight"][...] = w
    assert_one_error(run_eval(good_model), "'layer3.1.conv2'", "contains NaN or inf")


def test_cycle(good_model):
    with h5py.File(good_model, "r+") as f:
        node_named(f, "layer1.0.conv1").attrs["inputs"] = np.array([9], np.int64)
    assert_one_error(run_eval(good_model), "'layer1.0.conv1'", "is not an earlier node")


def test_add_with_one_input(good_model):
    with h5py.File(good_model, "r+") as f:
        g = node_named(f, "layer1.0.add")
        g.attrs["inputs"] = g.attrs["inputs"][:1]
    assert_one_error(run_eval(good_model), "'layer1.0.add'", "has 1 inputs, expected 2")


def test_missing_dataset(good_model, tmp_path):
    assert_one_error(run_eval(good_model, data=tmp_path), str(tmp_path / "test_batch.bin"),
                     "missing CIFAR-10 file")


def test_truncated_dataset(good_model, tmp_path):
    need(DATA / "cifar-10" / "test_batch.bin")
    (tmp_path / "test_batch.bin").write_bytes(
        (DATA / "cifar-10" / "test_batch.bin").read_bytes()[:3073 * 100 + 5])
    assert_one_error(run_eval(good_model, data=tmp_path), "test_batch.bin: truncated: 307305 bytes")


def test_bad_label(good_model, tmp_path):
    need(DATA / "cifar-10" / "test_batch.bin")
    raw = bytearray((DATA / "cifar-10" / "test_batch.bin").read_bytes())
    raw[3073 * 3] = 10
    (tmp_path / "test_batch.bin").write_bytes(bytes(raw))
    assert_one_error(run_eval(good_model, data=tmp_path), "record 3 has label 10, expected 0-9")


@pytest.mark.parametrize("args, fragment", [
    (["eval", "--bogus"], "unrecognised option '--bogus'"),
    (["eval", "--ideal"], "the option '--model' is required"),
    (["eval", "--model"], "the required argument for option '--model' is missing"),
    (["eval", "--model", "m.h5", "--images", "many"], "'--images' is invalid"),
    (["eval", "--model", "m.h5"], "give exactly one of --ideal and --chip"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_cli_usage_errors(args, fragment):
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    proc = subprocess.run([AIMC, *args], capture_output=True, text=True, timeout=60)
    assert_one_error(proc, fragment)


CHIP = str(Path(__file__).resolve().parents[2] / "configs" / "chips" / "hermes64.ini")


def run_map(model, *extra):
    return subprocess.run([AIMC, "map", "--model", str(model), "--chip", CHIP, *extra],
                          capture_output=True, text=True, timeout=60)


def test_map_resnet20_fits_on_36_cores(good_model):
    proc = run_map(good_model)
    assert proc.returncode == 0, proc.stderr
    assert "36 blocks on 36 / 64 cores" in proc.stdout
    assert "layer3.2.conv2" in proc.stdout


def test_map_resnet44_does_not_fit_one_layer_per_core():
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    model = MODELS / "resnet44.h5"
    need(model)
    assert_one_error(run_map(model), "resnet44 needs 84 cores with one_layer_per_core",
                     "the chip has 64", "packed")
    packed = run_map(model, "--set", "mapping.strategy=packed")
    assert packed.returncode == 0, packed.stderr
    assert "84 blocks on" in packed.stdout


@pytest.mark.parametrize("override, fragment", [
    ("device.foo=1", "--set: unknown chip key 'device.foo'"),
    ("converters.dac_bits=abc", "converters.dac_bits = 'abc', expected an integer in [0, 24]"),
    ("converters.dac_bits=40", "converters.dac_bits = 40, expected an integer in [0, 24]"),
    ("noise.read_noise_mode=sometimes",
     "noise.read_noise_mode = 'sometimes', expected one of: per_evaluation, per_mvm"),
    ("device.devices_per_polarity=3", "device.devices_per_polarity = 3, expected an integer in [1, 2]"),
    ("mapping.cores=0", "mapping.cores = 0, expected an integer in [1, 1048576]"),
    ("device.kind=rram", "device.kind = 'rram', expected one of: hermes, pcm"),
    ("no_equals_sign", "expected section.key=value"),
])
def test_chip_config_errors(good_model, override, fragment):
    assert_one_error(run_map(good_model, "--set", override), fragment)


def test_chip_config_missing_file(good_model, tmp_path):
    proc = subprocess.run([AIMC, "map", "--model", str(good_model), "--chip",
                           str(tmp_path / "none.ini")], capture_output=True, text=True)
    assert_one_error(proc, "none.ini: cannot open chip configuration")


def test_chip_config_syntax_error(good_model, tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[device]\nkind hermes\n")
    proc = subprocess.run([AIMC, "map", "--model", str(good_model), "--chip", str(bad)],
                          capture_output=True, text=True)
    assert_one_error(proc, str(bad))


@pytest.mark.parametrize("config", ["chips/hermes64.ini", "chips/ideal.ini",
                                    "devices/hermes.ini", "devices/pcm.ini"])
def test_bundled_chip_configs_parse(good_model, config):
    path = Path(__file__).resolve().parents[2] / "configs" / config
    proc = subprocess.run([AIMC, "map", "--model", str(good_model), "--chip", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "36 blocks on 36 / 64 cores" in proc.stdout
