#!/usr/bin/python3
"""Accuracy against time after programming (log axis), one curve per drift-compensation mode or
other swept setting, with the mean over chips, its 95% confidence band and the float32 baseline.

    /usr/bin/python3 analysis/plot_drift.py results/quickstart.h5
    /usr/bin/python3 analysis/plot_drift.py results/quickstart.h5 -o docs/img/quickstart_drift

Writes PREFIX.png and PREFIX.pdf (default: the first input without .h5, plus _drift). Several
files (e.g. one per model) go on one figure. The study must sweep t_inference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from aimc_plot import output_prefix, plot_accuracy, save  # noqa: E402
from aimc_results import ResultsFormatError, load  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", help="aimc results files (.h5)")
    ap.add_argument("-o", "--output", help="output prefix (PREFIX.png, PREFIX.pdf)")
    ap.add_argument("--title", help="figure title (default: model, chips, images)")
    args = ap.parse_args(argv)
    try:
        results = [load(f) for f in args.files]
    except (OSError, ResultsFormatError) as e:
        print(f"plot_drift: error: {e}", file=sys.stderr)
        return 2
    for r in results:
        if "t_inference" not in r.axes:
            print(f"plot_drift: error: {r.path} does not sweep t_inference (its axes: "
                  f"{', '.join(r.axes) or 'none'}); use plot_sweep.py", file=sys.stderr)
            return 2
    fig = plot_accuracy(results, "t_inference", log_x=True, time_ticks=True,
                        x_label="time after programming, t_inference (s, log scale)",
                        title=args.title)
    for p in save(fig, output_prefix(args.output, args.files[0], "_drift")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
