"""A numpy reference forward pass of an aimc model file (format version 1 or 2).

It interprets the HDF5 graph generically, in float64, from each node's own attributes and
tensors (never from the source the model was imported from), following the semantics of
docs/model-format.md and the version 2 spec. The importer tests compare it with PyTorch and with
golden logits, so agreement shows the written graph computes the source network.
"""

import h5py
import numpy as np


def conv2d(x, weight, stride, padding, groups=1):
    """Grouped cross-correlation on NCHW via strided windows: output channel o reads the input
    channels of group o // (O / groups)."""
    k = weight.shape[-1]
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    per_in = x.shape[1] // groups
    per_out = weight.shape[0] // groups
    outputs = []
    for g in range(groups):
        w = weight[g * per_out:(g + 1) * per_out]
        win = windows[:, g * per_in:(g + 1) * per_in]
        outputs.append(np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2))
    return np.concatenate(outputs, axis=1)


def pool(x, kernel, stride, padding, reduce, pad_value):
    """Windows over a padded map; floor output size (H + 2p - k) / s + 1."""
    xpad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)), constant_values=pad_value)
    windows = np.lib.stride_tricks.sliding_window_view(xpad, (kernel, kernel), axis=(2, 3))[:, :, ::stride, ::stride]
    return reduce(windows, axis=(4, 5))


def avgpool(x, kernel, stride, padding, count_include_pad):
    """count_include_pad 1 divides by k*k; 0 by the number of non-padding elements."""
    total = pool(x, kernel, stride, padding, np.sum, 0.0)
    if count_include_pad:
        return total / (kernel * kernel)
    ones = np.ones((1, 1) + x.shape[2:])
    count = pool(ones, kernel, stride, padding, np.sum, 0.0)
    return total / count


def run_node(op, attrs, t, inputs, x):
    """One node's output for the batch; ``t`` holds its tensors as float64."""
    if op == "input":
        return x
    a = inputs[0] if inputs else None
    if op == "conv2d":
        assert attrs["kernel"] == t["weight"].shape[-1]
        y = conv2d(a, t["weight"], int(attrs["stride"]), int(attrs["padding"]), int(attrs.get("groups", 1)))
        return y + t["bias"].reshape(1, -1, 1, 1) if "bias" in t else y
    if op == "batchnorm":
        scale = t["weight"] / np.sqrt(t["running_var"] + attrs["eps"])
        y = (a - t["running_mean"].reshape(1, -1, 1, 1)) * scale.reshape(1, -1, 1, 1)
        return y + t["bias"].reshape(1, -1, 1, 1)
    if op == "relu":
        return np.maximum(a, 0)
    if op == "clip":
        assert attrs["min"] < attrs["max"]
        return np.clip(a, attrs["min"], attrs["max"])
    if op == "leaky_relu":
        return np.where(a >= 0, a, a * attrs["alpha"])
    if op == "add":
        assert inputs[0].shape == inputs[1].shape
        return inputs[0] + inputs[1]
    if op == "concat":
        assert len(inputs) >= 2 and len({i.shape[2:] for i in inputs}) == 1
        return np.concatenate(inputs, axis=1)
    if op == "shortcut_a":
        s = int(attrs["stride"])
        return np.pad(a[:, :, ::s, ::s], ((0, 0), (int(attrs["pad_before"]), int(attrs["pad_after"])), (0, 0), (0, 0)))
    if op == "slice":
        begin, end, step = (list(map(int, attrs[k])) for k in ("begin", "end", "step"))
        for b, e, dim in zip(begin, end, a.shape[1:]):
            assert 0 <= b < e <= dim
        return a[:, begin[0]:end[0]:step[0], begin[1]:end[1]:step[1], begin[2]:end[2]:step[2]]
    if op == "pad":
        p = list(map(int, attrs["pads"]))
        assert min(p) >= 0
        return np.pad(a, ((0, 0), (p[0], p[3]), (p[1], p[4]), (p[2], p[5])), constant_values=attrs["value"])
    if op == "maxpool":
        return pool(a, int(attrs["kernel"]), int(attrs["stride"]), int(attrs["padding"]), np.max, -np.inf)
    if op == "avgpool":
        return avgpool(a, int(attrs["kernel"]), int(attrs["stride"]), int(attrs["padding"]),
                       int(attrs.get("count_include_pad", 1)))
    if op == "global_avgpool":
        return a.mean(axis=(2, 3), keepdims=True)
    if op == "global_maxpool":
        return a.max(axis=(2, 3), keepdims=True)
    if op == "flatten":
        return a.reshape(len(a), -1, 1, 1)
    if op == "linear":
        y = a.reshape(len(a), -1) @ t["weight"].T
        y = y + t["bias"] if "bias" in t else y
        return y.reshape(len(a), -1, 1, 1)
    raise AssertionError(f"op {op!r} not handled by the reference")


def run_graph(path, images):
    """Logits (N, num_classes) for uint8 images (N, C, H, W)."""
    with h5py.File(path, "r") as f:
        mean = np.asarray(f.attrs["input_mean"]).reshape(1, -1, 1, 1)
        std = np.asarray(f.attrs["input_std"]).reshape(1, -1, 1, 1)
        x = (images.astype(np.float64) * f.attrs["input_scale"] - mean) / std
        values = []
        for key in f["nodes"]:
            g = f["nodes"][key]
            attrs = dict(g.attrs)
            inputs = [values[i] for i in attrs["inputs"]]
            t = {name: np.asarray(g[name], dtype=np.float64) for name in g}
            values.append(run_node(attrs["op"], attrs, t, inputs, x))
        out = values[-1].reshape(len(images), -1)
        assert out.shape[1] == f.attrs["num_classes"]
        return out
