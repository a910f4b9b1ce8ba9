"""Loader for aimc's HDF5 results files (`aimc run`, `aimc merge`).

A results file holds one experiment: sweep points x chip instances. This module reads it into
pandas DataFrames:

- ``samples``: one row per (sweep point, chip): ``done``, ``t_inference_s``, one column per
  sweep axis, named by the axis key (``t_inference``, ``chip.drift.compensation``, ...), and one
  column per scalar sample field the file declares (its ``sample_fields`` attribute, written by
  aimc from its one declaration of the sample record): ``point``, ``chip``, ``correct``,
  ``total``, ``accuracy``, ``seconds`` (wall time), the performance model's figures, ...
- ``points`` (the summary): one row per sweep point: ``point``, ``program_group``,
  ``t_inference_s``, the axis columns, ``n`` (finished samples) and ``accuracy_mean``, ``_std``,
  ``_sem``, ``_ci95_low``, ``_ci95_high``, ``_min``, ``_median``, ``_max`` as computed by aimc
  over the finished samples (the 95% interval is Student's t over chips).

Per-class and per-layer fields are arrays in ``per_class`` and ``per_layer``; ``fields`` lists
the declared fields (name, dataset, kind, unit, doc). Accuracies are fractions in [0, 1]. Use with Debian's interpreter (/usr/bin/python3), which has
h5py, numpy and pandas.

    from aimc_results import load
    r = load("results/quickstart.h5")
    r.points[["t_inference", "chip.drift.compensation", "accuracy_mean", "n"]]
"""

from __future__ import annotations

import json
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

FORMAT = "aimc-results"
SUPPORTED_VERSIONS = (2,)
STATS = ("mean", "std", "sem", "ci95_low", "ci95_high", "min", "median", "max")


class ResultsFormatError(ValueError):
    """The file is not an aimc results file, or one of a format version this code cannot read."""


@dataclass(frozen=True)
class SampleField:
    """One field of the sample record, as the file declares it (docs/results-format.md)."""

    name: str
    dataset: str  # path in the file; "" for the index (the row number)
    role: str  # index, key, result or derived
    dtype: str  # int64 or float64
    extent: str  # scalar, class (one per class) or layer (one per dense layer)
    fill: str  # the value of a row not done yet ("" for index and key)
    unit: str
    doc: str
    reproducible: bool  # False: wall time, kept in /timing
    point_mean: bool  # /points holds its mean over each point's finished samples

    @property
    def kind(self) -> str:
        """``int64``, ``float64``, or with its extent: ``int64[class]``, ``float64[layer]``."""
        return self.dtype if self.extent == "scalar" else f"{self.dtype}[{self.extent}]"


@dataclass
class Results:
    """One results file, loaded."""

    path: Path
    attrs: dict
    axes: list[str]
    samples: pd.DataFrame
    points: pd.DataFrame
    fields: list[SampleField] = field(repr=False)
    per_class: dict = field(default_factory=dict, repr=False)
    layer_names: list[str] = field(default_factory=list)
    per_layer: dict = field(default_factory=dict, repr=False)

    @property
    def correct_per_class(self) -> np.ndarray:
        return self.per_class["correct_per_class"]

    @property
    def total_per_class(self) -> np.ndarray:
        return self.per_class["total_per_class"]

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
        for k, v in self.per_layer.items():
            # A digital layer is NaN in every row: its mean stays NaN, without numpy's warning.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out[k.removeprefix("layer_")] = np.nanmean(v[rows].astype(float), axis=0)
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
        older = isinstance(version, int) and version < min(SUPPORTED_VERSIONS)
        raise ResultsFormatError(
            f"{path}: results format version {version!r}"
            f"{' (an older aimc)' if older else ''}; this analysis code reads version(s) "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}; results of different versions are not "
            f"comparable (rerun the study with this aimc, or use the analysis/ of the aimc that "
            f"wrote it)")


def sample_fields(attrs: dict, path) -> list[SampleField]:
    """The sample fields a results file declares (its ``sample_fields`` attribute)."""
    try:
        return [SampleField(**d) for d in json.loads(attrs["sample_fields"])]
    except (KeyError, TypeError, ValueError) as e:
        raise ResultsFormatError(f"{path}: no readable sample_fields attribute ({e!r}), expected "
                                 f"the declaration of the sample fields (corrupt file?)") from None


def fields_markdown(fields: list[SampleField]) -> str:
    """The table of sample fields in docs/results-format.md, made from a file's declaration."""
    lines = ["| field | dataset | kind | unit | until done | meaning |",
             "|---|---|---|---|---|---|"]
    for x in fields:
        flags = [f for f, on in (("the row number, no dataset", x.role == "index"),
                                 ("set for every row when the file is created", x.role == "key"),
                                 ("computed by the writer", x.role == "derived"),
                                 ("wall time, not reproducible", not x.reproducible),
                                 ("/points holds its per-point mean", x.point_mean)) if on]
        meaning = x.doc + (f" ({'; '.join(flags)})" if flags else "")
        dataset = f"`{x.dataset}`" if x.dataset else ""
        lines.append(f"| `{x.name}` | {dataset} | {x.kind} | {x.unit} | {x.fill} | {meaning} |")
    return "\n".join(lines) + "\n"


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

        fields = sample_fields(attrs, path)
        s = f["samples"]
        columns, per_class, per_layer = {}, {}, {}
        for x in fields:
            if x.role == "index":
                continue
            if x.dataset not in f:
                raise ResultsFormatError(f"{path}: sample field {x.name!r} declared in "
                                         f"{x.dataset!r}, which is missing (corrupt file?)")
            data = f[x.dataset][()]
            {"scalar": columns, "class": per_class, "layer": per_layer}[x.extent][x.name] = data
        samples = pd.DataFrame(columns)
        samples.insert(0, "done", s["done"][()].astype(bool))
        samples["t_inference_s"] = s["t_inference_s"][()]
        for a in axes:
            samples[a] = _column(s[a])
        layer_names = list(_column(f["layers/name"])) if "layers/name" in f else []

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
        for x in fields:
            if x.point_mean:
                points[x.name] = p[x.name][()]

    if done_only:
        keep = samples["done"].to_numpy()
        samples = samples[keep].reset_index(drop=True)
        per_class = {k: v[keep] for k, v in per_class.items()}
        per_layer = {k: v[keep] for k, v in per_layer.items()}
    return Results(path, attrs, axes, samples, points, fields, per_class, layer_names, per_layer)


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


if __name__ == "__main__":
    # python3 analysis/aimc_results.py FILE: the sample-field table of docs/results-format.md,
    # from FILE's declaration.
    if len(sys.argv) != 2:
        sys.exit("usage: aimc_results.py RESULTS.h5  (prints the sample-field table of the docs)")
    with _open(Path(sys.argv[1])) as f:
        file_attrs = {k: _attr(v) for k, v in f.attrs.items()}
    try:
        check_format(file_attrs, sys.argv[1])
        table = fields_markdown(sample_fields(file_attrs, sys.argv[1]))
    except ResultsFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    print(table, end="")
