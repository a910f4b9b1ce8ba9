"""Shared plotting for plot_drift.py and plot_sweep.py: accuracy against one sweep axis, one curve
per value of the other axes, the mean over chips with its 95% confidence band, and the software
(float32) baseline as a horizontal line. Figures are written as PNG and PDF."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed (batch nodes, CI)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aimc_results import Results, curve_label  # noqa: E402

_UNITS = ((365 * 86400, "y"), (86400, "d"), (3600, "h"), (60, "min"), (1, "s"))


def human_time(seconds: float) -> str:
    """3600 -> '1 h', 31536000 -> '1 y', 90 -> '1.5 min'."""
    if seconds <= 0:
        return "0 s"
    for size, unit in _UNITS:
        if seconds >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


def _x_values(r: Results, x: str) -> np.ndarray:
    # The time axis is swept as 't_inference'; /points/t_inference_s has it in seconds always.
    if x == "t_inference":
        return r.points["t_inference_s"].to_numpy(dtype=float)
    return r.points[x].to_numpy(dtype=float)


def _names(results: list[Results]):
    """Each file's name in legends: its model's, or its file name where models share a name (the
    same network with other weights)."""
    models = [r.model_name or r.path.stem for r in results]
    unique = len(set(models)) == len(models)
    return {id(r): (m if unique else r.path.stem) for r, m in zip(results, models)}


def plot_accuracy(results: list[Results], x: str, *, log_x: bool, x_label: str,
                  time_ticks: bool = False, title: str | None = None):
    """One figure: accuracy (%) against axis ``x`` for every file in ``results``."""
    if x == "t_inference_s":
        x = "t_inference"
    fig, ax = plt.subplots(figsize=(9.0, 4.5), layout="constrained")
    several = len(results) > 1
    names = _names(results)

    def name_of(r: Results) -> str:
        return names[id(r)]

    baselines = {}
    ticks = set()
    for r in results:
        pts = r.points.copy()
        pts["_x"] = _x_values(r, x)
        pts = pts[pts["n"] > 0]  # points without any finished chip yet
        if log_x:
            bad = pts["_x"] <= 0
            if bad.any():
                print(f"warning: {r.path}: {int(bad.sum())} point(s) at {x} <= 0 left out of "
                      "the log axis", file=sys.stderr)
                pts = pts[~bad]
        others = [a for a in r.axes if a != x]
        # One key as a plain string: pandas warns about a list of one.
        by = others[0] if len(others) == 1 else others
        groups = pts.groupby(by, sort=False, dropna=False) if others else [((), pts)]
        for _, g in groups:
            g = g.sort_values("_x")
            label = curve_label(g.iloc[0], others) if others else "aimc chip"
            if several:
                label = f"{name_of(r)}: {label}"
            line, = ax.plot(g["_x"], 100 * g["accuracy_mean"], marker="o", label=label)
            # The band is undefined (NaN) at points with one chip; fill_between leaves gaps there.
            # A t interval over few chips can reach past 0 or 100 %; accuracy cannot, so the band
            # is drawn clipped to [0, 100] (summarize.py prints the unclipped numbers).
            low = np.clip(100 * g["accuracy_ci95_low"], 0, 100)
            high = np.clip(100 * g["accuracy_ci95_high"], 0, 100)
            ax.fill_between(g["_x"], low, high, color=line.get_color(), alpha=0.2, linewidth=0)
            ticks.update(g["_x"].tolist())
        if np.isfinite(r.ideal_accuracy):
            baselines[name_of(r)] = r.ideal_accuracy
    for i, (model, acc) in enumerate(baselines.items()):
        name = f"{model} " if several else ""
        ax.axhline(100 * acc, color="black", linestyle="--", linewidth=1,
                   dashes=(4 + 2 * i, 2), label=f"{name}software baseline (float32), "
                   f"{100 * acc:.2f} %")
    if baselines:  # room above the baseline, which is often the top of the data
        ax.set_ylim(top=max(ax.get_ylim()[1], 100 * max(baselines.values()) + 3))
    if log_x:
        ax.set_xscale("log")
    if time_ticks and ticks:
        ax.set_xticks(sorted(ticks))
        ax.set_xticklabels([human_time(t) for t in sorted(ticks)])
        ax.minorticks_off()
    ax.set_xlabel(x_label)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.grid(True, which="major", alpha=0.3)
    # Outside the axes: inside, it would hide curves or the baseline wherever it went.
    ax.legend(title="mean over chips; band: 95% CI", fontsize="small", title_fontsize="small",
              loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    if title is None:
        r = results[0]
        images = int(r.samples["total"].iloc[0]) if len(r.samples) else 0
        chips = int(r.attrs.get("n_chips", 0))
        title = f"{r.model_name}: {chips} chips per point, {images} test images"
    ax.set_title(title)
    return fig


def output_prefix(arg: str | None, first_input: str, suffix: str) -> Path:
    """-o as given without .png/.pdf, else the first input's path with the suffix instead of .h5."""
    if arg:
        p = Path(arg)
        return p.with_suffix("") if p.suffix in (".png", ".pdf") else p
    p = Path(first_input)
    return p.with_name(p.stem + suffix)


def save(fig, prefix: Path) -> list[Path]:
    """Writes PREFIX.png and PREFIX.pdf and returns their paths."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    out = [prefix.with_name(prefix.name + ".png"), prefix.with_name(prefix.name + ".pdf")]
    fig.savefig(out[0], dpi=150)
    fig.savefig(out[1])
    plt.close(fig)
    return out
