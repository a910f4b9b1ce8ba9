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

import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

FORMAT = "aimc-results"
SUPPORTED_VERSIONS = (1,)
STATS = ("mean", "std", "sem", "ci95_low", "ci95_high", "min", "median", "max")
LAYER_COLUMNS = ("layer_energy_nJ", "layer_activity", "layer_latency_ns", "layer_cores")


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
    layer_names: list[str] = field(default_factory=list)
    per_layer: dict = field(default_factory=dict, repr=False)

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

    def layers(self, point: int | None = None) -> pd.DataFrame:
        """Per dense layer (rows in network order): the mean over finished samples (of one sweep
        point, or all) of energy per image (``energy_nJ``), input activity, latency share
        (``latency_ns``) and cores, from the throughput-and-energy model. NaN for a layer run
        digitally; empty when the file has no per-layer data."""
        if not self.layer_names or not self.per_layer:
            return pd.DataFrame()
        rows = np.ones(len(self.samples), dtype=bool)
        if point is not None:
            rows = (self.samples["point"] == point).to_numpy()
        out = pd.DataFrame({"layer": self.layer_names})
        names = {"layer_energy_nJ": "energy_nJ", "layer_activity": "activity",
                 "layer_latency_ns": "latency_ns", "layer_cores": "cores"}
        for k, v in self.per_layer.items():
            # A digital layer is NaN in every row: its mean stays NaN, without numpy's warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[names[k]] = np.nanmean(v[rows].astype(float), axis=0)
        out.attrs["samples"] = int(rows.sum())
        return out

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


def _open(path: Path) -> h5py.File:
    """Opens ``path`` for reading. A running ``aimc run`` holds HDF5's write lock on its output
    for the whole run (hours, for a full study), and HDF5 then refuses every reader. aimc flushes
    the file after each finished sample, so the file on disk is a consistent snapshot between
    samples: reopen without the lock, and say so, rather than make the user wait for the end."""
    try:
        return h5py.File(path, "r")
    except OSError as e:
        if "lock" not in str(e):
            raise
    print(f"warning: {path}: locked by a running writer (aimc run); reading the samples finished "
          f"so far", file=sys.stderr)
    return h5py.File(path, "r", locking=False)


def load(path, *, done_only: bool = True) -> Results:
    """Reads a results file. With ``done_only`` (default) ``samples`` holds finished samples only;
    an incomplete file (a slice, or a run that was stopped) is still read."""
    path = Path(path)
    with _open(path) as f:
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
        # Every other 1-D column as it is: the performance model's (energy_per_image_uJ_mean,
        # tops_per_w, ...) and any a later writer of this format version adds.
        for k in s:
            if k not in samples and s[k].ndim == 1:
                samples[k] = _column(s[k])
        correct_pc = s["correct_per_class"][()]
        total_pc = s["total_per_class"][()]
        layer_names = list(_column(f["layers/name"])) if "layers/name" in f else []
        per_layer = {k: s[k][()] for k in LAYER_COLUMNS if k in s}

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
        for k in p:
            if k not in points and k != "index" and p[k].ndim == 1:
                points[k] = _column(p[k])

    if done_only:
        keep = samples["done"].to_numpy()
        samples = samples[keep].reset_index(drop=True)
        correct_pc, total_pc = correct_pc[keep], total_pc[keep]
        per_layer = {k: v[keep] for k, v in per_layer.items()}
    return Results(path, attrs, axes, samples, points, correct_pc, total_pc, layer_names,
                   per_layer)


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
