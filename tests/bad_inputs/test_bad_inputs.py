"""The bad-input battery (issue 8): one table of cases, each a bad config, model, dataset, output or
command line, and the fragments its error line must contain.

Every case must end in exactly one error line on stderr, `aimc <command>: error: ...`, naming the
file and the key or tensor and what was expected; a non-zero exit; no traceback, "terminate
called", crash report or sanitizer report; no results file left marked complete; and every results
file that existed before byte-for-byte unchanged.

Runs through ctest (AIMC_BIN, AIMC_TEST_MODELS, AIMC_TEST_DATA). scripts/sanitize.sh runs it again
with the ASan+UBSan binary, so "no sanitizer report" is checked there too.
"""

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, DATA, MODELS, REPO, need  # noqa: E402
CHIP = REPO / "configs" / "chips" / "hermes64.ini"

# Output that must never appear, whatever the input.
FORBIDDEN = ["Traceback", "terminate called", "Segmentation fault", "Process received signal",
             "AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:",
             "HDF5-DIAG", "core dumped"]

# One point, one chip, 8 images: the smallest study that runs the whole engine.
EXPERIMENT = """\
{top}model = {model}
chip = {chip}
n_chips = 1
seed = 3
output = {output}

[data]
dir = {data}
images = 8

[chip]
calibration.images = 8
{tail}"""


class Ctx:
    """A case's scratch directory, and helpers that write the bad inputs into it."""

    def __init__(self, tmp: Path, finished: Path):
        self.tmp = tmp
        self.finished = finished  # a complete results file of the base experiment
        self.output = tmp / "out" / "results.h5"
        self.data = DATA / "cifar-10"
        self.model_path = MODELS / "resnet20.h5"
        self.mounts: List[Path] = []

    def experiment(self, top="", tail="", model=None, chip=None, output=None, data=None,
                   name="exp.ini"):
        path = self.tmp / name
        path.write_text(EXPERIMENT.format(top=top, tail=tail, model=model or self.model_path,
                                          chip=chip or CHIP, output=output or self.output,
                                          data=data or self.data))
        return path

    def run(self, *extra, **kw):
        """`aimc run` on the base experiment with `top` lines before it and `tail` after it."""
        return ["run", str(self.experiment(**kw)), "--no-progress", "--threads", "1", *extra]

    def model(self, mutate: Callable[[h5py.File], None]):
        """A copy of resnet20 changed by `mutate`."""
        path = self.tmp / "model.h5"
        shutil.copy(self.model_path, path)
        with h5py.File(path, "r+") as f:
            mutate(f)
        return path

    def file(self, name, content: bytes):
        path = self.tmp / name
        path.write_bytes(content)
        return path

    def dataset(self, test_batch: bytes = None, directory=False):
        """A CIFAR-10 directory with the real training batch and a bad test batch."""
        d = self.tmp / "cifar"
        d.mkdir()
        (d / "data_batch_1.bin").symlink_to(DATA / "cifar-10" / "data_batch_1.bin")
        if directory:
            (d / "test_batch.bin").mkdir()
        elif test_batch is not None:
            (d / "test_batch.bin").write_bytes(test_batch)
        return d

    def copy_finished(self):
        """A copy of the complete results file, as other.h5."""
        path = self.tmp / "other.h5"
        shutil.copy(self.finished, path)
        return path

    def test_batch(self):
        return (DATA / "cifar-10" / "test_batch.bin").read_bytes()

    def onnx(self, nodes, initializers=(), inputs=(("x", [1, 3, 32, 32]),), outputs=("y",), opset=13):
        """A small ONNX model written with onnx.helper (not torch: fast), as m.onnx."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 10]) for n in outputs],
            [numpy_helper.from_array(np.asarray(v), n) for n, v in initializers])
        path = self.tmp / "m.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), str(path))
        return path

    def import_onnx(self, *extra, **kw):
        """`aimc import` of a bad ONNX model (built from `kw`, see onnx()) into imported.h5."""
        return ["import", str(self.onnx(**kw)), "-o", str(self.tmp / IMPORTED), *extra]

    def tmpfs(self, free_kib):
        """A 64 KiB tmpfs with `free_kib` KiB left free: a full disk. Skips loudly if not root."""
        d = self.tmp / "full"
        d.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip("DISK-FULL CASE SKIPPED: cannot mount a tmpfs here (needs root): "
                        + proc.stderr.strip())
        self.mounts.append(d)
        (d / "fill").write_bytes(b"\0" * ((64 - free_kib) * 1024))
        return d


def node(f, name):
    for key in f["nodes"]:
        if f["nodes"][key].attrs["name"] == name:
            return f["nodes"][key]
    raise KeyError(name)


def replace_tensor(name, tensor, value):
    def mutate(f):
        g = node(f, name)
        del g[tensor]
        g[tensor] = value
    return mutate


def poke_weight(name, value):
    def mutate(f):
        w = node(f, name)["weight"]
        a = w[...]
        a.flat[5] = value
        w[...] = a
    return mutate


def set_attr(name, key, value):
    def mutate(f):
        (f if name is None else node(f, name)).attrs[key] = value
    return mutate


def delete(name, member):
    def mutate(f):
        del node(f, name)[member]
    return mutate


def rename_node(f):
    f["nodes"].move("0003", "0999")


@dataclass
class Case:
    name: str
    args: Callable[[Ctx], List[str]]
    fragments: List[str]
    # Lines the run may print on stderr before its error (the run header of `aimc run`).
    header: bool = False
    # A regular expression the whole error line must match (re.fullmatch), where given.
    line: str = None


# Where the `aimc import` cases write; an import error must leave neither it nor IMPORTED.tmp.
IMPORTED = "imported.h5"


def make_nodes(*nodes):
    """onnx.helper.make_node for each (op, inputs, outputs, attributes) tuple."""
    from onnx import helper

    return [helper.make_node(op, ins, outs, **attrs) for op, ins, outs, attrs in nodes]


# The classifier head every bad ONNX model ends with: 'h' -> 10 logits 'y'.
POOL_FLATTEN = [("GlobalAveragePool", ["h"], ["g"], {}), ("Flatten", ["g"], ["f"], {})]
HEAD = POOL_FLATTEN + [("Gemm", ["f", "W", "b"], ["y"], {"transB": 1})]


def onnx_nodes(*nodes):
    """The given nodes (computing 'h' from 'x'), then the shared head."""
    return make_nodes(*nodes, *HEAD)


ONNX_HEAD = [("W", np.ones((10, 3), np.float32)), ("b", np.zeros(10, np.float32))]
ONNX_ERROR = r"aimc import: error: .*/m\.onnx: "


def big_sweep(c):
    values = ",".join(str(i) for i in range(1000))
    return c.run(tail=f"[sweep]\nt_inference = {values}\nchip.converters.adc_bits = "
                      + ",".join(["8"] * 1000) + "\nchip.converters.dac_bits = "
                      + ",".join(["8"] * 1000) + "\n")


CASES = [
    # ---- experiment and chip configuration
    Case("config-syntax-open-section", lambda c: c.run(tail="[sweep\n"), ["exp.ini"]),
    Case("config-syntax-no-equals", lambda c: c.run(top="n_chips 4\n"), ["exp.ini"]),
    Case("config-unknown-key", lambda c: c.run(top="bogus = 1\n"),
         ["exp.ini", "unknown key 'bogus'", "expected one of"]),
    Case("config-unknown-section", lambda c: c.run(tail="[colour]\nhue = red\n"),
         ["exp.ini", "unknown key 'colour.hue'"]),
    Case("config-unknown-chip-key", lambda c: c.run(tail="converters.adc_bitz = 8\n"),
         ["exp.ini", "unknown chip key 'converters.adc_bitz'"]),
    Case("config-key-twice", lambda c: c.run(top="seed = 5\n"),
         ["exp.ini", "seed is given twice", "expected it once"]),
    Case("config-wrong-type-int", lambda c: c.run("--set", "n_chips=two"),
         ["--set", "n_chips = 'two'", "expected an integer"]),
    Case("config-wrong-type-float-count", lambda c: c.run("--set", "data.images=2.5"),
         ["--set", "data.images = '2.5'", "expected an integer"]),
    # A bad [chip] value is reported at its own origin (the file, not "--set").
    Case("config-wrong-type-chip", lambda c: c.run(tail="converters.dac_bits = eight\n"),
         ["exp.ini: chip.converters.dac_bits:", "'eight'"]),
    # Boost.Program_options loops forever formatting an error about text holding one of its
    # message tokens (found by fuzz_config); aimc refuses '%' before Boost sees it.
    Case("config-percent-token", lambda c: c.run(tail="converters.dac_bits = %value%\n"),
         ["exp.ini: line", "'%' in a key or value"]),
    Case("config-wrong-enum-chip-set", lambda c: c.run("--set", "chip.device.kind=foo"),
         ["--set: chip.device.kind:", "expected one of: hermes, pcm"]),
    Case("config-wrong-type-in-sweep",
         lambda c: c.run(tail="[sweep]\nchip.converters.adc_bits = 8, eight\n"),
         ["exp.ini: sweep point 1 (chip.converters.adc_bits = eight)", "'eight'"]),
    Case("config-nan", lambda c: c.run(top="t_inference = nan\n"),
         ["exp.ini", "t_inference = 'nan'", "seconds >= 0"]),
    Case("config-inf", lambda c: c.run(top="t_inference = inf\n"),
         ["exp.ini", "t_inference = 'inf'", "seconds >= 0"]),
    Case("config-nan-chip-value", lambda c: c.run(tail="device.prog_noise_scale = nan\n"),
         ["exp.ini", "device.prog_noise_scale"]),
    Case("config-inf-in-sweep", lambda c: c.run(tail="[sweep]\nt_inference = 60, inf\n"),
         ["exp.ini", "sweep.t_inference", "seconds >= 0"]),
    Case("config-negative-chips", lambda c: c.run("--set", "n_chips=-1"),
         ["--set", "n_chips = '-1'", "an integer in [1, 1000000]"]),
    Case("config-negative-images", lambda c: c.run("--set", "data.images=-5"),
         ["--set", "data.images = '-5'"]),
    Case("config-negative-seed", lambda c: c.run("--set", "seed=-3"), ["--set", "seed = '-3'"]),
    Case("config-too-many-images", lambda c: c.run("--set", "data.images=60000"),
         ["data.images = '60000'"]),
    Case("config-empty-sweep", lambda c: c.run(tail="[sweep]\nt_inference =\n"),
         ["exp.ini", "sweep.t_inference", "at least one value"]),
    Case("config-empty-sweep-item", lambda c: c.run(tail="[sweep]\nt_inference = 1,,2\n"),
         ["exp.ini", "sweep.t_inference", "none empty"]),
    Case("config-huge-sweep", big_sweep, ["exp.ini", "more than 10,000,000 points"]),
    Case("config-unknown-axis", lambda c: c.run(tail="[sweep]\ncolour = red\n"),
         ["exp.ini", "unknown sweep axis 'colour'"]),
    Case("config-empty-chip-key", lambda c: c.run(top="chip. = 1\n"),
         ["exp.ini", "unknown chip key ''"]),
    Case("config-empty-chip-axis", lambda c: c.run(tail="[sweep]\nchip. = 1, 2\n"),
         ["exp.ini", "unknown sweep axis 'chip.'"]),
    Case("config-bad-sweep-value",
         lambda c: c.run(tail="[sweep]\nchip.drift.compensation = none, sometimes\n"),
         ["exp.ini", "sweep point", "drift.compensation = 'sometimes'"]),
    # Issue 18: a recalibration on no images, or on more than CIFAR-10's training split holds.
    Case("config-recalibration-no-images",
         lambda c: c.run(tail="drift.compensation = adabs\ndrift.recalibration_images = 0\n"),
         ["exp.ini", "drift.recalibration_images = 0", "an integer in [1, 50000]"]),
    Case("config-recalibration-too-many-images",
         lambda c: c.run("--set", "chip.drift.compensation=affine", "--set",
                         "chip.drift.recalibration_images=50001"),
         ["--set", "drift.recalibration_images", "50001", "an integer in [1, 50000]"]),
    Case("config-set-without-equals", lambda c: c.run("--set", "n_chips"),
         ["--set 'n_chips'", "expected key=value"]),
    Case("config-missing-file", lambda c: ["run", str(c.tmp / "none.ini")],
         ["none.ini", "cannot open experiment file"]),
    Case("config-chip-file-syntax",
         lambda c: c.run(chip=c.file("chip.ini", b"[device]\nkind hermes\n")), ["chip.ini"]),
    Case("config-chip-file-missing", lambda c: c.run(chip=c.tmp / "nochip.ini"),
         ["nochip.ini", "cannot open chip configuration"]),
    Case("config-binary-garbage",
         lambda c: ["run", str(c.file("garbage.ini", bytes(range(256)) * 4))], ["garbage.ini"]),
    # ---- model file
    Case("model-not-hdf5", lambda c: c.run(model=c.file("m.h5", b"not HDF5\n" * 100)),
         ["m.h5", "not an HDF5 file"]),
    Case("model-empty-file", lambda c: c.run(model=c.file("m.h5", b"")),
         ["m.h5", "not an HDF5 file"]),
    Case("model-truncated",
         lambda c: c.run(model=c.file("m.h5", c.model_path.read_bytes()[:300_000])), ["m.h5"]),
    Case("model-missing", lambda c: c.run(model=c.tmp / "absent.h5"),
         ["absent.h5", "cannot open the model file"]),
    Case("model-wrong-version",
         lambda c: c.run(model=c.model(set_attr(None, "format_version", np.int64(3)))),
         ["model.h5", "format_version is 3, expected 1 to 2"]),
    Case("model-wrong-format",
         lambda c: c.run(model=c.model(set_attr(None, "format", "something-else"))),
         ["model.h5", "attribute 'format' is not 'aimc-model'"]),
    Case("model-missing-tensor",
         lambda c: c.run(model=c.model(delete("layer1.0.bn1", "running_var"))),
         ["model.h5", "'layer1.0.bn1'", "missing tensor 'running_var' (expected shape [16])"]),
    Case("model-misshaped-tensor",
         lambda c: c.run(model=c.model(replace_tensor("layer1.0.conv1", "weight",
                                                       np.zeros((16, 8, 3, 3), np.float32)))),
         ["model.h5", "'layer1.0.conv1'", "has shape [16, 8, 3, 3], expected [16, 16, 3, 3]"]),
    Case("model-nan-weight",
         lambda c: c.run(model=c.model(poke_weight("layer3.1.conv2", np.nan))),
         ["model.h5", "'layer3.1.conv2'", "NaN or inf"]),
    Case("model-inf-weight", lambda c: c.run(model=c.model(poke_weight("linear", np.inf))),
         ["model.h5", "'linear'", "NaN or inf"]),
    Case("model-cycle",
         lambda c: c.run(model=c.model(set_attr("layer1.0.conv1", "inputs",
                                                np.array([9], np.int64)))),
         ["model.h5", "'layer1.0.conv1'", "is not an earlier node"]),
    Case("model-self-loop",
         lambda c: c.run(model=c.model(set_attr("layer1.0.relu1", "inputs",
                                                np.array([6], np.int64)))),
         ["model.h5", "'layer1.0.relu1'"]),
    Case("model-unknown-op",
         lambda c: c.run(model=c.model(set_attr("layer1.0.conv1", "op", "conv3d"))),
         ["model.h5", "unknown op 'conv3d'"]),
    Case("model-missing-node", lambda c: c.run(model=c.model(rename_node)),
         ["model.h5", "/nodes", "node 3 is missing"]),
    # ---- dataset
    Case("data-missing-file", lambda c: c.run(data=c.dataset()),
         ["test_batch.bin", "missing CIFAR-10 file"]),
    Case("data-truncated",
         lambda c: c.run(data=c.dataset(c.test_batch()[:3073 * 100 + 5])),
         ["test_batch.bin", "truncated: 307305 bytes", "expected"]),
    Case("data-wrong-size", lambda c: c.run(data=c.dataset(c.test_batch() + b"x")),
         ["test_batch.bin", "wrong size", "expected"]),
    Case("data-bad-label",
         lambda c: c.run(data=c.dataset(bytes([10]) + c.test_batch()[1:])),
         ["test_batch.bin", "record 0 has label 10, expected 0-9"]),
    Case("data-unreadable", lambda c: c.run(data=c.dataset(directory=True)),
         ["test_batch.bin", "is a directory, expected a CIFAR-10 binary file"]),
    # ---- output
    Case("output-under-regular-file",
         lambda c: c.run(output=c.file("plain", b"x") / "results.h5"), ["plain/results.h5"]),
    Case("output-in-proc", lambda c: c.run(output="/proc/aimc-results.h5"),
         ["/proc/aimc-results.h5"]),
    Case("output-is-directory",
         lambda c: (c.tmp / "outdir").mkdir() or c.run(output=c.tmp / "outdir"), ["outdir"]),
    Case("output-other-experiment",
         lambda c: [*c.run("--set", "n_chips=2"), "--output", str(c.copy_finished())],
         ["other.h5", "different experiment"]),
    Case("output-not-results-file",
         lambda c: c.run(output=c.file("other.h5", b"some other file\n")), ["other.h5"]),
    Case("output-disk-full-at-create", lambda c: c.run(output=c.tmpfs(0) / "r.h5"),
         ["r.h5", "cannot create"], header=True),
    Case("output-disk-full-at-flush", lambda c: c.run(output=c.tmpfs(16) / "r.h5"),
         ["r.h5", "disk full"], header=True),
    # ---- command line
    Case("cli-unknown-flag", lambda c: c.run("--bogus"), ["unrecognised option '--bogus'"]),
    Case("cli-missing-experiment", lambda c: ["run"], ["'--experiment' is required"]),
    Case("cli-missing-option-value", lambda c: c.run("--output"),
         ["'--output'", "missing"]),
    Case("cli-bad-threads", lambda c: ["run", str(c.experiment()), "--threads", "-1"],
         ["--threads -1", "expected >= 0"]),
    Case("cli-threads-not-number", lambda c: ["run", str(c.experiment()), "--threads", "many"],
         ["'--threads'", "invalid"]),
    Case("cli-threads-twice", lambda c: c.run("--threads", "2"),
         ["'--threads' cannot be specified more than once"]),
    Case("cli-bad-slice", lambda c: c.run("--slice", "2/2"), ["--slice '2/2'", "0 <= I < N"]),
    Case("cli-resume-nothing", lambda c: c.run("--resume"), ["--resume", "nothing to resume"]),
    Case("cli-unknown-command", lambda c: ["frobnicate"], ["unknown command 'frobnicate'"]),
    Case("cli-merge-one-file", lambda c: ["merge", str(c.tmp / "o.h5")],
         ["expected OUT.h5 and at least one IN.h5"]),
    # ---- aimc import of ONNX graphs: one line naming the node, its op and attributes
    Case("import-onnx-unsupported-op",
         lambda c: c.import_onnx(nodes=onnx_nodes(("Sigmoid", ["x"], ["h"], {"name": "gate"})),
                                 initializers=ONNX_HEAD),
         ["m.onnx", "node 'gate' (Sigmoid)", "unsupported op Sigmoid"],
         line=ONNX_ERROR + r"node 'gate' \(Sigmoid\): unsupported op Sigmoid; supported ops: Add, AveragePool, "
         r"BatchNormalization, .*, Unsqueeze, Where"),
    Case("import-onnx-lstm",
         lambda c: c.import_onnx(
             nodes=onnx_nodes(("LSTM", ["x", "lw", "lr"], ["h"], {"hidden_size": 4})),
             initializers=[("lw", np.zeros((1, 16, 32), np.float32)),
                           ("lr", np.zeros((1, 16, 4), np.float32))] + ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"node 'LSTM_0' \(LSTM, hidden_size=4\): unsupported op LSTM; "
         r"supported ops: .*"),
    Case("import-onnx-conv-dilation",
         lambda c: c.import_onnx(
             nodes=onnx_nodes(("Conv", ["x", "cw"], ["h"], {"dilations": [2, 2], "pads": [2, 2, 2, 2]})),
             initializers=[("cw", np.ones((3, 3, 3, 3), np.float32))] + ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"node 'Conv_0' \(Conv, dilations=\[2, 2\], pads=\[2, 2, 2, 2\]\): "
         r"dilations \[2, 2\]: only dilation 1 is supported"),
    Case("import-onnx-maxpool-ceil",
         lambda c: c.import_onnx(
             nodes=onnx_nodes(("MaxPool", ["x"], ["h"], {"kernel_shape": [3, 3], "strides": [2, 2],
                                                         "ceil_mode": 1, "name": "pool"})),
             initializers=ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"node 'pool' \(MaxPool, ceil_mode=1, kernel_shape=\[3, 3\], "
         r"strides=\[2, 2\]\): ceil_mode 1: only ceil_mode 0 \(floor output size\) is supported"),
    Case("import-onnx-gemm-transa",
         lambda c: c.import_onnx(
             nodes=make_nodes(("Relu", ["x"], ["h"], {}), *POOL_FLATTEN,
                              ("Gemm", ["f", "W", "b"], ["y"], {"transA": 1, "name": "fc"})),
             initializers=ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"node 'fc' \(Gemm, transA=1\): transA 1: only transA 0 .* is supported"),
    Case("import-onnx-shape-from-data",
         lambda c: c.import_onnx(
             nodes=onnx_nodes(("GlobalAveragePool", ["x"], ["p"], {}), ("Flatten", ["p"], ["q"], {}),
                              ("Cast", ["q"], ["s"], {"to": 7, "name": "to_int"}),
                              ("Reshape", ["x", "s"], ["h"], {"name": "reshape"})),
             initializers=ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"node 'reshape' \(Reshape\): shape is computed from the image data "
         r"\(by node 'to_int' \(Cast\)\); the importer needs it constant \(statically resolvable\)"),
    Case("import-onnx-input-shape",
         lambda c: c.import_onnx(nodes=onnx_nodes(("Relu", ["x"], ["h"], {})), initializers=ONNX_HEAD,
                                 inputs=[("x", [1, 1, 28, 28])]),
         ["m.onnx"], line=ONNX_ERROR + r"graph input 'x' has shape \[1, 1, 28, 28\], expected float32 "
         r"\[N, 3, 32, 32\] .*"),
    Case("import-onnx-two-inputs",
         lambda c: c.import_onnx(nodes=onnx_nodes(("Add", ["x", "x2"], ["h"], {})), initializers=ONNX_HEAD,
                                 inputs=[("x", [1, 3, 32, 32]), ("x2", [1, 3, 32, 32])]),
         ["m.onnx"], line=ONNX_ERROR + r"the graph has 2 inputs \(x, x2\), expected one image input .*"),
    Case("import-onnx-two-outputs",
         lambda c: c.import_onnx(nodes=onnx_nodes(("Relu", ["x"], ["h"], {}))
                                 + make_nodes(("Relu", ["y"], ["y2"], {})),
                                 initializers=ONNX_HEAD, outputs=("y", "y2")),
         ["m.onnx"], line=ONNX_ERROR + r"the graph has 2 outputs \(y, y2\), expected one output .*"),
    Case("import-onnx-not-onnx",
         lambda c: ["import", str(c.file("m.onnx", b"\xff\xfe not a protobuf " * 20)), "-o",
                    str(c.tmp / IMPORTED)],
         ["m.onnx"], line=ONNX_ERROR + r"not a valid ONNX file \(.*\)"),
    Case("import-onnx-normalisation-twice",
         lambda c: c.import_onnx("--input-mean", "0.5,0.5,0.5",
                                 nodes=onnx_nodes(("Sub", ["x", "mean"], ["h"], {"name": "norm"})),
                                 initializers=[("mean", np.full((1, 3, 1, 1), 0.5, np.float32))] + ONNX_HEAD),
         ["m.onnx"], line=ONNX_ERROR + r"--input-mean/--input-std given, but the graph normalises its input "
         r"itself \(nodes 'norm'\); drop the options"),
    Case("cli-merge-existing-output",
         lambda c: ["merge", str(c.copy_finished()), str(c.finished)], ["already exists"]),
]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A complete results file of the base experiment (the 'existing results' cases use it)."""
    if not AIMC:
        pytest.skip("AIMC_BIN not set: run through ctest")
    need(MODELS / "resnet20.h5")
    need(DATA / "cifar-10" / "test_batch.bin")
    d = tmp_path_factory.mktemp("finished")
    ctx = Ctx(d, None)
    proc = subprocess.run([AIMC, *ctx.run()], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert complete(ctx.output) == 1
    return ctx.output


def complete(path):
    """The `complete` attribute of a results file; None for anything else."""
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != "aimc-results":
                return None
            return int(f.attrs["complete"])
    except OSError:
        return None


def snapshot(root: Path):
    """The bytes of every regular file under root (the .h5 results and models among them)."""
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink() and p.name != "fill":
            out[p] = p.read_bytes()
    return out


def test_battery_size():
    assert len(CASES) >= 30
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, finished, tmp_path):
    ctx = Ctx(tmp_path, finished)
    finished_before = finished.read_bytes()
    try:
        args = case.args(ctx)
        before = snapshot(tmp_path)
        proc = subprocess.run([AIMC, *args], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path)
        after = {p: p.read_bytes() for p in before if p.exists()}
        marked = [p for p in tmp_path.rglob("*.h5*")
                  if p.is_file() and p not in before and complete(p) == 1]
    finally:
        for m in ctx.mounts:
            subprocess.run(["umount", str(m)], check=False)

    for bad in FORBIDDEN:
        assert bad not in proc.stderr and bad not in proc.stdout, proc.stderr
    assert proc.returncode != 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1, proc.stderr
    assert lines[-1] == errors[0], proc.stderr
    if not case.header:
        assert len(lines) == 1, proc.stderr
    assert re.match(r"aimc( \w+)?: error: ", errors[0]), errors[0]
    for fragment in case.fragments:
        assert fragment in errors[0], (fragment, errors[0])
    if case.line is not None:
        assert re.fullmatch(case.line, errors[0]), (case.line, errors[0])
    # An import error leaves no output file, complete or partial.
    assert not (tmp_path / IMPORTED).exists() and not (tmp_path / (IMPORTED + ".tmp")).exists()
    # Existing files untouched, no new results file marked complete.
    for p, content in before.items():
        assert after.get(p) == content, f"{p} was modified or removed"
    assert finished.read_bytes() == finished_before
    assert not marked, f"{marked} marked complete"
