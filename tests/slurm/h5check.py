#!/usr/bin/python3
"""Helpers of tests/slurm/test_slurm.sh for aimc results files.

    h5check.py same REFERENCE.h5 OTHER.h5   exit 0 when every dataset but /timing is bit-identical
                                            and OTHER is complete; else print why, exit 1
    h5check.py done FILE.h5                 print how many samples are finished (0 if unreadable)
"""

import os
import sys

# `done` reads a file that a running aimc holds open for writing: HDF5's file lock would refuse.
# Set before h5py loads the HDF5 library.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import h5py  # noqa: E402
import numpy as np  # noqa: E402


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith("timing"):
                out[name] = obj[()]
        f.visititems(visit)
        complete = int(f.attrs["complete"])
    return out, complete


def same(ref, other):
    a, _ = datasets(ref)
    b, complete = datasets(other)
    problems = []
    if complete != 1:
        problems.append(f"{other}: complete = {complete}")
    if sorted(a) != sorted(b):
        problems.append(f"dataset names differ: {sorted(set(a) ^ set(b))}")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype != y.dtype or x.shape != y.shape:
            problems.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
        elif not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
            problems.append(f"{name}: values differ")
    for p in problems:
        print(f"h5check: {p}", file=sys.stderr)
    return 1 if problems else 0


def done(path):
    try:
        with h5py.File(path, "r") as f:
            print(int(f["samples/done"][()].sum()))
    except Exception:  # not created yet, or caught mid-write: count again later
        print(0)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "same":
        sys.exit(same(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 3 and sys.argv[1] == "done":
        sys.exit(done(sys.argv[2]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
