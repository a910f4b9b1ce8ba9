#!/usr/bin/python3
"""Per-layer energy and latency of the network on the chip, from the throughput-and-energy model
that `aimc run` applies to every sample (docs/performance-model.md): energy per image of each
dense layer at its measured input activity, and each layer's share of the latency per image.

    /usr/bin/python3 analysis/plot_energy.py results/quickstart.h5
    /usr/bin/python3 analysis/plot_energy.py results/quickstart.h5 --point 3 -o energy

Bars are the mean over the finished chips of one sweep point (--point, default 0: energy depends
on the inputs the layers see, which drift changes). Layers run digitally have no bar. Writes
PREFIX.png and PREFIX.pdf (default: the input without .h5, plus _energy).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aimc_plot import human_time, output_prefix, plt, save  # noqa: E402
from aimc_results import ResultsFormatError, load  # noqa: E402


def point_text(r, p: int) -> str:
    row = r.points[r.points["point"] == p].iloc[0]
    parts = []
    for a in r.axes:
        v = row[a]
        if a == "t_inference":
            parts.append(f"t = {human_time(float(v))}")
        else:
            parts.append(f"{a.removeprefix('chip.')} = {v:g}" if isinstance(v, float)
                         else f"{a.removeprefix('chip.')} = {v}")
    return f"point {p}" + (f" ({', '.join(parts)})" if parts else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="aimc results file (.h5)")
    ap.add_argument("--point", type=int, default=0, help="sweep point (default 0)")
    ap.add_argument("-o", "--output", help="output prefix (PREFIX.png, PREFIX.pdf)")
    ap.add_argument("--title", help="figure title")
    args = ap.parse_args(argv)
    try:
        r = load(args.file)
    except (OSError, ResultsFormatError) as e:
        print(f"plot_energy: error: {e}", file=sys.stderr)
        return 2
    if not 0 <= args.point < len(r.points):
        print(f"plot_energy: error: --point {args.point}, the file has points 0-"
              f"{len(r.points) - 1}", file=sys.stderr)
        return 2
    t = r.layers(point=args.point)
    if t.empty:
        print(f"plot_energy: error: {args.file} has no per-layer energy data (written by aimc "
              "run since the throughput-and-energy model)", file=sys.stderr)
        return 2
    if t.attrs["samples"] == 0:
        print(f"plot_energy: error: point {args.point} has no finished sample", file=sys.stderr)
        return 2

    x = np.arange(len(t))
    fig, (ax_e, ax_l) = plt.subplots(2, 1, figsize=(max(7.0, 0.35 * len(t) + 2), 6.5),
                                     sharex=True, layout="constrained")
    # The file stores nJ and ns; a ResNet's layers are µJ and µs per image.
    ax_e.bar(x, t["energy_nJ"] / 1e3, color="tab:orange")
    ax_e.set_ylabel("energy per image (µJ)")
    ax_l.bar(x, t["latency_ns"] / 1e3, color="tab:blue")
    ax_l.set_ylabel("latency per image (µs)")
    ax_l.set_xticks(x)
    ax_l.set_xticklabels(t["layer"], rotation=90, fontsize="small")
    ax_l.set_xlabel("dense layer (network order)")
    for ax in (ax_e, ax_l):
        ax.grid(True, axis="y", alpha=0.3)

    rows = r.samples[r.samples["point"] == args.point]
    summary = []
    if "energy_per_image_uJ_mean" in rows:
        summary.append(f"{rows['energy_per_image_uJ_mean'].mean():.3g} µJ/image")
    if "tops_per_w" in rows:
        summary.append(f"{rows['tops_per_w'].mean():.3g} TOPS/W")
    if "latency_us" in rows:
        us = rows["latency_us"].mean()
        summary.append(f"latency {us / 1e3:.3g} ms/image" if us >= 1e3 else
                       f"latency {us:.3g} µs/image")
    title = args.title or (f"{r.model_name}: " + ", ".join(summary) + "\n" +
                           point_text(r, args.point) + f", mean over {len(rows)} chip(s)")
    fig.suptitle(title)
    for p in save(fig, output_prefix(args.output, args.file, "_energy")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
