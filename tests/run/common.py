"""What the aimc run tests share: where the binary, models and data are, the loud skip, and the
dataset-by-dataset comparison of two results files."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

AIMC = os.environ.get("AIMC_BIN", "")
MPIEXEC = os.environ.get("AIMC_MPIEXEC", "mpiexec")
MODELS = Path(os.environ.get("AIMC_TEST_MODELS", ""))
DATA = Path(os.environ.get("AIMC_TEST_DATA", Path(__file__).resolve().parents[2] / "data"))
REPO = Path(__file__).resolve().parents[2]


def need(path):
    """Skips loudly when a prerequisite is absent; fails instead when AIMC_REQUIRE_DATA=1."""
    if not Path(path).exists():
        message = f"DATA MISSING: {path} (run scripts/fetch_data.sh and the import_models test)"
        if os.environ.get("AIMC_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)


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
