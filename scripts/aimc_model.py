"""The aimc model (format version 2) as the importers build it, and its one HDF5 writer.

Both front ends of ``aimc import`` (scripts/import_model.py for PyTorch state_dicts,
scripts/onnx_import.py for ONNX graphs) produce a :class:`Model` and hand it to
:func:`write_atomically`. The format is specified in docs/model-format.md (version 1) and the
version 2 extensions (groups, clip, leaky_relu, concat, slice, pad, global_maxpool, flatten,
avgpool count_include_pad, the ``source_format`` root attribute).
"""

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

FORMAT = "aimc-model"
FORMAT_VERSION = 2
EXIT_BAD_INPUT = 2

CIFAR_INPUT_SHAPE = (3, 32, 32)
# The graph's input is PyTorch ToTensor's output, pixel / 255.
CIFAR_INPUT_SCALE = 1.0 / 255.0

# Weighted layers: the ones counted in "ResNet-20" and mapped onto crossbars.
WEIGHTED_OPS = ("conv2d", "linear")


class ImportFailure(Exception):
    """A problem with the user's input or output, reported as one line.

    ``path`` is the file the message is about (input or output), so that
    every message names the file, as the CLI contract requires.
    """

    def __init__(self, path, message):
        super().__init__(f"{path}: {message}")


@dataclass
class Node:
    """One graph node; ``inputs`` are indices of earlier nodes, ``attrs`` map names to int,
    float or lists of ints, ``tensors`` map leaf names to float32 arrays."""

    op: str
    name: str
    inputs: list
    attrs: dict = field(default_factory=dict)
    tensors: dict = field(default_factory=dict)


@dataclass
class Model:
    """Everything the writer needs besides the file names."""

    name: str
    arch: str
    source_format: str
    input_shape: tuple
    num_classes: int
    input_scale: float
    input_mean: tuple
    input_std: tuple
    nodes: list


def one_line(exc):
    """Exception texts can span lines; the CLI promises one line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def format_shape(shape):
    """Shapes are printed as lists (``[16, 3, 3, 3]``), the form the
    documented error messages use."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


def count_parameters(model):
    """Learnable parameters, as PyTorch's ``parameters()`` counts them:
    BatchNorm running statistics are buffers and do not count."""
    return sum(
        int(value.size)
        for node in model.nodes
        for leaf, value in node.tensors.items()
        if not leaf.startswith("running_")
    )


def count_layers(model):
    """Weighted layers (conv2d and linear), the number in "ResNet-20"."""
    return sum(1 for node in model.nodes if node.op in WEIGHTED_OPS)


def h5_attr(value):
    """Attribute types follow the spec: reals float64, integers (and lists of them) int64."""
    if isinstance(value, (list, tuple, np.ndarray)):
        array = np.asarray(value)
        return array.astype(np.float64 if array.dtype.kind == "f" else np.int64)
    if isinstance(value, float):
        return np.float64(value)
    return np.int64(value)


def write_h5(out, model, source):
    """Write the format-v2 file at ``out``. Strings are variable-length UTF-8."""
    with h5py.File(out, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = np.int64(FORMAT_VERSION)
        f.attrs["name"] = model.name
        f.attrs["arch"] = model.arch
        f.attrs["source"] = source
        f.attrs["source_format"] = model.source_format
        f.attrs["input_shape"] = np.asarray(model.input_shape, dtype=np.int64)
        f.attrs["num_classes"] = np.int64(model.num_classes)
        f.attrs["input_scale"] = np.float64(model.input_scale)
        f.attrs["input_mean"] = np.asarray(model.input_mean, dtype=np.float64)
        f.attrs["input_std"] = np.asarray(model.input_std, dtype=np.float64)
        nodes = f.create_group("nodes")
        for index, node in enumerate(model.nodes):
            group = nodes.create_group(f"{index:04d}")
            group.attrs["op"] = node.op
            group.attrs["name"] = node.name
            group.attrs["inputs"] = np.asarray(node.inputs, dtype=np.int64)
            for key, value in node.attrs.items():
                group.attrs[key] = h5_attr(value)
            for leaf, value in node.tensors.items():
                group.create_dataset(leaf, data=np.asarray(value, dtype=np.float32))


def write_atomically(out, model, source):
    """Write to ``OUT.tmp`` and rename, so a failure never leaves a partial
    or stale-looking model at ``out``."""
    tmp = out + ".tmp"
    try:
        # A plain open gives a clean OS reason (h5py wraps it in a long text).
        with open(tmp, "wb"):
            pass
        write_h5(tmp, model, source)
        os.replace(tmp, out)
    except OSError as exc:
        raise ImportFailure(out, f"cannot write: {exc.strerror or one_line(exc)}") from exc
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def summary(model, in_path, out_path):
    """The line ``aimc import`` prints on success."""
    return (
        f"imported {model.name} ({count_layers(model)} layers, {count_parameters(model)} parameters) "
        f"from {in_path} to {out_path}"
    )
