#!/usr/bin/python3
"""The spread of accuracy across chip instances at each sweep point: a box per point (median,
quartiles, whiskers at 1.5 IQR) with every chip drawn as a dot, and the float32 baseline.

    /usr/bin/python3 analysis/plot_distribution.py results/quickstart.h5
    /usr/bin/python3 analysis/plot_distribution.py results/quickstart.h5 -o docs/img/spread

Writes PREFIX.png and PREFIX.pdf (default: the input without .h5, plus _distribution). Points are
in the file's sweep order and labelled with their axis values (times in human units).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aimc_plot import human_time, output_prefix, plt, save  # noqa: E402
from aimc_results import ResultsFormatError, load  # noqa: E402


def point_label(row, axes) -> str:
    """The point's axis values, one per line (the keys are in the x axis label)."""
    parts = []
    for a in axes:
        v = row[a]
        if a == "t_inference":
            parts.append(human_time(float(v)))
        elif isinstance(v, float) and v.is_integer():
            parts.append(str(int(v)))
        else:
            parts.append(str(v))
    return "\n".join(parts) if parts else "all"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="aimc results file (.h5)")
    ap.add_argument("-o", "--output", help="output prefix (PREFIX.png, PREFIX.pdf)")
    ap.add_argument("--title", help="figure title (default: model, chips, images)")
    args = ap.parse_args(argv)
    try:
        r = load(args.file)
    except (OSError, ResultsFormatError) as e:
        print(f"plot_distribution: error: {e}", file=sys.stderr)
        return 2
    pts = r.points[r.points["n"] > 0]
    if pts.empty:
        print(f"plot_distribution: error: {args.file} has no finished sample", file=sys.stderr)
        return 2
    data = [100 * r.samples.loc[r.samples["point"] == p, "accuracy"].to_numpy()
            for p in pts["point"]]
    labels = [point_label(row, r.axes) for _, row in pts.iterrows()]

    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(data) + 2), 4.5), layout="constrained")
    pos = np.arange(1, len(data) + 1)
    ax.boxplot(data, positions=pos, widths=0.5, showfliers=False,
               medianprops={"color": "black"})
    # Every chip as a dot, spread sideways by a fixed pattern so that equal values stay visible.
    for x, values in zip(pos, data):
        offsets = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.plot(x + offsets, values, "o", color="tab:blue", alpha=0.6, markersize=4)
    if np.isfinite(r.ideal_accuracy):
        ax.axhline(100 * r.ideal_accuracy, color="black", linestyle="--", linewidth=1,
                   label=f"software baseline (float32), {100 * r.ideal_accuracy:.2f} %")
        ax.legend(fontsize="small", loc="lower left")
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, fontsize="small")
    keys = [a.removeprefix("chip.") for a in r.axes]
    ax.set_xlabel("sweep point: " + " / ".join(keys) if keys else "sweep point")
    ax.set_ylabel("top-1 accuracy per chip (%)")
    ax.grid(True, axis="y", alpha=0.3)
    images = int(r.samples["total"].iloc[0])
    ax.set_title(args.title or f"{r.model_name}: accuracy of each of {int(r.attrs['n_chips'])} "
                 f"chips, {images} test images")
    for p in save(fig, output_prefix(args.output, args.file, "_distribution")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
