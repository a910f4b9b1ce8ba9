"""Loader for aimc's HDF5 results files (`aimc run`, `aimc merge`).

A results file holds one experiment: sweep points x chip instances. This module reads it into
pandas DataFrames:

- ``samples``: one row per (sweep point, chip): ``point``, ``chip``, ``done``, ``correct``,
  ``total``, ``accuracy``, ``t_inference_s``, ``seconds`` (wall time) and one column per sweep
  axis, named by the axis key (``t_inference``, ``chip.drift.compensation``, ...).
- ``points`` (the summary): one row per sweep point: ``point``, ``program_group``,
  ``t_inference_s``, the axis columns, ``n`` (finished samples) and ``accuracy_mean``, ``_std``,
  ``_sem``, ``_ci95_low``, ``_ci95_high``, ``_min``, ``_median``, ``_max`` as computed by aimc
  over the finished samples (the 95% interval is Student's t over chips).

Accuracies are fractions in [0, 1]. Use with Debian's interpreter (/usr/bin/python3), which has
h5py, numpy and pandas.

    from aimc_results import load
    r = load("results/quickstart.h5")
    r.points[["t_inference", "chip.drift.compensation", "accuracy_mean", "n"]]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

FORMAT = "aimc-results"
SUPPORTED_VERSIONS = (1,)
STATS = ("mean", "std", "sem", "ci95_low", "ci95_high", "min", "median", "max")


class ResultsFormatError(ValueError):
    """The file is not an aimc results file, or one of a format version this code cannot read."""


@dataclass
class Results:
    """One results file, loaded."""

    path: Path
    attrs: dict
    axes: list[str]
    samples: pd.DataFrame
    points: pd.DataFrame
    correct_per_class: np.ndarray = field(repr=False)
    total_per_class: np.ndarray = field(repr=False)

    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete", 0))

    @property
    def ideal_accuracy(self) -> float:
        """Top-1 accuracy of exact float32 inference on the same images (NaN if not run yet)."""
        return float(self.attrs.get("ideal_accuracy", np.nan))

    @property
    def model_name(self) -> str:
        return str(self.attrs.get("model_name", ""))

    def numeric_axes(self) -> list[str]:
        return [a for a in self.axes if pd.api.types.is_numeric_dtype(self.points[a])]


def _attr(value):
    """HDF5 attributes as plain Python values (bytes -> str, numpy scalars -> int/float)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.generic):
        return value.item()
    return value


def _column(dataset: h5py.Dataset) -> np.ndarray:
    """A 1-D column; variable-length strings come back as Python str."""
    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.asarray(dataset.asstr()[()], dtype=object)
    return dataset[()]


def check_format(attrs: dict, path) -> None:
    """Raises ResultsFormatError unless ``attrs`` are a results file's of a supported version."""
    fmt = attrs.get("format")
    if fmt != FORMAT:
        raise ResultsFormatError(f"{path}: not an aimc results file (format = {fmt!r}, "
                                 f"expected {FORMAT!r})")
    version = attrs.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        raise ResultsFormatError(f"{path}: results format version {version!r}; this analysis code "
                                 f"reads version(s) {', '.join(map(str, SUPPORTED_VERSIONS))} "
                                 f"(update analysis/ or the file's writer)")


def load(path, *, done_only: bool = True) -> Results:
    """Reads a results file. With ``done_only`` (default) ``samples`` holds finished samples only;
    an incomplete file (a slice, or a run that was stopped) is still read."""
    path = Path(path)
    with h5py.File(path, "r") as f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        check_format(attrs, path)
        axes = [a for a in str(attrs.get("axes", "")).split("\n") if a]

        s = f["samples"]
        samples = pd.DataFrame({
            "point": s["point"][()],
            "chip": s["chip"][()],
            "done": s["done"][()].astype(bool),
            "correct": s["correct"][()],
            "total": s["total"][()],
            "accuracy": s["accuracy"][()],
            "t_inference_s": s["t_inference_s"][()],
            "seconds": f["timing/seconds"][()],
        })
        for a in axes:
            samples[a] = _column(s[a])
        correct_pc = s["correct_per_class"][()]
        total_pc = s["total_per_class"][()]

        p = f["points"]
        points = pd.DataFrame({
            "point": p["index"][()],
            "program_group": p["program_group"][()],
            "t_inference_s": p["t_inference_s"][()],
        })
        for a in axes:
            points[a] = _column(p[a])
        points["n"] = p["n"][()]
        for stat in STATS:
            points[f"accuracy_{stat}"] = p[f"accuracy_{stat}"][()]

    if done_only:
        keep = samples["done"].to_numpy()
        samples = samples[keep].reset_index(drop=True)
        correct_pc, total_pc = correct_pc[keep], total_pc[keep]
    return Results(path, attrs, axes, samples, points, correct_pc, total_pc)


def samples(path, **kwargs) -> pd.DataFrame:
    """The per-sample DataFrame of ``load``."""
    return load(path, **kwargs).samples


def summary(path) -> pd.DataFrame:
    """The per-point summary DataFrame of ``load``."""
    return load(path).points


def curve_label(row: pd.Series, keys: list[str]) -> str:
    """'key=value, ...' for the given axis keys, with the 'chip.' prefix dropped for brevity."""
    parts = []
    for k in keys:
        v = row[k]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        parts.append(f"{k.removeprefix('chip.')}={v}")
    return ", ".join(parts)
