"""ONNX front end of ``aimc import``: translate a CNN graph into the aimc model format v2.

Accepted: graphs such as ``torch.onnx.export`` writes at opsets 11 to 17 (older opsets down to 7
where the operators read the same), with one input [N, 3, 32, 32] (N fixed or symbolic) and one
output [N, num_classes]. The graph is walked once in its (topological) node order:

* Every node whose inputs are all constants (initializers, Constant, Shape of an activation, whose
  shape is known statically) is evaluated with numpy ("constant folding"), which resolves the
  shape arithmetic torch emits for ``x.view(x.size(0), -1)`` and ``F.pad``. The batch size may be
  symbolic: Shape reports it as :data:`BATCH`, a marker value that Gather/Unsqueeze/Concat carry
  into Reshape's target shape, where it means "keep the batch dimension".
* Nodes on activations (tensors computed from the image) become aimc ops; Identity and Dropout
  vanish, Flatten/Reshape to [N, -1] become ``flatten`` (or nothing on a C x 1 x 1 map, which the
  aimc graph already holds as the flat vector), a constant Add after MatMul/Gemm/Conv becomes
  that layer's bias.
* Sub/Add/Div/Mul by constants directly on the graph input are input normalisation, folded into
  the model's input_mean/input_std.

Activations are tracked per image: (C, H, W) for 4-D tensors, (F,) for [N, F] ones, which the
aimc graph holds as F x 1 x 1. Anything else is an error naming the node, its op type and
attributes (one line, see scripts/import_model.py). Operator semantics follow the ONNX operator
specification (https://onnx.ai/onnx/operators/), cited per op below.
"""

import math
import os

import numpy as np
import onnx
from onnx import numpy_helper

from aimc_model import (
    CIFAR_INPUT_SCALE,
    CIFAR_INPUT_SHAPE,
    ImportFailure,
    Model,
    Node,
    format_shape,
    one_line,
)

MIN_OPSET = 7
MAX_OPSET = 17
# Shape() of an activation reports the batch size as this marker when the graph's batch axis is
# symbolic. It is an odd number far above any real dimension, so arithmetic on it (which the
# importer cannot follow) yields values that are recognisably neither the marker nor a real size.
BATCH = 987654321
# torch writes "to the end" slice bounds as INT64_MAX; anything this large means "to the end".
OPEN_END = 2**31
FLOAT = onnx.TensorProto.FLOAT

# Ops with a translation when an input is an activation.
ACTIVATION_OPS = (
    "Add", "AveragePool", "BatchNormalization", "Cast", "Clip", "Concat", "Conv", "Div", "Dropout",
    "Flatten", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Identity", "LeakyRelu", "MatMul",
    "MaxPool", "Mul", "Pad", "ReduceMax", "ReduceMean", "Relu", "Reshape", "Shape", "Slice", "Sub",
)


def format_batch_shape(shape):
    """A shape whose entries may hold the batch marker, printed with N for it."""
    return "[" + ", ".join("N" if int(d) == BATCH else str(int(d)) for d in shape) + "]"


def attribute_text(attr):
    """An attribute's value for error messages: numbers and lists as Python prints them, tensors
    (a Constant's value) by shape only."""
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, onnx.TensorProto):
        return f"<tensor {format_shape(value.dims)}>"
    if isinstance(value, list):
        return "[" + ", ".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else repr(x) for x in value) + "]"
    if isinstance(value, onnx.GraphProto):
        return "<graph>"
    return repr(value)


def np_dtype(onnx_type):
    """numpy dtype of an ONNX TensorProto element type."""
    return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[onnx_type])


class Act:
    """An activation: computed from the image. ``node`` is the aimc node holding it; ``shape`` is
    its per-image ONNX shape, (C, H, W) or (F,); ``fusable`` marks the direct
    output of a conv2d/linear whose bias may still absorb a following constant Add."""

    def __init__(self, node, shape, fusable=False):
        self.node = node
        self.shape = tuple(int(d) for d in shape)
        self.fusable = fusable

    def aimc_shape(self):
        """Per-image shape as the aimc graph holds it: C x H x W."""
        return self.shape if len(self.shape) == 3 else (self.shape[0], 1, 1)


class Dynamic:
    """A non-activation tensor that depends on the image data (e.g. an activation cast to int64):
    usable by nothing; ``origin`` says which node made it, for the error message."""

    def __init__(self, origin):
        self.origin = origin


class NodeFailure(Exception):
    """A problem with the current node; the walker adds the node's description."""


class OnnxImporter:
    """Walks one ONNX graph and builds the aimc node list."""

    def __init__(self, path, model, mean_option, std_option):
        self.path = path
        self.graph = model.graph
        self.opset = opset_of(path, model)
        self.values = {}  # tensor name -> np.ndarray (constant), Act or Dynamic
        self.nodes = [Node("input", "input", [])]
        self.consumers = {}  # tensor name -> number of uses (the graph output counts as one)
        self.options_given = mean_option is not None or std_option is not None
        channels = CIFAR_INPUT_SHAPE[0]
        self.mean = np.asarray(mean_option if mean_option is not None else [0.0] * channels, dtype=np.float64)
        self.std = np.asarray(std_option if std_option is not None else [1.0] * channels, dtype=np.float64)
        # Input normalisation folding: the chain of tensors it has produced so far, and which of
        # them the network read (it may read one only, and the chain must not grow after that).
        self.norm_latest = None
        self.norm_read = None
        self.norm_nodes = []
        self.batch = BATCH
        self.shapes = {0: CIFAR_INPUT_SHAPE}  # aimc node index -> per-image C, H, W

    # --- entry -------------------------------------------------------------------------------

    def run(self, name):
        graph = self.graph
        for init in graph.initializer:
            self.values[init.name] = self.tensor_value(init, f"initializer '{init.name}'")
        inputs = [i for i in graph.input if i.name not in self.values]
        if len(inputs) != 1:
            raise ImportFailure(
                self.path, f"the graph has {len(inputs)} inputs ({', '.join(i.name for i in inputs) or 'none'}), "
                "expected one image input [N, 3, 32, 32]")
        if len(graph.output) != 1:
            raise ImportFailure(
                self.path, f"the graph has {len(graph.output)} outputs ({', '.join(o.name for o in graph.output)}), "
                "expected one output [N, num_classes]")
        self.check_input(inputs[0])
        self.norm_latest = inputs[0].name
        self.values[inputs[0].name] = Act(0, CIFAR_INPUT_SHAPE)
        for node in graph.node:
            for tensor in node.input:
                if tensor:
                    self.consumers[tensor] = self.consumers.get(tensor, 0) + 1
        output = graph.output[0].name
        self.consumers[output] = self.consumers.get(output, 0) + 1

        for index, node in enumerate(graph.node):
            label = node.name or f"{node.op_type}_{index}"
            try:
                self.visit(node, label)
            except NodeFailure as exc:
                raise ImportFailure(self.path, f"{describe(node, label)}: {exc}") from exc
            except (ArithmeticError, IndexError, KeyError, TypeError, ValueError) as exc:
                # A malformed node the checks above did not foresee: still one line, naming it.
                raise ImportFailure(self.path, f"{describe(node, label)}: cannot translate ({one_line(exc)})") from exc
        last = self.finish_output(output)
        if self.norm_nodes and self.options_given:
            raise ImportFailure(
                self.path, f"--input-mean/--input-std given, but the graph normalises its input itself "
                f"(nodes {', '.join(repr(n) for n in self.norm_nodes)}); drop the options")
        nodes = prune(self.nodes, last)
        return Model(
            name=name or os.path.splitext(os.path.basename(self.path))[0],
            arch="onnx",
            source_format="onnx",
            input_shape=CIFAR_INPUT_SHAPE,
            num_classes=int(np.prod(self.shapes[last])),
            input_scale=CIFAR_INPUT_SCALE,
            input_mean=tuple(float(v) for v in self.mean),
            input_std=tuple(float(v) for v in self.std),
            nodes=nodes,
        )

    def check_input(self, value_info):
        """The image input: float32 [N, 3, 32, 32], N a fixed size or a symbol."""
        tensor_type = value_info.type.tensor_type
        expected = "float32 [N, 3, 32, 32] (CIFAR-10 images, N the batch)"
        if not value_info.type.HasField("tensor_type") or tensor_type.elem_type != FLOAT:
            elem = onnx.TensorProto.DataType.Name(tensor_type.elem_type) if tensor_type.elem_type else "unknown"
            raise ImportFailure(self.path, f"graph input '{value_info.name}' has element type {elem}, expected {expected}")
        dims = []
        for dim in tensor_type.shape.dim:
            dims.append(str(dim.dim_value) if dim.HasField("dim_value") else (dim.dim_param or "?"))
        shape_text = "[" + ", ".join(dims) + "]"
        if (not tensor_type.HasField("shape") or len(dims) != 4
                or dims[1:] != [str(d) for d in CIFAR_INPUT_SHAPE]):
            raise ImportFailure(self.path, f"graph input '{value_info.name}' has shape {shape_text}, expected {expected}")
        first = tensor_type.shape.dim[0]
        if first.HasField("dim_value"):
            if first.dim_value < 1:
                raise ImportFailure(self.path, f"graph input '{value_info.name}' has shape {shape_text}, expected {expected}")
            self.batch = int(first.dim_value)

    def finish_output(self, output):
        """The graph output: an activation [N, K] or [N, K, 1, 1]; returns its aimc node."""
        value = self.values.get(output)
        if not isinstance(value, Act):
            what = "a constant" if isinstance(value, np.ndarray) else "not computed from the image"
            raise ImportFailure(self.path, f"graph output '{output}' is {what}, expected logits [N, num_classes]")
        if len(value.shape) == 3 and value.shape[1:] != (1, 1):
            raise ImportFailure(
                self.path, f"graph output '{output}' has shape {format_batch_shape((self.batch,) + value.shape)}, "
                "expected logits [N, num_classes]")
        if value.node == 0:
            raise ImportFailure(self.path, f"graph output '{output}' is the input image, expected logits")
        return value.node

    # --- helpers -----------------------------------------------------------------------------

    def tensor_value(self, tensor, what):
        try:
            return numpy_helper.to_array(tensor)
        except Exception as exc:
            raise ImportFailure(self.path, f"{what}: cannot read its data ({one_line(exc)})") from exc

    def add(self, op, name, inputs, shape, attrs=None, tensors=None):
        """Append an aimc node with per-image output shape ``shape`` (C, H, W)."""
        self.nodes.append(Node(op, name, list(inputs), attrs or {}, tensors or {}))
        index = len(self.nodes) - 1
        self.shapes[index] = tuple(shape)
        return index

    def get(self, node, position, kind=None, what=None):
        """Input ``position`` of ``node``: None when absent, else its value. ``kind`` = "const"
        requires a constant, "act" an activation."""
        if position >= len(node.input) or not node.input[position]:
            return None
        name = node.input[position]
        if name not in self.values:
            raise NodeFailure(f"input '{name}' is not produced by an earlier node or initializer")
        value = self.values[name]
        what = what or f"input {position} ('{name}')"
        if kind == "const" and not isinstance(value, np.ndarray):
            raise NodeFailure(
                f"{what} is computed from the image data{origin_text(value)}; the importer needs it "
                "constant (statically resolvable)")
        if kind == "act" and not isinstance(value, Act):
            if isinstance(value, Dynamic):
                raise NodeFailure(f"{what} is computed from the image data{origin_text(value)} in a way the importer cannot follow")
            raise NodeFailure(f"{what} is a constant, expected an activation")
        return value

    def read(self, node, act, position=0):
        """The aimc node index an op consuming ``act`` reads: this is where the input
        normalisation chain is fixed."""
        name = node.input[position]
        if act.node == 0:
            if self.norm_read is None:
                self.norm_read = name
            elif self.norm_read != name:
                raise NodeFailure(
                    "the graph input is read both before and after its normalisation nodes "
                    f"({', '.join(repr(n) for n in self.norm_nodes)}), which cannot be folded")
        return act.node

    def set(self, node, value, position=0):
        if position < len(node.output) and node.output[position]:
            self.values[node.output[position]] = value

    def unused_outputs(self, node, first):
        """Optional outputs (MaxPool indices, Dropout mask, BatchNormalization training
        statistics) must not be used."""
        for name in node.output[first:]:
            if name and self.consumers.get(name, 0):
                raise NodeFailure(f"output '{name}' is used; only the first output is supported")

    def attr_value(self, node, name, default):
        for attr in node.attribute:
            if attr.name == name:
                return onnx.helper.get_attribute_value(attr)
        return default

    # --- dispatch ----------------------------------------------------------------------------

    def visit(self, node, label):
        if node.domain not in ("", "ai.onnx"):
            raise NodeFailure(f"operator domain '{node.domain}' is not supported; supported ops: {supported_list()}")
        values = [self.values.get(name) if name else None for name in node.input]
        for name, value in zip(node.input, values):
            if name and value is None:
                raise NodeFailure(f"input '{name}' is not produced by an earlier node or initializer")
        has_act = any(isinstance(v, Act) for v in values)
        has_dynamic = any(isinstance(v, Dynamic) for v in values)
        op = node.op_type
        if has_act and op in ACTIVATION_OPS:
            getattr(self, "act_" + op)(node, label)
        elif has_act and op in CONST_OPS:
            raise NodeFailure(f"{op} of an activation is not supported ({op} is supported on constants only)")
        elif has_dynamic and op in CONST_OPS:
            # Shape arithmetic on data-dependent values: the consumer that needs the value
            # statically reports it.
            for out in node.output:
                if out:
                    self.values[out] = Dynamic(f"node '{label}' ({op})")
        elif has_dynamic:
            origin = next(v for v in values if isinstance(v, Dynamic))
            raise NodeFailure(
                f"an input is computed from the image data{origin_text(origin)} in a way the importer cannot follow")
        elif op in CONST_OPS:
            self.fold(node, op)
        elif op in ACTIVATION_OPS:
            raise NodeFailure(f"all inputs are constant, and folding {op} is not supported")
        else:
            raise NodeFailure(f"unsupported op {op}; supported ops: {supported_list()}")

    def fold(self, node, op):
        inputs = [self.values[name] if name else None for name in node.input]
        try:
            outputs = CONST_OPS[op](self, node, inputs)
        except NodeFailure:
            raise
        except Exception as exc:
            raise NodeFailure(f"cannot evaluate on its constant inputs ({one_line(exc)})") from exc
        if not isinstance(outputs, tuple):
            outputs = (outputs,)
        for position, value in enumerate(outputs):
            self.set(node, np.asarray(value), position)

    # --- activation ops ------------------------------------------------------------------------

    def alias(self, node, act, position=0):
        """Identity-like: the output is the same activation. A fused bias stays possible only if
        nothing else reads the original tensor."""
        fusable = act.fusable and self.consumers.get(node.input[position], 0) == 1
        self.set(node, Act(act.node, act.shape, fusable))

    def act_Identity(self, node, label):
        self.alias(node, self.get(node, 0, "act"))

    def act_Dropout(self, node, label):
        # Dropout (opset 12+): inputs data, ratio, training_mode; in inference it is Identity.
        training = self.get(node, 2, "const", "training_mode")
        if training is not None and bool(np.asarray(training).reshape(-1)[0]):
            raise NodeFailure("training_mode is true; only inference (training_mode false) is supported")
        self.unused_outputs(node, 1)
        self.alias(node, self.get(node, 0, "act"))

    def act_Cast(self, node, label):
        act = self.get(node, 0, "act")
        if self.attr_value(node, "to", None) != FLOAT:
            self.set(node, Dynamic(f"node '{label}' (Cast)"))
            return
        self.alias(node, act)

    def act_Shape(self, node, label):
        # Shape (opset 15 adds start/end, sliced like Python).
        act = self.get(node, 0, "act")
        full = np.asarray((self.batch,) + act.shape, dtype=np.int64)
        start = self.attr_value(node, "start", 0)
        end = self.attr_value(node, "end", None)
        self.set(node, full[start:end])

    def check_image_act(self, act, op):
        if len(act.shape) != 3:
            raise NodeFailure(f"input has shape {format_batch_shape((self.batch,) + act.shape)}, {op} needs [N, C, H, W]")

    def act_Relu(self, node, label):
        act = self.get(node, 0, "act")
        self.set(node, Act(self.add("relu", label, [self.read(node, act)], act.aimc_shape()), act.shape))

    def act_LeakyRelu(self, node, label):
        # LeakyRelu: alpha defaults to 0.01.
        act = self.get(node, 0, "act")
        alpha = float(self.attr_value(node, "alpha", 0.01))
        index = self.add("leaky_relu", label, [self.read(node, act)], act.aimc_shape(), {"alpha": alpha})
        self.set(node, Act(index, act.shape))

    def act_Clip(self, node, label):
        # Clip: before opset 11 min/max are attributes, from 11 optional inputs; absent means
        # unbounded.
        act = self.get(node, 0, "act")
        if self.opset < 11:
            low = float(self.attr_value(node, "min", -math.inf))
            high = float(self.attr_value(node, "max", math.inf))
        else:
            low_value = self.get(node, 1, "const", "min")
            high_value = self.get(node, 2, "const", "max")
            low = -math.inf if low_value is None else scalar(low_value, "min")
            high = math.inf if high_value is None else scalar(high_value, "max")
        if math.isnan(low) or math.isnan(high) or not low < high:
            raise NodeFailure(f"min {low} and max {high}: expected min < max (neither NaN)")
        index = self.add("clip", label, [self.read(node, act)], act.aimc_shape(), {"min": low, "max": high})
        self.set(node, Act(index, act.shape))

    def act_BatchNormalization(self, node, label):
        # BatchNormalization in inference: y = (x - mean) / sqrt(var + epsilon) * scale + B;
        # epsilon defaults to 1e-5; opset 14+ has training_mode (default 0).
        act = self.get(node, 0, "act")
        if self.attr_value(node, "training_mode", 0) != 0:
            raise NodeFailure("training_mode is 1; only inference (training_mode 0) is supported")
        self.unused_outputs(node, 1)
        channels = act.shape[0]
        tensors = {}
        for position, leaf in enumerate(("weight", "bias", "running_mean", "running_var"), start=1):
            tensors[leaf] = self.float_tensor(self.get(node, position, "const", leaf), leaf, (channels,))
        if np.any(tensors["running_var"] < 0):
            raise NodeFailure("input 'var' has negative values (a variance must be >= 0)")
        eps = float(self.attr_value(node, "epsilon", 1e-5))
        index = self.add("batchnorm", label, [self.read(node, act)], act.aimc_shape(), {"eps": eps}, tensors)
        self.set(node, Act(index, act.shape))

    def float_tensor(self, value, what, shape=None):
        """A weight: float, finite, float32, of the given shape (broadcast from a single value
        is not allowed here)."""
        value = np.asarray(value)
        if value.dtype.kind != "f":
            raise NodeFailure(f"{what} has dtype {value.dtype}, expected floating point")
        if shape is not None and tuple(value.shape) != tuple(shape):
            raise NodeFailure(f"{what} has shape {format_shape(value.shape)}, expected {format_shape(shape)}")
        value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            raise NodeFailure(f"{what} contains NaN or inf")
        return value

    def window(self, node, act, op, kernel_from_weight=None):
        """Kernel, stride, padding of Conv/MaxPool/AveragePool: square kernels, equal strides,
        symmetric pads (pads are [top, left, bottom, right]), no dilation."""
        self.check_image_act(act, op)
        auto_pad = self.attr_value(node, "auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        kernel = list(self.attr_value(node, "kernel_shape", kernel_from_weight or []))
        if len(kernel) != 2 or kernel[0] != kernel[1]:
            raise NodeFailure(f"kernel_shape {kernel}: only square 2-D kernels are supported")
        strides = list(self.attr_value(node, "strides", [1, 1]))
        if len(strides) != 2 or strides[0] != strides[1] or strides[0] < 1:
            raise NodeFailure(f"strides {strides}: only equal strides >= 1 are supported")
        pads = list(self.attr_value(node, "pads", [0, 0, 0, 0]))
        if auto_pad == "VALID":
            pads = [0, 0, 0, 0]
        elif auto_pad != "NOTSET":
            raise NodeFailure(f"auto_pad {auto_pad}: only NOTSET (explicit pads) and VALID are supported")
        if len(pads) != 4 or len(set(pads)) != 1 or pads[0] < 0:
            raise NodeFailure(f"pads {pads}: only equal pads >= 0 on all sides are supported")
        dilations = list(self.attr_value(node, "dilations", [1, 1]))
        if any(d != 1 for d in dilations):
            raise NodeFailure(f"dilations {dilations}: only dilation 1 is supported")
        if self.attr_value(node, "ceil_mode", 0) != 0:
            raise NodeFailure("ceil_mode 1: only ceil_mode 0 (floor output size) is supported")
        k, s, p = kernel[0], strides[0], pads[0]
        _, height, width = act.shape
        if height + 2 * p < k or width + 2 * p < k:
            raise NodeFailure(f"kernel {k} is larger than the padded input {height + 2 * p} x {width + 2 * p}")
        out_h = (height + 2 * p - k) // s + 1
        out_w = (width + 2 * p - k) // s + 1
        return k, s, p, out_h, out_w

    def act_Conv(self, node, label):
        # Conv: X, W [M, C/group, kH, kW], optional B [M]; group defaults to 1.
        act = self.get(node, 0, "act")
        self.check_image_act(act, "Conv")
        weight = self.get(node, 1, "const", "weight")
        bias = self.get(node, 2, "const", "bias")
        if weight.ndim != 4:
            raise NodeFailure(f"weight has shape {format_shape(weight.shape)}, expected [O, C/groups, k, k]")
        groups = int(self.attr_value(node, "group", 1))
        channels = act.shape[0]
        out_channels = int(weight.shape[0])
        if groups < 1 or channels % groups or out_channels % groups:
            raise NodeFailure(f"group {groups} does not divide the {channels} input and {out_channels} output channels")
        k, s, p, out_h, out_w = self.window(node, act, "Conv", list(weight.shape[2:]))
        tensors = {"weight": self.float_tensor(weight, "weight", (out_channels, channels // groups, k, k))}
        if bias is not None:
            tensors["bias"] = self.float_tensor(bias, "bias", (out_channels,))
        attrs = {"kernel": k, "stride": s, "padding": p}
        if groups != 1:
            attrs["groups"] = groups
        index = self.add("conv2d", label, [self.read(node, act)], (out_channels, out_h, out_w), attrs, tensors)
        self.set(node, Act(index, (out_channels, out_h, out_w), fusable=True))

    def act_MaxPool(self, node, label):
        # MaxPool: storage_order only affects the unused Indices output.
        act = self.get(node, 0, "act")
        self.unused_outputs(node, 1)
        k, s, p, out_h, out_w = self.window(node, act, "MaxPool")
        index = self.add("maxpool", label, [self.read(node, act)], (act.shape[0], out_h, out_w),
                         {"kernel": k, "stride": s, "padding": p})
        self.set(node, Act(index, (act.shape[0], out_h, out_w)))

    def act_AveragePool(self, node, label):
        # AveragePool: count_include_pad defaults to 0 in ONNX (padding excluded from the
        # divisor), unlike PyTorch's avg_pool2d default; it is always written explicitly.
        act = self.get(node, 0, "act")
        k, s, p, out_h, out_w = self.window(node, act, "AveragePool")
        include = int(self.attr_value(node, "count_include_pad", 0))
        index = self.add("avgpool", label, [self.read(node, act)], (act.shape[0], out_h, out_w),
                         {"kernel": k, "stride": s, "padding": p, "count_include_pad": 1 if include else 0})
        self.set(node, Act(index, (act.shape[0], out_h, out_w)))

    def global_pool(self, node, label, op, keepdims=True):
        act = self.get(node, 0, "act")
        self.check_image_act(act, node.op_type)
        channels = act.shape[0]
        index = self.add(op, label, [self.read(node, act)], (channels, 1, 1))
        self.set(node, Act(index, (channels, 1, 1) if keepdims else (channels,)))

    def act_GlobalAveragePool(self, node, label):
        self.global_pool(node, label, "global_avgpool")

    def act_GlobalMaxPool(self, node, label):
        self.global_pool(node, label, "global_maxpool")

    def reduce(self, node, label, op):
        # ReduceMean/ReduceMax (opset < 18): axes attribute (default all axes), keepdims default 1.
        act = self.get(node, 0, "act")
        self.check_image_act(act, node.op_type)
        axes = sorted(a % 4 for a in self.attr_value(node, "axes", [0, 1, 2, 3]))
        if axes != [2, 3]:
            raise NodeFailure(f"axes {axes}: only the spatial axes [2, 3] (a global pool) are supported")
        self.global_pool(node, label, op, keepdims=bool(self.attr_value(node, "keepdims", 1)))

    def act_ReduceMean(self, node, label):
        self.reduce(node, label, "global_avgpool")

    def act_ReduceMax(self, node, label):
        self.reduce(node, label, "global_maxpool")

    def act_Flatten(self, node, label):
        # Flatten: axis defaults to 1; output [prod(dims[:axis]), prod(dims[axis:])].
        act = self.get(node, 0, "act")
        rank = len(act.shape) + 1
        axis = self.attr_value(node, "axis", 1)
        if axis < 0:
            axis += rank
        if axis != 1:
            raise NodeFailure(f"axis {axis}: only axis 1 (keep the batch dimension) is supported")
        self.flatten(node, act, label)

    def flatten(self, node, act, label):
        """[N, C, H, W] -> [N, C*H*W]: nothing to do when H = W = 1 (the aimc graph holds [N, F]
        as F x 1 x 1, and linear flattens its input anyway), else a ``flatten`` node."""
        if len(act.shape) == 1:
            self.alias(node, act)
            return
        features = int(np.prod(act.shape))
        if act.shape[1:] == (1, 1):
            self.set(node, Act(act.node, (features,)))
            return
        index = self.add("flatten", label, [self.read(node, act)], (features, 1, 1))
        self.set(node, Act(index, (features,)))

    def act_Reshape(self, node, label):
        # Reshape: 0 copies the input dimension (unless allowzero, opset 14), -1 is inferred.
        act = self.get(node, 0, "act")
        target = [int(d) for d in np.asarray(self.get(node, 1, "const", "shape")).reshape(-1)]
        allow_zero = self.attr_value(node, "allowzero", 0)
        full = (self.batch,) + act.shape
        features = int(np.prod(act.shape))
        text = format_batch_shape(target)
        if not target:
            raise NodeFailure(f"cannot reshape to {text}")
        first, rest = target[0], target[1:]
        if first == self.batch or (first == 0 and not allow_zero):
            per_image = []
            for position, d in enumerate(rest, start=1):
                if d == 0 and not allow_zero:
                    if position >= len(full):
                        raise NodeFailure(f"target shape {text}: 0 at position {position} copies no input dimension")
                    d = full[position]
                per_image.append(d)
            if per_image.count(-1) > 1 or any(d < -1 or d == 0 or d == BATCH for d in per_image):
                raise NodeFailure(f"cannot resolve target shape {text} statically (input {format_batch_shape(full)})")
            if -1 in per_image:
                known = int(np.prod([d for d in per_image if d != -1]))
                if features % known:
                    raise NodeFailure(f"target shape {text} does not fit input {format_batch_shape(full)}")
                per_image[per_image.index(-1)] = features // known
        elif first == -1 and all(d > 0 and d != BATCH for d in rest):
            per_image = rest
        else:
            derived = self.batch == BATCH and any(abs(d) >= BATCH // 4 and d != BATCH for d in target)
            raise NodeFailure(
                f"cannot resolve target shape {text} statically: expected the batch dimension N first "
                f"(input {format_batch_shape(full)})"
                + ("; it holds arithmetic on the symbolic batch size N" if derived else ""))
        if int(np.prod(per_image)) != features:
            raise NodeFailure(f"target shape {text} does not fit input {format_batch_shape(full)}")
        if tuple(per_image) == act.shape:
            self.alias(node, act)
        elif len(per_image) == 1:
            self.flatten(node, act, label)
        else:
            raise NodeFailure(
                f"reshape of {format_batch_shape(full)} to {format_batch_shape([full[0]] + per_image)}: "
                "only flattening to [N, -1] (or a no-op reshape) is supported")

    def linear(self, node, label, act, weight, bias):
        """A linear node reading ``act``, a [N, F] activation."""
        if len(act.shape) != 1:
            raise NodeFailure(
                f"input has shape {format_batch_shape((self.batch,) + act.shape)}, {node.op_type} needs [N, F] "
                "(flatten first)")
        tensors = {"weight": weight}
        if bias is not None:
            tensors["bias"] = bias
        out = int(weight.shape[0])
        index = self.add("linear", label, [self.read(node, act)], (out, 1, 1), {}, tensors)
        self.set(node, Act(index, (out,), fusable=True))

    def act_Gemm(self, node, label):
        # Gemm: Y = alpha * A' B' + beta * C, A' = A^T if transA, B' = B^T if transB; alpha and
        # beta default to 1.0.
        act = self.get(node, 0, "act")
        if self.attr_value(node, "transA", 0) != 0:
            raise NodeFailure("transA 1: only transA 0 (activations as rows) is supported")
        alpha = float(self.attr_value(node, "alpha", 1.0))
        beta = float(self.attr_value(node, "beta", 1.0))
        if alpha != 1.0 or beta != 1.0:
            raise NodeFailure(f"alpha {alpha}, beta {beta}: only alpha = beta = 1 is supported")
        weight = self.float_tensor(self.get(node, 1, "const", "B"), "B")
        if weight.ndim != 2:
            raise NodeFailure(f"B has shape {format_shape(weight.shape)}, expected a matrix")
        if self.attr_value(node, "transB", 0) == 0:
            weight = weight.T
        features = act.shape[0] if len(act.shape) == 1 else None
        if features is not None and weight.shape[1] != features:
            raise NodeFailure(f"weight has {weight.shape[1]} inputs, the activation has {features} features")
        bias = self.get(node, 2, "const", "C")
        if bias is not None:
            bias = self.bias_vector(bias, weight.shape[0], "C")
        self.linear(node, label, act, np.ascontiguousarray(weight), bias)

    def act_MatMul(self, node, label):
        # MatMul with numpy semantics: [N, F] x [F, O].
        act = self.get(node, 0, "act")
        weight = self.float_tensor(self.get(node, 1, "const", "input 1 (the weight)"), "weight")
        if weight.ndim != 2:
            raise NodeFailure(f"weight has shape {format_shape(weight.shape)}, expected [F, O]")
        if len(act.shape) == 1 and weight.shape[0] != act.shape[0]:
            raise NodeFailure(f"weight has shape {format_shape(weight.shape)}, the activation has {act.shape[0]} features")
        self.linear(node, label, act, np.ascontiguousarray(weight.T), None)

    def bias_vector(self, value, size, what):
        """A bias broadcast per output feature: shape [O], [1, O] or a single value."""
        value = self.float_tensor(value, what)
        if value.size == 1:
            return np.full(size, value.reshape(-1)[0], dtype=np.float32)
        if value.size != size or value.ndim > 2 or (value.ndim == 2 and value.shape[0] != 1):
            raise NodeFailure(f"{what} has shape {format_shape(value.shape)}, expected [{size}] or [1, {size}]")
        return value.reshape(size)

    def channel_vector(self, value, act, what):
        """A per-channel constant broadcast against [N, C, H, W] ([C, 1, 1] or [1, C, 1, 1]) or
        [N, F] ([F] or [1, F]), or a single value; returned as float64 [C]."""
        value = np.asarray(value)
        size = act.shape[0]
        per_channel = (size,) + (1,) * (len(act.shape) - 1)
        if value.size == 1 and value.ndim <= len(per_channel) + 1:
            return np.full(size, float(value.reshape(-1)[0]))
        if value.shape in (per_channel, (1,) + per_channel):
            return value.reshape(size).astype(np.float64)
        raise NodeFailure(
            f"{what} has shape {format_shape(value.shape)}, expected a single value or one per channel "
            f"({format_shape(per_channel)})")

    def act_Add(self, node, label):
        first, second = self.get(node, 0), self.get(node, 1)
        if isinstance(first, Act) and isinstance(second, Act):
            if first.shape != second.shape:
                raise NodeFailure(
                    f"inputs have shapes {format_batch_shape((self.batch,) + first.shape)} and "
                    f"{format_batch_shape((self.batch,) + second.shape)}; only equal shapes are supported")
            inputs = [self.read(node, first, 0), self.read(node, second, 1)]
            self.set(node, Act(self.add("add", label, inputs, first.aimc_shape()), first.shape))
            return
        act, position, const = (first, 0, second) if isinstance(first, Act) else (second, 1, first)
        if not isinstance(const, np.ndarray):
            self.get(node, 1 - position, "const")
        if act.node == 0:
            self.normalise(node, label, act, position, "Add", const)
            return
        producer = self.nodes[act.node]
        if (act.fusable and self.consumers.get(node.input[position], 0) == 1
                and producer.op in ("linear", "conv2d")):
            out = int(producer.tensors["weight"].shape[0])
            if producer.op == "linear":
                extra = self.bias_vector(const, out, "the added constant")
            else:
                extra = self.channel_vector(const, act, "the added constant").astype(np.float32)
            bias = producer.tensors.get("bias")
            total = extra.astype(np.float64) + (0 if bias is None else bias.astype(np.float64))
            producer.tensors["bias"] = total.astype(np.float32)
            self.set(node, Act(act.node, act.shape, fusable=True))
            return
        raise NodeFailure(
            "adding a constant to an activation is supported only as the bias of the MatMul/Gemm/Conv "
            "right before it (read by nothing else) or as input normalisation on the graph input")

    def arithmetic(self, node, label, op):
        first, second = self.get(node, 0), self.get(node, 1)
        if isinstance(first, Act) and isinstance(second, np.ndarray) and first.node == 0:
            self.normalise(node, label, first, 0, op, second)
            return
        raise NodeFailure(
            f"{op} on an activation is supported only as input normalisation: the graph input "
            f"{'minus' if op == 'Sub' else 'divided by' if op == 'Div' else 'times'} a constant")

    def act_Sub(self, node, label):
        self.arithmetic(node, label, "Sub")

    def act_Div(self, node, label):
        self.arithmetic(node, label, "Div")

    def act_Mul(self, node, label):
        self.arithmetic(node, label, "Mul")

    def normalise(self, node, label, act, position, op, const):
        """Fold x' = x - c, x + c, x / c or x * c (per channel or scalar) into the normalisation
        x' = (x - mean) / std: the chain so far is (x - mean) / std, so subtracting c adds c * std
        to mean, dividing by c multiplies std by c."""
        name = node.input[position]
        if name != self.norm_latest or self.norm_read is not None:
            raise NodeFailure(
                "the graph input is read both before and after this normalisation node, "
                "which cannot be folded")
        c = self.channel_vector(const, act, f"input {1 - position} ('{node.input[1 - position]}')")
        if op == "Sub" and position == 1:
            raise NodeFailure("constant minus the input is not a normalisation (expected input minus mean)")
        if op == "Div" and position == 1:
            raise NodeFailure("constant divided by the input is not a normalisation (expected input / std)")
        if op == "Sub":
            self.mean = self.mean + c * self.std
        elif op == "Add":
            self.mean = self.mean - c * self.std
        elif op == "Div":
            self.std = self.std * c
        else:
            self.std = self.std / c
        if not (np.all(np.isfinite(self.std)) and np.all(self.std > 0) and np.all(np.isfinite(self.mean))):
            raise NodeFailure(
                f"folding it gives input_std {list(self.std)} and input_mean {list(self.mean)}; "
                "expected finite values and std > 0")
        self.norm_nodes.append(label)
        self.norm_latest = node.output[0]
        self.set(node, Act(0, act.shape))

    def act_Concat(self, node, label):
        # Concat along axis 1 (channels, or features of [N, F]); negative axes count from the end.
        acts = [self.get(node, i, "act") for i in range(len(node.input))]
        ranks = {len(a.shape) for a in acts}
        if len(ranks) != 1:
            raise NodeFailure("inputs have different ranks")
        rank = ranks.pop() + 1
        axis = self.attr_value(node, "axis", 1)
        if axis < 0:
            axis += rank
        if axis != 1:
            raise NodeFailure(f"axis {axis}: only axis 1 (channels) is supported")
        spatial = {a.shape[1:] for a in acts}
        if len(spatial) != 1:
            raise NodeFailure(f"inputs have different H x W: {sorted(spatial)}")
        channels = sum(a.shape[0] for a in acts)
        shape = (channels,) + acts[0].shape[1:]
        inputs = [self.read(node, a, i) for i, a in enumerate(acts)]
        if len(inputs) == 1:
            self.alias(node, acts[0])
            return
        index = self.add("concat", label, inputs, Act(0, shape).aimc_shape())
        self.set(node, Act(index, shape))

    def act_Slice(self, node, label):
        # Slice: opset < 10 attributes starts/ends/axes; from 10 inputs starts, ends, axes, steps.
        # Bounds are clamped to [0, dim] after adding dim to negative ones.
        act = self.get(node, 0, "act")
        if self.opset < 10:
            starts = list(self.attr_value(node, "starts", []))
            ends = list(self.attr_value(node, "ends", []))
            axes = list(self.attr_value(node, "axes", range(len(starts))))
            steps = [1] * len(starts)
        else:
            starts = ints(self.get(node, 1, "const", "starts"))
            ends = ints(self.get(node, 2, "const", "ends"))
            axes_value = self.get(node, 3, "const", "axes")
            steps_value = self.get(node, 4, "const", "steps")
            axes = ints(axes_value) if axes_value is not None else list(range(len(starts)))
            steps = ints(steps_value) if steps_value is not None else [1] * len(starts)
        rank = len(act.shape) + 1
        if not (len(starts) == len(ends) == len(axes) == len(steps)):
            raise NodeFailure("starts, ends, axes and steps differ in length")
        dims = act.aimc_shape()
        begin, end, step = [0, 0, 0], list(dims), [1, 1, 1]
        seen = set()
        for start, stop, axis, stride in zip(starts, ends, axes, steps):
            axis = axis + rank if axis < 0 else axis
            if axis in seen or not 0 <= axis < rank:
                raise NodeFailure(f"axes {axes}: invalid or repeated axis")
            seen.add(axis)
            if stride < 1:
                raise NodeFailure(f"step {stride}: only steps >= 1 are supported")
            if axis == 0:
                full_stop = stop >= OPEN_END or (self.batch != BATCH and stop >= self.batch)
                if start != 0 or stride != 1 or not full_stop:
                    raise NodeFailure("slicing the batch dimension is not supported")
                continue
            dim = dims[axis - 1]
            first = min(max(start + dim if start < 0 else start, 0), dim)
            last = min(max(stop + dim if stop < 0 else stop, 0), dim)
            if last <= first:
                raise NodeFailure(f"axis {axis}: slice {start}:{stop}:{stride} of {dim} is empty")
            begin[axis - 1], end[axis - 1], step[axis - 1] = first, last, stride
        out = tuple(-(-(e - b) // s) for b, e, s in zip(begin, end, step))
        shape = out if len(act.shape) == 3 else (out[0],)
        if out == tuple(dims):
            self.alias(node, act)
            return
        index = self.add("slice", label, [self.read(node, act)], out, {"begin": begin, "end": end, "step": step})
        self.set(node, Act(index, shape))

    def act_Pad(self, node, label):
        # Pad: opset < 11 attributes pads and value; from 11 inputs pads and constant_value.
        # pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; mode defaults to constant.
        act = self.get(node, 0, "act")
        mode = self.attr_value(node, "mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        if mode != "constant":
            raise NodeFailure(f"mode {mode}: only constant padding is supported")
        if self.opset < 11:
            pads = list(self.attr_value(node, "pads", []))
            value = float(self.attr_value(node, "value", 0.0))
        else:
            pads = ints(self.get(node, 1, "const", "pads"))
            value_input = self.get(node, 2, "const", "constant_value")
            value = 0.0 if value_input is None else scalar(value_input, "constant_value")
        rank = len(act.shape) + 1
        if len(pads) != 2 * rank:
            raise NodeFailure(f"pads {pads}: expected {2 * rank} values for a rank-{rank} input")
        if pads[0] or pads[rank]:
            raise NodeFailure(f"pads {pads}: padding the batch dimension is not supported")
        if any(p < 0 for p in pads):
            raise NodeFailure(f"pads {pads}: negative pads (cropping) are not supported")
        before = pads[1:rank] + [0] * (4 - rank)
        after = pads[rank + 1:] + [0] * (4 - rank)
        if not any(before + after):
            self.alias(node, act)
            return
        if math.isnan(value):
            raise NodeFailure("the pad value is NaN")
        dims = act.aimc_shape()
        out = tuple(d + b + a for d, b, a in zip(dims, before, after))
        shape = out if len(act.shape) == 3 else (out[0],)
        index = self.add("pad", label, [self.read(node, act)], out, {"pads": before + after, "value": value})
        self.set(node, Act(index, shape))


def ints(value):
    return [int(v) for v in np.asarray(value).reshape(-1)]


def scalar(value, what):
    value = np.asarray(value)
    if value.size != 1:
        raise NodeFailure(f"{what} has shape {format_shape(value.shape)}, expected a single value")
    return float(value.reshape(-1)[0])


def origin_text(value):
    return f" (by {value.origin})" if isinstance(value, Dynamic) else ""


def describe(node, label):
    """How errors name a node: its name (or op type and index), op type and attributes."""
    attrs = ", ".join(f"{a.name}={attribute_text(a)}" for a in node.attribute)
    return f"node '{label}' ({node.op_type}{', ' + attrs if attrs else ''})"


def prune(nodes, last):
    """Keep the nodes the output depends on (dead branches would otherwise end up after the
    output, which must be the last node), renumbering inputs."""
    live = {last}
    for index in range(last, -1, -1):
        if index in live:
            live.update(nodes[index].inputs)
    keep = sorted(live)
    renumber = {old: new for new, old in enumerate(keep)}
    out = []
    for old in keep:
        node = nodes[old]
        out.append(Node(node.op, node.name, [renumber[i] for i in node.inputs], node.attrs, node.tensors))
    return out


def opset_of(path, model):
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise ImportFailure(path, "the model imports no ai.onnx opset")
    version = int(versions[0])
    if not MIN_OPSET <= version <= MAX_OPSET:
        raise ImportFailure(path, f"opset {version} is not supported, expected {MIN_OPSET} to {MAX_OPSET}")
    return version


# --- constant folding ----------------------------------------------------------------------------


def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def fold_constant(importer, node, inputs):
    # Constant: exactly one of value, value_float(s), value_int(s) (sparse and string values
    # are not supported).
    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        if a.name == "value_float":
            return np.asarray(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.asarray(list(a.floats), dtype=np.float32)
        if a.name == "value_int":
            return np.asarray(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.asarray(list(a.ints), dtype=np.int64)
    raise NodeFailure("no supported value attribute (value, value_float(s), value_int(s))")


def fold_constant_of_shape(importer, node, inputs):
    # ConstantOfShape: value defaults to a float32 zero.
    value = attr(node, "value")
    fill = numpy_helper.to_array(value).reshape(-1) if value is not None else np.zeros(1, np.float32)
    shape = ints(inputs[0])
    if any(d == BATCH or d < 0 for d in shape):
        raise NodeFailure(f"shape {format_batch_shape(shape)} depends on the batch size")
    return np.full(shape, fill[0], dtype=fill.dtype)


def fold_gather(importer, node, inputs):
    # Gather: numpy take along axis (default 0); negative indices count from the end.
    data, indices = inputs
    axis = attr(node, "axis", 0)
    return np.take(data, np.asarray(indices, dtype=np.int64), axis=axis)


def axes_of(importer, node, inputs, position):
    # Unsqueeze/Squeeze/Reduce*: axes is an attribute before opset 13, an input from 13.
    if importer.opset < 13:
        return attr(node, "axes")
    return None if len(inputs) <= position or inputs[position] is None else ints(inputs[position])


def fold_unsqueeze(importer, node, inputs):
    data = inputs[0]
    axes = axes_of(importer, node, inputs, 1)
    rank = data.ndim + len(axes)
    for axis in sorted(a + rank if a < 0 else a for a in axes):
        data = np.expand_dims(data, axis)
    return data


def fold_squeeze(importer, node, inputs):
    data = inputs[0]
    axes = axes_of(importer, node, inputs, 1)
    if axes is None:
        return np.squeeze(data)
    return np.squeeze(data, axis=tuple(a + data.ndim if a < 0 else a for a in axes))


def fold_reshape(importer, node, inputs):
    data, shape = inputs
    target = ints(shape)
    if not attr(node, "allowzero", 0):
        target = [data.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return data.reshape(target)


def fold_slice(importer, node, inputs):
    data = inputs[0]
    if importer.opset < 10:
        starts, ends = attr(node, "starts"), attr(node, "ends")
        axes = attr(node, "axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(inputs[1]), ints(inputs[2])
        axes = ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
        steps = ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for start, stop, axis, step in zip(starts, ends, axes, steps):
        # Python slicing clamps the same way ONNX does (numpy handles INT64_MAX / INT64_MIN).
        index[axis] = slice(start, stop, step)
    return data[tuple(index)]


def fold_cast(importer, node, inputs):
    return inputs[0].astype(np_dtype(attr(node, "to")))


def fold_div(importer, node, inputs):
    a, b = inputs
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        # Integer Div truncates toward zero (C semantics).
        return (np.trunc(a / b)).astype(np.result_type(a, b))
    return a / b


def fold_range(importer, node, inputs):
    start, limit, delta = (np.asarray(v).reshape(()) for v in inputs)
    return np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))


def fold_shape(importer, node, inputs):
    shape = np.asarray(inputs[0].shape, dtype=np.int64)
    return shape[attr(node, "start", 0):attr(node, "end", None)]


def fold_concat(importer, node, inputs):
    return np.concatenate([np.asarray(v) for v in inputs if v is not None], axis=attr(node, "axis"))


def fold_transpose(importer, node, inputs):
    return np.transpose(inputs[0], attr(node, "perm"))


def fold_binary(function):
    def fold(importer, node, inputs):
        a, b = inputs
        return np.asarray(function(a, b)).astype(np.result_type(a, b), copy=False)
    return fold


def fold_unary(function):
    def fold(importer, node, inputs):
        return np.asarray(function(inputs[0])).astype(inputs[0].dtype, copy=False)
    return fold


CONST_OPS = {
    "Add": fold_binary(np.add),
    "Cast": fold_cast,
    "Ceil": fold_unary(np.ceil),
    "Concat": fold_concat,
    "Constant": fold_constant,
    "ConstantOfShape": fold_constant_of_shape,
    "Div": fold_div,
    "Equal": lambda importer, node, inputs: np.equal(*inputs),
    "Expand": lambda importer, node, inputs: inputs[0] * np.ones(ints(inputs[1]), dtype=inputs[0].dtype),
    "Floor": fold_unary(np.floor),
    "Gather": fold_gather,
    "Identity": lambda importer, node, inputs: inputs[0],
    "Mul": fold_binary(np.multiply),
    "Neg": fold_unary(np.negative),
    "Not": lambda importer, node, inputs: np.logical_not(inputs[0]),
    "Range": fold_range,
    "Reshape": fold_reshape,
    "Shape": fold_shape,
    "Slice": fold_slice,
    "Sqrt": fold_unary(np.sqrt),
    "Squeeze": fold_squeeze,
    "Sub": fold_binary(np.subtract),
    "Transpose": fold_transpose,
    "Unsqueeze": fold_unsqueeze,
    "Where": lambda importer, node, inputs: np.where(*inputs),
}

def supported_list():
    return ", ".join(sorted(set(ACTIVATION_OPS) | set(CONST_OPS)))


def load(path):
    """Parse and check the file; onnx.load raises on bytes that are not a ModelProto, and the
    checker catches structurally broken graphs (e.g. not topologically sorted)."""
    try:
        model = onnx.load(path)
    except Exception as exc:
        raise ImportFailure(path, f"not a valid ONNX file ({one_line(exc)})") from exc
    if not model.HasField("graph") or not model.graph.node or model.ir_version < 1:
        raise ImportFailure(path, "not a valid ONNX file (no graph)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ImportFailure(path, f"not a valid ONNX model ({one_line(exc)})") from exc
    return model


def import_onnx(path, name, mean, std):
    """The ONNX front end: returns the aimc Model of the graph in ``path``."""
    model = load(path)
    return OnnxImporter(path, model, mean, std).run(name)
