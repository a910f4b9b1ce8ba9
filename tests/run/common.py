"""What the aimc run tests share: tests/aimc_test_env.py's paths and loud skip, and the
dataset-by-dataset comparison of two results files."""

import sys
from pathlib import Path

import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: aimc_test_env
from aimc_test_env import AIMC, DATA, MODELS, MPIEXEC, REPO, need  # noqa: E402

__all__ = ["AIMC", "DATA", "MODELS", "MPIEXEC", "REPO", "need", "assert_same", "datasets"]


def datasets(path):
    """Every dataset except timing/ (wall times), as numpy arrays."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("timing"):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def assert_same(a, b):
    """The two results files hold the same datasets, bit for bit (NaN equal to NaN)."""
    da, db = datasets(a), datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        x, y = da[name], db[name]
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(x, y), name
