#!/usr/bin/python3
"""Table of top-1 accuracy per sweep point: mean over chips with its 95% confidence interval.

    /usr/bin/python3 analysis/summarize.py results/quickstart.h5
    /usr/bin/python3 analysis/summarize.py --csv results/a.h5 results/b.h5 > table.csv

One row per sweep point, one column per sweep axis, then the number of finished chips and the
accuracy in percent. The interval is Student's t over chips, as aimc computes it. Several files
give one table with a leading 'file' column (their axes may differ; missing cells are empty).
Markdown (default) prints 'mean ± half-width'; CSV has separate numeric columns in percent;
--pivot AXIS puts one column per value of AXIS (e.g. t_inference), as a paper's table would.
Files with the throughput-and-energy model's columns also get energy per image (µJ) and TOPS/W,
means over the point's chips.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aimc_results import ResultsFormatError, load  # noqa: E402


def table(paths: list[str]) -> pd.DataFrame:
    """The summary rows of every file, concatenated; accuracies in percent."""
    frames, axes = [], []
    for path in paths:
        r = load(path)
        if not r.complete:
            # A slice, or a run still going or stopped: the table is of what is done so far.
            print(f"note: {path}: incomplete, {len(r.samples)} of {r.attrs.get('n_samples', '?')} "
                  f"samples done", file=sys.stderr)
        pts = r.points
        axes += [a for a in r.axes if a not in axes]
        t = pd.DataFrame({"file": str(path), "model": r.model_name, **{a: pts[a] for a in r.axes}})
        t["chips"] = pts["n"]
        t["mean_pct"] = 100 * pts["accuracy_mean"]
        t["ci95_low_pct"] = 100 * pts["accuracy_ci95_low"]
        t["ci95_high_pct"] = 100 * pts["accuracy_ci95_high"]
        t["std_pct"] = 100 * pts["accuracy_std"]
        t["ideal_pct"] = 100 * r.ideal_accuracy
        # The throughput-and-energy model's per-point means, in files that have them.
        for src, dst in PERF:
            if src in pts:
                t[dst] = pts[src]
        frames.append(t)
    out = pd.concat(frames, ignore_index=True)
    perf = [dst for _, dst in PERF if dst in out]
    return out[["file", "model", *axes, "chips", "mean_pct", "ci95_low_pct", "ci95_high_pct",
                "std_pct", "ideal_pct", *perf]]


# (column in /points, column in the table), and the markdown heading of each.
PERF = (("energy_per_image_uJ_mean", "energy_uJ"), ("tops_per_w", "tops_per_w"))
PERF_HEAD = {"energy_uJ": "energy/image (µJ)", "tops_per_w": "TOPS/W"}


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def markdown(t: pd.DataFrame, digits: int) -> str:
    """A GitHub-flavoured markdown table; 'file' only when there are several files."""
    several = t["file"].nunique() > 1
    perf = [c for c in PERF_HEAD if c in t]
    keys = (["file"] if several else []) + ["model"] + [
        c for c in t.columns if c not in ("file", "model", "chips", *perf)
        and not c.endswith("_pct")]
    head = keys + ["chips", "accuracy (%)", "95% CI (%)", "ideal (%)"]
    head += [PERF_HEAD[c] for c in perf]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, row in t.iterrows():
        half = (row["ci95_high_pct"] - row["ci95_low_pct"]) / 2
        mean = f"{row['mean_pct']:.{digits}f}" if np.isfinite(row["mean_pct"]) else "-"
        if np.isfinite(half):
            mean += f" ± {half:.{digits}f}"
        ci = (f"{row['ci95_low_pct']:.{digits}f} – {row['ci95_high_pct']:.{digits}f}"
              if np.isfinite(half) else "-")
        ideal = f"{row['ideal_pct']:.{digits}f}" if np.isfinite(row["ideal_pct"]) else "-"
        cells = [_cell(row[k]) for k in keys] + [str(int(row["chips"])), mean, ci, ideal] + [
            f"{row[c]:.3g}" if np.isfinite(row[c]) else "-" for c in perf]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def pivot_markdown(t: pd.DataFrame, axis: str, digits: int) -> str:
    """One row per combination of the model and the other axes (and the file's name, when there
    are several files), one column per value of `axis`, each cell 'mean ± half-width' of the 95%
    CI (the layout of a results table in a paper)."""
    if axis not in t:
        raise KeyError(axis)
    perf = [c for c in PERF_HEAD if c in t]
    t = t.copy()
    t["file"] = [Path(f).stem for f in t["file"]]
    several = t["file"].nunique() > 1
    rows = (["file"] if several else []) + ["model"] + [
        c for c in t.columns if c not in ("file", "model", "chips", axis, *perf)
        and not c.endswith("_pct")]
    values = list(dict.fromkeys(t[axis]))
    head = rows + [f"{axis} = {_cell(v)}" for v in values]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, group in t.groupby(rows, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        cells = [_cell(k) for k in key]
        for v in values:
            g = group[group[axis] == v]
            if g.empty or not np.isfinite(g["mean_pct"].iloc[0]):
                cells.append("-")
                continue
            r = g.iloc[0]
            half = (r["ci95_high_pct"] - r["ci95_low_pct"]) / 2
            cells.append(f"{r['mean_pct']:.{digits}f}"
                         + (f" ± {half:.{digits}f}" if np.isfinite(half) else ""))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="aimc results files (.h5)")
    ap.add_argument("--csv", action="store_true", help="CSV instead of markdown")
    ap.add_argument("--digits", type=int, default=2, help="decimals in markdown (default 2)")
    ap.add_argument("--pivot", metavar="AXIS",
                    help="markdown with one column per value of this sweep axis (e.g. "
                         "t_inference), one row per model and other axes")
    args = ap.parse_args(argv)
    try:
        t = table(args.files)
    except (OSError, ResultsFormatError) as e:
        print(f"summarize: error: {e}", file=sys.stderr)
        return 2
    if args.csv:
        t.to_csv(sys.stdout, index=False, float_format="%.6g")
    elif args.pivot:
        if args.pivot not in t:
            print(f"summarize: error: --pivot {args.pivot}: not a sweep axis of these files",
                  file=sys.stderr)
            return 2
        sys.stdout.write(pivot_markdown(t, args.pivot, args.digits))
    else:
        sys.stdout.write(markdown(t, args.digits))
    return 0


if __name__ == "__main__":
    sys.exit(main())
