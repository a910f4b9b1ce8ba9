#!/usr/bin/python3
"""Accuracy against any numeric sweep axis (sensitivity studies: ADC bits, noise scales, ...),
one curve per value of the other axes, with the mean over chips, its 95% confidence band and the
float32 baseline.

    /usr/bin/python3 analysis/plot_sweep.py results/adc.h5 --x chip.converters.adc_bits
    /usr/bin/python3 analysis/plot_sweep.py results/noise.h5 --x chip.device.read_noise_scale

--x may be left out when the file has exactly one numeric axis. Writes PREFIX.png and PREFIX.pdf
(default: the first input without .h5, plus _sweep).
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
    ap.add_argument("--x", help="the sweep axis key on the x axis, e.g. chip.converters.adc_bits")
    ap.add_argument("--log-x", action="store_true", help="logarithmic x axis")
    ap.add_argument("--xlabel", help="x axis label (default: the axis key)")
    ap.add_argument("-o", "--output", help="output prefix (PREFIX.png, PREFIX.pdf)")
    ap.add_argument("--title", help="figure title (default: model, chips, images)")
    args = ap.parse_args(argv)
    try:
        results = [load(f) for f in args.files]
    except (OSError, ResultsFormatError) as e:
        print(f"plot_sweep: error: {e}", file=sys.stderr)
        return 2
    x = args.x
    if x is None:
        numeric = results[0].numeric_axes()
        if len(numeric) != 1:
            print(f"plot_sweep: error: choose the x axis with --x (numeric axes: "
                  f"{', '.join(numeric) or 'none'})", file=sys.stderr)
            return 2
        x = numeric[0]
    for r in results:
        if x not in r.numeric_axes():
            print(f"plot_sweep: error: {r.path}: '{x}' is not a numeric sweep axis (numeric axes: "
                  f"{', '.join(r.numeric_axes()) or 'none'})", file=sys.stderr)
            return 2
    label = args.xlabel or (x + (" (s)" if x == "t_inference" else ""))
    fig = plot_accuracy(results, x, log_x=args.log_x, x_label=label, title=args.title)
    for p in save(fig, output_prefix(args.output, args.files[0], "_sweep")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
