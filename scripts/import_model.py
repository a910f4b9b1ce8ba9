#!/usr/bin/env python3
"""Import a model into the aimc HDF5 model format, version 2 (``aimc import``).

Two front ends share one writer (scripts/aimc_model.py):

* a PyTorch state_dict (.npz, or a torch checkpoint .pt/.pth/.th) of a known architecture
  (``--arch``, default resnet_cifar): the importer knows the architecture's graph and only takes
  the tensors from the file, so a state_dict alone (no Python model code) is enough;
* an ONNX graph (.onnx, e.g. from ``torch.onnx.export``, opsets 11 to 17): the graph itself is
  translated (scripts/onnx_import.py). Input normalisation nodes at the start of the graph are
  folded into the model's input_mean/input_std; ``--input-mean``/``--input-std`` give them for
  graphs that expect already-normalised input.

The format is specified in docs/model-format.md. Every problem with the input is reported as
one line on stderr, ``aimc import: error: FILE: what``, with exit status 2, and no output file
is left behind (the file is written to OUT.tmp and renamed).

Usage: import_model.py IN -o OUT.h5 [--arch resnet_cifar] [--name NAME]
                       [--input-mean M1,M2,M3] [--input-std S1,S2,S3]
"""

import argparse
import os
import re
import sys
from dataclasses import dataclass, field

import numpy as np

from aimc_model import (
    CIFAR_INPUT_SCALE,
    CIFAR_INPUT_SHAPE,
    EXIT_BAD_INPUT,
    ImportFailure,
    Model,
    Node,
    format_shape,
    one_line,
    summary,
    write_atomically,
)

TORCH_SUFFIXES = (".pt", ".pth", ".th")
STATE_DICT_SUFFIXES = (".npz",) + TORCH_SUFFIXES
ONNX_SUFFIX = ".onnx"
DEFAULT_ARCH = "resnet_cifar"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BN_EPS = 1e-5
BN_TENSORS = ("weight", "bias", "running_mean", "running_var")


@dataclass
class TensorRef:
    """A tensor a node needs: its leaf name in the node group, the state_dict
    key it comes from and the shape the architecture requires."""

    leaf: str
    key: str
    shape: tuple


@dataclass
class SpecNode:
    """One node of an architecture's graph, its tensors still state_dict references;
    ``inputs`` are indices of earlier nodes."""

    op: str
    name: str
    inputs: list
    attrs: dict = field(default_factory=dict)
    tensors: list = field(default_factory=list)


@dataclass
class ArchGraph:
    """What an architecture builder returns: the graph plus the root
    attributes that depend on the architecture."""

    default_name: str
    input_shape: tuple
    num_classes: int
    input_scale: float
    input_mean: tuple
    input_std: tuple
    nodes: list


class GraphBuilder:
    """Appends nodes in topological order and hands back their indices, so
    architecture code wires the graph by index without bookkeeping."""

    def __init__(self):
        self.nodes = [SpecNode("input", "input", [])]

    def add(self, op, name, inputs, attrs=None, tensors=None):
        """Append a node and return its index."""
        self.nodes.append(SpecNode(op, name, list(inputs), attrs or {}, tensors or []))
        return len(self.nodes) - 1


def load_npz(path):
    """Read every array of an .npz archive eagerly, so a corrupt member is
    reported here rather than half-way through writing the output."""
    try:
        archive = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ImportFailure(path, f"not a valid .npz file ({one_line(exc)})") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ImportFailure(path, "not a valid .npz file (it holds a single array, not a state_dict)")
    with archive:
        try:
            return {key: archive[key] for key in archive.files}
        except Exception as exc:
            raise ImportFailure(path, f"not a valid .npz file ({one_line(exc)})") from exc


def load_torch(path):
    """Read a torch checkpoint: a raw state_dict or a dict with a
    ``state_dict`` entry. torch is imported here only, so .npz input works
    without it. ``weights_only`` avoids running pickled code from the file;
    note that torch 1.13's safe loader also refuses Python floats, so such
    checkpoints must be converted to .npz first."""
    try:
        import torch
    except ImportError as exc:
        raise ImportFailure(path, f"reading {os.path.splitext(path)[1]} files needs PyTorch ({one_line(exc)})") from exc
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ImportFailure(path, f"not a valid PyTorch file ({one_line(exc)})") from exc
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("state_dict"), dict):
        checkpoint = checkpoint["state_dict"]
    if not isinstance(checkpoint, dict):
        raise ImportFailure(path, f"not a state_dict (the file holds a {type(checkpoint).__name__})")
    state = {}
    for key, value in checkpoint.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in state:
            raise ImportFailure(path, f"tensor '{name}' appears twice (with and without the 'module.' prefix)")
        if not isinstance(value, torch.Tensor):
            raise ImportFailure(path, f"entry '{key}' is a {type(value).__name__}, not a tensor")
        value = value.detach().cpu()
        if value.is_floating_point() and value.dtype != torch.float32:
            # bfloat16 and friends have no numpy equivalent; float32 is the
            # format's tensor type anyway.
            value = value.float()
        state[name] = value.numpy()
    return state


def check_readable(path):
    """Open the input once, so that OS errors read the same for every format."""
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ImportFailure(path, f"cannot read: {exc.strerror or one_line(exc)}") from exc


def load_state_dict(path):
    """Dispatch on the file extension (the caller checked it is a state_dict suffix)."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".npz":
        return load_npz(path)
    return load_torch(path)


def detect_resnet_cifar_depth(path, state):
    """Blocks per stage n, from the ``layerS.B.`` names: each of the three
    stages must have blocks 0..n-1 with the same n."""
    blocks = {1: set(), 2: set(), 3: set()}
    for key in state:
        match = re.match(r"layer([123])\.(\d+)\.", key)
        if match:
            blocks[int(match.group(1))].add(int(match.group(2)))
    if not blocks[1]:
        raise ImportFailure(path, "cannot detect depth: no 'layer1.*' tensors (is this a CIFAR ResNet state_dict?)")
    n = len(blocks[1])
    for stage, found in blocks.items():
        if found != set(range(n)):
            raise ImportFailure(
                path,
                f"cannot detect depth: layer{stage} has blocks {sorted(found)}, "
                f"expected 0..{n - 1} like layer1",
            )
    return n


def resnet_cifar(path, state):
    """ResNet for CIFAR (He et al. 2016) with option-A shortcuts, as in
    akamaster/pytorch_resnet_cifar10: depth 6n+2, stages of 16, 32, 64
    planes, every block conv-bn-relu-conv-bn plus shortcut, then relu."""
    n = detect_resnet_cifar_depth(path, state)
    bias = state.get("linear.bias")
    if bias is None:
        raise ImportFailure(path, "missing tensor 'linear.bias' (expected shape [num_classes])")
    if bias.ndim != 1 or bias.shape[0] < 1:
        raise ImportFailure(
            path,
            f"tensor 'linear.bias' has shape {format_shape(bias.shape)}, expected [num_classes] with num_classes >= 1",
        )
    num_classes = int(bias.shape[0])

    graph = GraphBuilder()

    def conv_bn(x, prefix, conv, bn, cin, cout, stride):
        """conv3x3 without bias, then inference batchnorm."""
        x = graph.add(
            "conv2d", prefix + conv, [x],
            {"kernel": 3, "stride": stride, "padding": 1},
            [TensorRef("weight", f"{prefix}{conv}.weight", (cout, cin, 3, 3))],
        )
        return graph.add(
            "batchnorm", prefix + bn, [x], {"eps": BN_EPS},
            [TensorRef(leaf, f"{prefix}{bn}.{leaf}", (cout,)) for leaf in BN_TENSORS],
        )

    x = conv_bn(0, "", "conv1", "bn1", CIFAR_INPUT_SHAPE[0], 16, 1)
    x = graph.add("relu", "relu1", [x])
    cin = 16
    for stage, planes in enumerate((16, 32, 64), start=1):
        for block in range(n):
            prefix = f"layer{stage}.{block}."
            stride = 2 if stage > 1 and block == 0 else 1
            block_in = x
            x = conv_bn(x, prefix, "conv1", "bn1", cin, planes, stride)
            x = graph.add("relu", prefix + "relu1", [x])
            x = conv_bn(x, prefix, "conv2", "bn2", planes, planes, 1)
            shortcut = block_in
            if stride != 1:
                shortcut = graph.add(
                    "shortcut_a", prefix + "shortcut", [block_in],
                    {"stride": stride, "pad_before": planes // 4, "pad_after": planes // 4},
                )
            x = graph.add("add", prefix + "add", [x, shortcut])
            x = graph.add("relu", prefix + "relu2", [x])
            cin = planes
    x = graph.add("global_avgpool", "avgpool", [x])
    graph.add(
        "linear", "linear", [x], {},
        [TensorRef("weight", "linear.weight", (num_classes, cin)),
         TensorRef("bias", "linear.bias", (num_classes,))],
    )
    return ArchGraph(
        default_name=f"resnet{6 * n + 2}",
        input_shape=CIFAR_INPUT_SHAPE,
        num_classes=num_classes,
        input_scale=CIFAR_INPUT_SCALE,
        input_mean=IMAGENET_MEAN,
        input_std=IMAGENET_STD,
        nodes=graph.nodes,
    )


ARCHS = {"resnet_cifar": resnet_cifar}


def is_ignored(key):
    """BatchNorm's step counter is training state, not part of the model."""
    return key.rsplit(".", 1)[-1] == "num_batches_tracked"


def resolve_tensors(path, state, graph, arch):
    """Fetch every tensor the graph needs, checking presence, shape, dtype and
    values, and reject tensors the architecture does not use (they would
    mean the file is not the network we think it is).

    Returns ``{key: float32 array}``.
    """
    resolved = {}
    for node in graph.nodes:
        for ref in node.tensors:
            if ref.key not in state:
                raise ImportFailure(path, f"missing tensor '{ref.key}' (expected shape {format_shape(ref.shape)})")
            value = np.asarray(state[ref.key])
            if tuple(value.shape) != tuple(ref.shape):
                raise ImportFailure(
                    path,
                    f"tensor '{ref.key}' has shape {format_shape(value.shape)}, expected {format_shape(ref.shape)}",
                )
            resolved[ref.key] = value
    for key in state:
        if key not in resolved and not is_ignored(key):
            raise ImportFailure(path, f"unexpected tensor '{key}' for arch {arch}")
    for key, value in resolved.items():
        if value.dtype.kind != "f":
            raise ImportFailure(path, f"tensor '{key}' has dtype {value.dtype}, expected floating point")
        value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            raise ImportFailure(path, f"tensor '{key}' contains NaN or inf")
        if key.endswith(".running_var") and np.any(value < 0):
            raise ImportFailure(path, f"tensor '{key}' has negative values (a variance must be >= 0)")
        resolved[key] = value
    return resolved


def import_state_dict(in_path, arch, name, mean, std):
    """The state_dict front end: load, build the architecture's graph, validate the tensors."""
    if arch not in ARCHS:
        raise ImportFailure(in_path, f"unknown --arch '{arch}', expected one of: {', '.join(sorted(ARCHS))}")
    if mean is not None or std is not None:
        raise ImportFailure(
            in_path, f"--input-mean/--input-std apply to {ONNX_SUFFIX} input only "
            f"(arch {arch} fixes its input normalisation)")
    state = load_state_dict(in_path)
    graph = ARCHS[arch](in_path, state)
    tensors = resolve_tensors(in_path, state, graph, arch)
    nodes = [
        Node(spec.op, spec.name, spec.inputs, spec.attrs, {ref.leaf: tensors[ref.key] for ref in spec.tensors})
        for spec in graph.nodes
    ]
    return Model(
        name=name or graph.default_name,
        arch=arch,
        source_format="npz",
        input_shape=graph.input_shape,
        num_classes=graph.num_classes,
        input_scale=graph.input_scale,
        input_mean=graph.input_mean,
        input_std=graph.input_std,
        nodes=nodes,
    )


def parse_channels(in_path, option, text, positive):
    """``--input-mean``/``--input-std``: one value per input channel, comma-separated."""
    if text is None:
        return None
    try:
        values = tuple(float(item) for item in text.split(","))
    except ValueError:
        values = ()
    channels = CIFAR_INPUT_SHAPE[0]
    if len(values) != channels or not all(np.isfinite(values)) or (positive and min(values) <= 0):
        kind = "positive finite numbers" if positive else "finite numbers"
        raise ImportFailure(in_path, f"{option} '{text}': expected {channels} comma-separated {kind}")
    return values


def import_model(in_path, out_path, arch, name, mean_text=None, std_text=None):
    """Load, build, validate and write; returns the summary line."""
    if name is not None and not name.strip():
        raise ImportFailure(in_path, "--name must not be empty")
    mean = parse_channels(in_path, "--input-mean", mean_text, positive=False)
    std = parse_channels(in_path, "--input-std", std_text, positive=True)
    check_readable(in_path)
    suffix = os.path.splitext(in_path)[1].lower()
    if suffix == ONNX_SUFFIX:
        if arch is not None:
            raise ImportFailure(in_path, f"--arch applies to state_dict input only (an {ONNX_SUFFIX} file holds its graph)")
        # onnx is imported only here, so state_dict import works without it.
        from onnx_import import import_onnx

        model = import_onnx(in_path, name, mean, std)
    elif suffix in STATE_DICT_SUFFIXES:
        model = import_state_dict(in_path, arch or DEFAULT_ARCH, name, mean, std)
    else:
        raise ImportFailure(in_path, f"unsupported file type '{suffix}', expected .npz, .pt, .pth, .th or .onnx")
    write_atomically(out_path, model, os.path.basename(in_path))
    return summary(model, in_path, out_path)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors follow the same one-line contract as input errors."""

    def error(self, message):
        """Print one line and exit 2 instead of argparse's usage block."""
        print(f"aimc import: error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


def main(argv=None):
    """CLI entry point; returns the exit status."""
    parser = OneLineParser(
        prog="import_model.py",
        description=(
            "Import a model into the aimc HDF5 model format v2: a PyTorch state_dict (.npz, .pt, "
            ".pth, .th) of a known architecture, or an ONNX CNN graph (.onnx, e.g. from "
            "torch.onnx.export at opsets 11-17, fixed or dynamic batch) taking [N, 3, 32, 32] "
            "input in ToTensor's 0..1 range. Leading Sub/Div/Mul normalisation nodes on the ONNX "
            "input are folded into the model's input_mean/input_std."
        ),
        epilog=(
            "ONNX ops: Conv (square kernel, symmetric pads, equal strides, dilation 1, any groups), "
            "BatchNormalization (inference), Relu, Clip, LeakyRelu, Add, Concat (axis 1), MaxPool and "
            "AveragePool (ceil_mode 0), GlobalAveragePool, GlobalMaxPool, ReduceMean/ReduceMax over H, W, "
            "Flatten and Reshape to [N, -1], Gemm (transA 0, alpha = beta = 1), MatMul (+ Add) with a "
            "constant weight, Identity, Dropout, Slice and constant Pad on C/H/W; shape arithmetic on "
            "constants (Shape, Gather, Unsqueeze, Concat, Cast, ...) is folded."
        ),
    )
    parser.add_argument("input", metavar="IN", help=".npz of state_dict arrays, a torch checkpoint, or an .onnx graph")
    parser.add_argument("-o", "--output", metavar="OUT", required=True, help="HDF5 model to write")
    parser.add_argument(
        "--arch", help=f"state_dict architecture (one of: {', '.join(sorted(ARCHS))}; default {DEFAULT_ARCH})")
    parser.add_argument(
        "--name", help="model name (default from the architecture, e.g. resnet20, or the .onnx file's stem)")
    parser.add_argument(
        "--input-mean", metavar="M1,M2,M3",
        help="ONNX only: per-channel mean the graph expects subtracted from its 0..1 input (default 0)")
    parser.add_argument(
        "--input-std", metavar="S1,S2,S3",
        help="ONNX only: per-channel std the graph expects its input divided by (default 1)")
    args = parser.parse_args(argv)
    try:
        print(import_model(args.input, args.output, args.arch, args.name, args.input_mean, args.input_std))
    except ImportFailure as exc:
        print(f"aimc import: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
