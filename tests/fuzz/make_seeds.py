"""Writes the model seed corpus of fuzz_model (tests/fuzz/corpus/model/): small aimc model files
covering every op, and damaged variants. Run with Debian's python3 (h5py); the output is checked
in, so this only needs rerunning to change the seeds."""

import io
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).resolve().parent / "corpus" / "model"


def model(ops, shape=(2, 4, 4), classes=3, version=1):
    """An HDF5 image of a model with nodes `ops`: (op, inputs, attrs, tensors)."""
    buf = io.BytesIO()
    with h5py.File(buf, "w", libver="earliest") as f:
        f.attrs["format"] = "aimc-model"
        f.attrs["format_version"] = np.int64(version)
        f.attrs["name"] = "tiny"
        f.attrs["arch"] = "test"
        f.attrs["input_shape"] = np.array(shape, np.int64)
        f.attrs["num_classes"] = np.int64(classes)
        f.attrs["input_scale"] = 1 / 255
        f.attrs["input_mean"] = np.full(shape[0], 0.5)
        f.attrs["input_std"] = np.full(shape[0], 0.25)
        nodes = f.create_group("nodes")
        for i, (op, inputs, attrs, tensors) in enumerate(ops):
            g = nodes.create_group(f"{i:04d}")
            g.attrs["name"] = f"n{i}"
            g.attrs["op"] = op
            g.attrs["inputs"] = np.array(inputs, np.int64)
            for k, v in attrs.items():
                g.attrs[k] = v
            for k, v in tensors.items():
                g[k] = np.asarray(v, np.float32)
    return buf.getvalue()


def k(kernel, stride, padding):
    return {"kernel": np.int64(kernel), "stride": np.int64(stride), "padding": np.int64(padding)}


R = np.random.default_rng(1)
SEEDS = {
    "pool_linear": [("input", [], {}, {}), ("global_avgpool", [0], {}, {}),
                    ("linear", [1], {}, {"weight": R.normal(size=(3, 2)), "bias": np.zeros(3)})],
    "conv_bn_relu_add": [
        ("input", [], {}, {}),
        ("conv2d", [0], k(3, 1, 1), {"weight": R.normal(size=(2, 2, 3, 3))}),
        ("batchnorm", [1], {"eps": 1e-5}, {"weight": np.ones(2), "bias": np.zeros(2),
                                           "running_mean": np.zeros(2), "running_var": np.ones(2)}),
        ("relu", [2], {}, {}),
        ("add", [3, 0], {}, {}),
        ("maxpool", [4], k(2, 2, 0), {}),
        ("avgpool", [5], k(2, 2, 0), {}),
        ("linear", [6], {}, {"weight": R.normal(size=(3, 2))}),
    ],
    "shortcut": [
        ("input", [], {}, {}),
        ("shortcut_a", [0], {"stride": np.int64(2), "pad_before": np.int64(1),
                             "pad_after": np.int64(1)}, {}),
        ("global_avgpool", [1], {}, {}),
        ("linear", [2], {}, {"weight": R.normal(size=(3, 4))}),
    ],
}

# Format version 2 ops (written with format_version 2).
R2 = np.random.default_rng(2)  # apart from R, so the version 1 seeds keep their bytes
SEEDS_V2 = {
    "v2_ops": [
        ("input", [], {}, {}),
        ("conv2d", [0], {**k(3, 1, 1), "groups": np.int64(2)}, {"weight": R2.normal(size=(4, 1, 3, 3))}),
        ("clip", [1], {"min": 0.0, "max": 6.0}, {}),
        ("leaky_relu", [2], {"alpha": 0.1}, {}),
        ("pad", [3], {"pads": np.array([1, 1, 0, 0, 0, 1], np.int64), "value": -1.0}, {}),
        ("slice", [4], {"begin": np.array([0, 1, 0], np.int64), "end": np.array([5, 5, 5], np.int64),
                        "step": np.array([1, 2, 2], np.int64)}, {}),
        ("avgpool", [5], {**k(2, 1, 1), "count_include_pad": np.int64(0)}, {}),
        ("concat", [6, 6, 6], {}, {}),
        ("global_maxpool", [7], {}, {}),
        ("flatten", [8], {}, {}),
        ("linear", [9], {}, {"weight": R2.normal(size=(3, 15))}),
    ],
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, ops in SEEDS.items():
        data = model(ops)
        (OUT / f"{name}.h5").write_bytes(data)
        (OUT / f"{name}.truncated.h5").write_bytes(data[: len(data) // 2])
    for name, ops in SEEDS_V2.items():
        data = model(ops, version=2)
        (OUT / f"{name}.h5").write_bytes(data)
        (OUT / f"{name}.truncated.h5").write_bytes(data[: len(data) // 2])
    bad = list(SEEDS["pool_linear"])
    bad[2] = ("linear", [2], {}, {"weight": R.normal(size=(3, 2))})  # a cycle
    (OUT / "cycle.h5").write_bytes(model(bad))
    (OUT / "not_hdf5.h5").write_bytes(b"not an HDF5 file\n")
